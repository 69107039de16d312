/* kernels/reference.h - CPU references of the kernel library (the .cl and .cu files of
 * kernels/library/): one function per kernel, with the kernel's parameters in its order
 * (reduce_sum also takes the launch's work-group size and count, on which its result
 * depends) and its semantics, to check a device's results against. Plain C,
 * single-threaded; nothing here touches a GPU. Each function's comment says where a
 * device may differ. */
#ifndef UDCS_KERNEL_REFERENCE_H
#define UDCS_KERNEL_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

/* The largest work-group reduce_sum sums (its local array); larger ones give NaN. */
#define KERNEL_REF_REDUCE_SUM_GROUP_MAX 256

/* c[i] = a[i] + b[i] for i < n, wrapping modulo 2^32. Devices agree exactly. */
void kernel_ref_vector_add(const int32_t *a, const int32_t *b, int32_t *c, uint32_t n);

/* y[i] = alpha * x[i] + y[i] for i < n, rounded after the product and after the sum.
 * A device that fuses the two (OpenCL C and NVRTC may) rounds once: the results differ
 * by at most FLT_EPSILON * (|alpha * x[i]| + |y[i]|). */
void kernel_ref_saxpy(const float *x, float *y, float alpha, uint32_t n);

/* partial[g] = the sum of x[i] for the i < n of work-group g, for the `groups` groups of
 * `group_size` (the launch's local size and group count; group_size at most
 * KERNEL_REF_REDUCE_SUM_GROUP_MAX, else every partial is NaN as on the device). Summed in
 * double and rounded once: the exact value to float precision. The device adds in a tree
 * of float additions, within (ceil(log2(group_size)) + 1) * FLT_EPSILON * the sum of |x|
 * over the group. */
void kernel_ref_reduce_sum(const float *x, float *partial, uint32_t n, size_t group_size,
                           size_t groups);

/* C = A * B, row-major, A M x K, B K x N, C M x N; each element adds its K products in
 * order of k in float, as the kernel does. A device that fuses the multiply-adds differs
 * by at most K * FLT_EPSILON * the sum of |A[row][k] * B[k][col]|. */
void kernel_ref_matmul(const float *A, const float *B, float *C, uint32_t M, uint32_t N,
                       uint32_t K);

/* The 3x3 box blur of a width x height float image, clamped to the edge: the nine values
 * added row by row, then multiplied by 1/9f. Every step is one IEEE rounding on both
 * sides: devices agree to the bit. */
void kernel_ref_box_blur(const float *src, float *dst, uint32_t width, uint32_t height);

#endif
