/* tests/bench/bench_cas.c - in-process timings of the store, for tests/bench/run.sh:
 *   bench_cas small STORE DATAFILE COUNT   COUNT puts of 4 KiB blobs cut from DATAFILE,
 *                                          then COUNT gets (hits), with per-get latency
 *   bench_cas put STORE FILE               one put_file, timed
 *   bench_cas get STORE DIGEST OUT         one get_to_file, timed
 * Results are printed as "key value" lines so the script can pick them up. */
#include "cas/cas.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SMALL_BLOB_BYTES 4096

static struct cas_store *open_store(const char *root)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct cas_store_options o = { .root = root, .max_size = 0,
                                   .encode = { .level = 3, .workers = (int)(cores > 0 ? cores : 1) } };
    struct cas_store *cs;
    int rc = cas_store_open(&o, &cs);
    if (rc < 0) {
        fprintf(stderr, "bench_cas: cannot open %s: %s\n", root, udcs_strerror(rc));
        exit(1);
    }
    return cs;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int bench_small(const char *root, const char *data_path, long count)
{
    struct udcs_buf data = UDCS_BUF_INIT((size_t)count * SMALL_BLOB_BYTES + 1);
    int fd = open(data_path, O_RDONLY);
    if (fd < 0 || udcs_buf_reserve(&data, (size_t)count * SMALL_BLOB_BYTES) < 0) {
        perror(data_path);
        return 1;
    }
    ssize_t n = udcs_read_full(fd, data.data, (size_t)count * SMALL_BLOB_BYTES);
    close(fd);
    if (n < (ssize_t)((size_t)count * SMALL_BLOB_BYTES)) {
        fprintf(stderr, "bench_cas: %s is too short for %ld blobs\n", data_path, count);
        return 1;
    }
    struct cas_store *cs = open_store(root);
    struct cas_digest *d = calloc((size_t)count, sizeof(*d));
    uint64_t *lat = calloc((size_t)count, sizeof(*lat));

    uint64_t t0 = udcs_mono_ns();
    for (long i = 0; i < count; i++)
        if (cas_store_put_bytes(cs, data.data + (size_t)i * SMALL_BLOB_BYTES, SMALL_BLOB_BYTES,
                                &d[i]) < 0)
            return 1;
    uint64_t put_ns = udcs_mono_ns() - t0;

    struct udcs_buf out = UDCS_BUF_INIT(1 << 20);
    t0 = udcs_mono_ns();
    for (long i = 0; i < count; i++) {
        udcs_buf_reset(&out);
        uint64_t s = udcs_mono_ns();
        if (cas_store_get_bytes(cs, &d[i], &out) < 0 || out.len != SMALL_BLOB_BYTES)
            return 1;
        lat[i] = udcs_mono_ns() - s;
    }
    uint64_t get_ns = udcs_mono_ns() - t0;
    qsort(lat, (size_t)count, sizeof(*lat), by_value);

    printf("small_puts %ld\nsmall_put_s %.3f\nsmall_get_s %.3f\n", count, (double)put_ns / 1e9,
           (double)get_ns / 1e9);
    printf("hit_p50_us %.2f\nhit_p99_us %.2f\n", (double)lat[count / 2] / 1e3,
           (double)lat[count * 99 / 100] / 1e3);
    udcs_buf_release(&out);
    udcs_buf_release(&data);
    free(d);
    free(lat);
    cas_store_close(cs);
    return 0;
}

static int bench_put(const char *root, const char *path)
{
    struct cas_store *cs = open_store(root);
    struct cas_digest d;
    uint64_t t0 = udcs_mono_ns();
    int rc = cas_store_put_file(cs, path, &d);
    uint64_t ns = udcs_mono_ns() - t0;
    if (rc < 0) {
        fprintf(stderr, "bench_cas: put %s: %s\n", path, udcs_strerror(rc));
        return 1;
    }
    struct cas_stats s;
    cas_store_stats(cs, &s);
    char hex[CAS_HEX_LEN + 1];
    printf("digest %s\nput_s %.3f\nstored_bytes %llu\n", cas_digest_hex(&d, hex),
           (double)ns / 1e9, (unsigned long long)s.blob_bytes);
    cas_store_close(cs);
    return 0;
}

static int bench_get(const char *root, const char *digest, const char *out)
{
    struct cas_store *cs = open_store(root);
    struct cas_digest d;
    if (cas_digest_parse(digest, &d, NULL) < 0)
        return 2;
    uint64_t t0 = udcs_mono_ns();
    int rc = cas_store_get_to_file(cs, &d, out, 0644);
    uint64_t ns = udcs_mono_ns() - t0;
    if (rc < 0) {
        fprintf(stderr, "bench_cas: get %s: %s\n", digest, udcs_strerror(rc));
        return 1;
    }
    printf("get_s %.3f\n", (double)ns / 1e9);
    cas_store_close(cs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "small") == 0)
        return bench_small(argv[2], argv[3], atol(argv[4]));
    if (argc == 4 && strcmp(argv[1], "put") == 0)
        return bench_put(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "get") == 0)
        return bench_get(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: bench_cas small STORE DATAFILE COUNT | put STORE FILE | "
                    "get STORE DIGEST OUT\n");
    return 2;
}
