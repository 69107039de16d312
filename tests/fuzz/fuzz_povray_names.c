/* tests/fuzz/fuzz_povray_names.c - the scan of POV-Ray scene text for the files it needs
 * (render_povray_names): it must end on any input, report each name once per mention
 * with a line number inside the text, and never a name across a line break. */
#include "toolchains/render.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

struct seen {
    int lines;
    size_t names;
};

static int on_name(void *arg, int line, const char *name, int include)
{
    struct seen *s = arg;
    FUZZ_CHECK(line >= 1 && line <= s->lines, "line %d outside 1..%d", line, s->lines);
    FUZZ_CHECK(!strchr(name, '\n'), "name '%s' crosses a line", name);
    FUZZ_CHECK(include == 0 || include == 1, "include flag %d", include);
    s->names++;
    return 0;
}

static int stop_at_once(void *arg, int line, const char *name, int include)
{
    (void)arg, (void)line, (void)name, (void)include;
    return -7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct seen s = { 1, 0 };
    for (size_t i = 0; i < size; i++)
        s.lines += text[i] == '\n';
    FUZZ_CHECK(render_povray_names(text, size, on_name, &s) == 0, "a scan failed by itself");
    int rc = render_povray_names(text, size, stop_at_once, NULL);
    FUZZ_CHECK(rc == (s.names ? -7 : 0), "the callback's stop was not returned (%d)", rc);
    return 0;
}
