/* tests/unit/test_kernel_sig.c - kernel parameter lists read from OpenCL C and CUDA source
 * (kernels/kernel_sig.h): the seed's vector_add, qualifiers, address spaces, vector types,
 * several kernels, and what is refused with which reason. */
#include "kernels/kernel_sig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int parse(enum kernel_api api, const char *src, const char *entry, struct kernel_sig *sig,
                 char *why, size_t why_len)
{
    why[0] = '\0';
    return kernel_sig_parse(api, src, strlen(src), entry, sig, why, why_len);
}

static void seed_vector_add_is_read(void **state)
{
    (void)state;
    const char *src = "\n    __global__ void vector_add(float *a, float *b, float *c, int n) {\n"
                      "        int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
                      "        if (i < n) c[i] = a[i] + b[i];\n    }\n";
    struct kernel_sig sig;
    char why[512];
    assert_int_equal(parse(KERNEL_API_CUDA, src, NULL, &sig, why, sizeof(why)), 0);
    assert_string_equal(sig.entry, "vector_add");
    assert_int_equal(sig.n_params, 4);
    const char *names[] = { "a", "b", "c", "n" };
    for (int i = 0; i < 3; i++) {
        assert_string_equal(sig.params[i].name, names[i]);
        assert_int_equal(sig.params[i].kind, KERNEL_PARAM_GLOBAL);
        assert_int_equal(sig.params[i].elem, KERNEL_ELEM_FLOAT32);
        assert_int_equal(sig.params[i].width, 1);
        assert_false(sig.params[i].is_const);
    }
    assert_string_equal(sig.params[3].name, "n");
    assert_int_equal(sig.params[3].kind, KERNEL_PARAM_SCALAR);
    assert_int_equal(sig.params[3].elem, KERNEL_ELEM_INT32);
}

static void opencl_qualifiers_and_address_spaces(void **state)
{
    (void)state;
    const char *src =
        "#define N 16 /* a directive, skipped */\n"
        "// __kernel void in_a_comment(int x)\n"
        "const char *s = \"__kernel void in_a_string(int y)\";\n"
        "__kernel __attribute__((reqd_work_group_size(64, 1, 1)))\n"
        "void filter(__global const float * restrict src, global float4 *dst,\n"
        "            __local float *scratch, __constant uchar *lut, const uint n,\n"
        "            unsigned int m, double scale, __global long *big)\n{ }\n";
    struct kernel_sig sig;
    char why[512];
    assert_int_equal(parse(KERNEL_API_OPENCL, src, NULL, &sig, why, sizeof(why)), 0);
    assert_string_equal(sig.entry, "filter");
    assert_int_equal(sig.n_params, 8);
    assert_int_equal(sig.params[0].kind, KERNEL_PARAM_GLOBAL);
    assert_true(sig.params[0].is_const);
    assert_int_equal(sig.params[0].elem, KERNEL_ELEM_FLOAT32);
    assert_int_equal(sig.params[1].width, 4);
    assert_false(sig.params[1].is_const);
    assert_int_equal(kernel_param_elem_bytes(KERNEL_API_OPENCL, &sig.params[1]), 16);
    assert_int_equal(sig.params[2].kind, KERNEL_PARAM_LOCAL);
    assert_int_equal(sig.params[3].kind, KERNEL_PARAM_CONSTANT);
    assert_true(sig.params[3].is_const);
    assert_int_equal(sig.params[3].elem, KERNEL_ELEM_UINT8);
    assert_int_equal(sig.params[4].kind, KERNEL_PARAM_SCALAR);
    assert_int_equal(sig.params[4].elem, KERNEL_ELEM_UINT32);
    assert_int_equal(sig.params[5].elem, KERNEL_ELEM_UINT32);
    assert_int_equal(sig.params[6].elem, KERNEL_ELEM_FLOAT64);
    assert_int_equal(sig.params[7].elem, KERNEL_ELEM_INT64);
}

static void several_kernels_need_an_entry(void **state)
{
    (void)state;
    const char *src = "__kernel void first(__global int *a) {}\n"
                      "kernel void second(__global int *b, int n) {}\n";
    struct kernel_sig sig;
    char why[512];
    assert_int_equal(parse(KERNEL_API_OPENCL, src, NULL, &sig, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "first, second"));
    assert_int_equal(parse(KERNEL_API_OPENCL, src, "second", &sig, why, sizeof(why)), 0);
    assert_int_equal(sig.n_params, 2);
    assert_int_equal(parse(KERNEL_API_OPENCL, src, "third", &sig, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "no kernel named 'third'"));
    assert_non_null(strstr(why, "first, second"));
}

static void prototype_then_definition(void **state)
{
    (void)state;
    const char *src = "extern \"C\" __global__ void scale(float *, float);\n"
                      "extern \"C\" __global__ void scale(float *x, float k) { x[0] *= k; }\n";
    struct kernel_sig sig;
    char why[512];
    assert_int_equal(parse(KERNEL_API_CUDA, src, NULL, &sig, why, sizeof(why)), 0);
    assert_int_equal(sig.n_params, 2);
    assert_string_equal(sig.params[0].name, "x");
    assert_string_equal(sig.params[1].name, "k");
    assert_int_equal(sig.params[1].elem, KERNEL_ELEM_FLOAT32);
}

static void cuda_const_restrict_and_void(void **state)
{
    (void)state;
    const char *src = "__global__ void __launch_bounds__(256) k(const double* __restrict__ in,\n"
                      "    unsigned long long *out, size_t n) {}\n"
                      "__global__ void nothing(void) {}\n";
    struct kernel_sig sig;
    char why[512];
    assert_int_equal(parse(KERNEL_API_CUDA, src, "k", &sig, why, sizeof(why)), 0);
    assert_int_equal(sig.n_params, 3);
    assert_true(sig.params[0].is_const);
    assert_int_equal(sig.params[0].elem, KERNEL_ELEM_FLOAT64);
    assert_int_equal(sig.params[1].elem, KERNEL_ELEM_UINT64);
    assert_int_equal(sig.params[2].elem, KERNEL_ELEM_UINT64);
    assert_int_equal(parse(KERNEL_API_CUDA, src, "nothing", &sig, why, sizeof(why)), 0);
    assert_int_equal(sig.n_params, 0);
}

static void refused_with_reasons(void **state)
{
    (void)state;
    static const struct { enum kernel_api api; const char *src, *reason; } cases[] = {
        { KERNEL_API_CUDA, "template <typename T> __global__ void t(T *a) {}", "template" },
        { KERNEL_API_CUDA, "__global__ void p(float **a) {}", "pointer to a pointer" },
        { KERNEL_API_CUDA, "struct s { int x; }; __global__ void v(struct s v) {}",
          "not one udcs can bind" },
        { KERNEL_API_CUDA, "__global__ void r(float &a) {}", "references" },
        { KERNEL_API_OPENCL, "__kernel void g(float *a) {}", "without an address space" },
        { KERNEL_API_OPENCL, "__kernel void h(half x) {}", "not one udcs can bind" },
        { KERNEL_API_OPENCL, "#define ARGS __global int *a\n__kernel void m(ARGS) {}",
          "a parameter needs a type and a name" },
        { KERNEL_API_OPENCL, "__kernel void v4(float4 v) {}", "vectors by value" },
        { KERNEL_API_OPENCL, "__kernel void u(__global int *a, __global int *a) {}",
          "used twice" },
        { KERNEL_API_OPENCL, "__kernel void open(__global int *a", "does not end" },
        { KERNEL_API_OPENCL, "void helper(int x) {}", "no OpenCL kernel" },
        { KERNEL_API_CUDA, "__kernel void wrong_api(__global int *a) {}", "no CUDA kernel" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kernel_sig sig;
        char why[512];
        assert_int_equal(parse(cases[i].api, cases[i].src, NULL, &sig, why, sizeof(why)), -1);
        if (!strstr(why, cases[i].reason))
            fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].reason);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_vector_add_is_read),
        cmocka_unit_test(opencl_qualifiers_and_address_spaces),
        cmocka_unit_test(several_kernels_need_an_entry),
        cmocka_unit_test(prototype_then_definition),
        cmocka_unit_test(cuda_const_restrict_and_void),
        cmocka_unit_test(refused_with_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
