/* tests/unit/test_kernel_library.c - the kernel library (kernels/library/) run through
 * kernels/runtime.h on each API's device, against the CPU references of
 * kernels/reference.h on random inputs of awkward sizes; the runtime's refusals (sources
 * that do not compile, missing entries, wrong argument counts and sizes, programs of
 * another API or damaged); ranges of work-groups giving the bytes of the whole launch;
 * and no CUDA where there is none. Every check of a device is one function run once per
 * API of apis[] (main() makes the table): on OpenCL with the .cl files, on CUDA with the
 * .cu twins, with the same inputs and tolerances; where the APIs differ (CUDA has no
 * __local arguments, no launch without a block size, no global offset), the check says
 * so. PoCL (pocl-opencl-icd) is an OpenCL device on any CPU; where an API has no device
 * its tests skip, saying why. The kernel sources are read from kernels/library/: the
 * tests run from the top of the source tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernels/reference.h"
#include "kernels/runtime.h"
#include "common/buf.h"
#include "common/err.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WHY 4096
#define PROGRAM_MAX (256u << 20)
#define LOG_MAX (1u << 20)
/* The sizes every 1-D kernel runs at: 1 and 3, smaller than any work-group, and 1000
 * and 4099, multiples of no work-group size used here. */
static const uint32_t awkward_sizes[] = { 1, 3, 1000, 4099 };
#define N_AWKWARD (sizeof(awkward_sizes) / sizeof(awkward_sizes[0]))
/* Elements past the end of each output, which a kernel that forgot its guard would write. */
#define GUARD_ELEMS 64
#define SENTINEL_BYTE 0x5a
/* The first CUDA driver that tells a kernel's parameters (cuFuncGetParamInfo), as
 * major * 100 + minor. */
#define CUDA_DRIVER_WITH_PARAM_INFO 1204

/* An API the device tests run on, and its device: opened once for every test (PoCL takes
 * a while per compile, not per open), NULL where the API has none, with the reason in
 * no_device_why. Each device test gets its entry as its state. */
struct api_case {
    enum kernel_api api;
    const char *name;           /* for messages: "OpenCL" */
    const char *ext;            /* the library's sources: kernels/library/NAME.EXT */
    const char *prefix;         /* the tests' names: PREFIX_CHECK */
    struct kernel_device *dev;
    char no_device_why[WHY];
};

static struct api_case apis[] = {
    { .api = KERNEL_API_OPENCL, .name = "OpenCL", .ext = "cl", .prefix = "opencl" },
    { .api = KERNEL_API_CUDA, .name = "CUDA", .ext = "cu", .prefix = "cuda" },
};
#define N_APIS (sizeof(apis) / sizeof(apis[0]))

/* The test running now: its API (use_api() sets both) and that API's device. */
static const struct api_case *cur;
static struct kernel_device *dev;

static int open_devices(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_APIS; i++) {
        struct api_case *a = &apis[i];
        char why[WHY] = "";
        if (!kernel_api_available(a->api, why, sizeof(why))) {
            snprintf(a->no_device_why, sizeof(a->no_device_why), "%s", why);
            printf("# skipping the %s tests: %s\n", a->name, why);
            continue;
        }
        int rc = kernel_device_open(a->api, &a->dev, why, sizeof(why));
        if (rc < 0) {
            /* a device is there, so this is our failure, not a missing device */
            fprintf(stderr, "# opening the %s device failed: %s (%s)\n", a->name, why,
                    udcs_strerror(rc));
            return -1;
        }
        printf("# %s device: %s\n", a->name, kernel_device_class(a->dev));
    }
    return 0;
}

static int close_devices(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_APIS; i++) {
        kernel_device_close(apis[i].dev);
        apis[i].dev = NULL;
    }
    return 0;
}

/* Run the test on the API of its state; skip, saying why, where that API has no device. */
static void use_api(void **state)
{
    cur = *state;
    dev = cur->dev;
    if (!dev) {
        print_message("skipped: no %s device: %s\n", cur->name, cur->no_device_why);
        skip();
    }
}

static int on_cuda(void)
{
    return cur->api == KERNEL_API_CUDA;
}

/* A kernel written for each API: the OpenCL C text or the CUDA one. */
struct twin_source {
    const char *cl, *cu;
};

static const char *source_for_api(const struct twin_source *t)
{
    return on_cuda() ? t->cu : t->cl;
}

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t rng_state;

/* splitmix64: the same seed gives the same inputs on every run. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static float rng_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next() >> 40) / (double)(1ull << 24));
}

static void fill_floats(float *v, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = rng_float(lo, hi);
}

static void *alloc_sentinel(size_t bytes)
{
    void *p = malloc(bytes);
    assert_non_null(p);
    memset(p, SENTINEL_BYTE, bytes);
    return p;
}

static char *library_source(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "kernels/library/%s.%s", name, cur->ext);
    if (access(path, R_OK) != 0)
        fail_msg("%s: %s (the tests run from the top of the source tree)", path,
                 strerror(errno));
    return test_read_file(path, len);
}

/* Build `source` for `entry` with `prelude_nd` (the range prelude for that space, or
 * none) before it; fails the test with the runtime's why. */
static void build_text(const char *source, size_t len, const char *entry,
                       const struct kernel_ndrange *prelude_nd, struct udcs_buf *program)
{
    struct udcs_buf text = UDCS_BUF_INIT(SIZE_MAX), log = UDCS_BUF_INIT(LOG_MAX);
    char why[WHY] = "";
    if (prelude_nd)
        assert_int_equal(kernel_range_prelude(cur->api, prelude_nd, &text), 0);
    assert_int_equal(udcs_buf_append(&text, source, len), 0);
    int rc = kernel_build(dev, text.data, text.len, NULL, entry, program, &log, why,
                          sizeof(why));
    if (rc != 0)
        fail_msg("building %s: %s (%s)\n%s", entry, why, udcs_strerror(rc),
                 log.data ? log.data : "");
    udcs_buf_release(&text);
    udcs_buf_release(&log);
}

static void build_library(const char *name, const struct kernel_ndrange *prelude_nd,
                          struct udcs_buf *program)
{
    size_t len;
    char *src = library_source(name, &len);
    build_text(src, len, name, prelude_nd, program);
    free(src);
}

/* Skip without a device of the test's API; else build library kernel `name` for it and
 * seed the inputs. */
static void library_start(void **state, const char *name, uint64_t seed,
                          struct udcs_buf *program)
{
    use_api(state);
    *program = (struct udcs_buf)UDCS_BUF_INIT(PROGRAM_MAX);
    build_library(name, NULL, program);
    rng_state = seed;
}

static void launch(const struct udcs_buf *program, const char *entry, struct kernel_arg *args,
                   size_t n_args, const struct kernel_ndrange *nd,
                   const struct kernel_range *range)
{
    char why[WHY] = "";
    int rc = kernel_launch(dev, program->data, program->len, entry, args, n_args, nd, range,
                           why, sizeof(why));
    if (rc != 0)
        fail_msg("launching %s: %s (%s)", entry, why, udcs_strerror(rc));
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static struct kernel_arg buffer_arg(const char *name, void *data, size_t bytes, int writable)
{
    struct kernel_arg a = { .kind = KERNEL_ARG_BUFFER, .name = name, .data = data,
                            .bytes = bytes, .writable = writable };
    return a;
}

static struct kernel_arg scalar_arg(const char *name, void *data, size_t bytes)
{
    struct kernel_arg a = { .kind = KERNEL_ARG_SCALAR, .name = name, .data = data,
                            .bytes = bytes };
    return a;
}

static void assert_untouched(const void *p, size_t bytes, const char *what)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++)
        if (b[i] != SENTINEL_BYTE)
            fail_msg("%s: byte %zu past the end was written", what, i);
}

/* An output of `n` floats against the reference, element i within tol[i], and its
 * GUARD_ELEMS past the end untouched. */
static void assert_output_near(const float *got, const float *want, const double *tol,
                               size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= tol[i]))
            fail_msg("%s: element %zu is %.9g, reference %.9g (off by %.3g, allowed %.3g)",
                     what, i, (double)got[i], (double)want[i], d, tol[i]);
    }
    assert_untouched(got + n, GUARD_ELEMS * sizeof(float), what);
}

/* ---- the library against the references ---------------------------------------------- */

static void vector_add_matches_reference_exactly_at_awkward_sizes(void **state)
{
    struct udcs_buf program;
    library_start(state, "vector_add", 1, &program);
    for (size_t s = 0; s < N_AWKWARD; s++) {
        uint32_t n = awkward_sizes[s];
        int32_t *a = malloc(n * sizeof(int32_t)), *b = malloc(n * sizeof(int32_t));
        int32_t *c = alloc_sentinel((n + GUARD_ELEMS) * sizeof(int32_t));
        int32_t *want = malloc(n * sizeof(int32_t));
        assert_true(a && b && want);
        for (uint32_t i = 0; i < n; i++) {   /* the whole range: sums wrap */
            a[i] = (int32_t)(uint32_t)rng_next();
            b[i] = (int32_t)(uint32_t)rng_next();
        }
        struct kernel_arg args[] = {
            buffer_arg("a", a, n * sizeof(int32_t), 0),
            buffer_arg("b", b, n * sizeof(int32_t), 0),
            buffer_arg("c", c, (n + GUARD_ELEMS) * sizeof(int32_t), 1),
            scalar_arg("n", &n, sizeof(n)),
        };
        struct kernel_ndrange nd = { 1, { round_up(n, 64), 1, 1 }, { 64, 1, 1 } };
        launch(&program, "vector_add", args, 4, &nd, NULL);
        kernel_ref_vector_add(a, b, want, n);
        assert_memory_equal(c, want, n * sizeof(int32_t));
        assert_untouched(c + n, GUARD_ELEMS * sizeof(int32_t), "vector_add c");
        free(a);
        free(b);
        free(c);
        free(want);
    }
    udcs_buf_release(&program);
}

static void saxpy_matches_reference_within_one_rounding(void **state)
{
    struct udcs_buf program;
    library_start(state, "saxpy", 2, &program);
    for (size_t s = 0; s < N_AWKWARD; s++) {
        uint32_t n = awkward_sizes[s];
        float alpha = rng_float(-4, 4);
        float *x = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
        float *y = alloc_sentinel((n + GUARD_ELEMS) * sizeof(float));
        double *tol = malloc(n * sizeof(double));
        assert_true(x && want && tol);
        fill_floats(x, n, -100, 100);
        fill_floats(y, n, -100, 100);
        memcpy(want, y, n * sizeof(float));
        struct kernel_arg args[] = {
            buffer_arg("x", x, n * sizeof(float), 0),
            buffer_arg("y", y, (n + GUARD_ELEMS) * sizeof(float), 1),
            scalar_arg("alpha", &alpha, sizeof(alpha)),
            scalar_arg("n", &n, sizeof(n)),
        };
        /* OpenCL C compiles with FP_CONTRACT on and NVRTC with --fmad=true: the device
         * may fuse alpha * x + y into one fma, rounding once where the reference rounds
         * twice. The two differ by at most one rounding of each term:
         * FLT_EPSILON * (|alpha x| + |y|) (reference.h). */
        for (uint32_t i = 0; i < n; i++)
            tol[i] = FLT_EPSILON * (fabs((double)alpha * x[i]) + fabs((double)want[i]));
        struct kernel_ndrange nd = { 1, { round_up(n, 64), 1, 1 }, { 64, 1, 1 } };
        launch(&program, "saxpy", args, 4, &nd, NULL);
        kernel_ref_saxpy(x, want, alpha, n);
        assert_output_near(y, want, tol, n, "saxpy");
        free(x);
        free(y);
        free(want);
        free(tol);
    }
    udcs_buf_release(&program);
}

/* reduce_sum at `n` elements in groups of `group`: its partials against the reference,
 * each within the error of a tree of float additions. */
static void reduce_sum_check(const struct udcs_buf *program, uint32_t n, size_t group)
{
    size_t groups = (n + group - 1) / group;
    float *x = malloc(n * sizeof(float)), *want = malloc(groups * sizeof(float));
    float *partial = alloc_sentinel((groups + GUARD_ELEMS) * sizeof(float));
    double *tol = calloc(groups, sizeof(double));
    assert_true(x && want && tol);
    fill_floats(x, n, -1, 1);
    struct kernel_arg args[] = {
        buffer_arg("x", x, n * sizeof(float), 0),
        buffer_arg("partial", partial, (groups + GUARD_ELEMS) * sizeof(float), 1),
        scalar_arg("n", &n, sizeof(n)),
    };
    struct kernel_ndrange nd = { 1, { groups * group, 1, 1 }, { group, 1, 1 } };
    launch(program, "reduce_sum", args, 3, &nd, NULL);
    kernel_ref_reduce_sum(x, want, n, group, groups);
    /* The reference is the exact sum rounded once; the device adds in a tree of depth
     * ceil(log2(group)), each level rounding, in an order no CPU loop follows: a tree's
     * error bound is depth * (FLT_EPSILON / 2) * sum |x|, plus the reference's own
     * rounding. (ceil(log2) + 1) * FLT_EPSILON * sum |x| covers both. */
    double depth = ceil(log2((double)group)) + 1;
    for (size_t i = 0; i < n; i++)
        tol[i / group] += depth * FLT_EPSILON * fabs((double)x[i]);
    char what[64];
    snprintf(what, sizeof(what), "reduce_sum n=%u group=%zu", n, group);
    assert_output_near(partial, want, tol, groups, what);
    free(x);
    free(want);
    free(partial);
    free(tol);
}

static void reduce_sum_partials_match_reference_within_summation_error(void **state)
{
    struct udcs_buf program;
    library_start(state, "reduce_sum", 3, &program);
    static const size_t groups[] = { 64, 100, 256 };   /* 100: not a power of two */
    for (size_t s = 0; s < N_AWKWARD; s++)
        for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
            reduce_sum_check(&program, awkward_sizes[s], groups[g]);
    udcs_buf_release(&program);
}

static void reduce_sum_writes_nan_for_groups_beyond_its_local_array(void **state)
{
    struct udcs_buf program;
    library_start(state, "reduce_sum", 0, &program);
    uint32_t n = 1000;
    size_t group = 2 * KERNEL_REF_REDUCE_SUM_GROUP_MAX;
    float x[1000], partial[2], want[2];
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f;
    struct kernel_arg args[] = {
        buffer_arg("x", x, sizeof(x), 0),
        buffer_arg("partial", partial, sizeof(partial), 1),
        scalar_arg("n", &n, sizeof(n)),
    };
    struct kernel_ndrange nd = { 1, { 2 * group, 1, 1 }, { group, 1, 1 } };
    launch(&program, "reduce_sum", args, 3, &nd, NULL);
    kernel_ref_reduce_sum(x, want, n, group, 2);
    assert_true(isnan(partial[0]) && isnan(partial[1]));
    assert_true(isnan(want[0]) && isnan(want[1]));
    udcs_buf_release(&program);
}

static void matmul_check(const struct udcs_buf *program, uint32_t M, uint32_t N, uint32_t K)
{
    float *A = malloc((size_t)M * K * sizeof(float)), *B = malloc((size_t)K * N * sizeof(float));
    float *C = alloc_sentinel(((size_t)M * N + GUARD_ELEMS) * sizeof(float));
    float *want = malloc((size_t)M * N * sizeof(float));
    double *tol = calloc((size_t)M * N, sizeof(double));
    assert_true(A && B && want && tol);
    fill_floats(A, (size_t)M * K, -2, 2);
    fill_floats(B, (size_t)K * N, -2, 2);
    struct kernel_arg args[] = {
        buffer_arg("A", A, (size_t)M * K * sizeof(float), 0),
        buffer_arg("B", B, (size_t)K * N * sizeof(float), 0),
        buffer_arg("C", C, ((size_t)M * N + GUARD_ELEMS) * sizeof(float), 1),
        scalar_arg("M", &M, sizeof(M)), scalar_arg("N", &N, sizeof(N)),
        scalar_arg("K", &K, sizeof(K)),
    };
    struct kernel_ndrange nd = { 2, { round_up(N, 8), round_up(M, 8), 1 }, { 8, 8, 1 } };
    launch(program, "matmul", args, 6, &nd, NULL);
    kernel_ref_matmul(A, B, want, M, N, K);
    /* Both add the K products in the same order; the device may fuse each multiply-add
     * (OpenCL's FP_CONTRACT, NVRTC's default --fmad=true), so each of the K steps may
     * round differently: within K * FLT_EPSILON * sum |a b| of each other. */
    for (size_t r = 0; r < M; r++)
        for (size_t c = 0; c < N; c++)
            for (size_t k = 0; k < K; k++)
                tol[r * N + c] += K * FLT_EPSILON * fabs((double)A[r * K + k] * B[k * N + c]);
    char what[64];
    snprintf(what, sizeof(what), "matmul %ux%ux%u", M, N, K);
    assert_output_near(C, want, tol, (size_t)M * N, what);
    free(A);
    free(B);
    free(C);
    free(want);
    free(tol);
}

static void matmul_matches_reference_at_odd_shapes(void **state)
{
    struct udcs_buf program;
    library_start(state, "matmul", 4, &program);
    matmul_check(&program, 17, 33, 9);
    matmul_check(&program, 1, 1, 1);
    matmul_check(&program, 5, 1, 300);
    udcs_buf_release(&program);
}

static void box_blur_check(const struct udcs_buf *program, uint32_t width, uint32_t height)
{
    size_t n = (size_t)width * height;
    float *src = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    float *dst = alloc_sentinel((n + GUARD_ELEMS) * sizeof(float));
    assert_true(src && want);
    fill_floats(src, n, 0, 1);
    struct kernel_arg args[] = {
        buffer_arg("src", src, n * sizeof(float), 0),
        buffer_arg("dst", dst, (n + GUARD_ELEMS) * sizeof(float), 1),
        scalar_arg("width", &width, sizeof(width)),
        scalar_arg("height", &height, sizeof(height)),
    };
    struct kernel_ndrange nd = { 2, { round_up(width, 8), round_up(height, 8), 1 },
                                 { 8, 8, 1 } };
    launch(program, "box_blur", args, 4, &nd, NULL);
    kernel_ref_box_blur(src, want, width, height);
    /* Tolerance 0: the same nine additions in the same order and one multiplication by the
     * same constant, each an IEEE rounding in OpenCL C and CUDA as in C; no multiply-add
     * to fuse, and no subnormals from inputs in [0, 1). */
    for (size_t i = 0; i < n; i++)
        if (memcmp(&dst[i], &want[i], sizeof(float)) != 0)
            fail_msg("box_blur %ux%u: pixel (%zu, %zu) is %.9g, reference %.9g", width, height,
                     i % width, i / width, (double)dst[i], (double)want[i]);
    assert_untouched(dst + n, GUARD_ELEMS * sizeof(float), "box_blur dst");
    free(src);
    free(dst);
    free(want);
}

static void box_blur_matches_reference_to_the_bit_with_clamped_edges(void **state)
{
    struct udcs_buf program;
    library_start(state, "box_blur", 5, &program);
    box_blur_check(&program, 37, 23);
    box_blur_check(&program, 1, 1);     /* every neighbour is the pixel itself */
    box_blur_check(&program, 2, 9);
    udcs_buf_release(&program);
}

/* ---- what the runtime refuses -------------------------------------------------------- */

static const struct twin_source broken_source = {
    .cl = "__kernel void broken(__global int *a)\n"
          "{\n"
          "    a[0] = undeclared_thing;\n"
          "}\n",
    .cu = "extern \"C\" __global__ void broken(int *a)\n"
          "{\n"
          "    a[0] = undeclared_thing;\n"
          "}\n",
};

static void broken_source_is_a_usage_error_with_the_compiler_log(void **state)
{
    use_api(state);
    const char *src = source_for_api(&broken_source);
    struct udcs_buf program = UDCS_BUF_INIT(PROGRAM_MAX), log = UDCS_BUF_INIT(LOG_MAX);
    char why[WHY] = "";
    int rc = kernel_build(dev, src, strlen(src), NULL, "broken", &program, &log, why,
                          sizeof(why));
    assert_int_equal(rc, UDCS_EUSAGE);
    print_message("why: %s\n", why);
    assert_non_null(strstr(why, "kernel broken"));
    assert_non_null(strstr(why, "undeclared_thing"));   /* the compiler's words */
    assert_non_null(log.data);
    assert_non_null(strstr(log.data, "undeclared_thing"));
    assert_int_equal(program.len, 0);
    /* an empty source: OpenCL would read a length of 0 as "up to the NUL" */
    assert_int_equal(kernel_build(dev, src, 0, NULL, "broken", &program, &log, why,
                                  sizeof(why)), UDCS_EUSAGE);
    assert_non_null(strstr(why, "empty"));
    udcs_buf_release(&program);
    udcs_buf_release(&log);
}

static void missing_entry_is_refused_listing_the_kernels_there(void **state)
{
    use_api(state);
    size_t len;
    char *src = library_source("vector_add", &len);
    struct udcs_buf program = UDCS_BUF_INIT(PROGRAM_MAX), log = UDCS_BUF_INIT(LOG_MAX);
    char why[WHY] = "";
    assert_int_equal(kernel_build(dev, src, len, NULL, "vector_sub", &program, &log, why,
                                  sizeof(why)), UDCS_EUSAGE);
    print_message("why: %s\n", why);
    assert_non_null(strstr(why, "vector_sub"));
    /* OpenCL lists the kernels a program has; NVRTC says the name expression is undefined */
    if (!on_cuda())
        assert_non_null(strstr(why, "it has: vector_add"));
    free(src);
    udcs_buf_release(&program);
    udcs_buf_release(&log);
}

/* use_api(), and skip where the device cannot tell a kernel's parameters: CUDA drivers
 * before 12.4 (no cuFuncGetParamInfo; the version is in the device class) launch with
 * what they are given, and would read a missing argument from past the array. OpenCL
 * always can. */
static void use_api_checking_parameters(void **state)
{
    use_api(state);
    if (!on_cuda())
        return;
    const char *at = strstr(kernel_device_class(dev), "(driver ");
    int major = 0, minor = 0;
    if (at && sscanf(at, "(driver %d.%d", &major, &minor) == 2 &&
        major * 100 + minor >= CUDA_DRIVER_WITH_PARAM_INFO)
        return;
    print_message("skipped: %s: CUDA drivers before 12.4 cannot check a kernel's "
                  "parameters\n", kernel_device_class(dev));
    skip();
}

static void wrong_argument_count_is_refused_naming_the_kernel(void **state)
{
    struct udcs_buf program;
    use_api_checking_parameters(state);
    library_start(state, "vector_add", 0, &program);
    int32_t a[4] = { 1, 2, 3, 4 }, c[4];
    struct kernel_arg args[] = {
        buffer_arg("a", a, sizeof(a), 0), buffer_arg("b", a, sizeof(a), 0),
        buffer_arg("c", c, sizeof(c), 1),
    };
    struct kernel_ndrange nd = { 1, { 4, 1, 1 }, { 4, 1, 1 } };
    char why[WHY] = "";
    assert_int_equal(kernel_launch(dev, program.data, program.len, "vector_add", args, 3, &nd,
                                   NULL, why, sizeof(why)), UDCS_EUSAGE);
    assert_string_equal(why, "kernel vector_add takes 4 arguments, 3 given");
    udcs_buf_release(&program);
}

static void argument_of_the_wrong_size_is_named_with_the_api_error(void **state)
{
    struct udcs_buf program;
    use_api_checking_parameters(state);
    library_start(state, "vector_add", 0, &program);
    int32_t a[4] = { 1, 2, 3, 4 }, c[4];
    uint64_t n = 4;   /* the kernel's n is a uint: 4 bytes */
    struct kernel_arg args[] = {
        buffer_arg("a", a, sizeof(a), 0), buffer_arg("b", a, sizeof(a), 0),
        buffer_arg("c", c, sizeof(c), 1), scalar_arg("n", &n, sizeof(n)),
    };
    struct kernel_ndrange nd = { 1, { 4, 1, 1 }, { 4, 1, 1 } };
    char why[WHY] = "";
    assert_int_equal(kernel_launch(dev, program.data, program.len, "vector_add", args, 4, &nd,
                                   NULL, why, sizeof(why)), UDCS_EUSAGE);
    print_message("why: %s\n", why);
    assert_non_null(strstr(why, on_cuda() ? "kernel vector_add, argument 3 'n': the parameter "
                                            "takes 4 bytes, and a scalar of 8 is given"
                                          : "kernel vector_add, argument 3 'n': "
                                            "CL_INVALID_ARG_SIZE"));
    udcs_buf_release(&program);
}

/* The program blob with its first occurrence of `from` replaced by `to` (malloc()ed). */
static char *blob_edit(const struct udcs_buf *program, const char *from, const char *to,
                       size_t *len)
{
    const char *at = memmem(program->data, program->len, from, strlen(from));
    assert_non_null(at);
    size_t head = (size_t)(at - program->data), tail = program->len - head - strlen(from);
    *len = head + strlen(to) + tail;
    char *out = malloc(*len);
    assert_non_null(out);
    memcpy(out, program->data, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), tail);
    return out;
}

static int launch_blob(const void *blob, size_t len, char *why)
{
    int32_t a[4] = { 0 }, c[4];
    uint32_t n = 4;
    struct kernel_arg args[] = {
        buffer_arg("a", a, sizeof(a), 0), buffer_arg("b", a, sizeof(a), 0),
        buffer_arg("c", c, sizeof(c), 1), scalar_arg("n", &n, sizeof(n)),
    };
    struct kernel_ndrange nd = { 1, { 4, 1, 1 }, { 4, 1, 1 } };
    why[0] = '\0';
    int rc = kernel_launch(dev, blob, len, "vector_add", args, 4, &nd, NULL, why, WHY);
    print_message("rc %d why: %s\n", rc, why);
    return rc;
}

static void program_of_another_api_class_or_version_or_damaged_is_refused(void **state)
{
    struct udcs_buf program;
    library_start(state, "vector_add", 0, &program);
    char why[WHY];
    size_t len;
    assert_int_equal(launch_blob(program.data, program.len, why), 0);   /* as built: fine */

    /* the header names the API ("opencl" or "cuda") and the device class starts with it */
    const char *self = on_cuda() ? "cuda" : "opencl", *other = on_cuda() ? "opencl" : "cuda";
    char from[64], to[64];
    snprintf(from, sizeof(from), "udcs-kernel-program 1 %s ", self);
    snprintf(to, sizeof(to), "udcs-kernel-program 1 %s ", other);
    char *blob = blob_edit(&program, from, to, &len);
    assert_int_equal(launch_blob(blob, len, why), UDCS_EUSAGE);
    snprintf(to, sizeof(to), "built for %s", other);
    assert_non_null(strstr(why, to));
    free(blob);

    snprintf(from, sizeof(from), "\n%s ", self);
    snprintf(to, sizeof(to), "\n%s other-device ", self);
    blob = blob_edit(&program, from, to, &len);
    assert_int_equal(launch_blob(blob, len, why), UDCS_EUSAGE);
    assert_non_null(strstr(why, "other-device"));
    free(blob);

    blob = blob_edit(&program, "udcs-kernel-program 1 ", "udcs-kernel-program 2 ", &len);
    assert_int_equal(launch_blob(blob, len, why), UDCS_EFORMAT);
    free(blob);

    assert_int_equal(launch_blob(program.data, program.len - 1, why), UDCS_ECORRUPT);
    assert_non_null(strstr(why, "present"));
    assert_int_equal(launch_blob("hello\n", 6, why), UDCS_EUSAGE);
    assert_int_equal(launch_blob("udcs-kernel-program 1 opencl", 28, why), UDCS_ECORRUPT);
    udcs_buf_release(&program);
}

static const struct twin_source reverse_groups_source = {
    .cl = "__kernel void reverse_groups(__global const int *in, __global int *out,\n"
          "                             __local int *tmp)\n"
          "{\n"
          "    size_t lid = get_local_id(0), size = get_local_size(0);\n"
          "    tmp[lid] = in[get_global_id(0)];\n"
          "    barrier(CLK_LOCAL_MEM_FENCE);\n"
          "    out[get_global_id(0)] = tmp[size - 1 - lid];\n"
          "}\n",
    .cu = "extern \"C\" __global__ void reverse_groups(const int *in, int *out)\n"
          "{\n"
          "    __shared__ int tmp[64];\n"
          "    unsigned int lid = threadIdx.x, size = blockDim.x;\n"
          "    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
          "    tmp[lid] = in[i];\n"
          "    __syncthreads();\n"
          "    out[i] = tmp[size - 1 - lid];\n"
          "}\n",
};

static void empty_buffers_and_local_memory_are_passed(void **state)
{
    /* n = 0 with empty arrays: neither API has empty buffers, the runtime makes one byte. */
    struct udcs_buf program;
    library_start(state, "vector_add", 0, &program);
    uint32_t n = 0;
    struct kernel_arg args[] = {
        buffer_arg("a", NULL, 0, 0), buffer_arg("b", NULL, 0, 0), buffer_arg("c", NULL, 0, 1),
        scalar_arg("n", &n, sizeof(n)),
    };
    struct kernel_ndrange nd = { 1, { 64, 1, 1 }, { 64, 1, 1 } };
    launch(&program, "vector_add", args, 4, &nd, NULL);

    /* A __local argument: each group reverses its part through work-group memory. CUDA
     * has no such arguments: its twin declares a __shared__ array, and the runtime
     * refuses KERNEL_ARG_LOCAL saying so. */
    const char *src = source_for_api(&reverse_groups_source);
    build_text(src, strlen(src), "reverse_groups", NULL, &program);
    int32_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = i;
    struct kernel_arg rargs[] = {
        buffer_arg("in", in, sizeof(in), 0), buffer_arg("out", out, sizeof(out), 1),
        { .kind = KERNEL_ARG_LOCAL, .name = "tmp", .bytes = 64 * sizeof(int32_t) },
    };
    struct kernel_ndrange rnd = { 1, { 256, 1, 1 }, { 64, 1, 1 } };
    size_t n_rargs = 3;
    if (on_cuda()) {
        char why[WHY] = "";
        assert_int_equal(kernel_launch(dev, program.data, program.len, "reverse_groups", rargs,
                                       3, &rnd, NULL, why, sizeof(why)), UDCS_EUSAGE);
        print_message("why: %s\n", why);
        assert_non_null(strstr(why, "argument 2 'tmp'"));
        assert_non_null(strstr(why, "__shared__"));
        n_rargs = 2;
    }
    launch(&program, "reverse_groups", rargs, n_rargs, &rnd, NULL);
    for (int i = 0; i < 256; i++)
        assert_int_equal(out[i], i / 64 * 64 + 63 - i % 64);
    udcs_buf_release(&program);
}

/* ---- ranges -------------------------------------------------------------------------- */

/* Writes what each work-item sees of the index space: per dimension its group id, group
 * count, global size, global id and local id (CUDA: blockIdx, gridDim, gridDim * blockDim,
 * the global index, threadIdx). A range launch must give the same. */
static const struct twin_source ids_source = {
    .cl = "__kernel void ids(__global uint *out, uint width, uint height)\n"
          "{\n"
          "    size_t x = get_global_id(0), y = get_global_id(1);\n"
          "    if (x >= width || y >= height)\n"
          "        return;\n"
          "    __global uint *o = out + (y * width + x) * 10;\n"
          "    for (uint d = 0; d < 2; d++) {\n"
          "        o[5 * d + 0] = (uint)get_group_id(d);\n"
          "        o[5 * d + 1] = (uint)get_num_groups(d);\n"
          "        o[5 * d + 2] = (uint)get_global_size(d);\n"
          "        o[5 * d + 3] = (uint)get_global_id(d);\n"
          "        o[5 * d + 4] = (uint)get_local_id(d);\n"
          "    }\n"
          "}\n",
    .cu = "extern \"C\" __global__ void ids(unsigned int *out, unsigned int width,\n"
          "                               unsigned int height)\n"
          "{\n"
          "    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;\n"
          "    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;\n"
          "    if (x >= width || y >= height)\n"
          "        return;\n"
          "    unsigned int *o = out + (y * width + x) * 10;\n"
          "    const unsigned int seen[10] = {\n"
          "        blockIdx.x, gridDim.x, gridDim.x * blockDim.x, x, threadIdx.x,\n"
          "        blockIdx.y, gridDim.y, gridDim.y * blockDim.y, y, threadIdx.y,\n"
          "    };\n"
          "    for (int k = 0; k < 10; k++)\n"
          "        o[k] = seen[k];\n"
          "}\n",
};
#define IDS_PER_ITEM 10

/* Run `ids` (built for `nd`) over the whole space and as ranges of dimension `dim` cut at
 * `cuts` (work-group indexes, ascending, the last the group count); each gives `out`. */
static void ids_run(const struct udcs_buf *program, const struct kernel_ndrange *nd,
                    uint32_t width, uint32_t height, unsigned dim, const size_t *cuts,
                    size_t n_cuts, uint32_t *out)
{
    size_t bytes = (size_t)width * height * IDS_PER_ITEM * sizeof(uint32_t);
    memset(out, SENTINEL_BYTE, bytes);
    struct kernel_arg args[] = {
        buffer_arg("out", out, bytes, 1), scalar_arg("width", &width, sizeof(width)),
        scalar_arg("height", &height, sizeof(height)),
    };
    if (n_cuts == 0)
        launch(program, "ids", args, 3, nd, NULL);
    for (size_t i = 0, first = 0; i < n_cuts; first = cuts[i], i++) {
        struct kernel_range r = { dim, first, cuts[i] - first };
        launch(program, "ids", args, 3, nd, &r);
    }
}

/* What the whole launch must write, worked out here. */
static void ids_expected(const struct kernel_ndrange *nd, uint32_t width, uint32_t height,
                         uint32_t *out)
{
    for (size_t y = 0; y < height; y++)
        for (size_t x = 0; x < width; x++) {
            uint32_t *o = out + (y * width + x) * IDS_PER_ITEM;
            size_t id[2] = { x, y };
            for (unsigned d = 0; d < 2; d++) {
                size_t g = d < nd->dims ? nd->global[d] : 1, l = d < nd->dims ? nd->local[d] : 1;
                o[5 * d + 0] = (uint32_t)(id[d] / l);
                o[5 * d + 1] = (uint32_t)(g / l);
                o[5 * d + 2] = (uint32_t)g;
                o[5 * d + 3] = (uint32_t)id[d];
                o[5 * d + 4] = (uint32_t)(id[d] % l);
            }
        }
}

static void ranges_over(const struct kernel_ndrange *nd, uint32_t width, uint32_t height,
                        unsigned dim, const size_t *two, const size_t *three)
{
    struct udcs_buf program = UDCS_BUF_INIT(PROGRAM_MAX);
    const char *src = source_for_api(&ids_source);
    build_text(src, strlen(src), "ids", nd, &program);
    size_t bytes = (size_t)width * height * IDS_PER_ITEM * sizeof(uint32_t);
    uint32_t *whole = malloc(bytes), *part = malloc(bytes), *want = malloc(bytes);
    assert_true(whole && part && want);
    ids_expected(nd, width, height, want);
    ids_run(&program, nd, width, height, dim, NULL, 0, whole);
    assert_memory_equal(whole, want, bytes);
    ids_run(&program, nd, width, height, dim, two, 2, part);
    assert_memory_equal(part, whole, bytes);
    ids_run(&program, nd, width, height, dim, three, 3, part);
    assert_memory_equal(part, whole, bytes);

    /* Without the prelude the groups count from the range: the comparison above can fail
     * (OpenCL). CUDA has no global offset, so a range of such a program would run the
     * wrong blocks: the runtime refuses it, naming what is missing. */
    build_text(src, strlen(src), "ids", NULL, &program);
    if (on_cuda()) {
        char why[WHY] = "";
        struct kernel_arg args[] = {
            buffer_arg("out", part, bytes, 1), scalar_arg("width", &width, sizeof(width)),
            scalar_arg("height", &height, sizeof(height)),
        };
        struct kernel_range r = { dim, 0, two[0] };
        assert_int_equal(kernel_launch(dev, program.data, program.len, "ids", args, 3, nd, &r,
                                       why, sizeof(why)), UDCS_EUSAGE);
        assert_non_null(strstr(why, "kernel_range_prelude()"));
    } else {
        ids_run(&program, nd, width, height, dim, two, 2, part);
        assert_true(memcmp(part, whole, bytes) != 0);
    }
    free(whole);
    free(part);
    free(want);
    udcs_buf_release(&program);
}

static void range_launches_give_the_bytes_of_the_whole_launch(void **state)
{
    use_api(state);
    /* 1-D: 1000 items in 16 groups of 64. */
    struct kernel_ndrange nd1 = { 1, { 1024, 1, 1 }, { 64, 1, 1 } };
    ranges_over(&nd1, 1000, 1, 0, (const size_t[]){ 7, 16 }, (const size_t[]){ 5, 11, 16 });
    /* 2-D: 37 x 23 in 5 x 3 groups of 8 x 8, cut along each dimension. */
    struct kernel_ndrange nd2 = { 2, { 40, 24, 1 }, { 8, 8, 1 } };
    ranges_over(&nd2, 37, 23, 1, (const size_t[]){ 1, 3 }, (const size_t[]){ 1, 2, 3 });
    ranges_over(&nd2, 37, 23, 0, (const size_t[]){ 2, 5 }, (const size_t[]){ 1, 4, 5 });
}

static void library_kernels_in_ranges_give_the_bytes_of_the_whole_launch(void **state)
{
    use_api(state);
    rng_state = 6;
    /* reduce_sum writes by group id: 4099 elements, 33 groups of 128, in three ranges. */
    uint32_t n = 4099;
    struct kernel_ndrange nd = { 1, { 33 * 128, 1, 1 }, { 128, 1, 1 } };
    struct udcs_buf program = UDCS_BUF_INIT(PROGRAM_MAX);
    build_library("reduce_sum", &nd, &program);
    float *x = malloc(n * sizeof(float)), whole[33], part[33];
    assert_non_null(x);
    fill_floats(x, n, -1, 1);
    memset(whole, SENTINEL_BYTE, sizeof(whole));
    memset(part, SENTINEL_BYTE, sizeof(part));
    struct kernel_arg args[] = {
        buffer_arg("x", x, n * sizeof(float), 0),
        buffer_arg("partial", whole, sizeof(whole), 1), scalar_arg("n", &n, sizeof(n)),
    };
    launch(&program, "reduce_sum", args, 3, &nd, NULL);
    args[1].data = part;
    static const size_t cuts[] = { 0, 10, 11, 33 };
    for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct kernel_range r = { 0, cuts[i], cuts[i + 1] - cuts[i] };
        launch(&program, "reduce_sum", args, 3, &nd, &r);
    }
    assert_memory_equal(part, whole, sizeof(whole));
    free(x);

    /* box_blur 37 x 23, in ranges of rows of groups. */
    uint32_t w = 37, h = 23;
    float src[37 * 23], bwhole[37 * 23], bpart[37 * 23];
    struct kernel_ndrange nd2 = { 2, { 40, 24, 1 }, { 8, 8, 1 } };
    build_library("box_blur", &nd2, &program);
    fill_floats(src, w * h, 0, 1);
    memset(bwhole, SENTINEL_BYTE, sizeof(bwhole));
    memset(bpart, SENTINEL_BYTE, sizeof(bpart));
    struct kernel_arg bargs[] = {
        buffer_arg("src", src, sizeof(src), 0), buffer_arg("dst", bwhole, sizeof(bwhole), 1),
        scalar_arg("width", &w, sizeof(w)), scalar_arg("height", &h, sizeof(h)),
    };
    launch(&program, "box_blur", bargs, 4, &nd2, NULL);
    bargs[1].data = bpart;
    for (size_t g = 0; g < 3; g++) {
        struct kernel_range r = { 1, g, 1 };
        launch(&program, "box_blur", bargs, 4, &nd2, &r);
    }
    assert_memory_equal(bpart, bwhole, sizeof(bwhole));
    udcs_buf_release(&program);
}

static void range_needs_a_local_size_and_must_lie_in_the_space(void **state)
{
    struct udcs_buf program;
    library_start(state, "vector_add", 0, &program);
    int32_t a[64] = { 0 }, c[64];
    uint32_t n = 64;
    struct kernel_arg args[] = {
        buffer_arg("a", a, sizeof(a), 0), buffer_arg("b", a, sizeof(a), 0),
        buffer_arg("c", c, sizeof(c), 1), scalar_arg("n", &n, sizeof(n)),
    };
    char why[WHY] = "";
    struct kernel_ndrange no_local = { 1, { 64, 1, 1 }, { 0, 0, 0 } };
    struct kernel_range r = { 0, 0, 1 };
    assert_int_equal(kernel_launch(dev, program.data, program.len, "vector_add", args, 4,
                                   &no_local, &r, why, sizeof(why)), UDCS_EUSAGE);
    assert_non_null(strstr(why, "local size"));
    if (on_cuda()) {
        /* CUDA has no launch without a block size, and runs whole blocks only */
        assert_int_equal(kernel_launch(dev, program.data, program.len, "vector_add", args, 4,
                                       &no_local, NULL, why, sizeof(why)), UDCS_EUSAGE);
        assert_non_null(strstr(why, "block size"));
        struct kernel_ndrange ragged = { 1, { 60, 1, 1 }, { 16, 1, 1 } };
        assert_int_equal(kernel_launch(dev, program.data, program.len, "vector_add", args, 4,
                                       &ragged, NULL, why, sizeof(why)), UDCS_EUSAGE);
        assert_non_null(strstr(why, "not a multiple of the block size 16"));
    } else {
        launch(&program, "vector_add", args, 4, &no_local, NULL);   /* the driver chooses */
    }

    struct kernel_ndrange nd = { 1, { 64, 1, 1 }, { 16, 1, 1 } };
    struct kernel_range beyond = { 0, 4, 1 }, other_dim = { 1, 0, 1 };
    assert_int_equal(kernel_launch(dev, program.data, program.len, "vector_add", args, 4, &nd,
                                   &beyond, why, sizeof(why)), UDCS_EUSAGE);
    assert_non_null(strstr(why, "which has 4"));
    assert_int_equal(kernel_launch(dev, program.data, program.len, "vector_add", args, 4, &nd,
                                   &other_dim, why, sizeof(why)), UDCS_EUSAGE);
    udcs_buf_release(&program);
}

/* ---- CUDA ---------------------------------------------------------------------------- */

static void cuda_is_not_supported_where_there_is_none(void **state)
{
    (void)state;
    char why[WHY] = "";
    if (kernel_api_available(KERNEL_API_CUDA, why, sizeof(why))) {
        print_message("skipped: a CUDA GPU is present\n");
        skip();
    }
    print_message("CUDA: %s\n", why);
    struct kernel_device *d = NULL;
    why[0] = '\0';
    assert_int_equal(kernel_device_open(KERNEL_API_CUDA, &d, why, sizeof(why)), -ENOTSUP);
    assert_null(d);
    assert_true(strlen(why) > 10);   /* says what is missing */
}

/* The CUDA prelude runs only where CUDA is (the range checks above); what it must hold
 * can be read anywhere: the offset defined (in braces, so not a mere declaration), the
 * functions before the macros that replace the built-ins, and the full grid. */
static void cuda_range_prelude_defines_its_functions_before_the_macros(void **state)
{
    (void)state;
    struct udcs_buf text = UDCS_BUF_INIT(1 << 16);
    struct kernel_ndrange nd = { 2, { 1024, 48, 1 }, { 256, 16, 1 } };
    assert_int_equal(kernel_range_prelude(KERNEL_API_CUDA, &nd, &text), 0);
    const char *offset = strstr(text.data, "extern \"C\" { __constant__ unsigned int "
                                           "udcs_range_block_offset[3]; }");
    const char *fn = strstr(text.data, "udcs_block_idx(void)");
    const char *grid = strstr(text.data, "return dim3(4u, 3u, 1u);");
    const char *macro = strstr(text.data, "#define blockIdx (udcs_block_idx())");
    const char *macro2 = strstr(text.data, "#define gridDim (udcs_grid_dim())");
    assert_true(offset && fn && grid && macro && macro2);
    assert_true(offset < fn && fn < macro && grid < macro && macro < macro2);
    struct kernel_ndrange no_local = { 1, { 1024, 1, 1 }, { 0, 0, 0 } };
    assert_int_equal(kernel_range_prelude(KERNEL_API_CUDA, &no_local, &text), UDCS_EUSAGE);
    udcs_buf_release(&text);
}

/* ---- the table ----------------------------------------------------------------------- */

/* The checks every API runs: main() makes each a test per entry of apis[], named
 * PREFIX_CHECK ("opencl_saxpy_...", "cuda_saxpy_...") with the entry as its state. */
struct per_api_check {
    const char *name;
    CMUnitTestFunction fn;
};
#define PER_API(f) { #f, f }

static const struct per_api_check per_api_checks[] = {
    PER_API(vector_add_matches_reference_exactly_at_awkward_sizes),
    PER_API(saxpy_matches_reference_within_one_rounding),
    PER_API(reduce_sum_partials_match_reference_within_summation_error),
    PER_API(reduce_sum_writes_nan_for_groups_beyond_its_local_array),
    PER_API(matmul_matches_reference_at_odd_shapes),
    PER_API(box_blur_matches_reference_to_the_bit_with_clamped_edges),
    PER_API(broken_source_is_a_usage_error_with_the_compiler_log),
    PER_API(missing_entry_is_refused_listing_the_kernels_there),
    PER_API(wrong_argument_count_is_refused_naming_the_kernel),
    PER_API(argument_of_the_wrong_size_is_named_with_the_api_error),
    PER_API(program_of_another_api_class_or_version_or_damaged_is_refused),
    PER_API(empty_buffers_and_local_memory_are_passed),
    PER_API(range_launches_give_the_bytes_of_the_whole_launch),
    PER_API(library_kernels_in_ranges_give_the_bytes_of_the_whole_launch),
    PER_API(range_needs_a_local_size_and_must_lie_in_the_space),
};
#define N_PER_API (sizeof(per_api_checks) / sizeof(per_api_checks[0]))

int main(void)
{
    static char names[N_APIS][N_PER_API][128];
    struct CMUnitTest tests[N_APIS * N_PER_API + 2];
    size_t n = 0;
    for (size_t a = 0; a < N_APIS; a++)
        for (size_t c = 0; c < N_PER_API; c++) {
            snprintf(names[a][c], sizeof(names[a][c]), "%s_%s", apis[a].prefix,
                     per_api_checks[c].name);
            tests[n++] = (struct CMUnitTest){ .name = names[a][c],
                                              .test_func = per_api_checks[c].fn,
                                              .initial_state = &apis[a] };
        }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(cuda_is_not_supported_where_there_is_none);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        cuda_range_prelude_defines_its_functions_before_the_macros);
    return cmocka_run_group_tests(tests, open_devices, close_devices);
}
