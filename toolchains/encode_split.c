/* toolchains/encode_split.c - encode jobs as units (encode.h): the command lines of
 * udcs-video for each segment and for the join. */
#include "toolchains/encode.h"
#include "toolchains/job_fields.h"
#include "common/err.h"
#include "toolchains/video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENCODED "encoded.nut"


int encode_format_known(const char *format)
{
    static const char *const known[] = { "mp4", "mkv", "mov", "webm", "nut", "ts", NULL };
    for (int i = 0; format && known[i]; i++)
        if (strcmp(format, known[i]) == 0)
            return 1;
    return 0;
}

/* The settings, in this order, as job fields and as udcs-video flags. */
static const char *const setting_fields[] = { "codec", "crf", "bitrate", "preset", "scale",
                                              "pix_fmt", "threads", NULL };

/* A name the encoder is given (codec, preset, pixel format): no spaces, no options. */
static int plain_name(const char *s)
{
    return *s && *s != '-' && strlen(s) < 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
               strlen(s);
}

/* Check the settings of `obj` and append them to argv as flags (codec and threads always,
 * so that their defaults are in every action's key). */
static int settings_argv(const json_t *obj, json_t *argv, char *why, size_t why_len)
{
    struct video_settings vs = VIDEO_SETTINGS_INIT;
    for (int i = 0; setting_fields[i]; i++) {
        const char *key = setting_fields[i];
        json_t *v = json_object_get(obj, key);
        char flag[32], text[64];
        snprintf(flag, sizeof(flag), "--%s", key);
        if (strcmp(key, "pix_fmt") == 0)
            snprintf(flag, sizeof(flag), "--pix-fmt");
        int whole = strcmp(key, "crf") == 0 || strcmp(key, "threads") == 0;
        if (!v && strcmp(key, "codec") == 0) {
            snprintf(text, sizeof(text), "%s", vs.codec);
        } else if (!v && strcmp(key, "threads") == 0) {
            snprintf(text, sizeof(text), "%d", vs.threads);
        } else if (!v) {
            continue;
        } else if (json_is_integer(v) && (whole || strcmp(key, "bitrate") == 0)) {
            snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
        } else if (json_is_string(v) && !whole) {
            snprintf(text, sizeof(text), "%s", json_string_value(v));
        } else {
            return udcs_why(why, why_len, "field '%s' must be a %s", key,
                            whole ? "whole number" : "string");
        }
        if ((strcmp(key, "codec") == 0 || strcmp(key, "preset") == 0 ||
             strcmp(key, "pix_fmt") == 0) && !plain_name(text))
            return udcs_why(why, why_len, "field '%s': '%s' is not a name", key, text);
        char reason[256];
        if (video_settings_flag(&vs, flag, text, reason, sizeof(reason)) < 0)
            return udcs_why(why, why_len, "field '%s': %s", key, reason);
        job_arg(argv, "%s", flag);
        job_arg(argv, "%s", text);
    }
    if (vs.crf >= 0 && vs.bitrate > 0)
        return udcs_why(why, why_len, "fields 'crf' and 'bitrate' both given: choose one");
    return 0;
}

static json_t *unit_of(const char *name, json_t *argv, json_t *inputs, const char *out,
                       const char *req)
{
    return json_pack("{s:s, s:o, s:o, s:[s], s:{s:[s]}, s:{s:s}}", "name", name, "argv", argv,
                     "inputs", inputs, "outputs", out, "requirements", "toolchains", req,
                     "env", "UDCS_ENCODER", req);
}

/* The join unit: the encoded segments (units first .. first + n - 1, in order) and the
 * audio blob (or NULL) into output.FORMAT. */
static json_t *join_unit(size_t first, size_t n, const char *audio, const char *shift,
                         const char *tb, const char *format, const char *req)
{
    json_t *argv = json_array(), *inputs = json_object();
    char out[32];
    snprintf(out, sizeof(out), "output.%s", format);
    job_arg(argv, ENCODE_TOOL);
    job_arg(argv, "join");
    job_arg(argv, "-o");
    job_arg(argv, "%s", out);
    job_arg(argv, "--format");
    job_arg(argv, "%s", strcmp(format, "mkv") == 0 ? "matroska"
                    : strcmp(format, "ts") == 0 ? "mpegts" : format);
    if (shift) {
        job_arg(argv, "--shift");
        job_arg(argv, "%s", shift);
    }
    if (tb) {
        job_arg(argv, "--time-base");
        job_arg(argv, "%s", tb);
    }
    if (audio) {
        job_arg(argv, "--audio");
        job_arg(argv, "audio.nut");
        json_object_set_new(inputs, "audio.nut", json_string(audio));
    }
    for (size_t k = 0; k < n; k++) {
        char name[32];
        snprintf(name, sizeof(name), "seg_%05zu.nut", k);
        job_arg(argv, "%s", name);
        json_object_set_new(inputs, name, json_pack("{s:I, s:s}", "unit",
                                                    (json_int_t)(first + k), "output", ENCODED));
    }
    return unit_of("output", argv, inputs, out, req);
}

static const char *const encode_fields[] = { "format", "fps", "time_base", "shift",
                                              "segments", "audio",
                                              "codec", "crf", "bitrate", "preset", "scale",
                                              "pix_fmt", "threads", "encoder_fingerprint",
                                              NULL };

/* format, fps and the settings: what every encode has. */
static int read_common(const json_t *job, const char **format, const char *def_fps,
                       const char **fps, json_t *settings, char *why, size_t why_len)
{
    int num, den;
    if (job_opt_str(job, "format", "mp4", format, why, why_len) < 0 ||
        job_opt_str(job, "fps", def_fps, fps, why, why_len) < 0)
        return -1;
    if (!encode_format_known(*format))
        return udcs_why(why, why_len, "format '%s' is not one of " ENCODE_FORMATS, *format);
    if (!*fps || video_parse_rate(*fps, &num, &den) < 0)
        return udcs_why(why, why_len, "field 'fps' must be a frame rate N or N/D (24, "
                        "30000/1001)");
    return settings_argv(job, settings, why, why_len);
}

static int read_segment(const json_t *s, size_t k, size_t n, int64_t prev_end, char *why,
                        size_t why_len)
{
    json_t *start = json_object_get(s, "start_pts"), *end = json_object_get(s, "end_pts");
    json_t *frames = json_object_get(s, "frames");
    if (!json_is_object(s) || !json_is_string(json_object_get(s, "digest")) ||
        !json_is_integer(start) || !json_is_integer(frames) || json_integer_value(frames) < 1 ||
        (end && !json_is_null(end) && !json_is_integer(end)))
        return udcs_why(why, why_len, "segment %zu must be {\"digest\": \"HEX/SIZE\", "
                        "\"start_pts\": N, \"end_pts\": N, \"frames\": N}", k);
    if (k > 0 && json_integer_value(start) != prev_end)
        return udcs_why(why, why_len, "segment %zu starts at %lld, not where segment %zu ends "
                        "(%lld)", k, (long long)json_integer_value(start), k - 1,
                        (long long)prev_end);
    int last = k + 1 == n;
    if (!last && !json_is_integer(end))
        return udcs_why(why, why_len, "segment %zu needs its end_pts (only the last runs to "
                        "the end)", k);
    if (json_is_integer(end) && json_integer_value(end) <= json_integer_value(start))
        return udcs_why(why, why_len, "segment %zu ends before it starts", k);
    return 0;
}

json_t *encode_split(const json_t *job, char *why, size_t why_len)
{
    const char *format, *fps, *shift, *audio, *tb;
    char req[128];
    int tb_num, tb_den;
    json_t *settings = json_array(), *units = json_array();
    json_t *segs = json_object_get(job, "segments");
    size_t n = json_array_size(segs);
    int rc = job_known_fields(job, encode_fields, "an ENCODE job", why, why_len);
    if (rc == 0)
        rc = read_common(job, &format, NULL, &fps, settings, why, why_len);
    if (rc == 0)
        rc = job_opt_str(job, "time_base", NULL, &tb, why, why_len);
    if (rc == 0 && (!tb || video_parse_rate(tb, &tb_num, &tb_den) < 0))
        rc = udcs_why(why, why_len, "field 'time_base' must be the input's video time base, "
                      "N/D (the segments' timestamps count in it)");
    if (rc == 0)
        rc = job_opt_str(job, "shift", NULL, &shift, why, why_len);
    if (rc == 0)
        rc = job_opt_str(job, "audio", NULL, &audio, why, why_len);
    if (rc == 0)
        rc = job_tool_requirement(job, "encoder_fingerprint", ENCODE_TOOL, req, sizeof(req),
                                  why, why_len);
    long long sn, sd;
    char tail;
    if (rc == 0 && shift && (sscanf(shift, "%lld/%lld%c", &sn, &sd, &tail) != 2 || sn < 0 ||
                             sd <= 0 || sd > 2147483647))
        rc = udcs_why(why, why_len, "field 'shift' must be N/D seconds (as the split gives it)");
    if (rc == 0 && (!json_is_array(segs) || n == 0 || n > ENCODE_MAX_SEGMENTS))
        rc = udcs_why(why, why_len, "field 'segments' must be an array of 1 to %d segments",
                      ENCODE_MAX_SEGMENTS);
    int64_t prev_end = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        json_t *s = json_array_get(segs, k);
        if ((rc = read_segment(s, k, n, prev_end, why, why_len)) < 0)
            break;
        json_t *end = json_object_get(s, "end_pts");
        prev_end = json_is_integer(end) ? json_integer_value(end) : 0;
        json_t *argv = json_array();
        char name[32];
        snprintf(name, sizeof(name), "segment %zu", k);
        job_arg(argv, ENCODE_TOOL);
        job_arg(argv, "encode");
        job_arg(argv, "segment.nut");
        job_arg(argv, "-o");
        job_arg(argv, ENCODED);
        job_arg(argv, "--start-pts");
        job_arg(argv, "%lld", (long long)json_integer_value(json_object_get(s, "start_pts")));
        if (json_is_integer(end)) {
            job_arg(argv, "--end-pts");
            job_arg(argv, "%lld", (long long)prev_end);
        }
        job_arg(argv, "--time-base");
        job_arg(argv, "%s", tb);
        job_arg(argv, "--frames");
        job_arg(argv, "%lld", (long long)json_integer_value(json_object_get(s, "frames")));
        job_arg(argv, "--fps");
        job_arg(argv, "%s", fps);
        json_array_extend(argv, settings);
        json_t *inputs = json_pack("{s:O}", "segment.nut", json_object_get(s, "digest"));
        json_array_append_new(units, unit_of(name, argv, inputs, ENCODED, req));
    }
    if (rc == 0)
        json_array_append_new(units, join_unit(0, n, audio, shift, tb, format, req));
    json_decref(settings);
    if (rc < 0) {
        json_decref(units);
        return NULL;
    }
    return units;
}

/* ---- after a render ------------------------------------------------------------------------ */

static const char *const render_encode_fields[] = { "format", "fps", "segment_frames", "codec",
                                                    "crf", "bitrate", "preset", "scale",
                                                    "pix_fmt", "threads", NULL };

int encode_check_render_settings(const json_t *encode, char *why, size_t why_len)
{
    const char *format, *fps;
    int sf;
    json_t *settings = json_array();
    int rc = json_is_object(encode) ? 0 : udcs_why(why, why_len, "field 'encode' must be an "
                                                   "object of encode settings");
    if (rc == 0)
        rc = job_known_fields(encode, render_encode_fields, "a render's 'encode'", why,
                              why_len);
    if (rc == 0)
        rc = read_common(encode, &format, "24", &fps, settings, why, why_len);
    if (rc == 0)
        rc = job_opt_int(encode, "segment_frames", 1, 100000, ENCODE_DEFAULT_SEGMENT_FRAMES,
                         &sf, why, why_len);
    json_decref(settings);
    return rc;
}

int encode_append_for_frames(json_t *units, const json_t *encode, const size_t *frame_unit,
                             const char *const *frame_output, size_t n, const char *tool_req,
                             char *why, size_t why_len)
{
    const char *format, *fps;
    int per;
    json_t *settings = json_array();
    if (encode_check_render_settings(encode, why, why_len) < 0 ||
        read_common(encode, &format, "24", &fps, settings, why, why_len) < 0 ||
        job_opt_int(encode, "segment_frames", 1, 100000, ENCODE_DEFAULT_SEGMENT_FRAMES, &per,
                    why, why_len) < 0) {
        json_decref(settings);
        return -1;
    }
    size_t first = json_array_size(units), n_segs = 0;
    for (size_t at = 0; at < n; at += (size_t)per, n_segs++) {
        size_t count = n - at < (size_t)per ? n - at : (size_t)per;
        json_t *argv = json_array(), *inputs = json_object();
        char name[32];
        snprintf(name, sizeof(name), "segment %zu", n_segs);
        job_arg(argv, ENCODE_TOOL);
        job_arg(argv, "encode");
        job_arg(argv, "--images");
        job_arg(argv, "--fps");
        job_arg(argv, "%s", fps);
        job_arg(argv, "--first-pts");
        job_arg(argv, "%zu", at);
        job_arg(argv, "-o");
        job_arg(argv, ENCODED);
        json_array_extend(argv, settings);
        for (size_t i = at; i < at + count; i++) {
            const char *dot = strrchr(frame_output[i], '.');
            char as[64];
            snprintf(as, sizeof(as), "f_%07zu%s", i, dot ? dot : "");
            json_object_set_new(inputs, as, json_pack("{s:I, s:s}", "unit",
                                                      (json_int_t)frame_unit[i], "output",
                                                      frame_output[i]));
            job_arg(argv, "%s", as);
        }
        json_array_append_new(units, unit_of(name, argv, inputs, ENCODED, tool_req));
    }
    json_array_append_new(units, join_unit(first, n_segs, NULL, NULL, NULL, format, tool_req));
    json_decref(settings);
    return 0;
}
