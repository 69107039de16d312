/* kernels/library/reduce_sum.cl - one partial sum per work-group: partial[g] is the sum of
 * the work-group's elements of x (those below n; the rest count as 0), so partial needs
 * get_num_groups(0) elements and the host adds them up. The group sums in a tree in local
 * memory, in any work-group size up to REDUCE_SUM_GROUP_MAX; a larger group writes NaN
 * rather than a wrong sum. Every work-item reaches every barrier, even then: PoCL hangs
 * on a group that returns before a barrier, however uniformly. CPU reference:
 * kernel_ref_reduce_sum() in kernels/reference.c. */
#define REDUCE_SUM_GROUP_MAX 256

__kernel void reduce_sum(__global const float *x, __global float *partial, uint n)
{
    __local float scratch[REDUCE_SUM_GROUP_MAX];
    size_t lid = get_local_id(0), size = get_local_size(0), i = get_global_id(0);
    int fits = size <= REDUCE_SUM_GROUP_MAX;
    if (fits)
        scratch[lid] = i < n ? x[i] : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    /* Halve the live part each step; `size` need not be a power of two. */
    size_t width = 1;
    while (width < size)
        width <<= 1;
    for (size_t s = width / 2; s > 0; s /= 2) {
        if (fits && lid < s && lid + s < size)
            scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        partial[get_group_id(0)] = fits ? scratch[0] : NAN;
}
