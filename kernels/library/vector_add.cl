/* kernels/library/vector_add.cl - c[i] = a[i] + b[i] over n int32 elements, wrapping
 * modulo 2^32 as the hardware does (the sum is taken unsigned: signed overflow would be
 * undefined). CPU reference: kernel_ref_vector_add() in kernels/reference.c. */
__kernel void vector_add(__global const int *a, __global const int *b, __global int *c,
                         uint n)
{
    size_t i = get_global_id(0);
    if (i < n)
        c[i] = (int)((uint)a[i] + (uint)b[i]);
}
