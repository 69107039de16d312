/* tests/unit/test_common_buf.c - common/buf.h (limits, formatted appends, reading a
 * descriptor, handing memory over) and common/units.h (sizes people type and read). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/units.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB (1024ull * 1024 * 1024)

/* ---- udcs_buf ------------------------------------------------------------------------ */

static void append_past_max_fails_and_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(8);
    assert_int_equal(udcs_buf_append(&b, "abcd", 4), 0);
    char *data = b.data;
    size_t cap = b.cap;

    assert_int_equal(udcs_buf_append(&b, "12345", 5), UDCS_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "abcd");

    assert_int_equal(udcs_buf_append_str(&b, "1234"), 0);   /* exactly max is fine */
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abcd1234");
    assert_int_equal(udcs_buf_append(&b, "x", 1), UDCS_ETOOBIG);
    assert_int_equal(udcs_buf_append(&b, "", 0), 0);
    assert_string_equal(b.data, "abcd1234");
    udcs_buf_release(&b);
}

static void zero_max_buffer_refuses_any_byte_and_allocates_nothing(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(0);
    assert_int_equal(udcs_buf_append(&b, "x", 1), UDCS_ETOOBIG);
    assert_null(b.data);
    assert_int_equal(udcs_buf_reserve(&b, SIZE_MAX), UDCS_ETOOBIG);
    assert_int_equal(udcs_buf_reserve(&b, SIZE_MAX - 1), UDCS_ETOOBIG);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void huge_reserve_on_unbounded_buffer_fails_without_overflow(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(udcs_buf_append(&b, "abc", 3), 0);
    /* len + extra + 1 would wrap around: must be refused, not under-allocated. */
    assert_int_equal(udcs_buf_reserve(&b, SIZE_MAX - 3), UDCS_ETOOBIG);
    assert_int_equal(udcs_buf_reserve(&b, SIZE_MAX - 1), UDCS_ETOOBIG);
    assert_string_equal(b.data, "abc");
    udcs_buf_release(&b);
}

static void binary_appends_keep_a_trailing_nul_and_grow(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(1 << 20);
    unsigned char chunk[1000];
    test_fill(chunk, sizeof(chunk), 7, 0);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(udcs_buf_append(&b, chunk, sizeof(chunk)), 0);
        assert_int_equal(b.data[b.len], '\0');
        assert_true(b.cap > b.len);
    }
    assert_int_equal(b.len, 300 * sizeof(chunk));
    assert_memory_equal(b.data + 299 * sizeof(chunk), chunk, sizeof(chunk));
    udcs_buf_release(&b);
}

static void appendf_formats_and_appends(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(4096);
    assert_int_equal(udcs_buf_appendf(&b, "unit %s", "u1"), 0);
    assert_int_equal(udcs_buf_appendf(&b, " took %d ms, %zu bytes", 42, (size_t)7), 0);
    assert_string_equal(b.data, "unit u1 took 42 ms, 7 bytes");
    assert_int_equal(b.len, strlen("unit u1 took 42 ms, 7 bytes"));

    /* longer than any first allocation */
    char big[300];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(udcs_buf_appendf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 27 + 2 + 299);
    assert_int_equal(b.data[28], 'z');
    assert_int_equal(b.data[b.len - 1], ']');
    udcs_buf_release(&b);
}

static void appendf_past_max_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(10);
    assert_int_equal(udcs_buf_appendf(&b, "%s", "hello"), 0);
    assert_int_equal(udcs_buf_appendf(&b, "%d", 123456), UDCS_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    assert_int_equal(udcs_buf_appendf(&b, "%d", 12345), 0);
    assert_string_equal(b.data, "hello12345");
    udcs_buf_release(&b);
}

static void appendf_of_nothing_gives_an_empty_string(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(16);
    assert_int_equal(udcs_buf_appendf(&b, "%s", ""), 0);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    udcs_buf_release(&b);
}

struct pipe_writer {
    int fd;
    const unsigned char *data;
    size_t len;
    int rc;
};

static void *write_and_close(void *arg)
{
    struct pipe_writer *w = arg;
    w->rc = udcs_write_full(w->fd, w->data, w->len);
    close(w->fd);
    return NULL;
}

static void read_fd_reads_a_pipe_larger_than_its_capacity(void **state)
{
    (void)state;
    size_t len = 3 * 1024 * 1024 + 17;   /* many times the pipe's buffer */
    unsigned char *data = malloc(len);
    assert_non_null(data);
    test_fill(data, len, 11, 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct pipe_writer w = { fds[1], data, len, -1 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, write_and_close, &w), 0);

    struct udcs_buf b = UDCS_BUF_INIT(4 * 1024 * 1024);
    assert_int_equal(udcs_buf_append_str(&b, "head:"), 0);
    int rc = udcs_buf_read_fd(&b, fds[0]);
    pthread_join(th, NULL);
    close(fds[0]);
    assert_int_equal(rc, 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(b.len, 5 + len);
    assert_memory_equal(b.data, "head:", 5);
    assert_memory_equal(b.data + 5, data, len);
    assert_int_equal(b.data[b.len], '\0');
    udcs_buf_release(&b);
    free(data);
}

/* Small enough for the pipe's buffer: written and closed before reading. */
static int pipe_with(const char *text, size_t len)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(udcs_write_full(fds[1], text, len), 0);
    close(fds[1]);
    return fds[0];
}

static void read_fd_accepts_exactly_max_and_refuses_one_more(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(10);
    int fd = pipe_with("0123456789", 10);
    assert_int_equal(udcs_buf_read_fd(&b, fd), 0);
    close(fd);
    assert_string_equal(b.data, "0123456789");
    udcs_buf_release(&b);

    fd = pipe_with("0123456789A", 11);
    assert_int_equal(udcs_buf_read_fd(&b, fd), UDCS_ETOOBIG);
    close(fd);
    assert_true(b.len <= b.max);
    udcs_buf_release(&b);
}

static void read_fd_reports_a_bad_descriptor(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(100);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(udcs_buf_read_fd(&b, fds[0]), -EBADF);
    udcs_buf_release(&b);
}

static void reset_keeps_memory_and_empties(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(100);
    assert_int_equal(udcs_buf_append_str(&b, "something"), 0);
    char *data = b.data;
    udcs_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_string_equal(b.data, "");
    assert_int_equal(udcs_buf_append_str(&b, "new"), 0);
    assert_string_equal(b.data, "new");
    udcs_buf_release(&b);
}

static void detach_hands_memory_over_and_empties_the_buffer(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(100);
    assert_int_equal(udcs_buf_append_str(&b, "frame 12"), 0);
    size_t len = 0;
    char *p = udcs_buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 8);
    assert_string_equal(p, "frame 12");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 100);

    /* the buffer is reusable, and the detached memory is independent of it */
    assert_int_equal(udcs_buf_append_str(&b, "again"), 0);
    assert_string_equal(p, "frame 12");
    assert_string_equal(b.data, "again");
    free(p);
    udcs_buf_release(&b);
}

static void detach_of_empty_buffer_gives_an_empty_string(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(100);
    size_t len = 99;
    char *p = udcs_buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    free(p);
}

static void release_keeps_max_and_buffer_is_reusable(void **state)
{
    (void)state;
    struct udcs_buf b = UDCS_BUF_INIT(4);
    assert_int_equal(udcs_buf_append_str(&b, "abcd"), 0);
    udcs_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 4);
    udcs_buf_release(&b);   /* twice is harmless */
    assert_int_equal(udcs_buf_append_str(&b, "abcde"), UDCS_ETOOBIG);
    assert_int_equal(udcs_buf_append_str(&b, "wxyz"), 0);
    assert_string_equal(b.data, "wxyz");
    udcs_buf_release(&b);
}

/* ---- units: udcs_size_parse / udcs_size_format ---------------------------------------- */

static void size_parse_accepts_numbers_and_binary_suffixes(void **state)
{
    (void)state;
    static const struct { const char *text; uint64_t bytes; } ok[] = {
        { "4096", 4096 },
        { "0", 0 },
        { "5G", 5 * GIB },
        { "5g", 5 * GIB },
        { "1.5GiB", 3 * GIB / 2 },
        { "1.5 GiB", 3 * GIB / 2 },
        { "512 k", 512 * 1024 },
        { "512KB", 512 * 1024 },
        { "2Mi", 2 * 1024 * 1024 },
        { "3T", 3 * 1024 * GIB },
        { "10B", 10 },
        { " 7 ", 7 },
        { "0.5K", 512 },
        { "15E", 15ull << 60 },
        { "18446744073709551615", UINT64_MAX },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 1;
        if (udcs_size_parse(ok[i].text, &v) != 0)
            fail_msg("'%s' was refused", ok[i].text);
        if (v != ok[i].bytes)
            fail_msg("'%s' gave %llu, expected %llu", ok[i].text, (unsigned long long)v,
                     (unsigned long long)ok[i].bytes);
    }
}

static void size_parse_rejects_malformed_and_overflowing_text(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "G", "-1", "+1", "5Q", "99999999999T", "16E", "18446744073709551616",
        "99999999999999999999", "0x10", "1.2.3", "5GiBs", "5 G B", "5 iB", "1,5G", ".", "K5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 1234;
        if (udcs_size_parse(bad[i], &v) != UDCS_EUSAGE)
            fail_msg("'%s' was accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 1234);   /* untouched on failure */
    }
}

static void size_format_uses_bytes_then_binary_units(void **state)
{
    (void)state;
    static const struct { uint64_t bytes; const char *text; } cases[] = {
        { 0, "0 B" },
        { 512, "512 B" },
        { 1023, "1023 B" },
        { 1024, "1.00 KiB" },
        { 1536, "1.50 KiB" },
        { 5 * GIB, "5.00 GiB" },
        { 10 * 1024 * 1024 + 512 * 1024, "10.5 MiB" },
        { 150ull * 1024 * 1024, "150 MiB" },
        { 1024 * 1024 - 1, "1.00 MiB" },   /* not "1024 KiB" */
        { GIB - 1, "1.00 GiB" },
        { (1ull << 60) - 1, "1.00 EiB" },   /* rounded, not cut to "0.99 EiB" */
        { 3ull << 59, "1.50 EiB" },
        { UINT64_MAX, "15.9 EiB" },         /* cut: "16.0 EiB" would not fit */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[32];
        assert_string_equal(udcs_size_format(cases[i].bytes, out, sizeof(out)), cases[i].text);
    }
}

static void size_format_truncates_into_a_small_buffer(void **state)
{
    (void)state;
    char out[5];
    memset(out, 'x', sizeof(out));
    assert_ptr_equal(udcs_size_format(5 * GIB, out, sizeof(out)), out);
    assert_string_equal(out, "5.00");
}

static void size_format_output_parses_back_to_the_same_size(void **state)
{
    (void)state;
    static const uint64_t sizes[] = { 0, 1, 1000, 1536, 3 * GIB / 2, 7ull << 40 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char out[32];
        uint64_t back = 0;
        assert_int_equal(udcs_size_parse(udcs_size_format(sizes[i], out, sizeof(out)), &back),
                         0);
        assert_int_equal(back, sizes[i]);
    }
}

static void size_format_of_the_largest_sizes_still_parses(void **state)
{
    (void)state;
    static const uint64_t sizes[] = { UINT64_MAX, UINT64_MAX - (1ull << 50), 15ull << 60 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char out[32];
        uint64_t back = 0;
        assert_int_equal(udcs_size_parse(udcs_size_format(sizes[i], out, sizeof(out)), &back),
                         0);
        assert_true(back <= sizes[i]);   /* rounded down, never past what fits */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_past_max_fails_and_leaves_buffer_unchanged),
        cmocka_unit_test(zero_max_buffer_refuses_any_byte_and_allocates_nothing),
        cmocka_unit_test(huge_reserve_on_unbounded_buffer_fails_without_overflow),
        cmocka_unit_test(binary_appends_keep_a_trailing_nul_and_grow),
        cmocka_unit_test(appendf_formats_and_appends),
        cmocka_unit_test(appendf_past_max_leaves_buffer_unchanged),
        cmocka_unit_test(appendf_of_nothing_gives_an_empty_string),
        cmocka_unit_test(read_fd_reads_a_pipe_larger_than_its_capacity),
        cmocka_unit_test(read_fd_accepts_exactly_max_and_refuses_one_more),
        cmocka_unit_test(read_fd_reports_a_bad_descriptor),
        cmocka_unit_test(reset_keeps_memory_and_empties),
        cmocka_unit_test(detach_hands_memory_over_and_empties_the_buffer),
        cmocka_unit_test(detach_of_empty_buffer_gives_an_empty_string),
        cmocka_unit_test(release_keeps_max_and_buffer_is_reusable),
        cmocka_unit_test(size_parse_accepts_numbers_and_binary_suffixes),
        cmocka_unit_test(size_parse_rejects_malformed_and_overflowing_text),
        cmocka_unit_test(size_format_uses_bytes_then_binary_units),
        cmocka_unit_test(size_format_truncates_into_a_small_buffer),
        cmocka_unit_test(size_format_output_parses_back_to_the_same_size),
        cmocka_unit_test(size_format_of_the_largest_sizes_still_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
