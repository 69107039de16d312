/* kernels/reference.c - CPU references of the kernel library (reference.h), written to
 * follow each kernel's order of operations where the kernel fixes one. Compiled without
 * -ffast-math, as everything in UDCS is: the compiler keeps that order. */
#include "kernels/reference.h"

#include <math.h>

void kernel_ref_vector_add(const int32_t *a, const int32_t *b, int32_t *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        c[i] = (int32_t)((uint32_t)a[i] + (uint32_t)b[i]);   /* gcc: modulo 2^32 */
}

void kernel_ref_saxpy(const float *x, float *y, float alpha, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        float product = alpha * x[i];   /* rounded here, not fused with the sum */
        y[i] = product + y[i];
    }
}

void kernel_ref_reduce_sum(const float *x, float *partial, uint32_t n, size_t group_size,
                           size_t groups)
{
    for (size_t g = 0; g < groups; g++) {
        if (group_size == 0 || group_size > KERNEL_REF_REDUCE_SUM_GROUP_MAX) {
            partial[g] = NAN;
            continue;
        }
        double sum = 0.0;
        for (size_t i = g * group_size; i < (g + 1) * group_size && i < n; i++)
            sum += x[i];
        partial[g] = (float)sum;
    }
}

void kernel_ref_matmul(const float *A, const float *B, float *C, uint32_t M, uint32_t N,
                       uint32_t K)
{
    for (size_t row = 0; row < M; row++)
        for (size_t col = 0; col < N; col++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) {
                float product = A[row * K + k] * B[k * N + col];
                acc += product;
            }
            C[row * N + col] = acc;
        }
}

/* v clamped to [0, limit - 1]; limit > 0. */
static size_t clamp_index(long v, uint32_t limit)
{
    return v < 0 ? 0 : v >= (long)limit ? limit - 1 : (size_t)v;
}

void kernel_ref_box_blur(const float *src, float *dst, uint32_t width, uint32_t height)
{
    for (size_t y = 0; y < height; y++)
        for (size_t x = 0; x < width; x++) {
            float sum = 0.0f;
            for (long dy = -1; dy <= 1; dy++) {
                size_t yy = clamp_index((long)y + dy, height);
                for (long dx = -1; dx <= 1; dx++)
                    sum += src[yy * width + clamp_index((long)x + dx, width)];
            }
            dst[y * width + x] = sum * (1.0f / 9.0f);
        }
}
