/* kernels/library/vector_add.cu - c[i] = a[i] + b[i] over n int32 elements, wrapping
 * modulo 2^32 as the hardware does (the sum is taken unsigned: signed overflow would be
 * undefined). The CUDA twin of vector_add.cl: same parameters, same results. */
extern "C" __global__ void vector_add(const int *a, const int *b, int *c, unsigned int n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = (int)((unsigned int)a[i] + (unsigned int)b[i]);
}
