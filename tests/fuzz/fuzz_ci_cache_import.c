/* tests/fuzz/fuzz_ci_cache_import.c - ci_bundle_import on arbitrary bytes: the cache file
 * `udcs ci cache import` reads, which a CI system hands back from wherever it kept it. A
 * refused file must leave the store without a single blob or action result; an accepted
 * one must leave only entries that verify; neither may leave its staging directory. */
#include "ci/ci_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_PATH_MAX 4096

static char base[FUZZ_PATH_MAX], store_dir[FUZZ_PATH_MAX], input[FUZZ_PATH_MAX];
static struct cas_store *cs;

/* Files under DIR, two levels down (the store's AREA/SHARD/NAME), and the count of
 * entries directly in DIR when `flat`. */
static size_t count_files(const char *dir, int flat)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (flat) {
            n++;
            continue;
        }
        char sub[FUZZ_PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        n += count_files(sub, 1);
    }
    if (d)
        closedir(d);
    return n;
}

static size_t stored_entries(void)
{
    char p[FUZZ_PATH_MAX];
    snprintf(p, sizeof(p), "%s/cas", store_dir);
    size_t n = count_files(p, 0);
    snprintf(p, sizeof(p), "%s/ac", store_dir);
    return n + count_files(p, 0);
}

static void setup_once(void)
{
    udcs_log_open_file("/dev/null");   /* refusals log; keep the fuzzer's output clean */
    snprintf(base, sizeof(base), "%s/udcs-fuzz-ci-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    FUZZ_CHECK(mkdtemp(base) != NULL, "cannot make a directory under /tmp");
    snprintf(store_dir, sizeof(store_dir), "%s/store", base);
    snprintf(input, sizeof(input), "%s/input.tar", base);
    struct cas_store_options opt = { .root = store_dir, .encode = { .level = 1 } };
    FUZZ_CHECK(cas_store_open(&opt, &cs) == 0, "cannot open a store in %s", store_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cs)
        setup_once();
    char p[FUZZ_PATH_MAX];
    FUZZ_CHECK(udcs_write_atomic(input, data, size, 0600) == 0, "cannot write %s", input);
    size_t n = 0;
    int rc = ci_bundle_import(cs, store_dir, input, &n);
    if (rc < 0) {
        FUZZ_CHECK(rc == UDCS_ECORRUPT || rc == -ENOMEM, "unexpected code %d", rc);
        FUZZ_CHECK(stored_entries() == 0, "a refused file left entries in the store");
    } else {
        struct cas_verify_report rep;
        FUZZ_CHECK(cas_store_verify(cs, &rep, NULL, NULL) == 0, "verify failed");
        FUZZ_CHECK(rep.corrupt == 0, "an accepted file stored %llu bad entries",
                   (unsigned long long)rep.corrupt);
    }
    snprintf(p, sizeof(p), "%s/tmp", store_dir);
    FUZZ_CHECK(count_files(p, 1) == 0, "the staging directory was left behind");
    snprintf(p, sizeof(p), "%s/cas", store_dir);
    udcs_remove_tree(p);
    snprintf(p, sizeof(p), "%s/ac", store_dir);
    udcs_remove_tree(p);
    return 0;
}
