/* tests/unit/test_kernel_job.c - CUDA_KERNEL / OPENCL_KERNEL jobs into units
 * (kernels/kernel_job.h): the seed's example bound by name, arrays stored as blobs, ranges
 * and their merge, and the bad jobs refused with a reason; and the patches range units
 * write (kernels/kernel_exec.h). */
#include "cas/cas.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "kernels/kernel_exec.h"
#include "kernels/kernel_job.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SEED_SOURCE "__global__ void vector_add(float *a, float *b, float *c, int n) {\n" \
                    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"              \
                    "    if (i < n) c[i] = a[i] + b[i];\n}\n"

struct fixture {
    char *dir;
    struct cas_store *cs;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir("kernel-job");
    struct cas_store_options o = { .root = f->dir, .encode = { .level = 1 } };
    assert_int_equal(cas_store_open(&o, &f->cs), 0);
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

static json_t *job_of(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("bad test JSON: %s", err.text);
    return j;
}

/* The JSON blob `digest` ("HEX/SIZE") from the store. */
static json_t *blob_json(struct fixture *f, const char *digest)
{
    struct cas_digest d;
    struct udcs_buf b = UDCS_BUF_INIT(1u << 20);
    assert_int_equal(cas_digest_parse(digest, &d, NULL), 0);
    assert_int_equal(cas_store_get_bytes(f->cs, &d, &b), 0);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    udcs_buf_release(&b);
    assert_non_null(j);
    return j;
}

static void seed_example_binds_by_name(void **state)
{
    struct fixture *f = *state;
    json_t *job = json_pack("{s:s, s:s, s:{s:[f,f,f], s:[f,f,f]}, s:[i,i,i], s:[i,i,i]}",
                            "type", "CUDA_KERNEL", "kernel_code", SEED_SOURCE, "data", "a", 1.0,
                            2.0, 3.0, "b", 4.0, 5.0, 6.0, "grid_size", 1, 1, 1, "block_size",
                            256, 1, 1);
    char why[1024] = "";
    json_t *units = kernel_split(job, f->cs, why, sizeof(why));
    if (!units)
        fail_msg("%s", why);
    assert_int_equal(json_array_size(units), 2);
    json_t *compile = json_array_get(units, 0), *run = json_array_get(units, 1);
    assert_string_equal(json_string_value(json_object_get(compile, "name")), "compile");
    assert_string_equal(json_string_value(json_object_get(run, "name")), "kernel");
    assert_string_equal(json_string_value(json_object_get(run, "pin_toolchain")), "cuda");
    /* the arrays became blobs, in the job too */
    json_t *inputs = json_object_get(run, "inputs");
    assert_non_null(json_object_get(inputs, "in/a.bin"));
    assert_non_null(json_object_get(inputs, "in/b.bin"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            json_object_get(job, "data"), "a"), "type")), "float32");
    /* c is an output sized like the inputs, n their length */
    json_t *launch = blob_json(f, json_string_value(json_object_get(inputs, "launch.json")));
    json_t *args = json_object_get(launch, "args");
    assert_int_equal(json_array_size(args), 4);
    json_t *c = json_array_get(args, 2), *n = json_array_get(args, 3);
    assert_int_equal(json_integer_value(json_object_get(c, "bytes")), 12);
    assert_true(json_is_true(json_object_get(c, "write")));
    assert_string_equal(json_string_value(json_object_get(c, "output")), "out/c.bin");
    assert_string_equal(json_string_value(json_object_get(n, "hex")), "03000000");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(launch, "global"), 0)),
                     256);
    /* a and b are not const: the kernel may write them, so they come back too */
    json_t *outs = json_object_get(job, "kernel_outputs");
    assert_int_equal(json_array_size(outs), 3);
    json_t *c_out = json_array_get(outs, 2);
    assert_string_equal(json_string_value(json_object_get(c_out, "name")), "c");
    assert_int_equal(json_integer_value(json_object_get(c_out, "count")), 3);
    json_decref(launch);
    json_decref(units);
    json_decref(job);
}

static void split_makes_ranges_and_a_merge(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_of("{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void sq("
                         "__global const int *x, __global int *y, int n) { size_t i = "
                         "get_global_id(0); if (i < n) y[i] = x[i] * x[i]; }\", \"data\": "
                         "{\"x\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, \"global_size\": [16], "
                         "\"local_size\": [2], \"split\": 3}");
    char why[1024] = "";
    json_t *units = kernel_split(job, f->cs, why, sizeof(why));
    if (!units)
        fail_msg("%s", why);
    assert_int_equal(json_array_size(units), 5);   /* compile, 3 ranges, merge */
    size_t next = 0;
    for (int r = 0; r < 3; r++) {
        json_t *u = json_array_get(units, 1 + (size_t)r);
        json_t *launch = blob_json(f, json_string_value(json_object_get(
                                          json_object_get(u, "inputs"), "launch.json")));
        json_t *range = json_object_get(launch, "range");
        assert_int_equal(json_integer_value(json_object_get(range, "first")), (json_int_t)next);
        next += (size_t)json_integer_value(json_object_get(range, "count"));
        json_decref(launch);
    }
    assert_int_equal(next, 8);   /* 16 work-items in groups of 2 */
    json_t *merge = json_array_get(units, 4);
    assert_string_equal(json_string_value(json_object_get(merge, "name")), "merge");
    assert_non_null(json_object_get(json_object_get(merge, "inputs"), "r2/y.patch"));
    json_t *compile_argv = json_object_get(json_array_get(units, 0), "argv");
    int has_space = 0;
    for (size_t i = 0; i < json_array_size(compile_argv); i++)
        has_space |= strcmp(json_string_value(json_array_get(compile_argv, i)),
                            "--range-space") == 0;
    assert_true(has_space);
    json_decref(units);
    json_decref(job);
}

static void bad_jobs_are_refused(void **state)
{
    struct fixture *f = *state;
    static const struct { const char *job, *reason; } cases[] = {
        { "{\"type\": \"CUDA_KERNEL\", \"data\": {}, \"grid_size\": [1]}", "kernel_code" },
        { "{\"type\": \"CUDA_KERNEL\", \"kernel_code\": \"" "__global__ void f(float *a, int n) {}"
          "\", \"data\": {\"a\": [1], \"zz\": 2}, \"grid_size\": [1], \"block_size\": [32]}",
          "data 'zz' matches no parameter" },
        { "{\"type\": \"CUDA_KERNEL\", \"kernel_code\": \"__global__ void f(float *a, float s) {}"
          "\", \"data\": {\"a\": [1]}, \"grid_size\": [1], \"block_size\": [32]}",
          "parameter s (float) of kernel f is not in data" },
        { "{\"type\": \"CUDA_KERNEL\", \"kernel_code\": \"__global__ void f(float *a, float *b, "
          "int n) {}\", \"data\": {\"a\": [1], \"b\": [1, 2]}, \"grid_size\": [1], "
          "\"block_size\": [32]}", "a: 1, b: 2" },
        { "{\"type\": \"CUDA_KERNEL\", \"kernel_code\": \"__global__ void f(int *a, int n) {}\","
          " \"data\": {\"a\": [1.5]}, \"grid_size\": [1], \"block_size\": [32]}",
          "element 0 is 1.5, which is not a int32" },
        { "{\"type\": \"CUDA_KERNEL\", \"kernel_code\": \"__global__ void f(float *a, int n) {}"
          "\", \"data\": {\"a\": [1, 2, 3, 4, 5]}, \"grid_size\": [1], \"block_size\": [4]}",
          "the index space has 4 work-items, but n = 5" },
        { "{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void f(__global float *a) "
          "{}\", \"data\": {\"a\": [1]}, \"global_size\": [100], \"local_size\": [64]}",
          "not a multiple of local size 64" },
        { "{\"type\": \"CUDA_KERNEL\", \"kernel_code\": \"__global__ void f(float *a) {}\", "
          "\"data\": {\"a\": [1]}, \"grid_size\": [4294967295, 4294967295], "
          "\"block_size\": [1024]}", "overflows" },
        { "{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void f(__global float *a) "
          "{}\", \"data\": {\"a\": [1]}, \"global_size\": [65536, 65536, 65536]}",
          "more than 1099511627776 work-items" },
        { "{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void f(__global float *a) "
          "{}\", \"data\": {\"a\": [1]}, \"global_size\": [64], \"split\": 2}",
          "split needs a local size" },
        { "{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void f(__global const float "
          "*a, __global float *b) {}\", \"data\": {\"a\": [1], \"b\": {\"digest\": \"00\"}}, "
          "\"global_size\": [1]}", "not a digest" },
        { "{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void f(__global const float "
          "*a, __global float *b) {}\", \"global_size\": [1]}", "read-only" },
        { "{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void f(__global float *a) "
          "{}\", \"data\": {\"a\": [1]}, \"global_size\": [1], \"grid_size\": [1]}",
          "not both" },
        { "{\"type\": \"OPENCL_KERNEL\", \"kernel_code\": \"__kernel void f(__global float *a) "
          "{}\", \"data\": {\"a\": [1]}, \"global_size\": [1], \"colour\": 1}",
          "unknown field 'colour'" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *job = job_of(cases[i].job);
        char why[1024] = "";
        json_t *units = kernel_split(job, f->cs, why, sizeof(why));
        if (units || !strstr(why, cases[i].reason))
            fail_msg("case %zu: %s: '%s' does not say '%s'", i, units ? "accepted" : "refused",
                     why, cases[i].reason);
        json_decref(job);
    }
}

static void a_long_json_array_must_be_a_blob(void **state)
{
    struct fixture *f = *state;
    json_t *a = json_array();
    for (int i = 0; i <= KERNEL_JSON_ARRAY_MAX; i++)
        json_array_append_new(a, json_integer(i));
    json_t *job = json_pack("{s:s, s:s, s:{s:o}, s:[i]}", "type", "OPENCL_KERNEL",
                            "kernel_code", "__kernel void f(__global int *a) {}", "data", "a", a,
                            "global_size", 1);
    char why[1024] = "";
    assert_null(kernel_split(job, f->cs, why, sizeof(why)));
    assert_non_null(strstr(why, "send large arrays as blobs"));
    json_decref(job);
}

static void patches_merge_and_conflicts_are_found(void **state)
{
    (void)state;
    uint8_t initial[64], a[64], b[64], out[64], written[8] = { 0 };
    test_fill(initial, sizeof(initial), 7, 0);
    memcpy(a, initial, sizeof(a));
    memcpy(b, initial, sizeof(b));
    a[3] ^= 0xff;     /* range A writes bytes 3 and 40 */
    a[40] ^= 0x0f;
    b[10] ^= 0x01;    /* range B writes bytes 10..12 */
    b[12] ^= 0x80;
    struct udcs_buf pa = UDCS_BUF_INIT(4096), pb = UDCS_BUF_INIT(4096);
    assert_int_equal(kernel_patch_make(initial, a, sizeof(a), &pa), 0);
    assert_int_equal(kernel_patch_make(initial, b, sizeof(b), &pb), 0);
    memcpy(out, initial, sizeof(out));
    size_t at = 0;
    char why[256];
    assert_int_equal(kernel_patch_apply(out, initial, written, sizeof(out),
                                        (const uint8_t *)pa.data, pa.len, &at, why,
                                        sizeof(why)), 0);
    assert_int_equal(kernel_patch_apply(out, initial, written, sizeof(out),
                                        (const uint8_t *)pb.data, pb.len, &at, why,
                                        sizeof(why)), 0);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], i == 3 || i == 40 ? a[i] : i == 10 || i == 12 ? b[i]
                                                                                 : initial[i]);
    /* a third range changing byte 40 conflicts, whatever the value: the same one, or
     * another */
    for (int k = 0; k < 2; k++) {
        uint8_t c[64];
        memcpy(c, initial, sizeof(c));
        c[40] = k == 0 ? a[40] : (uint8_t)(initial[40] ^ 0xf0);
        struct udcs_buf pc = UDCS_BUF_INIT(4096);
        assert_int_equal(kernel_patch_make(initial, c, sizeof(c), &pc), 0);
        assert_int_equal(kernel_patch_apply(out, initial, written, sizeof(out),
                                            (const uint8_t *)pc.data, pc.len, &at, why,
                                            sizeof(why)), -EEXIST);
        assert_int_equal(at, 40);
        udcs_buf_release(&pc);
    }
    /* a patch reaching past the buffer is refused */
    memset(written, 0, sizeof(written));
    assert_int_equal(kernel_patch_apply(out, initial, written, 8, (const uint8_t *)pa.data,
                                        pa.len, &at, why, sizeof(why)), UDCS_EUSAGE);
    udcs_buf_release(&pa);
    udcs_buf_release(&pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(seed_example_binds_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(split_makes_ranges_and_a_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_jobs_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_long_json_array_must_be_a_blob, setup, teardown),
        cmocka_unit_test(patches_merge_and_conflicts_are_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
