/* tests/unit/helpers/testutil.c - see testutil.h. */
#include "tests/unit/helpers/testutil.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/udcs-%s-XXXXXX", base && *base ? base : "/tmp", tag) < 0 ||
        !mkdtemp(path)) {
        fprintf(stderr, "test_tmpdir: %s\n", strerror(errno));
        abort();
    }
    return path;
}

void test_rmtree(char *dir)
{
    if (dir)
        udcs_remove_tree(dir);
    free(dir);
}

void test_fill(void *buf, size_t len, uint64_t seed, int text)
{
    static const char *const words[] = { "render ", "frame ", "tile ", "compile ", "object ",
                                         "digest ", "blob ", "agent ", "\n", "farm " };
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    unsigned char *p = buf;
    size_t i = 0;
    while (i < len) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (text) {
            const char *w = words[x % 10];
            for (; *w && i < len; w++)
                p[i++] = (unsigned char)*w;
        } else {
            for (int k = 0; k < 8 && i < len; k++)
                p[i++] = (unsigned char)(x >> (8 * k));
        }
    }
}

void test_write_file(const char *path, const void *data, size_t len)
{
    if (udcs_write_atomic(path, data, len, 0644) < 0) {
        fprintf(stderr, "test_write_file %s failed\n", path);
        abort();
    }
}

void *test_read_file(const char *path, size_t *len)
{
    struct udcs_buf b = UDCS_BUF_INIT(SIZE_MAX);
    if (udcs_read_file(path, &b) < 0) {
        fprintf(stderr, "test_read_file %s failed\n", path);
        abort();
    }
    return udcs_buf_detach(&b, len);
}

void test_flip_byte(const char *path, long at)
{
    unsigned char c;
    int fd = chmod(path, 0644) == 0 ? open(path, O_RDWR) : -1;
    if (fd < 0 || pread(fd, &c, 1, at) != 1) {
        fprintf(stderr, "test_flip_byte %s@%ld failed\n", path, at);
        abort();
    }
    c ^= 0x5a;
    if (pwrite(fd, &c, 1, at) != 1)
        abort();
    close(fd);
}

int test_file_is(const char *path, const void *data, size_t len)
{
    size_t got_len;
    char *got = test_read_file(path, &got_len);
    int same = got_len == len && memcmp(got, data, len) == 0;
    free(got);
    return same;
}

const char *test_bin(const char *name)
{
    static char path[4096];
    const char *dir = getenv("UDCS_BIN");
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "build/bin", name);
    return path;
}
