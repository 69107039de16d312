/* toolchains/render_split.c - a RENDER job as units: the command lines of udcs-trace,
 * POV-Ray and Blender for one frame or one tile, and of udcs-image for the merge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolchains/encode.h"
#include "toolchains/image.h"
#include "toolchains/job_fields.h"
#include "common/err.h"
#include "toolchains/render.h"

#define MAX_PATH_TEXT 1024

/* POV-Ray renders (and anti-aliases) in blocks of this many pixels square. */
#define POVRAY_BLOCK 32

struct job {
    const char *renderer, *tool, *scene, *format;
    char dir[MAX_PATH_TEXT];       /* the scene's directory inside the unit ("" for top) */
    const char *base;              /* the scene's file name */
    json_t *inputs;
    int *frames;
    size_t n_frames;
    int anim_first, anim_last;
    int cols, rows, width, height; /* width 0: the scene's own size */
    int samples, threads;
    const char *device;            /* "cpu", "opencl" or "cuda" */
    char tool_req[200], merge_req[200], encode_req[200];
    char device_req[200];          /* "opencl[@FP]" or "cuda[@FP]"; "" for the CPU */
    const json_t *encode;          /* udcs-render --encode: the settings, or NULL */
};


const char *render_tool_of(const char *renderer)
{
    if (strcmp(renderer, "builtin") == 0)
        return "udcs-trace";
    if (strcmp(renderer, "povray") == 0)
        return "povray";
    if (strcmp(renderer, "blender") == 0)
        return "blender";
    return NULL;
}

int render_tile_align(const char *renderer)
{
    return strcmp(renderer, "povray") == 0 ? POVRAY_BLOCK : 1;
}

int render_tiles_parse(const char *text, int *cols, int *rows)
{
    if (image_parse_size(text, cols, rows) < 0 || *cols > RENDER_MAX_TILES ||
        *rows > RENDER_MAX_TILES)
        return -1;
    return 0;
}

int render_device_known(const char *device)
{
    return strcmp(device, "cpu") == 0 || strcmp(device, "gpu") == 0 ||
           strcmp(device, "opencl") == 0 || strcmp(device, "cuda") == 0;
}

/* ---- frames ------------------------------------------------------------------------------ */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int take_frame(const char **p, int *out)
{
    char *end;
    if (**p < '0' || **p > '9')
        return -1;
    long v = strtol(*p, &end, 10);
    if (v > RENDER_MAX_FRAME)
        return -1;
    *p = end;
    *out = (int)v;
    return 0;
}

int render_frames_parse(const char *text, int **frames, size_t *n, char *why, size_t why_len)
{
    *frames = NULL;
    *n = 0;
    size_t cap = 0;
    const char *p = text;
    while (*p) {
        const char *start = p;
        int a, b;
        if (take_frame(&p, &a) < 0)
            goto syntax;
        b = a;
        if (*p == '-') {
            p++;
            if (take_frame(&p, &b) < 0)
                goto syntax;
        }
        if (*p && *p != ',')
            goto syntax;
        if (b < a) {
            free(*frames);
            *frames = NULL;
            return udcs_why(why, why_len, "frame range '%.*s' ends before it starts",
                            (int)(p - start), start);
        }
        if ((size_t)(b - a) + 1 + *n > RENDER_MAX_FRAMES) {
            free(*frames);
            *frames = NULL;
            return udcs_why(why, why_len, "frames '%s': more than %d frames in one job", text,
                            RENDER_MAX_FRAMES);
        }
        if (*n + (size_t)(b - a) + 1 > cap) {
            cap = (*n + (size_t)(b - a) + 1) * 2;
            int *grown = realloc(*frames, cap * sizeof(int));
            if (!grown) {
                free(*frames);
                *frames = NULL;
                return udcs_why(why, why_len, "out of memory");
            }
            *frames = grown;
        }
        for (int f = a; f <= b; f++)
            (*frames)[(*n)++] = f;
        if (*p == ',' && *++p == '\0')
            goto syntax;
    }
    if (*n == 0)
        goto syntax;
    qsort(*frames, *n, sizeof(int), cmp_int);
    size_t kept = 1;
    for (size_t i = 1; i < *n; i++)
        if ((*frames)[i] != (*frames)[kept - 1])
            (*frames)[kept++] = (*frames)[i];
    *n = kept;
    return 0;
syntax:
    free(*frames);
    *frames = NULL;
    *n = 0;
    return udcs_why(why, why_len, "frames '%s' is not a list of frames and ranges like "
                    "1-240,300,310-320 (frames 0 to %d)", text, RENDER_MAX_FRAME);
}

void render_tile_rect(int width, int height, int cols, int rows, int align, int col, int row,
                      int rect[4])
{
    int sides[2] = { width, height }, counts[2] = { cols, rows }, at[2] = { col, row };
    for (int d = 0; d < 2; d++) {
        /* edge k at round(k * side / count), down to a multiple of align */
        long lo = (long)sides[d] * at[d] / counts[d], hi = (long)sides[d] * (at[d] + 1) / counts[d];
        lo -= lo % align;
        hi = at[d] + 1 == counts[d] ? sides[d] : hi - hi % align;
        rect[d] = (int)lo;
        rect[d + 2] = (int)(hi - lo);
    }
}

/* ---- reading the job --------------------------------------------------------------------- */




static int read_frames(const json_t *job, struct job *j, char *why, size_t why_len)
{
    json_t *v = json_object_get(job, "frames");
    if (json_is_string(v))
        return render_frames_parse(json_string_value(v), &j->frames, &j->n_frames, why,
                                   why_len);
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > RENDER_MAX_FRAMES)
        return udcs_why(why, why_len, "field 'frames' must be a list like \"1-240,300\" or an "
                        "array of up to %d frame numbers", RENDER_MAX_FRAMES);
    /* an array goes through the same checks as the text */
    size_t len = json_array_size(v) * 9 + 1, at = 0, i;
    char *text = malloc(len);
    json_t *f;
    if (!text)
        return udcs_why(why, why_len, "out of memory");
    text[0] = '\0';
    json_array_foreach(v, i, f) {
        if (!json_is_integer(f) || json_integer_value(f) < 0 ||
            json_integer_value(f) > RENDER_MAX_FRAME) {
            free(text);
            return udcs_why(why, why_len, "frames[%zu] must be a frame number from 0 to %d", i,
                            RENDER_MAX_FRAME);
        }
        at += (size_t)snprintf(text + at, len - at, "%s%d", i ? "," : "",
                               (int)json_integer_value(f));
    }
    int rc = render_frames_parse(text, &j->frames, &j->n_frames, why, why_len);
    free(text);
    return rc;
}


static const char *const known_fields[] = {
    "renderer", "scene", "inputs", "frames", "animation", "tiles", "size",
    "samples", "format", "threads", "renderer_fingerprint", "merge_fingerprint", "encode",
    "encoder_fingerprint", "device", "device_fingerprint", NULL
};

/* "device": the API udcs-trace computes pixels with, and the toolchain requirement that
 * sends its units to agents having it. */
static int read_device(const json_t *job, struct job *j, char *why, size_t why_len)
{
    if (job_opt_str(job, "device", "cpu", &j->device, why, why_len) < 0)
        return -1;
    if (!render_device_known(j->device))
        return udcs_why(why, why_len, "device '%s' is not one of " RENDER_DEVICES, j->device);
    if (strcmp(j->device, "gpu") == 0)
        return udcs_why(why, why_len, "device 'gpu' was not resolved: the master names the "
                        "API ('cuda' where an agent offers CUDA, else 'opencl') before the job "
                        "is split; submit to the master, or name the API");
    if (strcmp(j->device, "cpu") == 0) {
        if (json_object_get(job, "device_fingerprint"))
            return udcs_why(why, why_len, "field 'device_fingerprint' goes with device "
                            "'opencl' or 'cuda', not 'cpu'");
        return 0;
    }
    if (strcmp(j->renderer, "builtin") != 0)
        return udcs_why(why, why_len, "device '%s' needs the builtin renderer: %s renders on "
                        "its agents' CPUs; leave 'device' out, or render a .scn scene",
                        j->device, j->renderer);
    return job_tool_requirement(job, "device_fingerprint", j->device, j->device_req,
                                sizeof(j->device_req), why, why_len);
}

static int read_job(const json_t *job, struct job *j, char *why, size_t why_len)
{
    const char *tiles, *size, *anim;
    if (job_known_fields(job, known_fields, "a RENDER job", why, why_len) < 0)
        return -1;
    if (job_opt_str(job, "renderer", "builtin", &j->renderer, why, why_len) < 0 ||
        job_opt_str(job, "scene", NULL, &j->scene, why, why_len) < 0 ||
        job_opt_str(job, "format", "png", &j->format, why, why_len) < 0 ||
        job_opt_str(job, "tiles", "1x1", &tiles, why, why_len) < 0 ||
        job_opt_str(job, "size", NULL, &size, why, why_len) < 0 ||
        job_opt_str(job, "animation", NULL, &anim, why, why_len) < 0)
        return -1;
    if (!(j->tool = render_tool_of(j->renderer)))
        return udcs_why(why, why_len, "renderer '%s' is not known; renderers: builtin, povray, "
                        "blender", j->renderer);
    if (read_device(job, j, why, why_len) < 0)
        return -1;
    j->inputs = json_object_get(job, "inputs");
    if (!j->scene || !job_safe_relative(j->scene))
        return udcs_why(why, why_len, "field 'scene' must name the scene file: a relative path "
                        "inside the job's inputs");
    if (!json_is_object(j->inputs) || !json_object_get(j->inputs, j->scene))
        return udcs_why(why, why_len, "the scene '%s' is not among the job's 'inputs' (an object "
                        "of path: digest)", j->scene);
    const char *slash = strrchr(j->scene, '/');
    j->base = slash ? slash + 1 : j->scene;
    snprintf(j->dir, sizeof(j->dir), "%.*s", slash ? (int)(slash - j->scene) : 0, j->scene);
    enum image_format fmt;
    char probe[32];
    snprintf(probe, sizeof(probe), "x.%.8s", j->format);
    if (strcmp(j->format, "tif") == 0 || image_format_of_path(probe, &fmt) < 0)
        return udcs_why(why, why_len, "format '%s' is not one of png, exr, tiff", j->format);
    if (render_tiles_parse(tiles, &j->cols, &j->rows) < 0)
        return udcs_why(why, why_len, "tiles '%s' is not COLUMNSxROWS (1 to %d each, for example "
                        "4x4)", tiles, RENDER_MAX_TILES);
    if (size && image_parse_size(size, &j->width, &j->height) < 0)
        return udcs_why(why, why_len, "size '%s' is not WIDTHxHEIGHT (for example 1920x1080)",
                        size);
    if (!size && (j->cols > 1 || j->rows > 1))
        return udcs_why(why, why_len, "a tiled render needs 'size' (WIDTHxHEIGHT)");
    if (!size && strcmp(j->renderer, "povray") == 0)
        j->width = 640, j->height = 480;   /* POV-Ray has no size of its own in the scene */
    if (j->width && (j->cols > j->width || j->rows > j->height))
        return udcs_why(why, why_len, "%dx%d tiles do not fit a %dx%d frame", j->cols, j->rows,
                        j->width, j->height);
    int align = render_tile_align(j->renderer);
    if (j->width && ((j->cols > 1 && j->width / j->cols < align) ||
                     (j->rows > 1 && j->height / j->rows < align)))
        return udcs_why(why, why_len, "%s tiles are at least %d pixels wide and high: %dx%d tiles "
                        "are too many for a %dx%d frame", j->renderer, align, j->cols, j->rows,
                        j->width, j->height);
    int max_samples = strcmp(j->renderer, "povray") == 0 ? 9 : RENDER_MAX_SAMPLES;
    if (job_opt_int(job, "samples", 1, max_samples, 0, &j->samples, why, why_len) < 0 ||
        job_opt_int(job, "threads", 1, RENDER_MAX_THREADS, 1, &j->threads, why, why_len) < 0)
        return -1;
    if (read_frames(job, j, why, why_len) < 0)
        return -1;
    j->anim_first = j->frames[0];
    j->anim_last = j->frames[j->n_frames - 1];
    if (anim) {
        char *end;
        long a = strtol(anim, &end, 10), b = a;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        if (*end || a < 0 || b < a || b > RENDER_MAX_FRAME)
            return udcs_why(why, why_len, "animation '%s' is not a frame range FIRST-LAST", anim);
        j->anim_first = (int)a;
        j->anim_last = (int)b;
    }
    if (job_tool_requirement(job, "renderer_fingerprint", j->tool, j->tool_req,
                             sizeof(j->tool_req), why, why_len) < 0 ||
        job_tool_requirement(job, "merge_fingerprint", RENDER_MERGE_TOOL, j->merge_req,
                             sizeof(j->merge_req), why, why_len) < 0 ||
        job_tool_requirement(job, "encoder_fingerprint", ENCODE_TOOL, j->encode_req,
                             sizeof(j->encode_req), why, why_len) < 0)
        return -1;
    j->encode = json_object_get(job, "encode");
    if (j->encode && encode_check_render_settings(j->encode, why, why_len) < 0)
        return -1;
    return 0;
}

/* ---- units ------------------------------------------------------------------------------- */


/* The file a render writes, for frame f (tile or whole frame), in its own format. */
static const char *extension(const char *format)
{
    return strcmp(format, "tiff") == 0 ? "tif" : format;
}

static void builtin_argv(const struct job *j, json_t *argv, int f, const int *rect,
                         const char *out)
{
    job_arg(argv, "udcs-trace");
    job_arg(argv, "%s", j->base);
    job_arg(argv, "--frame");
    job_arg(argv, "%d", f);
    if (j->width) {
        job_arg(argv, "--size");
        job_arg(argv, "%dx%d", j->width, j->height);
    }
    if (j->samples) {
        job_arg(argv, "--samples");
        job_arg(argv, "%d", j->samples);
    }
    job_arg(argv, "--threads");
    job_arg(argv, "%d", j->threads);
    if (strcmp(j->device, "cpu") != 0) {
        job_arg(argv, "--device");
        job_arg(argv, "%s", j->device);
    }
    if (rect) {
        job_arg(argv, "--region");
        job_arg(argv, "%d,%d,%d,%d", rect[0], rect[1], rect[2], rect[3]);
    }
    if (strcmp(j->format, "exr") == 0)
        job_arg(argv, "--linear");
    if (strncmp(out, "tile", 4) == 0)
        job_arg(argv, "--float-tiff");   /* exact floats, and no OpenImageIO to load */
    job_arg(argv, "-o");
    job_arg(argv, "%s", out);
}

/* POV-Ray appends the frame number to the output name in an animation, padded to the
 * digits of the last frame: +Otile.png +KFF240 +SF5 writes tile005.png. */
static void povray_argv(const struct job *j, json_t *argv, int f, const int *rect,
                        const char *stem, char *out, size_t out_len)
{
    int animated = j->anim_first != j->anim_last;
    job_arg(argv, "povray");
    job_arg(argv, "-D");
    job_arg(argv, "+I%s", j->base);
    job_arg(argv, "+O%s.png", stem);
    job_arg(argv, "+W%d", j->width);
    job_arg(argv, "+H%d", j->height);
    /* 16 bits per channel where the result is not an 8-bit PNG anyway */
    job_arg(argv, "%s", strcmp(j->format, "png") == 0 ? "+FN" : "+FN16");
    job_arg(argv, "+BS%d", POVRAY_BLOCK);
    job_arg(argv, "+WT%d", j->threads);
    if (j->samples) {
        job_arg(argv, "+A");
        job_arg(argv, "+AM2");
        job_arg(argv, "+R%d", j->samples);
    }
    if (animated) {
        job_arg(argv, "+KFI%d", j->anim_first);
        job_arg(argv, "+KFF%d", j->anim_last);
        job_arg(argv, "+SF%d", f);
        job_arg(argv, "+EF%d", f);
    }
    if (rect) {
        job_arg(argv, "+SC%d", rect[0] + 1);
        job_arg(argv, "+EC%d", rect[0] + rect[2]);
        job_arg(argv, "+SR%d", rect[1] + 1);
        job_arg(argv, "+ER%d", rect[1] + rect[3]);
    }
    if (animated) {
        int digits = snprintf(NULL, 0, "%d", j->anim_last);
        snprintf(out, out_len, "%s%0*d.png", stem, digits, f);
    } else {
        snprintf(out, out_len, "%s.png", stem);
    }
}

/* Blender: the scene's own settings, with the size, samples, a fixed seed and the tile's
 * border set from Python before the frame renders. Borders are fractions of the frame,
 * measured from the bottom; a quarter pixel inside the edge lands on the same pixel
 * whether Blender truncates or rounds. */
static void blender_argv(const struct job *j, json_t *argv, int f, const int *rect,
                         const char *stem, char *out, size_t out_len)
{
    char code[2048];
    int at = snprintf(code, sizeof(code), "import bpy; s = bpy.context.scene; r = s.render; "
                      "s.cycles.seed = 0; s.cycles.use_animated_seed = False; ");
    if (j->width)
        at += snprintf(code + at, sizeof(code) - (size_t)at, "r.resolution_x = %d; "
                       "r.resolution_y = %d; r.resolution_percentage = 100; ", j->width,
                       j->height);
    if (j->samples)
        at += snprintf(code + at, sizeof(code) - (size_t)at, "s.cycles.samples = %d; "
                       "s.eevee.taa_render_samples = %d; ", j->samples, j->samples);
    if (strcmp(j->format, "png") != 0)
        at += snprintf(code + at, sizeof(code) - (size_t)at, "r.image_settings.color_depth "
                       "= '%s'; ", strcmp(j->format, "exr") == 0 ? "32" : "16");
    if (rect)
        snprintf(code + at, sizeof(code) - (size_t)at, "r.use_border = True; "
                 "r.use_crop_to_border = False; r.border_min_x = %.9g; r.border_max_x = %.9g; "
                 "r.border_min_y = %.9g; r.border_max_y = %.9g",
                 (rect[0] + 0.25) / j->width, (rect[0] + rect[2] + 0.25) / j->width,
                 (j->height - rect[1] - rect[3] + 0.25) / j->height,
                 (j->height - rect[1] + 0.25) / j->height);
    const char *ftype = strcmp(j->format, "exr") == 0 ? "OPEN_EXR"
                        : strcmp(j->format, "tiff") == 0 ? "TIFF" : "PNG";
    job_arg(argv, "blender");
    job_arg(argv, "-b");
    job_arg(argv, "--factory-startup");
    job_arg(argv, "%s", j->base);
    job_arg(argv, "--python-expr");
    job_arg(argv, "%s", code);
    job_arg(argv, "-o");
    job_arg(argv, "//%s_####", stem);
    job_arg(argv, "-F");
    job_arg(argv, "%s", ftype);
    job_arg(argv, "-x");
    job_arg(argv, "1");
    job_arg(argv, "-t");
    job_arg(argv, "%d", j->threads);
    job_arg(argv, "-f");
    job_arg(argv, "%d", f);
    snprintf(out, out_len, "%s_%04d.%s", stem, f, extension(j->format));
}

/* A unit running `argv` that writes `out`, needing program `req` (also named in the
 * environment as `env_name`, so the program's build is part of the action). */
static json_t *unit_of(const char *name, json_t *argv, json_t *inputs, const char *out,
                       const char *req, const char *env_name)
{
    return json_pack("{s:s, s:o, s:o, s:[s], s:{s:[s]}, s:{s:s}}", "name", name, "argv", argv,
                     "inputs", inputs, "outputs", out, "requirements", "toolchains", req,
                     "env", env_name, req);
}

/* One render unit: frame f, whole (rect NULL) or one tile; its output file goes to out.
 * `direct`: the unit writes the frame as asked; otherwise a merge unit takes its file. */
static json_t *render_unit(const struct job *j, int f, const int *rect, int col, int row,
                           int direct, char *out, size_t out_len)
{
    char name[64];
    const char *stem = direct ? "frame" : "tile";
    json_t *argv = json_array();
    if (rect)
        snprintf(name, sizeof(name), "frame %d tile %d,%d", f, col, row);
    else
        snprintf(name, sizeof(name), direct ? "frame %d" : "frame %d render", f);
    if (strcmp(j->renderer, "builtin") == 0) {
        snprintf(out, out_len, "%s.%s", stem, direct ? extension(j->format) : "tif");
        builtin_argv(j, argv, f, rect, out);
    } else if (strcmp(j->renderer, "povray") == 0) {
        povray_argv(j, argv, f, rect, stem, out, out_len);
    } else {
        blender_argv(j, argv, f, rect, stem, out, out_len);
    }
    json_t *u = unit_of(name, argv, json_deep_copy(j->inputs), out, j->tool_req,
                        "UDCS_RENDERER");
    if (u && j->device_req[0]) {
        /* the API's toolchain too; its pin (the device class) in the action, like the
         * renderer's build */
        json_array_append_new(json_object_get(json_object_get(u, "requirements"),
                                              "toolchains"), json_string(j->device_req));
        json_object_set_new(json_object_get(u, "env"), "UDCS_DEVICE",
                            json_string(j->device_req));
    }
    if (u && j->dir[0])   /* the renderer runs beside the scene: its relative paths hold */
        json_object_set_new(u, "cwd", json_string(j->dir));
    if (u && strcmp(j->renderer, "povray") == 0)   /* no user's povray.ini in the result */
        json_object_set_new(json_object_get(u, "env"), "HOME", json_string("/nonexistent"));
    return u;
}

/* Whether a whole frame from the renderer is already the file asked for. */
static int renders_final_file(const struct job *j)
{
    return strcmp(j->renderer, "builtin") == 0 || strcmp(j->format, "png") == 0 ||
           strcmp(j->renderer, "blender") == 0;
}

/* Append frame f's units; the last one writes the frame, as `made`. */
static int split_frame(const struct job *j, int f, json_t *units, char *made, size_t made_len,
                       char *why, size_t why_len)
{
    char out[256];
    int tiled = j->cols > 1 || j->rows > 1;
    if (!tiled && renders_final_file(j)) {
        json_t *u = render_unit(j, f, NULL, 0, 0, 1, out, sizeof(out));
        snprintf(made, made_len, "%s", out);
        return u && json_array_append_new(units, u) == 0 ? 0
                                                         : udcs_why(why, why_len, "out of memory");
    }
    json_t *argv = json_array(), *inputs = json_object();
    char final[64], name[64];
    snprintf(final, sizeof(final), "frame.%s", extension(j->format));
    snprintf(made, made_len, "%s", final);
    snprintf(name, sizeof(name), "frame %d", f);
    job_arg(argv, RENDER_MERGE_TOOL);
    job_arg(argv, "merge");
    job_arg(argv, "--size");
    job_arg(argv, "%dx%d", j->width, j->height);
    job_arg(argv, "-o");
    job_arg(argv, "%s", final);
    for (int row = 0; row < j->rows; row++) {
        for (int col = 0; col < j->cols; col++) {
            int rect[4];
            render_tile_rect(j->width, j->height, j->cols, j->rows, render_tile_align(j->renderer),
                             col, row, rect);
            json_t *u = render_unit(j, f, tiled ? rect : NULL, col, row, 0, out, sizeof(out));
            if (!u) {
                json_decref(argv);
                json_decref(inputs);
                return udcs_why(why, why_len, "out of memory");
            }
            char *dot = strrchr(out, '.');
            char as[300];
            snprintf(as, sizeof(as), "tile_%d_%d%s", col, row, dot ? dot : "");
            json_object_set_new(inputs, as, json_pack("{s:I, s:s}", "unit",
                                                      (json_int_t)json_array_size(units),
                                                      "output", out));
            job_arg(argv, "%s@%d,%d,%d,%d", as, rect[0], rect[1], rect[2], rect[3]);
            json_array_append_new(units, u);
        }
    }
    /* at the top of its directory: the tiles are placed there */
    json_t *merge = unit_of(name, argv, inputs, final, j->merge_req, "UDCS_MERGE");
    return merge && json_array_append_new(units, merge) == 0
               ? 0 : udcs_why(why, why_len, "out of memory");
}

/* udcs-render --encode: the frames, in order, into the encode units (encode.h). */
static int split_encode(const struct job *j, json_t *units, const size_t *frame_unit,
                        char (*made)[64], char *why, size_t why_len)
{
    const char **outputs = malloc(j->n_frames * sizeof(*outputs));
    if (!outputs)
        return udcs_why(why, why_len, "out of memory");
    for (size_t i = 0; i < j->n_frames; i++)
        outputs[i] = made[i];
    int rc = encode_append_for_frames(units, j->encode, frame_unit, outputs, j->n_frames,
                                      j->encode_req, why, why_len);
    free(outputs);
    return rc;
}

json_t *render_split(const json_t *job, char *why, size_t why_len)
{
    struct job j;
    memset(&j, 0, sizeof(j));
    json_t *units = NULL;
    if (read_job(job, &j, why, why_len) == 0) {
        size_t per_frame = (size_t)j.cols * j.rows + 1;
        if (j.n_frames * per_frame > RENDER_MAX_UNITS) {
            udcs_why(why, why_len, "%zu frames of %dx%d tiles make too many units (at most %d in "
                     "one job): split the range over several jobs", j.n_frames, j.cols, j.rows,
                     RENDER_MAX_UNITS);
        } else {
            units = json_array();
            size_t *frame_unit = calloc(j.n_frames, sizeof(*frame_unit));
            char (*made)[64] = calloc(j.n_frames, sizeof(*made));
            int rc = frame_unit && made ? 0 : udcs_why(why, why_len, "out of memory");
            for (size_t i = 0; rc == 0 && i < j.n_frames; i++) {
                rc = split_frame(&j, j.frames[i], units, made[i], sizeof(made[i]), why,
                                 why_len);
                frame_unit[i] = json_array_size(units) - 1;
            }
            if (rc == 0 && j.encode)
                rc = split_encode(&j, units, frame_unit, made, why, why_len);
            if (rc < 0) {
                json_decref(units);
                units = NULL;
            }
            free(frame_unit);
            free(made);
        }
    }
    free(j.frames);
    return units;
}
