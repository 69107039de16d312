/* tests/fuzz/replay_main.c - a fuzz target as an ordinary test program: replays the seed
 * corpus and the regressions of one target (tests/fuzz/corpus/NAME/ and
 * tests/fuzz/regressions/NAME/, from the source tree's root) through its
 * LLVMFuzzerTestOneInput, so `make check` and `make asan` run every input that once broke
 * an invariant, with gcc and without libFuzzer. Prints TAP: one line per folder. A broken
 * invariant aborts (FUZZ_CHECK), which the test runner reports with the input's name,
 * printed before each run. Built once per target as build/tests/test_replay_NAME, with
 * FUZZ_TARGET_NAME defined on the command line (tests/module.mk). */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_TARGET_NAME
#error "FUZZ_TARGET_NAME names the target (tests/module.mk defines it)"
#endif

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read a whole file; NULL with errno set on failure. An empty file gives a 1-byte buffer
 * and *len 0. */
static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    struct stat st;
    uint8_t *data = NULL;
    if (fstat(fileno(fp), &st) == 0 && (data = malloc((size_t)st.st_size + 1)) &&
        fread(data, 1, (size_t)st.st_size, fp) == (size_t)st.st_size) {
        *len = (size_t)st.st_size;
    } else {
        free(data);
        data = NULL;
        if (!errno)
            errno = EIO;
    }
    fclose(fp);
    return data;
}

/* Replay every regular file of `dir`, in name order. Returns the number replayed, 0 when
 * the folder does not exist, -1 on an unreadable file (said on stdout as a TAP comment). */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown)
                abort();
            names = grown;
        }
        if (!(names[n++] = strdup(e->d_name)))
            abort();
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    int replayed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            size_t len = 0;
            uint8_t *data = read_whole(path, &len);
            if (!data) {
                printf("# %s: %s\n", path, strerror(errno));
                replayed = -1;
            } else {
                fprintf(stderr, "replaying %s\n", path);
                LLVMFuzzerTestOneInput(data, len);
                free(data);
                if (replayed >= 0)
                    replayed++;
            }
        }
        free(names[i]);
    }
    free(names);
    return replayed;
}

int main(void)
{
    const char *dirs[] = { "tests/fuzz/corpus/" FUZZ_TARGET_NAME,
                           "tests/fuzz/regressions/" FUZZ_TARGET_NAME };
    printf("1..2\n");
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        int n = replay_dir(dirs[i]);
        if (n < 0)
            failed = 1;
        printf("%sok %d - %s: %d input%s replayed from %s\n", n < 0 ? "not " : "", i + 1,
               FUZZ_TARGET_NAME, n < 0 ? 0 : n, n == 1 ? "" : "s", dirs[i]);
    }
    return failed;
}
