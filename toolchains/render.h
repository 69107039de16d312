/* toolchains/render.h - render jobs: frame lists, tile grids, and the units that render
 * them with each renderer (the built-in udcs-trace, POV-Ray, Blender). A render job is
 * split into one unit per frame, or per tile plus a merge unit per frame; every unit is
 * an ordinary command (an EXEC unit, docs/FARM.md), so caching, leases and retries are the
 * farm's, and this file knows only the renderers' command lines.
 *
 * The job (docs/RENDER.md):
 *   {"type": "RENDER", "renderer": "builtin", "scene": "cornell.scn",
 *    "inputs": {"cornell.scn": "HEX/SIZE", ...}, "frames": "1-240,300",
 *    "tiles": "4x4", "size": "1920x1080", "samples": 64, "format": "png",
 *    "threads": 1, "animation": "1-300", "device": "cpu",
 *    "renderer_fingerprint": "HEX", "merge_fingerprint": "HEX", "device_fingerprint": "HEX"}
 *
 * "device" (builtin renderer only): "cpu" (default), "opencl" or "cuda" (udcs-trace
 * --device API; units also require the toolchain named after the API, which agents offer
 * with their device class as its fingerprint, pinned by "device_fingerprint"), or "gpu",
 * which the master turns into "cuda" or "opencl" before splitting (farm/spec.c).
 */
#ifndef UDCS_RENDER_H
#define UDCS_RENDER_H

#include <jansson.h>
#include <stddef.h>

#define RENDER_MAX_FRAMES 20000          /* per job */
#define RENDER_MAX_UNITS 40000           /* per job: frames x (tiles + merge) */
#define RENDER_MAX_FRAME 9999999
#define RENDER_MAX_TILES 64            /* per side */
#define RENDER_MAX_SAMPLES 1000000
#define RENDER_MAX_THREADS 1024

/* The program a renderer runs as on agents ("udcs-trace", "povray", "blender"), or NULL
 * for an unknown renderer name. */
const char *render_tool_of(const char *renderer);
/* The program of merge units. */
#define RENDER_MERGE_TOOL "udcs-image"

/* Whether `device` is a value of a job's "device": "cpu", "gpu", "opencl" or "cuda". */
int render_device_known(const char *device);
#define RENDER_DEVICES "cpu, gpu, opencl, cuda"

/* "1-240,300,310-320" -> the frames in ascending order, each once. Returns 0, or -1 with
 * why. Free *frames. */
int render_frames_parse(const char *text, int **frames, size_t *n, char *why, size_t why_len);

/* "4x4" -> the columns and rows of a tile grid, each 1 to RENDER_MAX_TILES. Returns 0 or
 * -1. The master checks a job's "tiles" with it, and udcs-render checks --tiles before
 * anything is sent. */
int render_tiles_parse(const char *text, int *cols, int *rows);

/* The rectangle {x, y, w, h} of tile (col, row) of a cols x rows grid over a w x h frame.
 * Edges fall on multiples of `align` pixels (POV-Ray anti-aliases in 32-pixel blocks
 * counted from the corner of what it renders); the last column and row take the rest. */
void render_tile_rect(int width, int height, int cols, int rows, int align, int col, int row,
                      int rect[4]);
/* The alignment tiles of `renderer` need (1: none). */
int render_tile_align(const char *renderer);

/* The files a POV-Ray scene needs besides itself (render_povray.c): its #includes and
 * the images, fonts and density files it names, next to the scene, as paths relative to
 * the scene's directory. Missing ones are errors with the file and line. Free each and
 * the array. */
int render_povray_inputs(const char *scene, char ***files, size_t *n, char *why,
                         size_t why_len);

/* The scanner under it, on one file's text: fn(arg, line, name, is_include) for each
 * `#include "name"` and each file keyword (png, jpeg, tga, gif, iff, ppm, pgm, tiff,
 * exr, hdr, sys, df3, ttf) followed by a string, outside comments. Stops at and returns
 * what fn returns when negative. */
typedef int render_povray_name_fn(void *arg, int line, const char *name, int include);
int render_povray_names(const char *text, size_t len, render_povray_name_fn *fn, void *arg);

/* Check a RENDER job and split it into unit specs (the shape of an EXEC job's units, each
 * with a "name": "frame N" for the unit whose output is the frame, "frame N tile C,R" for
 * a tile). Returns a JSON array, or NULL with why. */
json_t *render_split(const json_t *job, char *why, size_t why_len);

#endif
