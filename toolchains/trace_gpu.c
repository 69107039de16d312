/* toolchains/trace_gpu.c - udcs-trace on an OpenCL or CUDA device: the kernel embedded at
 * build time (trace_gpu.cl, trace_gpu.cu) compiled once per opened device, then per region
 * the view's arrays copied in, one work-item per pixel, the pixels copied back. Opening,
 * compiling and launching are kernels/runtime.h's; this file knows the renderer's
 * arguments and the options that keep the device's arithmetic the C build's. */
#include "toolchains/trace_gpu.h"
#include "common/buf.h"
#include "common/err.h"
#include "kernels/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What makes a device round as the C build does (see trace_gpu.cl and trace_gpu.cu for
 * the defaults each option undoes; FP_CONTRACT is a pragma in the OpenCL source). */
#define OPENCL_OPTIONS "-cl-fp32-correctly-rounded-divide-sqrt"
#define CUDA_OPTIONS "--fmad=false --prec-div=true --prec-sqrt=true --ftz=false " \
                     "--device-as-default-execution-space"

/* A compiled renderer is a few hundred KiB (PoCL's or NVRTC's, with debug sections); its
 * compiler's log a few lines unless something is wrong. Bounds against a runaway
 * driver, far above both. */
#define TRACE_GPU_MAX_PROGRAM_BYTES (256u << 20)
#define TRACE_GPU_MAX_LOG_BYTES (1u << 20)

/* The kernel's parameters (TRACE_GPU_PARAMS): the frame, eight arrays, the pixels. */
#define TRACE_GPU_N_ARGS 10

struct trace_gpu {
    enum trace_device device;
    struct kernel_device *dev;
    struct udcs_buf program;    /* kernel_build()'s output, for kernel_launch() */
};

int trace_device_parse(const char *name, enum trace_device *out)
{
    static const enum trace_device all[] = { TRACE_DEVICE_CPU, TRACE_DEVICE_OPENCL,
                                             TRACE_DEVICE_CUDA };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(name, trace_device_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

const char *trace_device_name(enum trace_device d)
{
    switch (d) {
    case TRACE_DEVICE_OPENCL:
        return "opencl";
    case TRACE_DEVICE_CUDA:
        return "cuda";
    case TRACE_DEVICE_CPU:
        break;
    }
    return "cpu";
}

int trace_gpu_open(enum trace_device d, struct trace_gpu **out, char *why, size_t why_len)
{
    *out = NULL;
    if (d != TRACE_DEVICE_OPENCL && d != TRACE_DEVICE_CUDA) {
        udcs_why(why, why_len, "trace_gpu_open: '%s' is not a GPU API", trace_device_name(d));
        return -EINVAL;
    }
    struct trace_gpu *g = calloc(1, sizeof(*g));
    if (!g) {
        udcs_why(why, why_len, "out of memory");
        return -ENOMEM;
    }
    g->device = d;
    g->program = (struct udcs_buf)UDCS_BUF_INIT(TRACE_GPU_MAX_PROGRAM_BYTES);
    int cuda = d == TRACE_DEVICE_CUDA;
    int rc = kernel_device_open(cuda ? KERNEL_API_CUDA : KERNEL_API_OPENCL, &g->dev, why,
                                why_len);
    if (rc == 0) {
        struct udcs_buf log = UDCS_BUF_INIT(TRACE_GPU_MAX_LOG_BYTES);
        char build_why[1024];
        const unsigned char *src = cuda ? trace_gpu_cuda_source : trace_gpu_opencl_source;
        rc = kernel_build(g->dev, (const char *)src,
                          cuda ? trace_gpu_cuda_source_len : trace_gpu_opencl_source_len,
                          cuda ? CUDA_OPTIONS : OPENCL_OPTIONS, TRACE_GPU_ENTRY, &g->program,
                          &log, build_why, sizeof(build_why));
        if (rc < 0)
            udcs_why(why, why_len, "compiling the renderer for %s failed: %s",
                     kernel_device_class(g->dev), build_why);
        udcs_buf_release(&log);
    }
    if (rc < 0) {
        trace_gpu_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

const char *trace_gpu_device_class(const struct trace_gpu *g)
{
    return kernel_device_class(g->dev);
}

void trace_gpu_free(struct trace_gpu *g)
{
    if (!g)
        return;
    kernel_device_close(g->dev);
    udcs_buf_release(&g->program);
    free(g);
}

/* A read-only array argument. An empty array (a scene without planes, say) is a buffer of
 * no bytes, which the kernel never reads: it loops over the counts in the frame. */
static struct kernel_arg array_arg(const char *name, const void *data, int n, size_t size)
{
    struct kernel_arg a = { .kind = KERNEL_ARG_BUFFER, .name = name };
    a.data = (void *)data;      /* not writable: the runtime only reads it */
    a.bytes = (size_t)n * size;
    return a;
}

int trace_gpu_render_region(struct trace_gpu *g, const struct trace_view *v, int x, int y,
                            int w, int h, float *rgba, char *why, size_t why_len)
{
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > v->width - w || y > v->height - h) {
        udcs_why(why, why_len, "region %d,%d,%d,%d is not inside the %dx%d frame", x, y, w,
                 h, v->width, v->height);
        return -EINVAL;
    }
    struct trace_gpu_frame f = {
        .frame = v->frame, .width = v->width, .height = v->height, .samples = v->samples,
        .max_bounces = v->max_bounces, .clamp = v->clamp, .camera = v->camera,
        .sky_horizon = v->sky_horizon, .sky_zenith = v->sky_zenith,
        .n_materials = v->n_materials, .n_spheres = v->n_spheres, .n_planes = v->n_planes,
        .n_triangles = v->n_triangles, .n_normals = v->n_normals, .n_nodes = v->n_nodes,
        .n_prims = v->n_prims, .n_lights = v->n_lights, .x = x, .y = y, .w = w, .h = h,
    };
    struct kernel_arg args[TRACE_GPU_N_ARGS] = {
        { .kind = KERNEL_ARG_BUFFER, .name = "f", .data = &f, .bytes = sizeof(f) },
        array_arg("materials", v->materials, v->n_materials, sizeof(*v->materials)),
        array_arg("spheres", v->spheres, v->n_spheres, sizeof(*v->spheres)),
        array_arg("planes", v->planes, v->n_planes, sizeof(*v->planes)),
        array_arg("triangles", v->triangles, v->n_triangles, sizeof(*v->triangles)),
        array_arg("normals", v->normals, v->n_normals, sizeof(*v->normals)),
        array_arg("nodes", v->nodes, v->n_nodes, sizeof(*v->nodes)),
        array_arg("prims", v->prims, v->n_prims, sizeof(*v->prims)),
        array_arg("lights", v->lights, v->n_lights, sizeof(*v->lights)),
        { .kind = KERNEL_ARG_BUFFER, .name = "rgba", .data = rgba,
          .bytes = (size_t)w * (size_t)h * 4 * sizeof(float), .writable = 1 },
    };
    /* whole work-groups over the region; the items past its edges return at once */
    size_t group = TRACE_GPU_GROUP;
    struct kernel_ndrange nd = {
        .dims = 2,
        .global = { ((size_t)w + group - 1) / group * group,
                    ((size_t)h + group - 1) / group * group, 1 },
        .local = { group, group, 1 },
    };
    return kernel_launch(g->dev, g->program.data, g->program.len, TRACE_GPU_ENTRY, args,
                         TRACE_GPU_N_ARGS, &nd, NULL, why, why_len);
}
