/* tests/tools/make_test_video.c - make-test-video: synthetic inputs for the video tests,
 * made with libavformat and libavcodec alone (no ffmpeg program needed).
 *
 *   make-test-video -o FILE [--size WxH] [--frames N] [--fps N[/D]] [--gop G]
 *                   [--codec NAME] [--pix-fmt NAME] [--bframes N] [--vfr] [--open-gop]
 *                   [--audio] [--audio-codec NAME] [--seed S]
 *
 * The picture is a test pattern with motion everywhere, so that an encoder has real work
 * and PSNR means something: a diagonal gradient scrolling under a fine moving texture, three
 * rectangles bouncing off the edges and a disc on a Lissajous path, their colours and
 * speeds drawn from --seed. A white square shows in the top-left corner for the first
 * 100 ms of every second, while the audio (with --audio) beeps at 1 kHz over a steady
 * tone (440 Hz left, 550 Hz right), so audio/video sync can be checked by eye and ear.
 *
 * Keyframes fall on every G-th frame and nowhere else (scene-cut detection is off, and
 * those frames are forced to be intra). Frame i is shown at pts i in a time base of
 * 1/fps, or with --vfr at irregular times in milliseconds (durations cycling through
 * 1.2, 0.8, 1.0, 1.4 and 0.6 frame periods, so the average rate stays --fps). Everything is
 * written bit-exact and single-threaded: the same arguments give the same bytes.
 *
 * Exit status: 0 made, 1 could not make it (the file is removed), 2 bad usage. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define MAX_SIDE 8192
#define MAX_FRAMES 1000000L
#define SAMPLE_RATE 48000
#define BEEP_SECONDS 0.1

struct options {
    const char *output;
    int width, height;
    long frames;
    AVRational fps;
    int gop;
    const char *codec;
    const char *pix_fmt;          /* NULL: yuv420p when the encoder takes it */
    int bframes;
    int vfr;
    int open_gop;                 /* libx264: keyframes that are not IDR, with leading B-frames */
    int audio;
    const char *audio_codec;      /* NULL: the container's usual one */
    uint64_t seed;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: make-test-video -o FILE [options]\n"
            "\n"
            "Write a synthetic test video (moving pattern, optional beeping audio) to FILE;\n"
            "the container comes from its extension (mp4, mkv, mov, nut, ts, avi, ...).\n"
            "\n"
            "  --size WxH           picture size (320x240)\n"
            "  --frames N           frames to write (100)\n"
            "  --fps N[/D]          frame rate (25)\n"
            "  --gop G              a keyframe every G frames, and only there (25)\n"
            "  --codec NAME         video encoder: libx264, mpeg4, ffv1, ... (libx264)\n"
            "  --pix-fmt NAME       encode in this pixel format (yuv420p when the\n"
            "                       encoder takes it, else the encoder's nearest)\n"
            "  --bframes N          B-frames between references, 0 for none (2)\n"
            "  --vfr                irregular frame durations in a 1/1000 time base,\n"
            "                       averaging the --fps rate\n"
            "  --open-gop           libx264: open GOPs (keyframes other than the first are\n"
            "                       not IDR; B-frames after them are shown before them)\n"
            "  --audio              add 48 kHz stereo audio as long as the video\n"
            "  --audio-codec NAME   audio encoder (aac for mp4, mov and ts; flac for mkv;\n"
            "                       pcm_s16le for avi and nut)\n"
            "  --seed S             pattern colours and motion (0)\n");
}

static int fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- arguments ------------------------------------------------------------------------- */

static int parse_long(const char *text, long min, long max, char end, const char **rest,
                      long *out)
{
    char *stop;
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    long v = strtol(text, &stop, 10);
    if (errno || stop == text || *stop != end || v < min || v > max)
        return -1;
    if (rest)
        *rest = end ? stop + 1 : stop;
    *out = v;
    return 0;
}

static int parse_size(const char *text, int *w, int *h)
{
    long a, b;
    if (parse_long(text, 1, MAX_SIDE, 'x', &text, &a) < 0 ||
        parse_long(text, 1, MAX_SIDE, '\0', NULL, &b) < 0)
        return -1;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

static int parse_rate(const char *text, AVRational *rate)
{
    long num, den = 1;
    if (parse_long(text, 1, 1000000, '\0', NULL, &num) < 0 &&
        (parse_long(text, 1, 1000000, '/', &text, &num) < 0 ||
         parse_long(text, 1, 1000000, '\0', NULL, &den) < 0))
        return -1;
    *rate = (AVRational){ (int)num, (int)den };
    return 0;
}

/* Returns 0, or 2 (the exit status) after saying what was wrong. */
static int parse_args(int argc, char **argv, struct options *o)
{
    enum { SIZE = 256, FRAMES, FPS, GOP, CODEC, PIX_FMT, BFRAMES, VFR, OPEN_GOP, AUDIO,
           AUDIO_CODEC,
           SEED };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'o' },
        { "size", required_argument, NULL, SIZE },
        { "frames", required_argument, NULL, FRAMES },
        { "fps", required_argument, NULL, FPS },
        { "gop", required_argument, NULL, GOP },
        { "codec", required_argument, NULL, CODEC },
        { "pix-fmt", required_argument, NULL, PIX_FMT },
        { "bframes", required_argument, NULL, BFRAMES },
        { "vfr", no_argument, NULL, VFR },
        { "open-gop", no_argument, NULL, OPEN_GOP },
        { "audio", no_argument, NULL, AUDIO },
        { "audio-codec", required_argument, NULL, AUDIO_CODEC },
        { "seed", required_argument, NULL, SEED },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct options){ .width = 320, .height = 240, .frames = 100, .fps = { 25, 1 },
                           .gop = 25, .codec = "libx264", .bframes = 2 };
    int c;
    long v;
    const char *bad = NULL, *what = "";
    while (!bad && (c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case SIZE:
            if (parse_size(optarg, &o->width, &o->height) < 0)
                bad = "--size is WxH, each side 1 to 8192 (for example 320x240)";
            break;
        case FRAMES:
            if (parse_long(optarg, 1, MAX_FRAMES, '\0', NULL, &o->frames) < 0)
                bad = "--frames is a whole number from 1 to 1000000";
            break;
        case FPS:
            if (parse_rate(optarg, &o->fps) < 0)
                bad = "--fps is N or N/D with positive whole numbers (25, 30000/1001)";
            break;
        case GOP:
            if (parse_long(optarg, 1, 100000, '\0', NULL, &v) < 0)
                bad = "--gop is a whole number of frames from 1 to 100000";
            o->gop = (int)v;
            break;
        case CODEC: o->codec = optarg; break;
        case PIX_FMT: o->pix_fmt = optarg; break;
        case BFRAMES:
            if (parse_long(optarg, 0, 16, '\0', NULL, &v) < 0)
                bad = "--bframes is a whole number from 0 to 16";
            o->bframes = (int)v;
            break;
        case VFR: o->vfr = 1; break;
        case OPEN_GOP: o->open_gop = 1; break;
        case AUDIO: o->audio = 1; break;
        case AUDIO_CODEC: o->audio_codec = optarg; o->audio = 1; break;
        case SEED:
            if (parse_long(optarg, 0, LONG_MAX, '\0', NULL, &v) < 0)
                bad = "--seed is a whole number, 0 or more";
            o->seed = (uint64_t)v;
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2; /* getopt said which option */
        }
    }
    if (!bad && optind < argc) {
        bad = "unexpected argument (the output is given with -o FILE): ";
        what = argv[optind];
    }
    if (!bad && !o->output)
        bad = "no output: give -o FILE";
    if (bad) {
        fprintf(stderr, "make-test-video: %s%s\n", bad, what);
        usage(stderr);
        return 2;
    }
    return 0;
}

/* ---- the picture --------------------------------------------------------------------- */

static uint64_t next_random(uint64_t *state) /* splitmix64 */
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(next_random(state) >> 11) / 9007199254740992.0;
}

struct shape {
    int w, h;
    int round;                    /* a disc of diameter w (== h), else a rectangle */
    double x0, y0, vx, vy;        /* pixels, pixels per frame */
    uint8_t y, u, v;
};

#define SHAPES 4

struct pattern {
    int width, height;
    struct shape shapes[SHAPES];
    double phase;
    float *row_tex, *col_tex;     /* the texture's two factors for this frame */
    uint8_t *diag;                /* the background's luma along x + y for this frame */
};

static int pattern_init(struct pattern *p, int width, int height, uint64_t seed)
{
    uint64_t rng = seed;
    p->width = width;
    p->height = height;
    p->phase = uniform(&rng, 0, 2 * M_PI);
    for (int i = 0; i < SHAPES; i++) {
        struct shape *s = &p->shapes[i];
        s->round = i == SHAPES - 1;
        s->w = (int)((s->round ? 0.25 : uniform(&rng, 0.12, 0.3)) * height) + 2;
        s->h = s->round ? s->w : (int)(uniform(&rng, 0.12, 0.3) * height) + 2;
        s->x0 = uniform(&rng, 0, width);
        s->y0 = uniform(&rng, 0, height);
        s->vx = uniform(&rng, 0.5, 3.0) * (next_random(&rng) & 1 ? 1 : -1);
        s->vy = uniform(&rng, 0.5, 3.0) * (next_random(&rng) & 1 ? 1 : -1);
        s->y = (uint8_t)uniform(&rng, 30, 225);
        s->u = (uint8_t)uniform(&rng, 30, 225);
        s->v = (uint8_t)uniform(&rng, 30, 225);
    }
    p->row_tex = malloc(sizeof *p->row_tex * (size_t)height);
    p->col_tex = malloc(sizeof *p->col_tex * (size_t)width);
    p->diag = malloc((size_t)width + (size_t)height);
    return p->row_tex && p->col_tex && p->diag ? 0 : -1;
}

static void pattern_release(struct pattern *p)
{
    free(p->row_tex);
    free(p->col_tex);
    free(p->diag);
}

/* Position on [0, range] of a point moving from `start` at `speed`, bouncing off both
 * ends. */
static int bounce(double start, double speed, long frame, int range)
{
    if (range <= 0)
        return 0;
    double pos = fmod(start + speed * (double)frame, 2.0 * range);
    if (pos < 0)
        pos += 2.0 * range;
    return (int)(pos > range ? 2.0 * range - pos : pos);
}

static uint8_t clamp_luma(double v)
{
    return (uint8_t)(v < 16 ? 16 : v > 235 ? 235 : lrint(v));
}

/* Fill rectangle [x0, x0+w) x [y0, y0+h) of plane p, clipped, with one value; a disc
 * inscribed in it when `round`. */
static void fill_shape(AVFrame *f, int plane, int x0, int y0, int w, int h, int round,
                       uint8_t value)
{
    int pw = plane ? AV_CEIL_RSHIFT(f->width, 1) : f->width;
    int ph = plane ? AV_CEIL_RSHIFT(f->height, 1) : f->height;
    double cx = x0 + w / 2.0, cy = y0 + h / 2.0, r2 = (w / 2.0) * (w / 2.0);
    for (int y = y0 < 0 ? 0 : y0; y < y0 + h && y < ph; y++) {
        uint8_t *row = f->data[plane] + (ptrdiff_t)y * f->linesize[plane];
        for (int x = x0 < 0 ? 0 : x0; x < x0 + w && x < pw; x++) {
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            if (!round || dx * dx + dy * dy <= r2)
                row[x] = value;
        }
    }
}

/* Draw frame `i`, shown at `seconds`, into a yuv420p frame. */
static void pattern_draw(struct pattern *p, AVFrame *f, long i, double seconds)
{
    int w = p->width, h = p->height, cw = AV_CEIL_RSHIFT(w, 1), ch = AV_CEIL_RSHIFT(h, 1);
    double t = (double)i;
    for (int s = 0; s < w + h; s++) {
        double u = (s + 3.0 * t) / (w + h);
        double tri = 1.0 - fabs(2.0 * (u - floor(u)) - 1.0);
        p->diag[s] = (uint8_t)lrint(40 + 150 * tri);
    }
    for (int x = 0; x < w; x++)
        p->col_tex[x] = (float)sin(0.45 * x + 0.25 * t + p->phase);
    for (int y = 0; y < h; y++)
        p->row_tex[y] = (float)(14.0 * sin(0.35 * y - 0.15 * t));
    for (int y = 0; y < h; y++) {
        uint8_t *row = f->data[0] + (ptrdiff_t)y * f->linesize[0];
        for (int x = 0; x < w; x++)
            row[x] = clamp_luma(p->diag[x + y] + p->row_tex[y] * p->col_tex[x]);
    }
    /* chroma: U varies across, V down */
    for (int x = 0; x < cw; x++)
        f->data[1][x] = (uint8_t)lrint(128 + 50 * sin(2 * M_PI * x / cw + 0.05 * t));
    for (int y = 0; y < ch; y++) {
        if (y)
            memcpy(f->data[1] + (ptrdiff_t)y * f->linesize[1], f->data[1], (size_t)cw);
        memset(f->data[2] + (ptrdiff_t)y * f->linesize[2],
               (int)lrint(128 + 50 * cos(2 * M_PI * y / ch - 0.03 * t)), (size_t)cw);
    }
    for (int k = 0; k < SHAPES; k++) {
        const struct shape *s = &p->shapes[k];
        int x, y;
        if (s->round) { /* the disc goes round a Lissajous figure */
            x = (int)((w - s->w) * (0.5 + 0.5 * sin(0.05 * t + s->x0)));
            y = (int)((h - s->h) * (0.5 + 0.5 * sin(0.07 * t + s->y0)));
        } else {
            x = bounce(s->x0, s->vx, i, w - s->w);
            y = bounce(s->y0, s->vy, i, h - s->h);
        }
        fill_shape(f, 0, x, y, s->w, s->h, s->round, s->y);
        fill_shape(f, 1, x / 2, y / 2, (s->w + 1) / 2, (s->h + 1) / 2, s->round, s->u);
        fill_shape(f, 2, x / 2, y / 2, (s->w + 1) / 2, (s->h + 1) / 2, s->round, s->v);
    }
    if (seconds - floor(seconds) < BEEP_SECONDS) { /* the flash, with the beep */
        int side = (h / 10 + 1) & ~1;
        fill_shape(f, 0, 0, 0, side, side, 0, 235);
        fill_shape(f, 1, 0, 0, side / 2, side / 2, 0, 128);
        fill_shape(f, 2, 0, 0, side / 2, side / 2, 0, 128);
    }
}

/* ---- the sound ------------------------------------------------------------------------- */

static double sound(int channel, int64_t sample)
{
    double t = (double)sample / SAMPLE_RATE;
    double v = 0.2 * sin(2 * M_PI * (channel ? 550.0 : 440.0) * t);
    if (t - floor(t) < BEEP_SECONDS)
        v += 0.5 * sin(2 * M_PI * 1000.0 * t);
    return v;
}

static const enum AVSampleFormat writable_formats[] = {
    AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P,
    AV_SAMPLE_FMT_S32, AV_SAMPLE_FMT_S32P, AV_SAMPLE_FMT_DBL, AV_SAMPLE_FMT_DBLP,
};

/* The first of writable_formats the encoder takes, or AV_SAMPLE_FMT_NONE. */
static enum AVSampleFormat pick_sample_fmt(const AVCodec *codec)
{
    for (size_t i = 0; i < FF_ARRAY_ELEMS(writable_formats); i++) {
        if (!codec->sample_fmts)
            return writable_formats[i];
        for (const enum AVSampleFormat *f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
            if (*f == writable_formats[i])
                return *f;
    }
    return AV_SAMPLE_FMT_NONE;
}

static void put_sample(AVFrame *f, int channel, int i, double v)
{
    int planar = av_sample_fmt_is_planar(f->format);
    int channels = f->ch_layout.nb_channels;
    uint8_t *base = f->data[planar ? channel : 0];
    int at = planar ? i : i * channels + channel;
    switch (av_get_packed_sample_fmt(f->format)) {
    case AV_SAMPLE_FMT_FLT: ((float *)base)[at] = (float)v; break;
    case AV_SAMPLE_FMT_DBL: ((double *)base)[at] = v; break;
    case AV_SAMPLE_FMT_S16: ((int16_t *)base)[at] = (int16_t)lrint(v * 32767.0); break;
    case AV_SAMPLE_FMT_S32: ((int32_t *)base)[at] = (int32_t)lrint(v * 2147483647.0); break;
    default: break; /* not in writable_formats */
    }
}

/* ---- the file -------------------------------------------------------------------------- */

struct output {
    const AVCodec *codec;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;               /* in the encoder's format */
};

struct maker {
    const struct options *opt;
    AVFormatContext *oc;
    int created;                  /* the output file was created: remove it on failure */
    struct output video, audio;
    AVFrame *pattern_frame;       /* yuv420p, converted when the encoder wants another */
    struct SwsContext *sws;
    AVPacket *pkt;
    struct pattern pattern;
    int64_t *pts;                 /* frames + 1: frame i's pts in the video time base */
    int64_t audio_samples, audio_done;
    int audio_frame_size;
};

static void output_release(struct output *s)
{
    avcodec_free_context(&s->enc);
    av_frame_free(&s->frame);
}

static void maker_release(struct maker *m)
{
    output_release(&m->video);
    output_release(&m->audio);
    if (m->oc && !(m->oc->oformat->flags & AVFMT_NOFILE))
        avio_closep(&m->oc->pb);
    avformat_free_context(m->oc);
    av_frame_free(&m->pattern_frame);
    sws_freeContext(m->sws);
    av_packet_free(&m->pkt);
    pattern_release(&m->pattern);
    free(m->pts);
}

static int is_codec(const AVCodec *codec, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(codec->name, *names))
            return 1;
    return 0;
}

static int new_output(struct maker *m, struct output *s, const char *name,
                      enum AVMediaType type, char *why, size_t why_len)
{
    const char *kind = type == AVMEDIA_TYPE_VIDEO ? "video" : "audio";
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec || codec->type != type)
        return fail(why, why_len, "this libavcodec has no %s encoder named '%s'", kind,
                    name);
    if (avformat_query_codec(m->oc->oformat, codec->id, FF_COMPLIANCE_EXPERIMENTAL) == 0)
        return fail(why, why_len, "%s: the %s container cannot hold %s %s", m->opt->output,
                    m->oc->oformat->name, kind, codec->name);
    s->codec = codec;
    s->enc = avcodec_alloc_context3(codec);
    s->frame = av_frame_alloc();
    s->st = avformat_new_stream(m->oc, NULL);
    if (!s->enc || !s->frame || !s->st)
        return fail(why, why_len, "out of memory setting up the %s encoder", codec->name);
    s->enc->thread_count = 1;
    s->enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (m->oc->oformat->flags & AVFMT_GLOBALHEADER)
        s->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    return 0;
}

/* Open s->enc (set up by the caller) and describe its stream. */
static int open_output(struct output *s, char *why, size_t why_len)
{
    int rc = avcodec_open2(s->enc, s->codec, NULL);
    if (rc < 0)
        return fail(why, why_len, "cannot open the %s encoder (%s)", s->codec->name,
                    av_err2str(rc));
    s->st->time_base = s->enc->time_base;
    rc = avcodec_parameters_from_context(s->st->codecpar, s->enc);
    if (rc < 0)
        return fail(why, why_len, "cannot describe the %s stream (%s)", s->codec->name,
                    av_err2str(rc));
    return 0;
}

/* The encoder's pixel format: --pix-fmt, else yuv420p or the nearest it takes. */
static int pick_pix_fmt(const AVCodec *codec, const char *wanted, enum AVPixelFormat *out,
                        char *why, size_t why_len)
{
    if (wanted) {
        *out = av_get_pix_fmt(wanted);
        if (*out == AV_PIX_FMT_NONE)
            return fail(why, why_len, "--pix-fmt: no pixel format named '%s'", wanted);
        return 0;
    }
    *out = codec->pix_fmts ? avcodec_find_best_pix_fmt_of_list(codec->pix_fmts,
                                                                AV_PIX_FMT_YUV420P, 0, NULL)
                           : AV_PIX_FMT_YUV420P;
    return 0;
}

/* High quality, keyframes where the GOP puts them and nowhere else. */
static int set_quality(AVCodecContext *enc, const AVCodec *codec, int open_gop, char *why,
                       size_t why_len)
{
    static const char *const x26x[] = { "libx264", "libx264rgb", "libx265", NULL };
    static const char *const qscale[] = { "mpeg4", "mpeg2video", "mpeg1video", "msmpeg4",
                                          "msmpeg4v2", "h263p", "mjpeg", NULL };
    if (is_codec(codec, x26x)) {
        int x265 = !strcmp(codec->name, "libx265");
        const char *params = x265 ? "x265-params" : "x264-params";
        const char *value = x265 ? "scenecut=0:log-level=error"
                            : open_gop ? "scenecut=0:open-gop=1" : "scenecut=0";
        if (av_opt_set(enc->priv_data, "crf", "12", 0) < 0 ||
            av_opt_set(enc->priv_data, "preset", "veryfast", 0) < 0 ||
            av_opt_set(enc->priv_data, params, value, 0) < 0)
            return fail(why, why_len, "%s refused crf 12, preset veryfast or %s %s",
                        codec->name, params, value);
    } else if (is_codec(codec, qscale)) {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = 2 * FF_QP2LAMBDA;
        av_opt_set_int(enc, "sc_threshold", 1000000000, AV_OPT_SEARCH_CHILDREN);
    } else {
        enc->bit_rate = (int64_t)(2.0 * enc->width * enc->height * av_q2d(enc->framerate));
    }
    return 0;
}

static int alloc_picture(AVFrame *f, enum AVPixelFormat format, int width, int height,
                         char *why, size_t why_len)
{
    f->format = format;
    f->width = width;
    f->height = height;
    int rc = av_frame_get_buffer(f, 0);
    if (rc < 0)
        return fail(why, why_len, "no memory for a %dx%d %s picture (%s)", width, height,
                    av_get_pix_fmt_name(format), av_err2str(rc));
    return 0;
}

/* Every frame's time; with --vfr, durations cycle around one frame period. */
static int plan_times(struct maker *m, char *why, size_t why_len)
{
    static const double cycle[] = { 1.2, 0.8, 1.0, 1.4, 0.6 };
    const struct options *o = m->opt;
    m->pts = malloc(sizeof *m->pts * (size_t)(o->frames + 1));
    if (!m->pts)
        return fail(why, why_len, "out of memory for %ld frames' times", o->frames);
    double period_ms = 1000.0 * o->fps.den / o->fps.num;
    m->pts[0] = 0;
    for (long i = 0; i < o->frames; i++) {
        int64_t d = o->vfr ? llrint(period_ms * cycle[i % 5]) : 1;
        m->pts[i + 1] = m->pts[i] + (d > 0 ? d : 1);
    }
    return 0;
}

static int add_video(struct maker *m, char *why, size_t why_len)
{
    const struct options *o = m->opt;
    if (new_output(m, &m->video, o->codec, AVMEDIA_TYPE_VIDEO, why, why_len) < 0)
        return -1;
    AVCodecContext *enc = m->video.enc;
    const AVCodec *codec = m->video.codec;
    if (pick_pix_fmt(codec, o->pix_fmt, &enc->pix_fmt, why, why_len) < 0)
        return -1;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(enc->pix_fmt);
    if (!strncmp(codec->name, "libx26", 6) && desc &&
        (o->width % (1 << desc->log2_chroma_w) || o->height % (1 << desc->log2_chroma_h)))
        return fail(why, why_len, "%s: %s takes %s pictures of even sides only, not %dx%d",
                    o->output, codec->name, desc->name, o->width, o->height);
    enc->width = o->width;
    enc->height = o->height;
    enc->time_base = o->vfr ? (AVRational){ 1, 1000 } : av_inv_q(o->fps);
    enc->framerate = o->fps;
    enc->gop_size = o->gop;
    enc->keyint_min = o->gop;
    enc->max_b_frames = o->bframes;
    if (set_quality(enc, codec, o->open_gop, why, why_len) < 0 || open_output(&m->video, why, why_len) < 0)
        return -1;
    if (!o->vfr)
        m->video.st->avg_frame_rate = o->fps;

    m->pattern_frame = av_frame_alloc();
    if (!m->pattern_frame)
        return fail(why, why_len, "out of memory");
    if (alloc_picture(m->pattern_frame, AV_PIX_FMT_YUV420P, o->width, o->height, why,
                      why_len) < 0)
        return -1;
    if (enc->pix_fmt != AV_PIX_FMT_YUV420P) {
        if (alloc_picture(m->video.frame, enc->pix_fmt, o->width, o->height, why,
                          why_len) < 0)
            return -1;
        m->sws = sws_getContext(o->width, o->height, AV_PIX_FMT_YUV420P, o->width, o->height,
                                enc->pix_fmt, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT,
                                NULL, NULL, NULL);
        if (!m->sws)
            return fail(why, why_len, "libswscale cannot convert yuv420p to %s",
                        av_get_pix_fmt_name(enc->pix_fmt));
    }
    return plan_times(m, why, why_len);
}

static const char *default_audio_codec(const AVOutputFormat *fmt)
{
    if (!strcmp(fmt->name, "matroska"))
        return "flac";
    if (!strcmp(fmt->name, "webm"))
        return "libopus";
    if (!strcmp(fmt->name, "avi") || !strcmp(fmt->name, "nut"))
        return "pcm_s16le";
    return "aac";
}

static int add_audio(struct maker *m, char *why, size_t why_len)
{
    const char *name = m->opt->audio_codec ? m->opt->audio_codec
                                           : default_audio_codec(m->oc->oformat);
    if (new_output(m, &m->audio, name, AVMEDIA_TYPE_AUDIO, why, why_len) < 0)
        return -1;
    AVCodecContext *enc = m->audio.enc;
    const AVCodec *codec = m->audio.codec;
    enc->sample_fmt = pick_sample_fmt(codec);
    if (enc->sample_fmt == AV_SAMPLE_FMT_NONE)
        return fail(why, why_len, "%s takes no sample format this program writes "
                    "(float, double, 16 or 32-bit)", codec->name);
    enc->sample_rate = SAMPLE_RATE;
    enc->time_base = (AVRational){ 1, SAMPLE_RATE };
    enc->bit_rate = 192000;
    int rc = av_channel_layout_copy(&enc->ch_layout,
                                    &(AVChannelLayout)AV_CHANNEL_LAYOUT_STEREO);
    if (rc < 0)
        return fail(why, why_len, "out of memory");
    if (open_output(&m->audio, why, why_len) < 0)
        return -1;

    /* Encoders that take any number of samples get 1024 at a time. */
    m->audio_frame_size = enc->frame_size > 0 &&
                                  !(codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)
                              ? enc->frame_size
                              : 1024;
    AVFrame *f = m->audio.frame;
    f->format = enc->sample_fmt;
    f->sample_rate = SAMPLE_RATE;
    f->nb_samples = m->audio_frame_size;
    rc = av_channel_layout_copy(&f->ch_layout, &enc->ch_layout);
    if (rc >= 0)
        rc = av_frame_get_buffer(f, 0);
    if (rc < 0)
        return fail(why, why_len, "no memory for audio frames (%s)", av_err2str(rc));
    m->audio_samples = av_rescale_q(m->pts[m->opt->frames], m->video.enc->time_base,
                                    enc->time_base);
    return 0;
}

/* The duration of the video packet shown at `pts` (encoders here do not set it). */
static int64_t video_duration(const struct maker *m, int64_t pts)
{
    long lo = 0, hi = m->opt->frames;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (m->pts[mid] < pts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->opt->frames && m->pts[lo] == pts ? m->pts[lo + 1] - pts : 0;
}

/* Send `frame` (NULL: the end) to s->enc and write every packet that comes out. */
static int encode(struct maker *m, struct output *s, AVFrame *frame, char *why,
                  size_t why_len)
{
    int rc = avcodec_send_frame(s->enc, frame);
    while (rc >= 0) {
        rc = avcodec_receive_packet(s->enc, m->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0)
            break;
        if (s == &m->video && !m->pkt->duration)
            m->pkt->duration = video_duration(m, m->pkt->pts);
        av_packet_rescale_ts(m->pkt, s->enc->time_base, s->st->time_base);
        m->pkt->stream_index = s->st->index;
        rc = av_interleaved_write_frame(m->oc, m->pkt);
        if (rc < 0)
            return fail(why, why_len, "%s: cannot write a packet (%s)", m->opt->output,
                        av_err2str(rc));
    }
    return fail(why, why_len, "the %s encoder failed (%s)", s->codec->name,
                av_err2str(rc));
}

/* Encode audio up to sample `until`. */
static int encode_audio(struct maker *m, int64_t until, char *why, size_t why_len)
{
    const AVCodec *codec = m->audio.codec;
    AVFrame *f = m->audio.frame;
    if (until > m->audio_samples)
        until = m->audio_samples;
    while (m->audio_done < until) {
        int64_t left = m->audio_samples - m->audio_done;
        int n = left < m->audio_frame_size ? (int)left : m->audio_frame_size;
        int pad = n < m->audio_frame_size &&
                  !(codec->capabilities &
                    (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE));
        int rc = av_frame_make_writable(f);
        if (rc < 0)
            return fail(why, why_len, "out of memory (%s)", av_err2str(rc));
        f->nb_samples = pad ? m->audio_frame_size : n;
        for (int i = 0; i < f->nb_samples; i++)
            for (int c = 0; c < f->ch_layout.nb_channels; c++)
                put_sample(f, c, i, i < n ? sound(c, m->audio_done + i) : 0.0);
        f->pts = m->audio_done;
        m->audio_done += n;
        if (encode(m, &m->audio, f, why, why_len) < 0)
            return -1;
    }
    return 0;
}

static int encode_video(struct maker *m, long i, char *why, size_t why_len)
{
    AVCodecContext *enc = m->video.enc;
    AVFrame *f = m->sws ? m->video.frame : m->pattern_frame;
    int rc = av_frame_make_writable(m->pattern_frame);
    if (rc >= 0 && m->sws)
        rc = av_frame_make_writable(m->video.frame);
    if (rc < 0)
        return fail(why, why_len, "out of memory (%s)", av_err2str(rc));
    pattern_draw(&m->pattern, m->pattern_frame, i,
                 (double)m->pts[i] * av_q2d(enc->time_base));
    if (m->sws)
        sws_scale(m->sws, (const uint8_t *const *)m->pattern_frame->data,
                  m->pattern_frame->linesize, 0, m->opt->height, f->data, f->linesize);
    f->pts = m->pts[i];
    /* an open GOP's keyframes are left to the encoder's GOP: a forced one would close it */
    f->pict_type = i % m->opt->gop || m->opt->open_gop ? AV_PICTURE_TYPE_NONE
                                                       : AV_PICTURE_TYPE_I;
    return encode(m, &m->video, f, why, why_len);
}

static int make(struct maker *m, const struct options *o, char *why, size_t why_len)
{
    m->opt = o;
    int rc = avformat_alloc_output_context2(&m->oc, NULL, NULL, o->output);
    if (rc < 0 || !m->oc)
        return fail(why, why_len, "%s: cannot tell the container from the name (use .mp4, "
                    ".mkv, .mov, .nut, .ts or .avi)", o->output);
    if (o->vfr && !strcmp(m->oc->oformat->name, "avi"))
        return fail(why, why_len, "%s: avi keeps no timestamps, so it cannot hold --vfr "
                    "video (use mkv, mp4, mov, nut or ts)", o->output);
    m->oc->flags |= AVFMT_FLAG_BITEXACT;
    m->oc->strict_std_compliance = FF_COMPLIANCE_EXPERIMENTAL; /* flac in mp4, for one */
    m->pkt = av_packet_alloc();
    if (!m->pkt || pattern_init(&m->pattern, o->width, o->height, o->seed) < 0)
        return fail(why, why_len, "out of memory");
    if (add_video(m, why, why_len) < 0 || (o->audio && add_audio(m, why, why_len) < 0))
        return -1;

    if (!(m->oc->oformat->flags & AVFMT_NOFILE)) {
        rc = avio_open(&m->oc->pb, o->output, AVIO_FLAG_WRITE);
        if (rc < 0)
            return fail(why, why_len, "%s: cannot create (%s)", o->output, av_err2str(rc));
        m->created = 1;
    }
    rc = avformat_write_header(m->oc, NULL);
    if (rc < 0)
        return fail(why, why_len, "%s: cannot write the %s header (%s)", o->output,
                    m->oc->oformat->name, av_err2str(rc));
    for (long i = 0; i < o->frames; i++) {
        if (encode_video(m, i, why, why_len) < 0)
            return -1;
        if (o->audio && encode_audio(m, av_rescale_q(m->pts[i + 1], m->video.enc->time_base,
                                                     m->audio.enc->time_base),
                                     why, why_len) < 0)
            return -1;
    }
    if (encode(m, &m->video, NULL, why, why_len) < 0 ||
        (o->audio && encode(m, &m->audio, NULL, why, why_len) < 0))
        return -1;
    rc = av_write_trailer(m->oc);
    if (rc < 0)
        return fail(why, why_len, "%s: cannot finish the file (%s)", o->output,
                    av_err2str(rc));
    if (!(m->oc->oformat->flags & AVFMT_NOFILE)) {
        rc = avio_closep(&m->oc->pb);
        if (rc < 0)
            return fail(why, why_len, "%s: cannot write (%s)", o->output, av_err2str(rc));
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    av_log_set_level(AV_LOG_ERROR); /* encoders' chatter (x264's statistics) stays quiet */
    struct maker m = { 0 };
    char why[512];
    rc = make(&m, &o, why, sizeof why);
    maker_release(&m);
    if (rc < 0) {
        fprintf(stderr, "make-test-video: %s\n", why);
        if (m.created && unlink(o.output) < 0 && errno != ENOENT)
            fprintf(stderr, "make-test-video: cannot remove the partial %s: %s\n", o.output,
                    strerror(errno));
        return 1;
    }
    return 0;
}
