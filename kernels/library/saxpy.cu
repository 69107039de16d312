/* kernels/library/saxpy.cu - y[i] = alpha * x[i] + y[i] over n float32 elements (BLAS
 * saxpy). NVRTC fuses the multiply-add (--fmad=true by default). The CUDA twin of
 * saxpy.cl: same parameters, same results but for that rounding. */
extern "C" __global__ void saxpy(const float *x, float *y, float alpha, unsigned int n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = alpha * x[i] + y[i];
}
