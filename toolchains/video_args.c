/* toolchains/video_args.c - encode settings as text: the command-line flags of
 * udcs-encode and udcs-video, and the same checks for the master's ENCODE jobs. Plain C,
 * no FFmpeg: the master links it. */
#include "toolchains/video.h"
#include "common/err.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int video_parse_rate(const char *text, int *num, int *den)
{
    char *end;
    errno = 0;
    long n = text ? strtol(text, &end, 10) : 0, d = 1;
    if (text && *end == '/')
        d = strtol(end + 1, &end, 10);
    if (!text || !*text || *end || errno || n <= 0 || d <= 0 || n > INT_MAX || d > INT_MAX)
        return -1;
    *num = (int)n;
    *den = (int)d;
    return 0;
}

int video_parse_size(const char *text, int *width, int *height)
{
    char *end;
    long w = text ? strtol(text, &end, 10) : 0, h = 0;
    if (text && *end == 'x')
        h = strtol(end + 1, &end, 10);
    if (!text || *end || w < 2 || h < 2 || w > 16384 || h > 16384)
        return -1;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

int video_parse_bitrate(const char *text, int64_t *bps)
{
    char *end;
    if (!text || !*text)
        return -1;
    double v = strtod(text, &end);
    double scale = 1;
    if (*end == 'k' || *end == 'K')
        scale = 1e3, end++;
    else if (*end == 'M' || *end == 'm')
        scale = 1e6, end++;
    else if (*end == 'G' || *end == 'g')
        scale = 1e9, end++;
    if (*end || !(v > 0) || v * scale < 1000 || v * scale > 1e11)
        return -1;
    *bps = (int64_t)llround(v * scale);
    return 0;
}

static int whole(const char *v, long min, long max, int *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || n < min || n > max)
        return -1;
    *out = (int)n;
    return 0;
}

int video_settings_flag(struct video_settings *s, const char *flag, const char *value,
                        char *why, size_t why_len)
{
    static const char *const known[] = { "--codec", "--crf", "--bitrate", "--preset",
                                         "--scale", "--pix-fmt", "--threads", NULL };
    int i;
    for (i = 0; known[i] && strcmp(flag, known[i]) != 0; i++)
        ;
    if (!known[i])
        return 0;
    if (!value || !*value)
        return udcs_why(why, why_len, "%s needs a value", flag);
    if (strcmp(flag, "--codec") == 0) {
        s->codec = value;
    } else if (strcmp(flag, "--crf") == 0) {
        if (whole(value, 0, 1000, &s->crf) < 0)
            return udcs_why(why, why_len, "--crf %s: not a whole number from 0", value);
    } else if (strcmp(flag, "--bitrate") == 0) {
        if (video_parse_bitrate(value, &s->bitrate) < 0)
            return udcs_why(why, why_len, "--bitrate %s: not a bitrate such as 2500k, 4M or "
                            "3000000 (at least 1k)", value);
    } else if (strcmp(flag, "--preset") == 0) {
        s->preset = value;
    } else if (strcmp(flag, "--scale") == 0) {
        if (video_parse_size(value, &s->width, &s->height) < 0)
            return udcs_why(why, why_len, "--scale %s: not WIDTHxHEIGHT (2 to 16384 each)", value);
    } else if (strcmp(flag, "--pix-fmt") == 0) {
        s->pix_fmt = value;
    } else if (whole(value, 0, 256, &s->threads) < 0) {
        return udcs_why(why, why_len, "--threads %s: not a whole number from 0 (the "
                        "encoder's choice) to 256", value);
    }
    return 1;
}


int video_settings_take(struct video_settings *s, json_t *fields, const char *flag,
                        const char *value, char *why, size_t why_len)
{
    static const char *const keys[][2] = {
        { "--codec", "codec" }, { "--crf", "crf" }, { "--bitrate", "bitrate" },
        { "--preset", "preset" }, { "--scale", "scale" }, { "--pix-fmt", "pix_fmt" },
        { "--threads", "threads" },
    };
    int took = video_settings_flag(s, flag, value, why, why_len);
    for (size_t k = 0; took > 0 && k < sizeof(keys) / sizeof(keys[0]); k++) {
        if (strcmp(flag, keys[k][0]) != 0)
            continue;
        int whole = strcmp(flag, "--crf") == 0 || strcmp(flag, "--threads") == 0;
        json_object_set_new(fields, keys[k][1], whole ? json_integer(strtol(value, NULL, 10))
                                                      : json_string(value));
    }
    return took;
}
