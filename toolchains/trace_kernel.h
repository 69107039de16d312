/* toolchains/trace_kernel.h - the per-pixel half of udcs-trace: the flat data a frame is
 * reduced to (struct trace_view) and trace_pixel(), which computes one pixel from it.
 *
 * The same source is compiled as C, as OpenCL C and as CUDA C++ (toolchains/trace_gpu.cl,
 * trace_gpu.cu): plain structs of floats and ints, arrays reached through pointers
 * (TRACE_GLOBAL marks them, empty in C, `__global` in OpenCL), no allocation, no
 * recursion, no globals, no libc besides the float functions sqrtf, fabsf and copysignf,
 * whose results IEEE 754 fixes exactly. The view itself is in the caller's own memory (its
 * pointer has no address space: private in OpenCL, where the wrapper kernel fills one from
 * its arguments). Building the arrays (scene evaluation, transforms, the BVH) is the
 * host's work: toolchains/trace_frame.c and trace_bvh.c. */
#ifndef UDCS_TRACE_KERNEL_H
#define UDCS_TRACE_KERNEL_H

/* TRACE_DEVICE: compiled by a device's compiler, which has no C library headers (the
 * wrappers trace_gpu.cl and trace_gpu.cu define it, uint32_t and the float functions). */
#ifndef TRACE_DEVICE
#include <stdint.h>
#endif

#ifndef TRACE_GLOBAL
#define TRACE_GLOBAL
#endif

/* Depth the BVH builder never exceeds; the traversal stack in trace_kernel.c is sized
 * from it (one pushed node per level at most). */
#define TRACE_BVH_MAX_DEPTH 60

/* A primitive reference in the BVH: a triangle index, or a sphere index with this bit. */
#define TRACE_PRIM_SPHERE 0x80000000u

struct trace_vec3 {
    float x, y, z;
};

enum trace_material_kind {
    TRACE_MAT_DIFFUSE = 0,      /* Lambertian: color is the albedo */
    TRACE_MAT_METAL = 1,        /* mirror tinted by color, blurred by roughness (0..1) */
    TRACE_MAT_GLASS = 2,        /* dielectric of index ior; color tints what passes through */
    TRACE_MAT_EMISSIVE = 3,     /* emits `emission` from its front, reflects nothing */
};

struct trace_material {
    int kind;                   /* enum trace_material_kind */
    struct trace_vec3 color;
    struct trace_vec3 emission; /* radiance: the scene's colour times strength */
    float roughness;
    float ior;
};

struct trace_sphere {
    struct trace_vec3 center;
    float radius;
    int material;
    int light;                  /* index into trace_view.lights, or -1 */
};

/* An infinite plane: every point p with dot(p - point, normal) == 0. Not in the BVH. */
struct trace_plane {
    struct trace_vec3 point;
    struct trace_vec3 normal;   /* unit length */
    int material;
};

/* World-space triangle p0, p0 + e1, p0 + e2 (edges stored: what the intersection uses).
 * Its front, the side an emissive triangle lights, is the one cross(e1, e2) points to. */
struct trace_triangle {
    struct trace_vec3 p0, e1, e2;
    int material;
    int light;                  /* index into trace_view.lights, or -1 */
    int normals;                /* index into trace_view.normals, or -1: flat shading */
};

/* Unit vertex normals of one triangle, in the order of its corners. */
struct trace_tri_normals {
    struct trace_vec3 n[3];
};

/* A BVH node: a leaf when count > 0 (prims[first .. first+count)), otherwise an inner node
 * whose children are nodes[first] and nodes[first + 1]. Node 0 is the root. */
struct trace_bvh_node {
    struct trace_vec3 lo;
    int first;
    struct trace_vec3 hi;
    int count;
};

/* An emissive primitive that next-event estimation samples. `cdf` is the running sum of
 * the selection probabilities (the last is exactly 1); `select` is this light's own. */
struct trace_light {
    uint32_t prim;              /* as in the BVH: triangle index or sphere | bit */
    float cdf;
    float select;
    float area;
};

/* The camera of one frame, ready for ray generation: a ray for the image point (sx, sy)
 * in [-1, 1] (x right, y up) aims at origin + forward + sx * right + sy * up (the focus
 * plane), from origin + a point of the lens disk spanned by lens_u and lens_v. */
struct trace_camera {
    struct trace_vec3 origin;
    struct trace_vec3 forward;
    struct trace_vec3 right;
    struct trace_vec3 up;
    struct trace_vec3 lens_u, lens_v;
};

/* Everything trace_pixel() reads: one frame of a scene, evaluated, with every transform
 * applied. Built by trace_view_build() (toolchains/trace.h), never changed afterwards, so
 * any number of threads may read it. */
struct trace_view {
    int frame;                  /* seeds the random streams */
    int width, height;          /* of the whole frame, whatever region is rendered */
    int samples;                /* paths per pixel */
    int max_bounces;            /* scattering events per path */
    float clamp;                /* most light a path brings after 2+ bounces; 0: no limit */
    struct trace_camera camera;
    struct trace_vec3 sky_horizon, sky_zenith;   /* background by ray height */

    TRACE_GLOBAL const struct trace_material *materials;
    TRACE_GLOBAL const struct trace_sphere *spheres;
    TRACE_GLOBAL const struct trace_plane *planes;
    TRACE_GLOBAL const struct trace_triangle *triangles;
    TRACE_GLOBAL const struct trace_tri_normals *normals;
    TRACE_GLOBAL const struct trace_bvh_node *nodes;
    TRACE_GLOBAL const uint32_t *prims;
    TRACE_GLOBAL const struct trace_light *lights;
    int n_materials, n_spheres, n_planes, n_triangles, n_normals, n_nodes, n_prims, n_lights;
};

/* The linear radiance of pixel (x, y) of the whole frame (origin top-left): the mean of
 * v->samples paths. rgba_out[3] is 1. The random numbers of a path come from a hash of
 * (frame, x, y, sample, bounce) alone, so a pixel's value does not depend on which region
 * or thread computes it. Non-finite path values count as black. */
void trace_pixel(const struct trace_view *v, int x, int y, float rgba_out[4]);

#endif
