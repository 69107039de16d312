/* kernels/library/matmul.cl - C = A * B in float32, row-major: A is M x K, B is K x N,
 * C is M x N. A 2-D launch: dimension 0 runs over the N columns, dimension 1 over the M
 * rows, one work-item per element of C, adding the K products in order of k. CPU
 * reference: kernel_ref_matmul() in kernels/reference.c. */
__kernel void matmul(__global const float *A, __global const float *B, __global float *C,
                     uint M, uint N, uint K)
{
    size_t col = get_global_id(0), row = get_global_id(1);
    if (row < M && col < N) {
        float acc = 0.0f;
        for (uint k = 0; k < K; k++)
            acc += A[row * K + k] * B[(size_t)k * N + col];
        C[row * N + col] = acc;
    }
}
