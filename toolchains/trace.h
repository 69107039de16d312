/* toolchains/trace.h - udcs-trace, the built-in renderer: scenes in the .scn text format
 * (docs/SCENES.md), their evaluation at a frame, and deterministic rendering of any
 * region of that frame over any number of threads.
 *
 * A scene is loaded once (the file, its includes and its OBJ meshes), then evaluated per
 * frame into a struct trace_view: flat arrays with every animation and transform applied
 * and a BVH over the primitives, the input of the per-pixel kernel (trace_kernel.h). The
 * kernel seeds each pixel's random numbers from (frame, x, y, sample, bounce) only, so
 * rendering a region gives bit for bit the pixels of the whole frame. Image files are not
 * this module's business: udcs-trace (trace_main.c) writes them through image.h. */
#ifndef UDCS_TRACE_H
#define UDCS_TRACE_H

#include <stddef.h>

#include "toolchains/trace_kernel.h"

/* Limits, so a hostile or broken scene cannot exhaust memory or the stack. */
#define TRACE_MAX_SCENE_BYTES (16u << 20)       /* one .scn file */
#define TRACE_MAX_OBJ_BYTES (256u << 20)        /* one OBJ file */
#define TRACE_MAX_INCLUDE_DEPTH 16              /* include inside include ... */
#define TRACE_MAX_FILES 1024                    /* includes and meshes of one scene */
#define TRACE_MAX_OBJECTS 100000                /* spheres, planes, quads, boxes, meshes */
#define TRACE_MAX_MATERIALS 4096
#define TRACE_MAX_TRIANGLES (4 << 20)           /* after triangulation, all meshes */
#define TRACE_MAX_VERTICES (8 << 20)            /* per OBJ file, positions and normals */
#define TRACE_MAX_KEYS 100000                   /* keyframes of one property */
#define TRACE_MAX_SIZE 16384                    /* image width or height */
#define TRACE_MAX_SAMPLES 65536
#define TRACE_MAX_BOUNCES 64
#define TRACE_MAX_NUMBER 1e9                    /* magnitude of any number in a scene */
#define TRACE_MAX_FRAME 1000000                 /* frames are -MAX .. MAX */

struct trace_scene;

/* Load the scene at `path` with everything it includes and the OBJ files it names. Paths
 * inside the scene are relative to the file that writes them and must stay inside the
 * directory of `path` (see trace_scene_inputs). On failure *out is NULL and `why` holds
 * one line "FILE:LINE:COL: message" (or "FILE: message" for a file that cannot be read).
 * Returns 0; -EINVAL for a syntax or meaning error; -errno when a file cannot be read
 * (-ENOENT for a missing include or mesh: the message names it and the line that asked
 * for it); UDCS_ETOOBIG past a limit above; -ENOMEM. Free the scene with
 * trace_scene_free(). */
int trace_scene_load(const char *path, struct trace_scene **out, char *why, size_t why_len);

/* The same from text in memory. `name` is used in messages. Includes and meshes are read
 * below the directory `dir`; when `dir` is NULL they are refused (-EINVAL). */
int trace_scene_parse(const char *name, const char *text, size_t len, const char *dir,
                      struct trace_scene **out, char *why, size_t why_len);

/* A file held in memory, named by its path relative to the scene's directory. */
struct trace_memfile {
    const char *path;
    const char *data;
    size_t len;
};

/* The same again, with includes and meshes taken from `files` (looked up by their path
 * relative to the scene's directory, normalised as trace_scene_inputs prints it) instead
 * of the disk: a scene with all its inputs in memory, for tests and the fuzzer. */
int trace_scene_parse_files(const char *name, const char *text, size_t len,
                            const struct trace_memfile *files, size_t n_files,
                            struct trace_scene **out, char *why, size_t why_len);

/* Free a scene and everything it holds; NULL does nothing. */
void trace_scene_free(struct trace_scene *s);

/* The files the scene needs besides itself, recursively: every include and every mesh,
 * once each, in the order they are first named. Paths are relative to the scene's
 * directory, normalised ("parts/../a.obj" is "a.obj"); a path that is absolute or climbs
 * out of that directory is refused when the scene is loaded, so these are exactly the
 * files a farm ships beside the scene. *paths points into the scene (valid until
 * trace_scene_free). Returns the number of paths. */
int trace_scene_inputs(const struct trace_scene *s, const char *const **paths);

/* What trace_scene_describe reports: the scene's settings and sizes. */
struct trace_scene_info {
    int width, height;          /* default image size */
    int samples;                /* default paths per pixel */
    int max_bounces;
    int frame_first, frame_last;
    int n_materials;
    int n_objects;              /* spheres + planes + quads + boxes + meshes */
    int n_spheres, n_planes, n_quads, n_boxes, n_meshes;
    long n_triangles;           /* quads, boxes and meshes after triangulation */
    int n_emissive;             /* objects whose material is emissive */
    int n_animated;             /* properties with two keyframes or more */
    int n_inputs;
};

void trace_scene_describe(const struct trace_scene *s, struct trace_scene_info *info);

/* Evaluate the scene at `frame` for an image of width x height with `samples` paths per
 * pixel (0 for any of the three: the scene's default): animated properties interpolated,
 * transforms applied, spheres, planes and triangles in world space, the light list and
 * the BVH built. Returns 0 and *out, or -EINVAL with `why` saying what is wrong with the
 * frame ("frame 12: the camera's position and look_at are the same point"), UDCS_ETOOBIG
 * past a limit, -ENOMEM. Free with trace_view_free(). */
int trace_view_build(const struct trace_scene *s, int frame, int width, int height,
                     int samples, struct trace_view **out, char *why, size_t why_len);

void trace_view_free(struct trace_view *v);

/* Render the rectangle (x, y, w, h) of the frame (pixel coordinates of the whole frame,
 * origin top-left) into `rgba`: w * h * 4 floats of linear radiance, rows top to bottom,
 * alpha 1. `threads` threads (0: one per online CPU) take rows from a shared counter; the
 * result does not depend on the rectangle or the thread count. Returns 0, or -EINVAL for
 * a rectangle that is empty or not inside the frame. */
int trace_render_region(const struct trace_view *v, int x, int y, int w, int h, int threads,
                        float *rgba);

/* Encode `n_pixels` RGBA pixels in place for display: each colour channel clamped to
 * [0, 1] and put through the sRGB transfer function; alpha untouched. Per pixel, so a
 * region encodes exactly like the same pixels of the whole frame. */
void trace_encode_srgb(float *rgba, size_t n_pixels);

#endif
