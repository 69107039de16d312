/* kernels/library/box_blur.cu - a 3x3 box blur of a float32 single-channel image of
 * width x height pixels, row-major, clamped to the edge (box_blur.cl says how). A 2-D
 * launch: x over the columns, y over the rows. The CUDA twin of box_blur.cl: the same
 * additions in the same order and the same multiplication by 1/9. */
extern "C" __global__ void box_blur(const float *src, float *dst, unsigned int width,
                                    unsigned int height)
{
    size_t x = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t y = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (x < width && y < height) {
        float sum = 0.0f;
        for (int dy = -1; dy <= 1; dy++) {
            size_t yy = (size_t)min(max((int)y + dy, 0), (int)height - 1);
            for (int dx = -1; dx <= 1; dx++) {
                size_t xx = (size_t)min(max((int)x + dx, 0), (int)width - 1);
                sum += src[yy * width + xx];
            }
        }
        dst[y * width + x] = sum * (1.0f / 9.0f);
    }
}
