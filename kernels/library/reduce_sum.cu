/* kernels/library/reduce_sum.cu - one partial sum per block: partial[b] is the sum of the
 * block's elements of x (those below n; the rest count as 0), so partial needs gridDim.x
 * elements and the host adds them up. The block sums in a tree in shared memory, in any
 * block size up to REDUCE_SUM_GROUP_MAX; a larger block writes NaN rather than a wrong
 * sum. The CUDA twin of reduce_sum.cl: same parameters, same order of additions, and
 * every thread reaches every __syncthreads() as there. */
#define REDUCE_SUM_GROUP_MAX 256

extern "C" __global__ void reduce_sum(const float *x, float *partial, unsigned int n)
{
    __shared__ float scratch[REDUCE_SUM_GROUP_MAX];
    unsigned int lid = threadIdx.x, size = blockDim.x;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    bool fits = size <= REDUCE_SUM_GROUP_MAX;
    if (fits)
        scratch[lid] = i < n ? x[i] : 0.0f;
    __syncthreads();
    /* Halve the live part each step; `size` need not be a power of two. */
    unsigned int width = 1;
    while (width < size)
        width <<= 1;
    for (unsigned int s = width / 2; s > 0; s /= 2) {
        if (fits && lid < s && lid + s < size)
            scratch[lid] += scratch[lid + s];
        __syncthreads();
    }
    if (lid == 0)
        partial[blockIdx.x] = fits ? scratch[0] : __int_as_float(0x7fc00000);   /* NaN */
}
