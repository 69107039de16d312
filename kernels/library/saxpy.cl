/* kernels/library/saxpy.cl - y[i] = alpha * x[i] + y[i] over n float32 elements (BLAS
 * saxpy). OpenCL C lets the compiler fuse the multiply-add into one rounding (FP_CONTRACT
 * is on), so results may differ from a CPU's by one rounding. CPU reference:
 * kernel_ref_saxpy() in kernels/reference.c. */
__kernel void saxpy(__global const float *x, __global float *y, float alpha, uint n)
{
    size_t i = get_global_id(0);
    if (i < n)
        y[i] = alpha * x[i] + y[i];
}
