/* tests/unit/test_cas_concurrency.c - many processes on one store at once, as parallel
 * compiles use it: overlapping puts and gets, with and without evictions running, while
 * a watcher process checks that every blob file it can see is complete and verifies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "tests/unit/helpers/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_BLOBS 48
#define N_WORKERS 6
#define RUN_MS 2500

/* Blob i: deterministic bytes of a size between 100 bytes and ~300 KiB; two of them
 * larger than the one-shot limit, to race the streaming path too. */
static size_t blob_len(int i)
{
    if (i == 0 || i == 1)
        return 6 * 1024 * 1024 + (size_t)i;
    return 100 + (size_t)(i * 7919 % 300000);
}

static char *blob_bytes(int i, size_t *len)
{
    *len = blob_len(i);
    char *p = malloc(*len);
    test_fill(p, *len, 1000 + (uint64_t)i, i % 3 == 0);
    return p;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct cas_store *open_store(const char *dir, uint64_t max_size)
{
    struct cas_store_options o = { .root = dir, .max_size = max_size,
                                   .encode = { .level = 1, .workers = 1 } };
    struct cas_store *cs = NULL;
    if (cas_store_open(&o, &cs) < 0)
        return NULL;
    return cs;
}

/* A worker: random puts and gets; every get that succeeds must give the exact bytes. */
static int worker(const char *dir, uint64_t max_size, unsigned seed)
{
    struct cas_store *cs = open_store(dir, max_size);
    if (!cs)
        return 10;
    char *data[N_BLOBS];
    size_t len[N_BLOBS];
    struct cas_digest d[N_BLOBS];
    for (int i = 0; i < N_BLOBS; i++) {
        data[i] = blob_bytes(i, &len[i]);
        cas_digest_of_bytes(data[i], len[i], &d[i]);
    }
    int bad = 0;
    uint64_t end = now_ms() + RUN_MS;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    while (!bad && now_ms() < end) {
        seed = seed * 1103515245 + 12345;
        int i = (int)((seed >> 8) % N_BLOBS);
        if (i < 2 && (seed & 0x700))   /* the big ones less often */
            continue;
        if ((seed >> 20) & 1) {
            struct cas_digest got;
            if (cas_store_put_bytes(cs, data[i], len[i], &got) < 0 || !cas_digest_equal(&got, &d[i]))
                bad = 1;
        } else {
            udcs_buf_reset(&out);
            int rc = cas_store_get_bytes(cs, &d[i], &out);
            if (rc == 0 && (out.len != len[i] || memcmp(out.data, data[i], len[i]) != 0))
                bad = 2;
            else if (rc < 0 && rc != -ENOENT)
                bad = 3;
        }
    }
    udcs_buf_release(&out);
    for (int i = 0; i < N_BLOBS; i++)
        free(data[i]);
    cas_store_close(cs);
    return bad;
}

/* The watcher: whatever file it finds under a blob's name must be whole and verify. */
static int watcher(const char *dir)
{
    uint64_t end = now_ms() + RUN_MS;
    int checked = 0;
    while (now_ms() < end) {
        for (int shard = 0; shard < 256; shard++) {
            char sdir[4096];
            snprintf(sdir, sizeof(sdir), "%s/cas/%02x", dir, shard);
            DIR *dd = opendir(sdir);
            if (!dd && errno == ENOENT)
                continue;   /* shards are made on first use */
            if (!dd)
                return 20;
            struct dirent *e;
            while ((e = readdir(dd)) != NULL) {
                if (e->d_name[0] == '.')
                    continue;
                char path[8192], hex[CAS_HEX_LEN + 1];
                snprintf(path, sizeof(path), "%s/%s", sdir, e->d_name);
                snprintf(hex, sizeof(hex), "%02x%s", shard, e->d_name);
                struct cas_digest d;
                if (cas_digest_parse(hex, &d, NULL) < 0) {
                    closedir(dd);
                    return 21;   /* a temporary or partial name became visible */
                }
                struct udcs_buf stored = UDCS_BUF_INIT(SIZE_MAX), raw = UDCS_BUF_INIT(SIZE_MAX);
                int rc = udcs_read_file(path, &stored);
                if (rc == 0) {
                    rc = cas_blob_decode(stored.data, stored.len, &d, &raw);
                    checked++;
                }
                udcs_buf_release(&stored);
                udcs_buf_release(&raw);
                if (rc < 0 && rc != -ENOENT) {   /* ENOENT: evicted under our feet */
                    closedir(dd);
                    return 22;
                }
            }
            closedir(dd);
        }
    }
    return checked > 0 ? 0 : 23;
}

static void run_processes(const char *dir, uint64_t max_size)
{
    pid_t pids[N_WORKERS + 1];
    for (int w = 0; w <= N_WORKERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0)
            _exit(w == N_WORKERS ? watcher(dir) : worker(dir, max_size, 77u + (unsigned)w));
    }
    for (int w = 0; w <= N_WORKERS; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s %d ended with status 0x%x\n", w == N_WORKERS ? "watcher" : "worker",
                    w, status);
            fail();
        }
    }
}

static size_t files_in_store(const char *dir)
{
    size_t n = 0;
    for (int shard = 0; shard < 256; shard++) {
        char sdir[4096];
        snprintf(sdir, sizeof(sdir), "%s/cas/%02x", dir, shard);
        DIR *dd = opendir(sdir);
        struct dirent *e;
        while (dd && (e = readdir(dd)) != NULL)
            n += e->d_name[0] != '.';
        if (dd)
            closedir(dd);
    }
    return n;
}

static void parallel_puts_and_gets_never_show_a_partial_blob(void **state)
{
    (void)state;
    char *dir = test_tmpdir("concurrent");
    struct cas_store *cs = open_store(dir, 0);   /* create it before the race */
    assert_non_null(cs);
    run_processes(dir, 0);

    struct cas_stats s;
    cas_store_stats(cs, &s);
    assert_int_equal(s.corrupt, 0);
    /* exactly one process created each blob: the count is exact */
    assert_int_equal(s.blob_count, files_in_store(dir));
    assert_true(s.blob_count > N_BLOBS / 2);
    struct cas_verify_report r;
    assert_int_equal(cas_store_verify(cs, &r, NULL, NULL), 0);
    assert_int_equal(r.corrupt, 0);
    assert_int_equal(r.blob_count, s.blob_count);
    cas_store_close(cs);
    test_rmtree(dir);
}

static void parallel_use_with_evictions_running_stays_correct(void **state)
{
    (void)state;
    char *dir = test_tmpdir("concurrent-evict");
    uint64_t max = 3 * 1024 * 1024;   /* well under the working set: constant eviction */
    struct cas_store *cs = open_store(dir, max);
    assert_non_null(cs);
    run_processes(dir, max);

    struct cas_stats s;
    cas_store_stats(cs, &s);
    assert_int_equal(s.corrupt, 0);
    assert_true(s.evictions > 0);
    struct cas_verify_report r;
    assert_int_equal(cas_store_verify(cs, &r, NULL, NULL), 0);
    assert_int_equal(r.corrupt, 0);
    /* The newest blob may stay above the limit until the next write; nothing else. */
    assert_true(r.blob_bytes <= max + 7 * 1024 * 1024);
    cas_store_close(cs);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parallel_puts_and_gets_never_show_a_partial_blob),
        cmocka_unit_test(parallel_use_with_evictions_running_stays_correct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
