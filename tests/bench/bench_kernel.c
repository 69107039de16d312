/* tests/bench/bench_kernel.c - kernels launched directly in this process, for
 * tests/bench/run_kernel.sh to set beside the same work through the farm:
 *   bench_kernel trivial API LIBRARY_DIR COUNT   vector_add over 3 elements, built once,
 *                                                launched COUNT times one after the other
 *                                                (buffers in, launch, buffers back): p50
 *   bench_kernel matmul API LIBRARY_DIR SIZE     SIZE x SIZE x SIZE float32 matrix multiply
 *                                                on the device (copies included) and with
 *                                                the CPU reference: GFLOP/s of each, best
 *                                                of 3, and the largest difference
 * API is opencl or cuda. Results are "key value" lines; exit 1 when the device is missing
 * (saying why) or a result is wrong. */
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "kernels/reference.h"
#include "kernels/runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEST_OF 3

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int read_source(const char *dir, const char *name, enum kernel_api api,
                       struct udcs_buf *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.%s", dir, name, api == KERNEL_API_CUDA ? "cu" : "cl");
    int rc = udcs_read_file(path, out);
    if (rc < 0)
        fprintf(stderr, "bench_kernel: cannot read %s: %s\n", path, udcs_strerror(rc));
    return rc;
}

static int trivial(struct kernel_device *d, const char *dir, int count)
{
    struct udcs_buf src = UDCS_BUF_INIT(1 << 20), program = UDCS_BUF_INIT(1 << 28),
                    log = UDCS_BUF_INIT(1 << 20);
    char why[4096];
    int rc = read_source(dir, "vector_add", kernel_device_api(d), &src);
    uint64_t t0 = udcs_mono_ns();
    if (rc == 0 && (rc = kernel_build(d, src.data, src.len, NULL, "vector_add", &program, &log,
                                      why, sizeof(why))) < 0)
        fprintf(stderr, "bench_kernel: build: %s\n", why);
    uint64_t built = udcs_mono_ns();
    uint64_t *t = calloc((size_t)count, sizeof(*t));
    int32_t a[3] = { 1, 2, 3 }, b[3] = { 4, 5, 6 }, c[3];
    uint32_t n = 3;
    struct kernel_arg args[] = {
        { KERNEL_ARG_BUFFER, "a", a, sizeof(a), 0 },
        { KERNEL_ARG_BUFFER, "b", b, sizeof(b), 0 },
        { KERNEL_ARG_BUFFER, "c", c, sizeof(c), 1 },
        { KERNEL_ARG_SCALAR, "n", &n, sizeof(n), 0 },
    };
    struct kernel_ndrange nd = { 1, { 3, 1, 1 }, { 3, 1, 1 } };   /* CUDA needs a block */
    for (int i = 0; rc == 0 && i < count; i++) {
        memset(c, 0, sizeof(c));
        uint64_t s = udcs_mono_ns();
        rc = kernel_launch(d, program.data, program.len, "vector_add", args, 4, &nd, NULL, why,
                           sizeof(why));
        t[i] = udcs_mono_ns() - s;
        if (rc < 0)
            fprintf(stderr, "bench_kernel: launch: %s\n", why);
        else if (c[0] != 5 || c[1] != 7 || c[2] != 9)
            rc = -1, fprintf(stderr, "bench_kernel: vector_add gave %d %d %d\n", c[0], c[1],
                             c[2]);
    }
    if (rc == 0) {
        qsort(t, (size_t)count, sizeof(*t), by_value);
        printf("trivial_build_ms %.3f\n", (double)(built - t0) / 1e6);
        printf("trivial_launch_p50_ms %.3f\n", (double)t[count / 2] / 1e6);
        printf("trivial_launch_p90_ms %.3f\n", (double)t[count * 9 / 10] / 1e6);
    }
    free(t);
    udcs_buf_release(&src);
    udcs_buf_release(&program);
    udcs_buf_release(&log);
    return rc;
}

static int matmul(struct kernel_device *d, const char *dir, uint32_t size)
{
    size_t n = (size_t)size * size;
    float *A = malloc(n * sizeof(float)), *B = malloc(n * sizeof(float)),
          *C = malloc(n * sizeof(float)), *R = malloc(n * sizeof(float));
    struct udcs_buf src = UDCS_BUF_INIT(1 << 20), program = UDCS_BUF_INIT(1 << 28),
                    log = UDCS_BUF_INIT(1 << 20);
    char why[4096];
    int rc = A && B && C && R ? read_source(dir, "matmul", kernel_device_api(d), &src) : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        A[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
        B[i] = (float)((i * 104729) % 1000) / 500.0f - 1.0f;
    }
    if (rc == 0 && (rc = kernel_build(d, src.data, src.len, NULL, "matmul", &program, &log, why,
                                      sizeof(why))) < 0)
        fprintf(stderr, "bench_kernel: build: %s\n", why);
    struct kernel_arg args[] = {
        { KERNEL_ARG_BUFFER, "A", A, n * sizeof(float), 0 },
        { KERNEL_ARG_BUFFER, "B", B, n * sizeof(float), 0 },
        { KERNEL_ARG_BUFFER, "C", C, n * sizeof(float), 1 },
        { KERNEL_ARG_SCALAR, "M", &size, sizeof(size), 0 },
        { KERNEL_ARG_SCALAR, "N", &size, sizeof(size), 0 },
        { KERNEL_ARG_SCALAR, "K", &size, sizeof(size), 0 },
    };
    size_t global = (size + 15) / 16 * 16;
    struct kernel_ndrange nd = { 2, { global, global, 1 }, { 16, 16, 1 } };
    uint64_t best_dev = UINT64_MAX, best_cpu = UINT64_MAX;
    for (int r = 0; rc == 0 && r < BEST_OF; r++) {
        uint64_t s = udcs_mono_ns();
        if ((rc = kernel_launch(d, program.data, program.len, "matmul", args, 6, &nd, NULL, why,
                                sizeof(why))) < 0)
            fprintf(stderr, "bench_kernel: launch: %s\n", why);
        uint64_t e = udcs_mono_ns();
        best_dev = e - s < best_dev ? e - s : best_dev;
        s = udcs_mono_ns();
        kernel_ref_matmul(A, B, R, size, size, size);
        e = udcs_mono_ns();
        best_cpu = e - s < best_cpu ? e - s : best_cpu;
    }
    double worst = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        worst = fmax(worst, fabs((double)C[i] - (double)R[i]));
    /* each element adds `size` products of numbers in [-1, 1]: the reference's own bound */
    if (rc == 0 && worst > size * 1.2e-7 * size) {
        fprintf(stderr, "bench_kernel: matmul differs from the reference by %g\n", worst);
        rc = -1;
    }
    if (rc == 0) {
        double flop = 2.0 * size * size * size;
        printf("matmul_size %u\n", size);
        printf("matmul_device_s %.4f\nmatmul_device_gflops %.3f\n", (double)best_dev / 1e9,
               flop / (double)best_dev);
        printf("matmul_cpu_reference_s %.4f\nmatmul_cpu_reference_gflops %.3f\n",
               (double)best_cpu / 1e9, flop / (double)best_cpu);
        printf("matmul_max_difference %g\n", worst);
    }
    free(A);
    free(B);
    free(C);
    free(R);
    udcs_buf_release(&src);
    udcs_buf_release(&program);
    udcs_buf_release(&log);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[2], "opencl") && strcmp(argv[2], "cuda")) ||
        (strcmp(argv[1], "trivial") && strcmp(argv[1], "matmul")) || atoi(argv[4]) < 1) {
        fprintf(stderr, "usage: bench_kernel trivial|matmul opencl|cuda LIBRARY_DIR N\n");
        return 2;
    }
    enum kernel_api api = strcmp(argv[2], "cuda") == 0 ? KERNEL_API_CUDA : KERNEL_API_OPENCL;
    struct kernel_device *d;
    char why[1024];
    if (kernel_device_open(api, &d, why, sizeof(why)) < 0) {
        fprintf(stderr, "bench_kernel: no %s device: %s\n", argv[2], why);
        return 1;
    }
    printf("device %s\n", kernel_device_class(d));
    int rc = strcmp(argv[1], "trivial") == 0 ? trivial(d, argv[3], atoi(argv[4]))
                                              : matmul(d, argv[3], (uint32_t)atoi(argv[4]));
    kernel_device_close(d);
    return rc < 0 ? 1 : 0;
}
