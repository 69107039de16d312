/* tests/unit/test_cas_store.c - the local store: put/get/has, corruption found and
 * removed, files written only when verified, LRU eviction, trim, verify, shared counters,
 * read-only stores and layout versions. */
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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fixture {
    char *dir;
    struct cas_store *cs;
};

static struct cas_store *open_store(const char *dir, uint64_t max_size)
{
    struct cas_store_options o = { .root = dir, .max_size = max_size,
                                   .encode = { .level = 3, .workers = 0 } };
    struct cas_store *cs = NULL;
    assert_int_equal(cas_store_open(&o, &cs), 0);
    return cs;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir("store");
    f->cs = open_store(f->dir, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cas_store_close(f->cs);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

/* Path of blob `d` on disk. */
static void blob_file(const struct fixture *f, const struct cas_digest *d, char *out, size_t len)
{
    char hex[CAS_HEX_LEN + 1];
    cas_digest_hex(d, hex);
    snprintf(out, len, "%s/cas/%.2s/%s", f->dir, hex, hex + 2);
}

static void flip_one_stored_byte(const struct fixture *f, const struct cas_digest *d, off_t at)
{
    char path[4096];
    blob_file(f, d, path, sizeof(path));
    test_flip_byte(path, (long)at);
}

static int blob_file_exists(const struct fixture *f, const struct cas_digest *d)
{
    char path[4096];
    blob_file(f, d, path, sizeof(path));
    return access(path, F_OK) == 0;
}

static void put_then_get_returns_the_same_bytes(void **state)
{
    struct fixture *f = *state;
    char data[10000];
    struct cas_digest d, again;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    test_fill(data, sizeof(data), 1, 1);
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d), 0);
    assert_true(cas_store_has(f->cs, &d));
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), 0);
    assert_int_equal(out.len, sizeof(data));
    assert_memory_equal(out.data, data, sizeof(data));

    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &again), 0);
    assert_true(cas_digest_equal(&d, &again));
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.puts_new, 1);
    assert_int_equal(s.puts_existing, 1);
    assert_int_equal(s.blob_count, 1);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.bytes_in, sizeof(data));
    udcs_buf_release(&out);
}

static void missing_blob_is_a_counted_miss(void **state)
{
    struct fixture *f = *state;
    struct cas_digest d;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    cas_digest_of_bytes("never stored", 12, &d);
    assert_false(cas_store_has(f->cs, &d));
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), -ENOENT);
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.misses, 1);
    udcs_buf_release(&out);
}

static void empty_blob_is_always_present(void **state)
{
    struct fixture *f = *state;
    struct cas_digest d;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_store_put_bytes(f->cs, "", 0, &d), 0);
    assert_int_equal(d.size, 0);
    assert_true(cas_store_has(f->cs, &d));
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), 0);
    assert_int_equal(out.len, 0);
    udcs_buf_release(&out);
}

static void get_rejects_blob_whose_bytes_changed_on_disk(void **state)
{
    struct fixture *f = *state;
    char data[5000];   /* random: stored raw, so every payload byte is a data byte */
    struct cas_digest d;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    test_fill(data, sizeof(data), 2, 0);
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d), 0);
    flip_one_stored_byte(f, &d, CAS_BLOB_HEADER_BYTES + 1234);

    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), UDCS_ECORRUPT);
    assert_int_equal(out.len, 0);                 /* nothing of it was served */
    assert_false(blob_file_exists(f, &d));        /* the bad copy is gone */
    assert_false(cas_store_has(f->cs, &d));
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.corrupt, 1);
    assert_int_equal(s.blob_count, 0);
    assert_int_equal(s.blob_bytes, 0);
    /* and it can be stored again */
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d), 0);
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), 0);
    udcs_buf_release(&out);
}

static void truncated_blob_is_not_present_and_is_removed(void **state)
{
    struct fixture *f = *state;
    char data[3000], path[4096];
    struct cas_digest d;
    test_fill(data, sizeof(data), 3, 1);
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d), 0);
    blob_file(f, &d, path, sizeof(path));
    chmod(path, 0644);
    assert_int_equal(truncate(path, 60), 0);
    assert_false(cas_store_has(f->cs, &d));
    assert_false(blob_file_exists(f, &d));
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.corrupt, 1);
}

/* A wrong size in a request is the request's mistake: anyone may send one (a remote HEAD
 * needs no token), so it must never cost the store a healthy blob. */
static void request_with_wrong_size_is_not_found_and_keeps_the_blob(void **state)
{
    struct fixture *f = *state;
    struct cas_digest d, wrong;
    struct cas_blob_header h;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    char *path = udcs_path_join(f->dir, "got");
    int fd = -1;
    assert_int_equal(cas_store_put_bytes(f->cs, "hello\n", 6, &d), 0);
    wrong = d;
    wrong.size = 9;

    assert_false(cas_store_has(f->cs, &wrong));
    assert_int_equal(cas_store_get_bytes(f->cs, &wrong, &out), -ENOENT);
    assert_int_equal(out.len, 0);
    assert_int_equal(cas_store_get_to_file(f->cs, &wrong, path, 0644), -ENOENT);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(cas_store_open_stored(f->cs, &wrong, &fd, &h), -ENOENT);

    assert_true(blob_file_exists(f, &d));
    assert_true(cas_store_has(f->cs, &d));
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), 0);
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.data, "hello\n", 6);
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.corrupt, 0);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.blob_count, 1);
    free(path);
    udcs_buf_release(&out);
}

/* The other side of the test above: when the size field of the header is what changed,
 * a request with the true size finds the damage, and the blob is removed. */
static void damaged_size_in_header_is_found_and_removed(void **state)
{
    struct fixture *f = *state;
    char data[10000];   /* text: stored as a zstd frame, whose size the header alone holds */
    struct cas_digest d;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    test_fill(data, sizeof(data), 5, 1);
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d), 0);
    flip_one_stored_byte(f, &d, 8);   /* low byte of the raw size */

    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), UDCS_ECORRUPT);
    assert_int_equal(out.len, 0);
    assert_false(blob_file_exists(f, &d));
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.corrupt, 1);
    /* a put repairs it rather than finding the damaged copy "already present" */
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d), 0);
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), 0);
    assert_memory_equal(out.data, data, sizeof(data));
    udcs_buf_release(&out);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void get_to_file_replaces_target_only_when_verified(void **state)
{
    struct fixture *f = *state;
    char *outdir = test_tmpdir("store-out");
    char *target = udcs_path_join(outdir, "result.o");
    char data[7000];
    struct cas_digest d;
    test_fill(data, sizeof(data), 4, 0);
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d), 0);

    assert_int_equal(cas_store_get_to_file(f->cs, &d, target, 0755), 0);
    assert_true(test_file_is(target, data, sizeof(data)));
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 0100, 0100);   /* the mode asked for (less umask) */

    test_write_file(target, "old", 3);
    flip_one_stored_byte(f, &d, CAS_BLOB_HEADER_BYTES + 10);
    assert_int_equal(cas_store_get_to_file(f->cs, &d, target, 0644), UDCS_ECORRUPT);
    assert_true(test_file_is(target, "old", 3));   /* the old file is untouched */
    assert_int_equal(count_entries(outdir), 1);    /* and no temporary is left */
    free(target);
    test_rmtree(outdir);
}

static void large_file_streams_and_is_not_compressed_twice(void **state)
{
    struct fixture *f = *state;
    char *dir = test_tmpdir("store-big");
    char *in = udcs_path_join(dir, "big.bin"), *back = udcs_path_join(dir, "back.bin");
    size_t len = 12 * 1024 * 1024 + 5;
    char *data = malloc(len);
    test_fill(data, len, 5, 1);
    test_write_file(in, data, len);

    struct cas_digest d, want, again;
    cas_digest_of_bytes(data, len, &want);
    assert_int_equal(cas_store_put_file(f->cs, in, &d), 0);
    assert_true(cas_digest_equal(&d, &want));
    assert_int_equal(cas_store_put_file(f->cs, in, &again), 0);
    assert_true(cas_digest_equal(&again, &want));
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.puts_new, 1);
    assert_int_equal(s.puts_existing, 1);
    assert_true(s.blob_bytes < len / 2);

    assert_int_equal(cas_store_get_to_file(f->cs, &d, back, 0644), 0);
    assert_true(test_file_is(back, data, len));
    free(data);
    free(in);
    free(back);
    test_rmtree(dir);
}

static void put_fd_reads_a_pipe_to_its_end(void **state)
{
    struct fixture *f = *state;
    int p[2];
    char data[100000];
    test_fill(data, sizeof(data), 6, 1);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(udcs_write_full(p[1], data, 60000), 0);   /* under the pipe buffer */
    close(p[1]);
    struct cas_digest d, want;
    assert_int_equal(cas_store_put_fd(f->cs, p[0], &d), 0);
    close(p[0]);
    cas_digest_of_bytes(data, 60000, &want);
    assert_true(cas_digest_equal(&d, &want));
    assert_true(cas_store_has(f->cs, &d));
}

/* Set a blob's file time to `age_s` seconds ago (its last use, for LRU order). */
static void age_blob(const struct fixture *f, const struct cas_digest *d, time_t age_s)
{
    char path[4096];
    blob_file(f, d, path, sizeof(path));
    struct timespec t[2] = { { time(NULL) - age_s, 0 }, { time(NULL) - age_s, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void eviction_removes_least_recently_used_first(void **state)
{
    struct fixture *f = *state;
    cas_store_close(f->cs);
    /* Random 20000-byte blobs are stored raw: 20040 bytes each. Room for 10. */
    f->cs = open_store(f->dir, 10 * 20040 + 100);
    char data[20000];
    struct cas_digest d[12];
    for (int i = 0; i < 10; i++) {
        test_fill(data, sizeof(data), 100 + (uint64_t)i, 0);
        assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d[i]), 0);
        age_blob(f, &d[i], 10000 - i * 100);   /* blob 0 oldest, blob 9 newest */
    }
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.evictions, 0);

    /* Using blob 0 makes it recent; blob 1 is now the least recently used. */
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_store_get_bytes(f->cs, &d[0], &out), 0);
    udcs_buf_release(&out);

    test_fill(data, sizeof(data), 110, 0);
    assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d[10]), 0);
    cas_store_stats(f->cs, &s);
    assert_true(s.evictions >= 1);
    assert_true(s.blob_bytes <= 10 * 20040 + 100);
    assert_true(cas_store_has(f->cs, &d[0]));     /* recently used: kept */
    assert_false(blob_file_exists(f, &d[1]));     /* least recently used: gone */
    assert_true(cas_store_has(f->cs, &d[10]));    /* the new one: kept */
    assert_true(cas_store_has(f->cs, &d[9]));
}

static void trim_brings_store_under_the_limit_oldest_first(void **state)
{
    struct fixture *f = *state;
    char data[20000];
    struct cas_digest d[6];
    for (int i = 0; i < 6; i++) {
        test_fill(data, sizeof(data), 200 + (uint64_t)i, 0);
        assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d[i]), 0);
        age_blob(f, &d[i], 5000 - i * 100);
    }
    struct cas_trim_report r;
    assert_int_equal(cas_store_trim(f->cs, 3 * 20040, &r), 0);
    assert_int_equal(r.removed_count, 3);
    assert_int_equal(r.kept_count, 3);
    assert_int_equal(r.kept_bytes, 3 * 20040);
    for (int i = 0; i < 6; i++)
        assert_int_equal(blob_file_exists(f, &d[i]), i >= 3);
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.blob_count, 3);
    assert_int_equal(s.blob_bytes, 3 * 20040);
}

static void note_corrupt(void *arg, const char *path, const char *why)
{
    (void)path;
    assert_true(strlen(why) > 0);
    (*(int *)arg)++;
}

static void verify_finds_and_removes_damaged_blobs_and_recounts(void **state)
{
    struct fixture *f = *state;
    char data[8000];
    struct cas_digest d[4];
    for (int i = 0; i < 4; i++) {
        test_fill(data, sizeof(data), 300 + (uint64_t)i, i % 2);
        assert_int_equal(cas_store_put_bytes(f->cs, data, sizeof(data), &d[i]), 0);
    }
    flip_one_stored_byte(f, &d[0], CAS_BLOB_HEADER_BYTES + 100);   /* raw payload */
    flip_one_stored_byte(f, &d[1], 20);                            /* header: digest */
    /* counters that drifted (a crash between link and count) are repaired */
    cas_store_stats_zero(f->cs);

    int reported = 0;
    struct cas_verify_report r;
    assert_int_equal(cas_store_verify(f->cs, &r, note_corrupt, &reported), 0);
    assert_int_equal(r.checked, 4);
    assert_int_equal(r.corrupt, 2);
    assert_int_equal(reported, 2);
    assert_int_equal(r.blob_count, 2);
    assert_false(blob_file_exists(f, &d[0]));
    assert_false(blob_file_exists(f, &d[1]));
    assert_true(cas_store_has(f->cs, &d[2]));
    struct cas_stats s;
    cas_store_stats(f->cs, &s);
    assert_int_equal(s.blob_count, 2);
    assert_int_equal(s.corrupt, 2);
}

static void counters_are_shared_between_handles(void **state)
{
    struct fixture *f = *state;
    struct cas_store *other = open_store(f->dir, 0);
    struct cas_digest d;
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_store_put_bytes(other, "shared counters", 15, &d), 0);
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &out), 0);
    struct cas_stats a, b;
    cas_store_stats(f->cs, &a);
    cas_store_stats(other, &b);
    assert_int_equal(a.puts_new, 1);
    assert_int_equal(a.hits, 1);
    assert_memory_equal(&a, &b, sizeof(a));
    cas_store_close(other);
    udcs_buf_release(&out);
}

static void readonly_store_reads_but_refuses_writes(void **state)
{
    struct fixture *f = *state;
    struct cas_digest d;
    assert_int_equal(cas_store_put_bytes(f->cs, "read me", 7, &d), 0);
    struct cas_store_options o = { .root = f->dir, .readonly = 1, .encode = { .level = 3 } };
    struct cas_store *ro;
    assert_int_equal(cas_store_open(&o, &ro), 0);
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_store_get_bytes(ro, &d, &out), 0);
    assert_int_equal(out.len, 7);
    assert_int_equal(cas_store_put_bytes(ro, "new", 3, &d), -EROFS);
    cas_store_close(ro);
    udcs_buf_release(&out);
}

static void store_of_newer_layout_is_refused(void **state)
{
    struct fixture *f = *state;
    char *marker = udcs_path_join(f->dir, "udcs-store");
    test_write_file(marker, "udcs-store 99\n", 14);
    struct cas_store_options o = { .root = f->dir, .encode = { .level = 3 } };
    struct cas_store *cs = NULL;
    assert_int_equal(cas_store_open(&o, &cs), UDCS_EFORMAT);
    assert_null(cs);
    free(marker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_then_get_returns_the_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_blob_is_a_counted_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_blob_is_always_present, setup, teardown),
        cmocka_unit_test_setup_teardown(get_rejects_blob_whose_bytes_changed_on_disk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(truncated_blob_is_not_present_and_is_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(request_with_wrong_size_is_not_found_and_keeps_the_blob,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_size_in_header_is_found_and_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(get_to_file_replaces_target_only_when_verified, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(large_file_streams_and_is_not_compressed_twice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(put_fd_reads_a_pipe_to_its_end, setup, teardown),
        cmocka_unit_test_setup_teardown(eviction_removes_least_recently_used_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(trim_brings_store_under_the_limit_oldest_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(verify_finds_and_removes_damaged_blobs_and_recounts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(counters_are_shared_between_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(readonly_store_reads_but_refuses_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(store_of_newer_layout_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
