/* toolchains/trace_main.c - the udcs-trace command: render a frame (or a region of one) of
 * a .scn scene to PNG, OpenEXR or TIFF, list the files a scene needs, or check a scene.
 *
 *   udcs-trace SCENE --frame N [--size WxH] [--samples N] [--region X,Y,W,H]
 *              [--threads N] [--device cpu|opencl|cuda] [--linear] [--float-tiff]
 *              -o OUT.png|.exr|.tif
 *   udcs-trace SCENE --inputs
 *   udcs-trace SCENE --check [--frames A-B]
 *
 * The renderer is toolchains/trace.h, its GPU path toolchains/trace_gpu.h; images are
 * written through toolchains/image.h. */
#include "toolchains/image.h"
#include "toolchains/trace.h"
#include "toolchains/trace_gpu.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_LEN 1024

static const struct udcs_setting settings[] = {
    /*           name       flag           env               key          default  type    help */
    UDCS_SETTING(frame,     "--frame",     NULL,             NULL,        NULL,    STRING, "the frame to render (a whole number)"),
    UDCS_SETTING(size,      "--size",      NULL,             NULL,        NULL,    STRING, "WxH: the image size (default: the scene's)"),
    UDCS_SETTING(samples,   "--samples",   NULL,             NULL,        NULL,    UINT,   "paths per pixel (default: the scene's)"),
    UDCS_SETTING(region,    "--region",    NULL,             NULL,        NULL,    STRING, "X,Y,W,H: render only this rectangle of the frame, as a WxH image"),
    UDCS_SETTING(threads,   "--threads",   NULL,             NULL,        "0",     UINT,   "render threads (0: one per CPU; --device cpu only)"),
    UDCS_SETTING(device,    "--device",    NULL,             NULL,        "cpu",   STRING, "cpu, opencl or cuda: where the pixels are computed (the same pixels)"),
    UDCS_SETTING(linear,    "--linear",    NULL,             NULL,        "false", BOOL,   "write linear radiance (for EXR) instead of sRGB"),
    UDCS_SETTING(output,    "-o",          NULL,             NULL,        NULL,    STRING, "the image to write: .png, .exr or .tif"),
    UDCS_SETTING(float_tiff, "--float-tiff", NULL,           NULL,        "false", BOOL,   "write 32-bit float TIFF whatever the name (the farm's tile files)"),
    UDCS_SETTING(inputs,    "--inputs",    NULL,             NULL,        "false", BOOL,   "print the files the scene needs besides itself"),
    UDCS_SETTING(check,     "--check",     NULL,             NULL,        "false", BOOL,   "parse the scene and print a one-line summary"),
    UDCS_SETTING(frames,    "--frames",    NULL,             NULL,        NULL,    STRING, "A-B: with --check, evaluate these frames too"),
    UDCS_SETTING(log_level, "--log-level", "UDCS_LOG_LEVEL", "log.level", "warn",  STRING, "error, warn, info or debug"),
};

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-trace SCENE --frame N [--size WxH] [--samples N] [--region X,Y,W,H]\n"
            "                  [--threads N] [--device cpu|opencl|cuda] [--linear]\n"
            "                  [--float-tiff] -o OUT.png|.exr|.tif\n"
            "       udcs-trace SCENE --inputs\n"
            "       udcs-trace SCENE --check [--frames A-B]\n"
            "       udcs-trace --version\n"
            "\n"
            "The built-in path tracer of UDCS. Renders frame N of a .scn scene\n"
            "(docs/SCENES.md); a region renders exactly the pixels of the whole frame.\n"
            "--device opencl or cuda computes them on a GPU, the same to the bit\n"
            "(docs/RENDER.md).\n"
            "--inputs prints the included files and meshes the scene needs, one per line,\n"
            "relative to its directory; --check parses and prints a summary.\n"
            "\n"
            "options:\n");
    udcs_config_print_flags(cfg, out);
    fprintf(out, "\nexit status: 0 done, 1 scene, file or device error, 2 usage error\n");
}

/* A whole number in [lo, hi] from text. Returns 0 or -1. */
static int parse_int(const char *text, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* "A-B" (A may be negative: "-5-10"). */
static int parse_frames(const char *text, int *first, int *last)
{
    char *end;
    errno = 0;
    long a = strtol(text, &end, 10);
    if (errno || end == text || *end != '-')
        return -1;
    char buf[32];
    snprintf(buf, sizeof(buf), "%ld", a);
    if (parse_int(end + 1, -TRACE_MAX_FRAME, TRACE_MAX_FRAME, last) < 0 ||
        parse_int(buf, -TRACE_MAX_FRAME, TRACE_MAX_FRAME, first) < 0 || *last < *first)
        return -1;
    return 0;
}

static int load(const char *path, struct trace_scene **s)
{
    char why[WHY_LEN];
    if (trace_scene_load(path, s, why, sizeof(why)) < 0) {
        udcs_log_error("%s", why);
        return UDCS_EXIT_FAILED;
    }
    return UDCS_EXIT_OK;
}

static int cmd_inputs(const char *path)
{
    struct trace_scene *s;
    int status = load(path, &s);
    if (status != UDCS_EXIT_OK)
        return status;
    const char *const *paths;
    int n = trace_scene_inputs(s, &paths);
    for (int i = 0; i < n; i++)
        printf("%s\n", paths[i]);
    trace_scene_free(s);
    return UDCS_EXIT_OK;
}

static int cmd_check(const char *path, const char *frames)
{
    int first = 0, last = -1;
    if (frames && parse_frames(frames, &first, &last) < 0) {
        udcs_log_error("--frames needs A-B with A <= B, whole numbers within -%d..%d, not "
                       "'%s'", TRACE_MAX_FRAME, TRACE_MAX_FRAME, frames);
        return UDCS_EXIT_USAGE;
    }
    struct trace_scene *s;
    int status = load(path, &s);
    if (status != UDCS_EXIT_OK)
        return status;
    for (int f = first; f <= last; f++) {
        char why[WHY_LEN];
        struct trace_view *v;
        if (trace_view_build(s, f, 0, 0, 1, &v, why, sizeof(why)) < 0) {
            udcs_log_error("%s: %s", path, why);
            trace_scene_free(s);
            return UDCS_EXIT_FAILED;
        }
        trace_view_free(v);
    }
    struct trace_scene_info i;
    trace_scene_describe(s, &i);
    printf("%s: %dx%d, %d samples, %d bounces, frames %d-%d; %d materials, %d objects "
           "(%d spheres, %d planes, %d quads, %d boxes, %d meshes), %ld triangles, "
           "%d emissive, %d animated properties, %d inputs",
           path, i.width, i.height, i.samples, i.max_bounces, i.frame_first, i.frame_last,
           i.n_materials, i.n_objects, i.n_spheres, i.n_planes, i.n_quads, i.n_boxes,
           i.n_meshes, i.n_triangles, i.n_emissive, i.n_animated, i.n_inputs);
    if (frames)
        printf("; frames %d-%d evaluate\n", first, last);
    else
        printf("\n");
    trace_scene_free(s);
    return UDCS_EXIT_OK;
}

/* What a render needs from the command line, checked before the scene is read. */
struct render_opts {
    const char *scene, *out;
    int frame, width, height, samples, threads, linear, float_tiff;
    int has_region, rect[4];
    enum image_format format;
    enum trace_device device;
};

static int render_opts_from(const struct udcs_config *cfg, const char *scene,
                            struct render_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->scene = scene;
    const char *frame = udcs_config_str(cfg, "frame");
    const char *size = udcs_config_str(cfg, "size");
    const char *region = udcs_config_str(cfg, "region");
    const char *device = udcs_config_str(cfg, "device");
    uint64_t v;
    o->out = udcs_config_str(cfg, "output");
    if (!frame || parse_int(frame, -TRACE_MAX_FRAME, TRACE_MAX_FRAME, &o->frame) < 0) {
        udcs_log_error(frame ? "--frame needs a whole number within -%d..%d, not '%s'"
                             : "--frame N is needed to render (whole numbers within -%d..%d)%s",
                       TRACE_MAX_FRAME, TRACE_MAX_FRAME, frame ? frame : "");
        return UDCS_EUSAGE;
    }
    if (!o->out) {
        udcs_log_error("-o OUT.png|.exr|.tif is needed to render");
        return UDCS_EUSAGE;
    }
    if (image_format_of_path(o->out, &o->format) < 0) {
        udcs_log_error("-o %s: unknown image format; use .png, .exr, .tif or .tiff", o->out);
        return UDCS_EUSAGE;
    }
    if (size && (image_parse_size(size, &o->width, &o->height) < 0 ||
                 o->width > TRACE_MAX_SIZE || o->height > TRACE_MAX_SIZE)) {
        udcs_log_error("--size needs WxH, each 1 to %d, not '%s'", TRACE_MAX_SIZE, size);
        return UDCS_EUSAGE;
    }
    if (udcs_config_uint(cfg, "samples", &v) == 0) {
        if (v < 1 || v > TRACE_MAX_SAMPLES) {
            udcs_log_error("--samples needs 1 to %d, not %llu", TRACE_MAX_SAMPLES,
                           (unsigned long long)v);
            return UDCS_EUSAGE;
        }
        o->samples = (int)v;
    }
    if (udcs_config_uint(cfg, "threads", &v) == 0)
        o->threads = v > INT_MAX ? INT_MAX : (int)v;
    if (udcs_config_bool(cfg, "linear", &o->linear) < 0 ||
        udcs_config_bool(cfg, "float_tiff", &o->float_tiff) < 0)
        return UDCS_EUSAGE;
    if (trace_device_parse(device, &o->device) < 0) {
        udcs_log_error("--device needs cpu, opencl or cuda, not '%s'%s", device,
                       strcmp(device, "gpu") == 0 ? " (udcs-render --device gpu picks the API; "
                       "here, name it)" : "");
        return UDCS_EUSAGE;
    }
    if (region) {
        if (image_parse_rect(region, o->rect) < 0) {
            udcs_log_error("--region needs X,Y,W,H (X, Y from 0, W, H from 1), not '%s'",
                           region);
            return UDCS_EUSAGE;
        }
        o->has_region = 1;
    }
    /* sRGB values in a float file are not a mistake here: the farm renders the tiles of a
     * PNG frame as float TIFF (--float-tiff) holding final values, so the merge changes
     * nothing. */
    return 0;
}

/* --device opencl|cuda: the device, with the renderer compiled for it. A missing API or
 * device ends the command (exit 1): an agent that was sent a GPU unit must not quietly
 * render it on its CPU. */
static int open_device(const struct render_opts *o, struct trace_gpu **gpu)
{
    char why[WHY_LEN];
    *gpu = NULL;
    if (o->device == TRACE_DEVICE_CPU)
        return UDCS_EXIT_OK;
    uint64_t start_ms = udcs_mono_ms();
    if (trace_gpu_open(o->device, gpu, why, sizeof(why)) < 0) {
        udcs_log_error("--device %s: %s", trace_device_name(o->device), why);
        return UDCS_EXIT_FAILED;
    }
    udcs_log_info("--device %s: %s; renderer compiled in %llu ms",
                  trace_device_name(o->device), trace_gpu_device_class(*gpu),
                  (unsigned long long)(udcs_mono_ms() - start_ms));
    return UDCS_EXIT_OK;
}

static int cmd_render(const struct render_opts *o)
{
    struct trace_gpu *gpu;
    int status = open_device(o, &gpu);
    if (status != UDCS_EXIT_OK)
        return status;
    struct trace_scene *s;
    status = load(o->scene, &s);
    if (status != UDCS_EXIT_OK) {
        trace_gpu_free(gpu);
        return status;
    }
    char why[WHY_LEN];
    struct trace_view *v = NULL;
    struct image img = { 0 };
    uint64_t start_ms = udcs_mono_ms();
    if (trace_view_build(s, o->frame, o->width, o->height, o->samples, &v, why,
                         sizeof(why)) < 0) {
        udcs_log_error("%s: %s", o->scene, why);
        status = UDCS_EXIT_FAILED;
        goto out;
    }
    int rect[4] = { 0, 0, v->width, v->height };
    if (o->has_region) {
        memcpy(rect, o->rect, sizeof(rect));
        if (rect[0] > v->width - rect[2] || rect[1] > v->height - rect[3]) {
            udcs_log_error("--region %d,%d,%d,%d is not inside the %dx%d frame", rect[0],
                           rect[1], rect[2], rect[3], v->width, v->height);
            status = UDCS_EXIT_USAGE;
            goto out;
        }
    }
    int rc = image_alloc(&img, rect[2], rect[3]);
    if (rc < 0) {
        udcs_log_error("%s: no memory for a %dx%d image", o->out, rect[2], rect[3]);
        status = UDCS_EXIT_FAILED;
        goto out;
    }
    uint64_t built_ms = udcs_mono_ms();
    if (!gpu) {
        trace_render_region(v, rect[0], rect[1], rect[2], rect[3], o->threads, img.pixels);
    } else if (trace_gpu_render_region(gpu, v, rect[0], rect[1], rect[2], rect[3], img.pixels,
                                       why, sizeof(why)) < 0) {
        udcs_log_error("--device %s: %s", trace_device_name(o->device), why);
        status = UDCS_EXIT_FAILED;
        goto out;
    }
    if (!o->linear)
        trace_encode_srgb(img.pixels, (size_t)rect[2] * (size_t)rect[3]);
    uint64_t rendered_ms = udcs_mono_ms();
    if ((o->float_tiff ? image_write_float_tiff(o->out, &img, why, sizeof(why))
                       : image_write(o->out, &img, why, sizeof(why))) < 0) {
        udcs_log_error("%s", why);
        status = UDCS_EXIT_FAILED;
        goto out;
    }
    udcs_log_info("frame %d, %dx%d at %d,%d of %dx%d, %d samples: scene %llu ms, render "
                  "%llu ms (%s), %s written", o->frame, rect[2], rect[3], rect[0], rect[1],
                  v->width, v->height, v->samples,
                  (unsigned long long)(built_ms - start_ms),
                  (unsigned long long)(rendered_ms - built_ms), trace_device_name(o->device),
                  o->out);
out:
    image_release(&img);
    trace_view_free(v);
    trace_scene_free(s);
    trace_gpu_free(gpu);
    return status;
}

static int run(const struct udcs_config *cfg, const struct udcs_cli *cli)
{
    if (cli->n_rest == 0) {
        udcs_log_error("no scene given; see 'udcs-trace --help'");
        return UDCS_EXIT_USAGE;
    }
    for (int i = 0; i < cli->n_rest; i++) {
        const char *arg = cli->rest[i];
        if (arg[0] == '-' && arg[1]) {
            udcs_log_error("unknown option '%s'; see 'udcs-trace --help'", arg);
            return UDCS_EXIT_USAGE;
        }
    }
    if (cli->n_rest > 1) {
        udcs_log_error("unexpected argument '%s': one scene per call", cli->rest[1]);
        return UDCS_EXIT_USAGE;
    }
    const char *scene = cli->rest[0];
    int inputs = 0, check = 0;
    if (udcs_config_bool(cfg, "inputs", &inputs) < 0 || udcs_config_bool(cfg, "check", &check) < 0)
        return UDCS_EXIT_USAGE;
    if (inputs && check) {
        udcs_log_error("--inputs and --check are separate commands; give one");
        return UDCS_EXIT_USAGE;
    }
    if (inputs)
        return cmd_inputs(scene);
    if (check)
        return cmd_check(scene, udcs_config_str(cfg, "frames"));
    if (udcs_config_str(cfg, "frames")) {
        udcs_log_error("--frames goes with --check; to render, give --frame N");
        return UDCS_EXIT_USAGE;
    }
    struct render_opts o;
    if (render_opts_from(cfg, scene, &o) < 0)
        return UDCS_EXIT_USAGE;
    return cmd_render(&o);
}

int main(int argc, char **argv)
{
    udcs_log_init("udcs-trace", UDCS_LOG_WARN, UDCS_LOG_STYLE_CLI);
    struct udcs_config cfg;
    if (udcs_config_init(&cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return UDCS_EXIT_FAILED;
    struct udcs_cli cli = { .program = "udcs-trace", .usage = usage };
    int status = udcs_cli_parse(&cli, &cfg, argc, argv);
    if (status == 1)
        status = run(&cfg, &cli);
    else
        status = status == 0 ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    free(cli.rest);
    udcs_config_release(&cfg);
    return udcs_cli_finish(status);
}
