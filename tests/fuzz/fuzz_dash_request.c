/* tests/fuzz/fuzz_dash_request.c - what a browser sends the dashboard's routes: a
 * priority body, a Last-Event-ID header, an /assets/ file name and a blob's ?type=. The
 * input is split at its first newline: the text before it goes to the three header-like
 * checks, the rest to the body parser. What is accepted must be within bounds. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t head_len = nl ? (size_t)(nl - (const char *)data) : size;
    char *head = malloc(head_len + 1);
    if (!head)
        return 0;
    memcpy(head, data, head_len);
    head[head_len] = '\0';

    uint64_t seq;
    if (farm_parse_event_id(head, &seq) == 0)
        FUZZ_CHECK(strlen(head) > 0 && strspn(head, "0123456789") == strlen(head),
                   "an event id that is not digits");
    if (farm_web_name_ok(head))
        FUZZ_CHECK(!strchr(head, '/') && head[0] != '.',   /* "a..b" is a plain name */
                   "an asset name that could leave the web directory");
    const char *type = farm_blob_type(head);
    FUZZ_CHECK(!type || !strcmp(type, "application/octet-stream") || !strcmp(type, "text/plain") ||
                   !strcmp(type, "image/png") || !strcmp(type, "image/jpeg"),
               "a blob type outside the list");
    free(head);

    const char *body = nl ? nl + 1 : "";
    size_t body_len = nl ? size - head_len - 1 : 0;
    int priority = 0;
    char why[512] = "";
    if (farm_parse_priority(body, body_len, &priority, why, sizeof(why)) == 0)
        FUZZ_CHECK(priority >= 1 && priority <= 10, "a priority out of 1..10");
    else
        FUZZ_CHECK(why[0], "a priority refused without a reason");
    return 0;
}
