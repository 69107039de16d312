/* farm/render_main.c - udcs-render: render a frame range on the farm, each frame (or each
 * tile of a frame) a cached unit, and write the frames here as they complete.
 *
 *   udcs-render SCENE --frames 1-240[,300] [--tiles 4x4] [--renderer NAME] [--samples N]
 *               [--size WxH] [--device gpu] -o out/frame_####.png
 *               [--encode out.mp4 [ENCODE SETTINGS]]
 *
 * The scene and the files it needs go to the master's store; the master splits the job
 * (toolchains/render_split.c). Interrupting cancels the job: finished units stay in the
 * action cache, so the same command again renders only what was not finished. */
#include "farm/client.h"
#include "cas/cas.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "toolchains/encode.h"
#include "toolchains/image.h"
#include "toolchains/render.h"
#include "toolchains/trace.h"
#include "toolchains/video.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-render SCENE --frames LIST -o OUT [OPTIONS]\n"
            "\n"
            "Render frames of SCENE on the farm; every frame (or tile) is a cached unit.\n"
            "\n"
            "  --frames LIST      frames and ranges: 1-240,300,310-320\n"
            "  -o, --output PAT   where frames go: out/frame_####.png (#### is the frame\n"
            "                     number, zero-padded); .png, .exr or .tif\n"
            "  --tiles CxR        split each frame into C x R tiles (default 1x1)\n"
            "  --renderer NAME    builtin (.scn), povray (.pov), blender (.blend); default\n"
            "                     by the scene's extension\n"
            "  --samples N        paths per pixel (builtin, Cycles); POV-Ray: anti-aliasing\n"
            "                     depth 1-9\n"
            "  --size WxH         image size (default: the scene's; POV-Ray 640x480)\n"
            "  --threads N        threads per unit (default 1: agents run a unit per core)\n"
            "  --device DEV       builtin: cpu (default), gpu (CUDA where an agent has it,\n"
            "                     else OpenCL), opencl or cuda; the same pixels on each\n"
            "  --animation A-B    the frames the scene's clock spans (POV-Ray +KFI/+KFF;\n"
            "                     default: the frames asked for)\n"
            "  --input FILE       another file the scene needs (repeatable)\n"
            "  --encode OUT.mp4   also encode the frames into a video (.mp4, .mkv, .mov,\n"
            "                     .webm, .nut, .ts) in the same job: encode units wait on\n"
            "                     the frames they need\n"
            "  --fps N[/D]        its frame rate (default 24)\n"
            "  --segment-frames N frames per encode unit (default 48)\n"
            "  --codec, --crf, --bitrate, --preset, --scale, --pix-fmt: as udcs-encode\n"
            "  --priority N       1-10 (default 5)\n"
            "  --json             one JSON event per line instead of the progress bar\n"
            "  --detach           submit, print the job id and return\n"
            "\n"
            "options (also settable by environment and config file):\n");
    udcs_config_print_flags(cfg, out);
}

struct opts {
    const char *scene, *frames, *output, *tiles, *renderer, *size, *animation, *device;
    long samples, threads, priority;
    const char *encode, *fps;     /* --encode OUT.mp4: the frames as a video too */
    long segment_frames;
    struct video_settings vs;
    json_t *encode_fields;
    const char **inputs;
    size_t n_inputs;
    int json, detach;
};

static int number(const char *flag, const char *v, long min, long max, long *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < min || n > max) {
        udcs_log_error("%s needs a whole number from %ld to %ld", flag, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_opts(int argc, char **argv, void *opts)
{
    struct opts *o = opts;
    char why[256];
    int took;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **s = NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--detach") == 0) {
            o->detach = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->scene) {
                udcs_log_error("one scene per job: '%s' and '%s'", o->scene, a);
                return -1;
            }
            o->scene = a;
            continue;
        }
        if (strcmp(a, "--frames") == 0)
            s = &o->frames;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            s = &o->output;
        else if (strcmp(a, "--tiles") == 0)
            s = &o->tiles;
        else if (strcmp(a, "--renderer") == 0)
            s = &o->renderer;
        else if (strcmp(a, "--size") == 0)
            s = &o->size;
        else if (strcmp(a, "--animation") == 0)
            s = &o->animation;
        else if (strcmp(a, "--device") == 0)
            s = &o->device;
        if (s) {
            if (!v) {
                udcs_log_error("%s needs a value (see 'udcs-render --help')", a);
                return -1;
            }
            *s = v;
        } else if (strcmp(a, "--samples") == 0) {
            if (number(a, v, 1, RENDER_MAX_SAMPLES, &o->samples) < 0)
                return -1;
        } else if (strcmp(a, "--threads") == 0) {
            if (number(a, v, 1, RENDER_MAX_THREADS, &o->threads) < 0)
                return -1;
        } else if (strcmp(a, "--encode") == 0 && v) {
            o->encode = v;
        } else if (strcmp(a, "--fps") == 0 && v) {
            o->fps = v;
        } else if (strcmp(a, "--segment-frames") == 0) {
            if (number(a, v, 1, 100000, &o->segment_frames) < 0)
                return -1;
        } else if ((took = video_settings_take(&o->vs, o->encode_fields, a, v, why,
                                               sizeof(why))) != 0) {
            if (took < 0) {
                udcs_log_error("%s", why);
                return -1;
            }
        } else if (strcmp(a, "--priority") == 0) {
            if (number(a, v, 1, 10, &o->priority) < 0)
                return -1;
        } else if (strcmp(a, "--input") == 0 && v) {
            const char **grown = realloc(o->inputs, (o->n_inputs + 1) * sizeof(*grown));
            if (!grown)
                return -1;
            o->inputs = grown;
            o->inputs[o->n_inputs++] = v;
        } else {
            udcs_log_error("unknown option '%s' (see 'udcs-render --help')", a);
            return -1;
        }
        i++;
    }
    if (!o->scene || !o->frames || !o->output) {
        udcs_log_error("usage: udcs-render SCENE --frames LIST -o OUT [OPTIONS] (missing %s)",
                       !o->scene ? "the scene" : !o->frames ? "--frames" : "-o");
        return -1;
    }
    /* the master would refuse these too, but only after the scene and its files are sent */
    int w, h;
    if (o->size && image_parse_size(o->size, &w, &h) < 0) {
        udcs_log_error("--size %s: give WIDTHxHEIGHT in pixels, each 1 to %d (for example "
                       "1920x1080)", o->size, IMAGE_MAX_SIDE);
        return -1;
    }
    if (o->tiles && render_tiles_parse(o->tiles, &w, &h) < 0) {
        udcs_log_error("--tiles %s: give COLUMNSxROWS, each 1 to %d (for example 4x4)",
                       o->tiles, RENDER_MAX_TILES);
        return -1;
    }
    if (o->device && !render_device_known(o->device)) {
        udcs_log_error("--device %s: devices are " RENDER_DEVICES, o->device);
        return -1;
    }
    if (!o->encode && (o->fps || o->segment_frames || json_object_size(o->encode_fields))) {
        udcs_log_error("--fps, --segment-frames and the encode settings go with --encode "
                       "OUT.mp4");
        return -1;
    }
    const char *dot = o->encode ? strrchr(o->encode, '.') : NULL;
    if (o->encode && (!dot || strchr(dot, '/') || !encode_format_known(dot + 1))) {
        udcs_log_error("--encode %s: the extension names the container: one of "
                       ENCODE_FORMATS, o->encode);
        return -1;
    }
    int num, den;
    if (o->fps && video_parse_rate(o->fps, &num, &den) < 0) {
        udcs_log_error("--fps %s: a frame rate N or N/D (24, 30000/1001)", o->fps);
        return -1;
    }
    enum image_format fmt;
    if (o->encode && image_format_of_path(o->output, &fmt) == 0 && fmt == IMAGE_EXR) {
        udcs_log_error("--encode with EXR frames: they hold linear light, which a video "
                       "would show too dark; render PNG or TIFF frames to encode them");
        return -1;
    }
    const char *muxer = !o->encode ? NULL : strcmp(dot + 1, "mkv") == 0 ? "matroska"
                        : strcmp(dot + 1, "ts") == 0 ? "mpegts" : dot + 1;
    if (muxer && video_check_container(muxer, o->vs.codec, why, sizeof(why)) < 0) {
        udcs_log_error("--encode %s: %s", o->encode, why);
        return -1;
    }
    return 0;
}

/* ---- the output pattern ------------------------------------------------------------------ */

struct pattern {
    char head[PATH_MAX], tail[PATH_MAX];
    int digits;                  /* the run of '#'; 0: no frame number in the name */
};

static int parse_pattern(const char *text, size_t n_frames, struct pattern *p)
{
    const char *hash = strchr(text, '#');
    enum image_format fmt;
    if (image_format_of_path(text, &fmt) < 0) {
        udcs_log_error("-o %s: name the frames .png, .exr or .tif (for example "
                       "out/frame_####.png)", text);
        return -1;
    }
    if (!hash && n_frames > 1) {
        udcs_log_error("-o %s: several frames need #### in the name where the frame number "
                       "goes (out/frame_####.png)", text);
        return -1;
    }
    if (strlen(text) >= PATH_MAX) {
        udcs_log_error("-o: the name is too long");
        return -1;
    }
    size_t at = hash ? (size_t)(hash - text) : strlen(text);
    snprintf(p->head, sizeof(p->head), "%.*s", (int)at, text);
    p->digits = (int)strspn(text + at, "#");
    snprintf(p->tail, sizeof(p->tail), "%s", text + at + p->digits);
    if (strchr(p->tail, '#')) {
        udcs_log_error("-o %s: one run of # only", text);
        return -1;
    }
    return 0;
}

static void frame_path(const struct pattern *p, int frame, char *out, size_t len)
{
    if (p->digits)
        snprintf(out, len, "%s%0*d%s", p->head, p->digits, frame, p->tail);
    else
        snprintf(out, len, "%s%s", p->head, p->tail);
}

/* ---- what goes to the store -------------------------------------------------------------- */

static const char *renderer_of_scene(const char *scene)
{
    const char *dot = strrchr(scene, '.');
    if (dot && strcmp(dot, ".pov") == 0)
        return "povray";
    if (dot && strcmp(dot, ".blend") == 0)
        return "blender";
    return "builtin";
}

static int send_file(struct cas *cas, json_t *inputs, const char *dir, const char *rel)
{
    char path[PATH_MAX], text[CLIENT_DIGEST_TEXT];
    snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", rel);
    int rc = client_send_file(cas, path, text);
    if (rc == 0)
        json_object_set_new(inputs, rel, json_string(text));
    return rc;
}

/* The scene's own checks, before anything is sent: a scene that does not parse, or needs
 * a file that is not there, is refused here with the file, line and column. */
static int scene_files(const struct opts *o, const char *renderer, char ***files, size_t *n,
                       int *width, int *height)
{
    char why[1024];
    *files = NULL;
    *n = 0;
    if (strcmp(renderer, "builtin") == 0) {
        struct trace_scene *s;
        if (trace_scene_load(o->scene, &s, why, sizeof(why)) < 0) {
            udcs_log_error("%s", why);
            return -1;
        }
        const char *const *paths;
        int k = trace_scene_inputs(s, &paths);
        struct trace_scene_info info;
        trace_scene_describe(s, &info);
        *width = info.width;
        *height = info.height;
        *files = calloc((size_t)k + 1, sizeof(char *));
        for (int i = 0; *files && i < k; i++)
            (*files)[(*n)++] = strdup(paths[i]);
        trace_scene_free(s);
        return *files ? 0 : -1;
    }
    if (strcmp(renderer, "povray") == 0 &&
        render_povray_inputs(o->scene, files, n, why, sizeof(why)) < 0) {
        udcs_log_error("%s", why);
        return -1;
    }
    return 0;
}

static json_t *build_job(const struct opts *o, struct cas *cas, const char *renderer,
                         const char *format)
{
    char **files = NULL;
    size_t n = 0;
    int width = 0, height = 0, rc = 0;
    struct stat st;
    if (stat(o->scene, &st) < 0) {
        udcs_log_error("scene %s: %s", o->scene, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        udcs_log_error("scene %s: not a file", o->scene);
        return NULL;
    }
    if (scene_files(o, renderer, &files, &n, &width, &height) < 0)
        return NULL;
    const char *slash = strrchr(o->scene, '/');
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - o->scene) : 0, o->scene);
    const char *base = slash ? slash + 1 : o->scene;
    json_t *inputs = json_object();
    rc = send_file(cas, inputs, dir, base);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = send_file(cas, inputs, dir, files[i]);
        free(files[i]);
    }
    free(files);
    for (size_t i = 0; rc == 0 && i < o->n_inputs; i++) {
        /* extra files go by their path relative to the scene's directory */
        const char *rel = o->inputs[i];
        size_t dl = strlen(dir);
        if (dl && strncmp(rel, dir, dl) == 0 && rel[dl] == '/')
            rel += dl + 1;
        if (!udcs_path_is_contained(rel)) {
            udcs_log_error("--input %s: name files inside the scene's directory (%s)",
                           o->inputs[i], *dir ? dir : ".");
            rc = -1;
        } else {
            rc = send_file(cas, inputs, dir, rel);
        }
    }
    if (rc < 0) {
        json_decref(inputs);
        return NULL;
    }
    json_t *job = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I}", "type", "RENDER",
                            "renderer", renderer, "scene", base, "inputs", inputs, "frames",
                            o->frames, "tiles", o->tiles ? o->tiles : "1x1", "format", format,
                            "priority", (json_int_t)(o->priority ? o->priority : 5));
    char size[64];
    if (o->size)
        snprintf(size, sizeof(size), "%s", o->size);
    else if (width)
        snprintf(size, sizeof(size), "%dx%d", width, height);
    else
        size[0] = '\0';
    if (size[0])
        json_object_set_new(job, "size", json_string(size));
    if (o->samples)
        json_object_set_new(job, "samples", json_integer(o->samples));
    if (o->threads)
        json_object_set_new(job, "threads", json_integer(o->threads));
    if (o->animation)
        json_object_set_new(job, "animation", json_string(o->animation));
    if (o->device)
        json_object_set_new(job, "device", json_string(o->device));
    if (o->encode) {
        json_t *e = json_deep_copy(o->encode_fields);
        json_object_set_new(e, "format", json_string(strrchr(o->encode, '.') + 1));
        json_object_set_new(e, "fps", json_string(o->fps ? o->fps : "24"));
        if (o->segment_frames)
            json_object_set_new(e, "segment_frames", json_integer(o->segment_frames));
        json_object_set_new(job, "encode", e);
    }
    return job;
}

/* ---- following the job ------------------------------------------------------------------- */

struct run {
    struct client_watch w;
    struct cas *cas;
    const struct pattern *pat;
    int *frames;                 /* the frames asked for, ascending */
    size_t n_frames;
    unsigned char *written;      /* per frame */
    size_t n_written, n_cached, units_done, units_total;
    size_t units_cached;         /* of units_done, answered by the action cache */
    int json, tty;
    const char *encode;          /* --encode: where the video goes */
    int encoded;
    uint64_t start_ms;
};

static long frame_index(const struct run *r, int frame)
{
    size_t lo = 0, hi = r->n_frames;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->frames[mid] < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n_frames && r->frames[lo] == frame ? (long)lo : -1;
}

static void progress(struct run *r)
{
    if (r->json || !r->tty)
        return;
    char text[160];
    snprintf(text, sizeof(text), "%zu/%zu frames, %zu cached, units %zu/%zu", r->n_written,
             r->n_frames, r->n_cached, r->units_done, r->units_total);
    double elapsed = (double)(udcs_mono_ms() - r->start_ms) / 1000;
    client_draw_progress(r->n_written, r->n_frames, text, r->start_ms,
                         client_eta_s(elapsed, r->units_done, r->units_cached,
                                      r->units_total));
}

/* The join of --encode ("output") finished: fetch the video. */
static int write_video(struct run *r, json_t *outputs, int cached)
{
    const char *digest = json_string_value(json_object_get(json_array_get(outputs, 0),
                                                           "digest"));
    struct cas_digest d;
    int rc = digest && cas_digest_parse(digest, &d, NULL) == 0 ? 0 : -1;
    if (rc == 0)
        rc = cas_get_to_file(r->cas, &d, r->encode, 0644);
    if (rc < 0) {
        udcs_log_error("--encode %s: fetching the video failed: %s", r->encode,
                       udcs_strerror(rc));
        return rc;
    }
    r->encoded = 1;
    if (r->json)
        client_print_event(json_pack("{s:s, s:s, s:b}", "event", "video", "path", r->encode,
                                     "cached", cached));
    else if (!r->tty)
        printf("video: %s%s\n", r->encode, cached ? " (cached)" : "");
    fflush(stdout);
    return 0;
}

/* "frame N" is the unit whose output is frame N; write it unless it is there already. */
static int write_frame(void *arg, const char *name, json_t *outputs, int cached)
{
    struct run *r = arg;
    if (r->encode && name && strcmp(name, "output") == 0)
        return r->encoded ? 0 : write_video(r, outputs, cached);
    int frame;
    char tail;
    if (!name || sscanf(name, "frame %d%c", &frame, &tail) != 1)
        return 0;
    long i = frame_index(r, frame);
    if (i < 0 || r->written[i])
        return 0;
    const char *digest = json_string_value(json_object_get(json_array_get(outputs, 0),
                                                           "digest"));
    struct cas_digest d, have;
    char path[PATH_MAX];
    frame_path(r->pat, frame, path, sizeof(path));
    if (!digest || cas_digest_parse(digest, &d, NULL) < 0) {
        udcs_log_error("frame %d: the unit reported no image", frame);
        return -1;
    }
    if (cas_digest_of_file(path, &have) < 0 || !cas_digest_equal(&have, &d)) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            udcs_mkdir_p(dir, 0755);
        }
        int rc = cas_get_to_file(r->cas, &d, path, 0644);
        if (rc < 0) {
            udcs_log_error("frame %d: fetching %s failed: %s", frame, path, udcs_strerror(rc));
            return rc;
        }
    }
    r->written[i] = 1;
    r->n_written++;
    r->n_cached += cached;
    if (r->json)
        client_print_event(json_pack("{s:s, s:i, s:s, s:b, s:I, s:I}", "event", "frame",
                                     "frame", frame, "path", path, "cached", cached,
                                     "frames_done", (json_int_t)r->n_written, "frames",
                                     (json_int_t)r->n_frames));
    else if (!r->tty)
        printf("frame %d: %s%s\n", frame, path, cached ? " (cached)" : "");
    fflush(stdout);
    return 0;
}

static int on_event(void *arg, const char *event, json_t *d)
{
    struct run *r = arg;
    if (json_object_get(d, "done"))
        r->units_done = (size_t)json_integer_value(json_object_get(d, "done"));
    if (json_object_get(d, "total"))
        r->units_total = (size_t)json_integer_value(json_object_get(d, "total"));
    int rc = 0;
    if (strcmp(event, "unit_finished") == 0) {
        int cached = json_is_true(json_object_get(d, "cached"));
        r->units_cached += cached;
        rc = write_frame(r, json_string_value(json_object_get(d, "name")),
                         json_object_get(d, "outputs"), cached);
    } else if (strcmp(event, "unit_failed") == 0 || strcmp(event, "unit_retry") == 0) {
        client_say_unit_trouble(event, d, r->json, r->tty);
    }
    progress(r);
    return rc;
}

/* --encode: open the encoder here as the encode units will (frame size, rate), so that
 * settings it refuses are refused before anything renders. */
static int check_encode(const struct opts *o, const json_t *job)
{
    int width = 0, height = 0, num = 24, den = 1;
    const char *size = json_string_value(json_object_get(job, "size"));
    char why[1024];
    if (size && image_parse_size(size, &width, &height) < 0)
        width = height = 0;
    if (o->fps)
        video_parse_rate(o->fps, &num, &den);
    if (video_check_settings(&o->vs, width ? width : 320, height ? height : 240, num, den, 0,
                             0, why, sizeof(why)) < 0) {
        udcs_log_error("--encode: %s", why);
        return -1;
    }
    return 0;
}

static int render(struct client *c, void *opts)
{
    const struct opts *o = opts;
    struct pattern pat;
    int *frames = NULL;
    size_t n_frames = 0;
    char why[512];
    const char *renderer = o->renderer ? o->renderer : renderer_of_scene(o->scene);
    enum image_format fmt;
    if (!render_tool_of(renderer)) {
        udcs_log_error("--renderer %s: renderers are builtin, povray, blender", renderer);
        return UDCS_EXIT_USAGE;
    }
    if (o->device && strcmp(o->device, "cpu") != 0 && strcmp(renderer, "builtin") != 0) {
        udcs_log_error("--device %s: only the builtin renderer (.scn scenes) renders on GPUs; "
                       "%s renders on its agents' CPUs", o->device, renderer);
        return UDCS_EXIT_USAGE;
    }
    if (render_frames_parse(o->frames, &frames, &n_frames, why, sizeof(why)) < 0) {
        udcs_log_error("--frames: %s", why);
        return UDCS_EXIT_USAGE;
    }
    if (parse_pattern(o->output, n_frames, &pat) < 0) {
        free(frames);
        return UDCS_EXIT_USAGE;
    }
    if (strcmp(renderer, "povray") == 0 && n_frames > 1 && !o->animation)
        udcs_log_warn("POV-Ray's clock spans the frames asked for, %d-%d (+KFI%d +KFF%d), so "
                      "every frame's picture depends on the range: a longer or different range "
                      "renders every frame again. To render part of an animation and extend it "
                      "later, name the whole with --animation FIRST-LAST", frames[0],
                      frames[n_frames - 1], frames[0], frames[n_frames - 1]);
    image_format_of_path(o->output, &fmt);
    struct cas *cas;
    int status = UDCS_EXIT_FAILED, rc = client_open_store(c, &cas);
    json_t *job = rc == 0 ? build_job(o, cas, renderer, image_format_name(fmt)) : NULL;
    if (job && o->encode && check_encode(o, job) < 0) {
        json_decref(job);
        job = NULL;
    }
    char *text = job ? json_dumps(job, JSON_COMPACT) : NULL;
    int tty = !o->json && isatty(STDERR_FILENO);
    struct run r = { .cas = cas, .pat = &pat, .frames = frames, .n_frames = n_frames,
                     .json = o->json, .tty = tty, .start_ms = udcs_mono_ms(),
                     .encode = o->encode,
                     .w = { .c = c, .program = "udcs-render", .json = o->json, .tty = tty,
                            .cancel_note = "finished frames and tiles are cached: the same "
                                           "command renders only the rest",
                            .on_event = on_event } };
    r.w.arg = &r;
    if (text && client_submit(c, text, &r.w.id) == 0) {
        if (o->json)
            printf("{\"event\":\"job_submitted\",\"job\":%lld,\"frames\":%zu}\n", r.w.id,
                   n_frames);
        else
            fprintf(stderr, "udcs-render: job %lld: %zu frame%s of %s with %s\n", r.w.id,
                    n_frames, n_frames == 1 ? "" : "s", o->scene, renderer);
        fflush(stdout);
        if (o->detach) {
            printf("%lld\n", r.w.id);
            status = UDCS_EXIT_OK;
        } else if ((r.written = calloc(n_frames, 1))) {
            int interrupted = client_watch(&r.w);
            if (r.tty)
                fputc('\n', stderr);
            if (!interrupted && !r.w.failed)
                client_watch_sweep(&r.w, write_frame);
            if (interrupted) {
                status = interrupted;
            } else if (strcmp(r.w.state, "done") == 0 && r.n_written == n_frames &&
                       (!o->encode || r.encoded)) {
                status = UDCS_EXIT_OK;
            } else {
                udcs_log_error("job %lld %s after %zu of %zu frames%s%s", r.w.id,
                               r.w.state[0] ? r.w.state : "was lost", r.n_written, n_frames,
                               r.w.error[0] ? ": " : "", r.w.error);
            }
            if (o->json)
                printf("{\"event\":\"job_finished\",\"job\":%lld,\"state\":\"%s\","
                       "\"frames_written\":%zu,\"frames\":%zu,\"cached\":%zu}\n", r.w.id,
                       r.w.state, r.n_written, n_frames, r.n_cached);
            else if (status == UDCS_EXIT_OK)
                fprintf(stderr, "udcs-render: %zu frame%s written (%zu from the cache) in "
                        "%.1fs\n", r.n_written, r.n_written == 1 ? "" : "s", r.n_cached,
                        (double)(udcs_mono_ms() - r.start_ms) / 1000);
        }
    }
    free(r.written);
    free(text);
    json_decref(job);
    cas_close(cas);
    free(frames);
    return status;
}

int main(int argc, char **argv)
{
    struct opts o = { .vs = VIDEO_SETTINGS_INIT, .encode_fields = json_object() };
    struct client_program p = { .name = "udcs-render", .usage = usage, .parse = parse_opts,
                                .run = render, .opts = &o };
    int status = client_program_main(&p, argc, argv);
    free(o.inputs);
    json_decref(o.encode_fields);
    return status;
}
