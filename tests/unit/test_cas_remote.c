/* tests/unit/test_cas_remote.c - the store against a real `udcs-cas serve` on loopback:
 * writes go to both layers, reads fill the local store, and the server refuses uploads
 * with a wrong digest, a missing or wrong token, or an oversized body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cas/cas.h"
#include "common/err.h"
#include "common/fs.h"
#include "tests/unit/helpers/server.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    struct test_server srv;
    char *dir;   /* for client stores and files */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_server_start(&f->srv, NULL);
    f->dir = test_tmpdir("remote");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_server_stop(&f->srv);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

/* A client store named `name` under the fixture's directory, layered on the server. */
static struct cas *client(struct fixture *f, const char *name, const char *token)
{
    char *root = udcs_path_join(f->dir, name);
    struct cas_options o = { .local = { .root = root, .encode = { .level = 3, .workers = 1 } },
                             .remote_url = f->srv.url, .remote_token = token };
    struct cas *c = NULL;
    assert_int_equal(cas_open(&o, &c), 0);
    free(root);
    return c;
}

static void writes_reach_the_server_and_reads_fill_an_empty_store(void **state)
{
    struct fixture *f = *state;
    struct cas *a = client(f, "a", f->srv.token), *b = client(f, "b", NULL);
    char data[50000];
    struct cas_digest d;
    test_fill(data, sizeof(data), 1, 1);
    assert_int_equal(cas_put_bytes(a, data, sizeof(data), &d), 0);
    assert_string_equal(cas_last_remote_error(a), "");
    assert_int_equal(cas_remote_has(cas_remote(a), &d), 1);

    /* b has never seen it: a read-through fetch, verified, kept locally. */
    assert_false(cas_store_has(cas_local(b), &d));
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_get_bytes(b, &d, &out), 0);
    assert_int_equal(out.len, sizeof(data));
    assert_memory_equal(out.data, data, sizeof(data));
    assert_true(cas_store_has(cas_local(b), &d));
    struct cas_stats s;
    cas_store_stats(cas_local(b), &s);
    assert_int_equal(s.remote_hits, 1);
    assert_true(s.remote_bytes_down > 0);
    udcs_buf_release(&out);
    cas_close(a);
    cas_close(b);
}

static void large_blob_streams_both_ways(void **state)
{
    struct fixture *f = *state;
    struct cas *a = client(f, "a", f->srv.token), *b = client(f, "b", NULL);
    char *in = udcs_path_join(f->dir, "big"), *back = udcs_path_join(f->dir, "big.back");
    size_t len = 9 * 1024 * 1024 + 1;   /* over the server's read-whole limit */
    char *data = malloc(len);
    test_fill(data, len, 2, 1);
    test_write_file(in, data, len);
    struct cas_digest d;
    assert_int_equal(cas_put_file(a, in, &d), 0);
    assert_string_equal(cas_last_remote_error(a), "");
    assert_int_equal(cas_get_to_file(b, &d, back, 0644), 0);
    assert_true(test_file_is(back, data, len));
    free(data);
    free(in);
    free(back);
    cas_close(a);
    cas_close(b);
}

/* The stored form of `data`, in a file, and its size. */
static int stored_form_fd(struct fixture *f, const void *data, size_t len, uint64_t *size,
                          struct cas_digest *d)
{
    struct udcs_buf enc = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_encode_options o = { .level = 3 };
    assert_int_equal(cas_blob_encode(data, len, &o, &enc, d), 0);
    char *path = udcs_path_join(f->dir, "upload");
    test_write_file(path, enc.data, enc.len);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    *size = enc.len;
    udcs_buf_release(&enc);
    free(path);
    return fd;
}

static void upload_under_a_wrong_digest_is_refused(void **state)
{
    struct fixture *f = *state;
    struct cas_remote *r;
    assert_int_equal(cas_remote_open(f->srv.url, f->srv.token, &r), 0);
    char data[4000];
    test_fill(data, sizeof(data), 3, 1);
    uint64_t size;
    struct cas_digest d, other;
    int fd = stored_form_fd(f, data, sizeof(data), &size, &d);
    cas_digest_of_bytes("other bytes", 11, &other);

    assert_int_equal(cas_remote_put_stored(r, &other, fd, size), UDCS_ECORRUPT);
    assert_non_null(strstr(cas_remote_error(r), "different digest"));
    assert_int_equal(cas_remote_has(r, &other), 0);
    assert_int_equal(cas_remote_has(r, &d), 0);

    /* right name, bytes changed after the header: the payload's hash gives it away */
    close(fd);
    char *path = udcs_path_join(f->dir, "upload");
    test_flip_byte(path, (long)size - 5);
    fd = open(path, O_RDONLY);
    assert_int_equal(cas_remote_put_stored(r, &d, fd, size), UDCS_ECORRUPT);
    assert_int_equal(cas_remote_has(r, &d), 0);
    close(fd);
    free(path);
    cas_remote_free(r);
}

static void upload_without_or_with_a_wrong_token_is_refused(void **state)
{
    struct fixture *f = *state;
    char data[1000];
    test_fill(data, sizeof(data), 4, 1);
    uint64_t size;
    struct cas_digest d;
    int fd = stored_form_fd(f, data, sizeof(data), &size, &d);
    const char *tokens[] = { NULL, "wrong-token" };
    for (int i = 0; i < 2; i++) {
        struct cas_remote *r;
        assert_int_equal(cas_remote_open(f->srv.url, tokens[i], &r), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(cas_remote_put_stored(r, &d, fd, size), UDCS_EAUTH);
        assert_non_null(strstr(cas_remote_error(r), "token"));
        assert_int_equal(cas_remote_has(r, &d), 0);   /* reads stay open */
        cas_remote_free(r);
    }
    close(fd);
}

static void reads_need_the_token_when_the_server_guards_them(void **state)
{
    struct fixture *f = *state;
    test_server_stop(&f->srv);
    const char *extra[] = { "--auth-reads", NULL };
    test_server_start(&f->srv, extra);
    struct cas_remote *anon, *auth;
    struct cas_digest d;
    cas_digest_of_bytes("x", 1, &d);
    assert_int_equal(cas_remote_open(f->srv.url, NULL, &anon), 0);
    assert_int_equal(cas_remote_open(f->srv.url, f->srv.token, &auth), 0);
    assert_int_equal(cas_remote_has(anon, &d), UDCS_EAUTH);
    assert_int_equal(cas_remote_has(auth, &d), 0);
    cas_remote_free(anon);
    cas_remote_free(auth);
}

static void oversized_upload_is_refused(void **state)
{
    struct fixture *f = *state;
    test_server_stop(&f->srv);
    const char *extra[] = { "--max-blob", "1M", NULL };
    test_server_start(&f->srv, extra);
    struct cas_remote *r;
    assert_int_equal(cas_remote_open(f->srv.url, f->srv.token, &r), 0);
    size_t len = 2 * 1024 * 1024;
    char *data = malloc(len);
    test_fill(data, len, 5, 0);
    uint64_t size;
    struct cas_digest d;
    int fd = stored_form_fd(f, data, len, &size, &d);
    assert_int_equal(cas_remote_put_stored(r, &d, fd, size), UDCS_ETOOBIG);
    assert_non_null(strstr(cas_remote_error(r), "limit"));
    assert_int_equal(cas_remote_has(r, &d), 0);
    close(fd);
    free(data);
    cas_remote_free(r);
}

static void damaged_blob_on_the_server_is_never_served(void **state)
{
    struct fixture *f = *state;
    struct cas *a = client(f, "a", f->srv.token), *b = client(f, "b", NULL);
    char data[3000];   /* random: stored raw */
    struct cas_digest d;
    test_fill(data, sizeof(data), 6, 0);
    assert_int_equal(cas_put_bytes(a, data, sizeof(data), &d), 0);
    char hex[CAS_HEX_LEN + 1], path[4096];
    cas_digest_hex(&d, hex);
    snprintf(path, sizeof(path), "%s/cas/%.2s/%s", f->srv.store, hex, hex + 2);
    test_flip_byte(path, CAS_BLOB_HEADER_BYTES + 7);

    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_get_bytes(b, &d, &out), -ENOENT);
    assert_int_equal(out.len, 0);
    assert_false(cas_store_has(cas_local(b), &d));
    assert_int_not_equal(access(path, F_OK), 0);   /* the server removed it */
    udcs_buf_release(&out);
    cas_close(a);
    cas_close(b);
}

static void action_results_travel_with_their_outputs(void **state)
{
    struct fixture *f = *state;
    struct cas *a = client(f, "a", f->srv.token), *b = client(f, "b", NULL);
    struct cas_action_result r = { 0 }, got;
    struct cas_digest action, obj;
    cas_digest_of_bytes("cc -c x.c", 9, &action);
    assert_int_equal(cas_put_bytes(a, "OBJECT", 6, &obj), 0);
    cas_digest_of_bytes("", 0, &r.stdout_digest);
    cas_digest_of_bytes("", 0, &r.stderr_digest);
    assert_int_equal(cas_action_result_add_output(&r, "x.o", &obj, 0), 0);
    assert_int_equal(cas_ac_put(a, &action, &r), 0);
    assert_string_equal(cas_last_remote_error(a), "");
    assert_int_equal(cas_last_remote_rc(a), 0);

    assert_int_equal(cas_ac_get(b, &action, &got), 0);
    assert_true(cas_digest_equal(&got.outputs[0].digest, &obj));
    cas_action_result_release(&got);

    /* a result naming a blob the server lacks is refused */
    struct cas_remote *raw;
    assert_int_equal(cas_remote_open(f->srv.url, f->srv.token, &raw), 0);
    cas_digest_of_bytes("never uploaded", 14, &r.outputs[0].digest);
    assert_int_equal(cas_remote_ac_put(raw, &action, &r), UDCS_EPROTO);
    assert_non_null(strstr(cas_remote_error(raw), "upload the blobs first"));
    cas_remote_free(raw);
    cas_action_result_release(&r);
    cas_close(a);
    cas_close(b);
}

static void dead_remote_leaves_the_local_store_working(void **state)
{
    struct fixture *f = *state;
    char url[64];
    snprintf(url, sizeof(url), "%s", f->srv.url);
    test_server_stop(&f->srv);
    char *root = udcs_path_join(f->dir, "lonely");
    struct cas_options o = { .local = { .root = root, .encode = { .level = 3 } },
                             .remote_url = url };
    struct cas *c;
    assert_int_equal(cas_open(&o, &c), 0);
    struct cas_digest d;
    assert_int_equal(cas_put_bytes(c, "still works", 11, &d), 0);
    assert_true(strlen(cas_last_remote_error(c)) > 0);
    assert_int_equal(cas_last_remote_rc(c), UDCS_ENET);   /* no answer, as callers see it */
    assert_true(cas_store_has(cas_local(c), &d));
    struct udcs_buf out = UDCS_BUF_INIT(SIZE_MAX);
    assert_int_equal(cas_get_bytes(c, &d, &out), 0);
    assert_int_equal(out.len, 11);
    udcs_buf_release(&out);
    cas_close(c);
    free(root);
    test_server_start(&f->srv, NULL);   /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(writes_reach_the_server_and_reads_fill_an_empty_store,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(large_blob_streams_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(upload_under_a_wrong_digest_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(upload_without_or_with_a_wrong_token_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reads_need_the_token_when_the_server_guards_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(oversized_upload_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_blob_on_the_server_is_never_served, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(action_results_travel_with_their_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(dead_remote_leaves_the_local_store_working, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
