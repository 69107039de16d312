/* kernels/library/matmul.cu - C = A * B in float32, row-major: A is M x K, B is K x N,
 * C is M x N. A 2-D launch: x runs over the N columns, y over the M rows, one thread per
 * element of C, adding the K products in order of k. The CUDA twin of matmul.cl. */
extern "C" __global__ void matmul(const float *A, const float *B, float *C, unsigned int M,
                                  unsigned int N, unsigned int K)
{
    size_t col = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t row = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (row < M && col < N) {
        float acc = 0.0f;
        for (unsigned int k = 0; k < K; k++)
            acc += A[row * K + k] * B[(size_t)k * N + col];
        C[row * N + col] = acc;
    }
}
