/* kernels/library/box_blur.cl - a 3x3 box blur of a float32 single-channel image of
 * width x height pixels, row-major: each pixel becomes the mean of itself and its eight
 * neighbours, pixels beyond the border repeating the nearest edge pixel (clamp to edge).
 * A 2-D launch: dimension 0 runs over x, dimension 1 over y. The nine values are added
 * row by row and multiplied by 1/9 (not divided: OpenCL's division may be off by 2.5
 * ulp), so every step is one IEEE rounding, as on the CPU. CPU reference:
 * kernel_ref_box_blur() in kernels/reference.c. */
__kernel void box_blur(__global const float *src, __global float *dst, uint width,
                       uint height)
{
    size_t x = get_global_id(0), y = get_global_id(1);
    if (x < width && y < height) {
        float sum = 0.0f;
        for (int dy = -1; dy <= 1; dy++) {
            size_t yy = (size_t)clamp((int)y + dy, 0, (int)height - 1);
            for (int dx = -1; dx <= 1; dx++) {
                size_t xx = (size_t)clamp((int)x + dx, 0, (int)width - 1);
                sum += src[yy * width + xx];
            }
        }
        dst[y * width + x] = sum * (1.0f / 9.0f);
    }
}
