/* toolchains/trace_gpu.h - udcs-trace on a GPU: trace_pixel() (trace_kernel.c) compiled
 * for an OpenCL device (trace_gpu.cl) or a CUDA one (trace_gpu.cu, through NVRTC), fed the
 * arrays of a struct trace_view and run over a region, one work-item per pixel. The
 * device runtime (opening devices, compiling, launching) is kernels/runtime.h.
 *
 * The first part of this header is also device source: the wrappers include it, and the
 * build pastes it into the text it embeds (toolchains/trace.mk), so host and devices read
 * the one definition of what crosses between them. */
#ifndef UDCS_TRACE_GPU_H
#define UDCS_TRACE_GPU_H

#include "toolchains/trace_kernel.h"

/* The scalars of a struct trace_view and the region to render: what the wrapper kernel
 * takes besides the arrays, in a buffer of its own. The view's pointers cannot cross (a
 * device has its own addresses): the wrapper builds its view from this and the arrays. */
struct trace_gpu_frame {
    int frame, width, height, samples, max_bounces;
    float clamp;
    struct trace_camera camera;
    struct trace_vec3 sky_horizon, sky_zenith;
    int n_materials, n_spheres, n_planes, n_triangles, n_normals, n_nodes, n_prims, n_lights;
    int x, y, w, h;             /* the region, in pixels of the whole frame */
};

/* Arrays go to devices as bytes, so every compiler must lay these structs out alike. Their
 * fields are all 4-byte ints and floats: a struct whose size is the sum of its fields has
 * no padding, and C keeps fields in order, so equal sizes mean equal offsets. The host
 * (gcc), OpenCL C and NVRTC each check the sizes while compiling this (an array of
 * negative size is an error everywhere; _Static_assert is not OpenCL C). */
#define TRACE_GPU_SIZE_IS(type, bytes) \
    typedef char trace_gpu_size_of_##type[sizeof(struct type) == (bytes) ? 1 : -1]
TRACE_GPU_SIZE_IS(trace_vec3, 12);
TRACE_GPU_SIZE_IS(trace_material, 4 + 2 * 12 + 2 * 4);
TRACE_GPU_SIZE_IS(trace_sphere, 12 + 3 * 4);
TRACE_GPU_SIZE_IS(trace_plane, 2 * 12 + 4);
TRACE_GPU_SIZE_IS(trace_triangle, 3 * 12 + 3 * 4);
TRACE_GPU_SIZE_IS(trace_tri_normals, 3 * 12);
TRACE_GPU_SIZE_IS(trace_bvh_node, 2 * 12 + 2 * 4);
TRACE_GPU_SIZE_IS(trace_light, 4 * 4);
TRACE_GPU_SIZE_IS(trace_camera, 6 * 12);
TRACE_GPU_SIZE_IS(trace_gpu_frame, 6 * 4 + 6 * 12 + 2 * 12 + 8 * 4 + 4 * 4);

/* The wrapper kernel's name in both sources, and its work-group (CUDA block) size: a
 * square of pixels, which keeps the rays of a group close together. */
#define TRACE_GPU_ENTRY "trace_region"
#define TRACE_GPU_GROUP 8

#ifdef TRACE_DEVICE
/* ---- the devices' part: what both wrappers share ------------------------------------- */

/* trace_region()'s parameters, in the order trace_gpu.c passes them, and their names. */
#define TRACE_GPU_PARAMS                                                                     \
    TRACE_GLOBAL const struct trace_gpu_frame *f,                                           \
    TRACE_GLOBAL const struct trace_material *materials,                                    \
    TRACE_GLOBAL const struct trace_sphere *spheres,                                        \
    TRACE_GLOBAL const struct trace_plane *planes,                                          \
    TRACE_GLOBAL const struct trace_triangle *triangles,                                    \
    TRACE_GLOBAL const struct trace_tri_normals *normals,                                   \
    TRACE_GLOBAL const struct trace_bvh_node *nodes,                                        \
    TRACE_GLOBAL const uint32_t *prims,                                                     \
    TRACE_GLOBAL const struct trace_light *lights,                                          \
    TRACE_GLOBAL float *rgba
#define TRACE_GPU_ARGS f, materials, spheres, planes, triangles, normals, nodes, prims, lights, rgba

/* trace_region()'s work for the item (i, j) of its index space: pixel (f->x + i, f->y + j)
 * of the frame into rgba[(j * f->w + i) * 4 ..]. The space may be larger than the region
 * (whole work-groups); the items outside it do nothing. */
static inline void trace_gpu_pixel(int i, int j, TRACE_GPU_PARAMS)
{
    if (i >= f->w || j >= f->h)
        return;
    struct trace_view v;
    v.frame = f->frame;
    v.width = f->width;
    v.height = f->height;
    v.samples = f->samples;
    v.max_bounces = f->max_bounces;
    v.clamp = f->clamp;
    v.camera = f->camera;
    v.sky_horizon = f->sky_horizon;
    v.sky_zenith = f->sky_zenith;
    v.materials = materials;
    v.spheres = spheres;
    v.planes = planes;
    v.triangles = triangles;
    v.normals = normals;
    v.nodes = nodes;
    v.prims = prims;
    v.lights = lights;
    v.n_materials = f->n_materials;
    v.n_spheres = f->n_spheres;
    v.n_planes = f->n_planes;
    v.n_triangles = f->n_triangles;
    v.n_normals = f->n_normals;
    v.n_nodes = f->n_nodes;
    v.n_prims = f->n_prims;
    v.n_lights = f->n_lights;
    float px[4];
    trace_pixel(&v, f->x + i, f->y + j, px);
    /* at most TRACE_MAX_SIZE^2 * 4 = 2^30 floats: an unsigned int holds the index, and
     * NVRTC, unlike OpenCL C, may not know size_t without headers */
    TRACE_GLOBAL float *out = rgba + ((unsigned)j * (unsigned)f->w + (unsigned)i) * 4u;
    out[0] = px[0];
    out[1] = px[1];
    out[2] = px[2];
    out[3] = px[3];
}

#else
/* ---- the host's part ----------------------------------------------------------------- */
#include <stddef.h>

/* Where udcs-trace computes pixels: "cpu" (threads, trace_render_region), "opencl" or
 * "cuda". */
enum trace_device { TRACE_DEVICE_CPU = 0, TRACE_DEVICE_OPENCL, TRACE_DEVICE_CUDA };

/* The device named `name` ("cpu", "opencl", "cuda"). Returns 0, or -1 for any other name
 * ("gpu" included: choosing between the APIs is the farm's business). */
int trace_device_parse(const char *name, enum trace_device *out);
/* "cpu", "opencl" or "cuda". */
const char *trace_device_name(enum trace_device d);

/* A device with the renderer compiled for it. */
struct trace_gpu;

/* Open the device of `d` (TRACE_DEVICE_OPENCL or TRACE_DEVICE_CUDA; which one of several:
 * kernels/runtime.h, UDCS_OPENCL_DEVICE and UDCS_CUDA_DEVICE) and compile the renderer
 * for it, with the options that keep its arithmetic that of the C build (no fused
 * multiply-adds, correctly rounded division and square roots, denormals kept).
 * Returns 0 and *out, or fills `why`: -ENOTSUP when the API or a device is missing (the
 * message says what to install), UDCS_EUSAGE when the device's compiler refuses the
 * source or an option (its log's first lines in `why`), -EINVAL for TRACE_DEVICE_CPU,
 * -ENOMEM. Free with trace_gpu_free(). */
int trace_gpu_open(enum trace_device d, struct trace_gpu **out, char *why, size_t why_len);

/* The device class (kernel_device_class(): API, device, driver), for logs. Valid until
 * trace_gpu_free(). */
const char *trace_gpu_device_class(const struct trace_gpu *g);

/* What trace_render_region() does (toolchains/trace.h), on the device: the rectangle
 * (x, y, w, h) of the frame into `rgba` (w * h * 4 floats, rows top to bottom), pixels
 * equal to the CPU's (docs/RENDER.md, "--device"). The view's arrays are copied to the
 * device for the call. Returns 0; -EINVAL for a rectangle not inside the frame; -EIO
 * (with why) when the kernel fails on the device; -ENOMEM. */
int trace_gpu_render_region(struct trace_gpu *g, const struct trace_view *v, int x, int y,
                            int w, int h, float *rgba, char *why, size_t why_len);

/* NULL does nothing. */
void trace_gpu_free(struct trace_gpu *g);

/* The device source of each API, embedded at build time (trace.mk writes it from
 * trace_gpu.cl or trace_gpu.cu with this header and trace_kernel.h/.c pasted in). */
extern const unsigned char trace_gpu_opencl_source[];
extern const size_t trace_gpu_opencl_source_len;
extern const unsigned char trace_gpu_cuda_source[];
extern const size_t trace_gpu_cuda_source_len;
#endif

#endif
