/* toolchains/video_settings.c - encode settings: parsing them, checking them against the
 * encoder, and opening an encoder with them; libav's errors and log lines as our text. */
#include "toolchains/video_internal.h"

#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *video_err(int averr)
{
    static char text[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, text, sizeof(text));
    return text;
}

/* ---- libav's log lines, kept for our messages --------------------------------------------- */

static int capturing;
static char captured[1024];

static void capture_line(void *avcl, int level, const char *fmt, va_list vl)
{
    if (!capturing) {
        av_log_default_callback(avcl, level, fmt, vl);
        return;
    }
    if (level > AV_LOG_ERROR)
        return;
    char line[512];
    int print_prefix = 0;   /* no "[libx264 @ 0x...]": the message says which already */
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
        line[--len] = '\0';
    if (!len)
        return;
    size_t have = strlen(captured);
    if (have + len + 3 >= sizeof(captured))   /* keep the latest lines */
        have = 0, captured[0] = '\0';
    snprintf(captured + have, sizeof(captured) - have, "%s%s", have ? "; " : "", line);
}

void video_log_begin(void)
{
    captured[0] = '\0';
    capturing = 1;
    av_log_set_callback(capture_line);
}

const char *video_log_end(void)
{
    capturing = 0;
    return captured;
}

/* ---- settings --------------------------------------------------------------------------- */

/* The video encoders users most likely mean, those this libavcodec has. */
static void list_encoders(char *text, size_t len)
{
    static const char *const common[] = { "libx264", "libx265", "libsvtav1", "libaom-av1",
                                          "librav1e", "libvpx-vp9", "libvpx", "mpeg4",
                                          "ffv1", "prores_ks", "mjpeg", NULL };
    size_t at = 0;
    text[0] = '\0';
    for (int i = 0; common[i] && at < len; i++) {
        const AVCodec *c = avcodec_find_encoder_by_name(common[i]);
        if (c && c->type == AVMEDIA_TYPE_VIDEO)
            at += (size_t)snprintf(text + at, len - at, "%s%s", at ? ", " : "", common[i]);
    }
}

/* Set private option `name` of the encoder to `value`, saying what was wrong. */
static int set_option(AVCodecContext *ctx, const AVCodec *codec, const char *flag,
                      const char *name, const char *value, char *why, size_t why_len)
{
    const AVOption *o = av_opt_find(ctx->priv_data, name, NULL, 0, 0);
    if (!o)
        return udcs_why(why, why_len, "%s: the %s encoder has no '%s' setting", flag,
                        codec->name, name);
    int rc = av_opt_set(ctx->priv_data, name, value, 0);
    if (rc == AVERROR(ERANGE) && o->type != AV_OPT_TYPE_STRING)
        return udcs_why(why, why_len, "%s %s: %s takes %g to %g", flag, value, codec->name,
                        o->min, o->max);
    if (rc < 0)
        return udcs_why(why, why_len, "%s %s: %s refuses it (%s)", flag, value, codec->name,
                        video_err(rc));
    return 0;
}

static enum AVPixelFormat pick_pix_fmt(const AVCodec *codec, const struct video_settings *s,
                                       enum AVPixelFormat src, char *why, size_t why_len)
{
    const enum AVPixelFormat *list = codec->pix_fmts;
    if (s->pix_fmt) {
        enum AVPixelFormat want = av_get_pix_fmt(s->pix_fmt);
        if (want == AV_PIX_FMT_NONE) {
            udcs_why(why, why_len, "--pix-fmt %s: not a pixel format libav knows (yuv420p, "
                     "yuv444p, yuv420p10le, ...)", s->pix_fmt);
            return AV_PIX_FMT_NONE;
        }
        for (int i = 0; list && list[i] != AV_PIX_FMT_NONE; i++)
            if (list[i] == want)
                return want;
        if (list) {
            udcs_why(why, why_len, "--pix-fmt %s: the %s encoder does not take it",
                     s->pix_fmt, codec->name);
            return AV_PIX_FMT_NONE;
        }
        return want;
    }
    if (!list)
        return src == AV_PIX_FMT_NONE ? AV_PIX_FMT_YUV420P : src;
    /* 4:2:0 plays everywhere; an encoder without it gets the best match for the source */
    for (int i = 0; list[i] != AV_PIX_FMT_NONE; i++)
        if (list[i] == AV_PIX_FMT_YUV420P)
            return AV_PIX_FMT_YUV420P;
    return avcodec_find_best_pix_fmt_of_list(list, src == AV_PIX_FMT_NONE ? AV_PIX_FMT_YUV420P
                                                                           : src, 0, NULL);
}

int video_encoder_open(const struct video_settings *s, int width, int height,
                       enum AVPixelFormat src, AVRational tb, AVRational fps, int global_header,
                       AVCodecContext **out, char *why, size_t why_len)
{
    *out = NULL;
    const AVCodec *codec = s->codec ? avcodec_find_encoder_by_name(s->codec) : NULL;
    if (!codec || codec->type != AVMEDIA_TYPE_VIDEO) {
        char list[512];
        list_encoders(list, sizeof(list));
        return udcs_why(why, why_len, "--codec %s: not a video encoder this machine's "
                        "libavcodec has; it has %s ('udcs-video encoders' lists all)",
                        s->codec ? s->codec : "(none)", list);
    }
    if (s->crf >= 0 && s->bitrate > 0)
        return udcs_why(why, why_len, "--crf and --bitrate both given: choose one");
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    if (!ctx)
        return udcs_why(why, why_len, "out of memory");
    ctx->width = s->width ? s->width : width;
    ctx->height = s->height ? s->height : height;
    ctx->time_base = tb;
    ctx->framerate = fps;
    ctx->sample_aspect_ratio = (AVRational){ 1, 1 };
    ctx->thread_count = s->threads;
    if (global_header)
        ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ctx->pix_fmt = pick_pix_fmt(codec, s, src, why, why_len);
    char value[32];
    int rc = ctx->pix_fmt == AV_PIX_FMT_NONE ? -1 : 0;
    if (rc == 0 && s->crf >= 0) {
        snprintf(value, sizeof(value), "%d", s->crf);
        rc = set_option(ctx, codec, "--crf", "crf", value, why, why_len);
    }
    if (rc == 0 && s->preset)
        rc = set_option(ctx, codec, "--preset", "preset", s->preset, why, why_len);
    if (rc == 0 && s->bitrate > 0)
        ctx->bit_rate = s->bitrate;
    /* libx265 and libsvtav1 take their thread counts from their own parameters, not
     * thread_count. x265 reports its settings on stderr at every open (errors only,
     * here), and writes an info SEI into its headers that names the CPU's SIMD flags:
     * without it, segments encoded on different CPUs join. */
    char params[128];
    if (rc == 0 && strcmp(codec->name, "libx265") == 0) {
        int at = snprintf(params, sizeof(params), "log-level=error:info=0");
        if (s->threads > 0)
            snprintf(params + at, sizeof(params) - (size_t)at, ":pools=%d:frame-threads=%d",
                     s->threads, s->threads < 4 ? 1 : s->threads / 2);
        av_opt_set(ctx->priv_data, "x265-params", params, 0);
    }
    if (rc == 0 && strcmp(codec->name, "libsvtav1") == 0) {
        setenv("SVT_LOG", "2", 0);   /* SVT-AV1: warnings and errors (its levels) */
        if (s->threads > 0) {
            snprintf(params, sizeof(params), "lp=%d", s->threads);
            av_opt_set(ctx->priv_data, "svtav1-params", params, 0);
        }
    }
    if (rc == 0) {
        video_log_begin();
        int err = avcodec_open2(ctx, codec, NULL);
        const char *said = video_log_end();
        if (err < 0)
            rc = udcs_why(why, why_len, "the %s encoder refuses these settings (%dx%d %s%s%s"
                          "%s%s): %s%s%s", codec->name, ctx->width, ctx->height,
                          av_get_pix_fmt_name(ctx->pix_fmt), s->preset ? ", preset " : "",
                          s->preset ? s->preset : "", s->crf >= 0 ? ", crf " : "",
                          s->crf >= 0 ? value : "", said[0] ? said : video_err(err),
                          said[0] ? "; " : "", said[0] ? video_err(err) : "");
    }
    if (rc < 0) {
        avcodec_free_context(&ctx);
        return -1;
    }
    *out = ctx;
    return 0;
}

void video_encoder_close(AVCodecContext **ctx)
{
    if (!*ctx)
        return;
    AVPacket *pkt = av_packet_alloc();
    if (pkt && avcodec_is_open(*ctx) && avcodec_send_frame(*ctx, NULL) >= 0)
        while (avcodec_receive_packet(*ctx, pkt) >= 0)
            av_packet_unref(pkt);
    av_packet_free(&pkt);
    avcodec_free_context(ctx);
}

/* SVT-AV1 (Debian 12's) never returns from an end of stream, nor from its deinit, when
 * it was given no picture: a checking open gives it one black picture first. */
static void feed_one_picture(AVCodecContext *ctx)
{
    AVFrame *f = av_frame_alloc();
    if (f) {
        f->width = ctx->width;
        f->height = ctx->height;
        f->format = ctx->pix_fmt;
        f->pts = 0;
    }
    if (f && av_frame_get_buffer(f, 0) >= 0) {
        const ptrdiff_t lines[4] = { f->linesize[0], f->linesize[1], f->linesize[2],
                                     f->linesize[3] };
        av_image_fill_black(f->data, lines, ctx->pix_fmt, ctx->color_range, f->width,
                            f->height);
        avcodec_send_frame(ctx, f);
    }
    av_frame_free(&f);
}

int video_check_settings(const struct video_settings *s, int width, int height, int fps_num,
                         int fps_den, int tb_num, int tb_den, char *why, size_t why_len)
{
    AVCodecContext *ctx;
    AVRational fps = { fps_num > 0 ? fps_num : 25, fps_den > 0 ? fps_den : 1 };
    AVRational tb = tb_num > 0 && tb_den > 0 ? (AVRational){ tb_num, tb_den } : av_inv_q(fps);
    if (video_encoder_open(s, width, height, AV_PIX_FMT_YUV420P, tb, fps, 1, &ctx, why,
                           why_len) < 0)
        return -1;
    if (strcmp(ctx->codec->name, "libsvtav1") == 0)
        feed_one_picture(ctx);
    video_encoder_close(&ctx);
    return 0;
}

/* What MPEG-TS carries as video or audio (its muxer writes anything else as an opaque
 * data stream, which players do not play, and libavformat cannot say so). */
static const enum AVCodecID mpegts_codecs[] = {
    AV_CODEC_ID_MPEG1VIDEO, AV_CODEC_ID_MPEG2VIDEO, AV_CODEC_ID_MPEG4, AV_CODEC_ID_H264,
    AV_CODEC_ID_HEVC, AV_CODEC_ID_VC1, AV_CODEC_ID_CAVS, AV_CODEC_ID_DIRAC,
    AV_CODEC_ID_MP2, AV_CODEC_ID_MP3, AV_CODEC_ID_AAC, AV_CODEC_ID_AAC_LATM, AV_CODEC_ID_AC3,
    AV_CODEC_ID_EAC3, AV_CODEC_ID_TRUEHD, AV_CODEC_ID_DTS, AV_CODEC_ID_OPUS, AV_CODEC_ID_S302M,
    AV_CODEC_ID_NONE
};

int video_container_takes(const AVOutputFormat *of, enum AVCodecID codec)
{
    if (strcmp(of->name, "mpegts") == 0) {
        for (int i = 0; mpegts_codecs[i] != AV_CODEC_ID_NONE; i++)
            if (mpegts_codecs[i] == codec)
                return 1;
        return 0;
    }
    return avformat_query_codec(of, codec, FF_COMPLIANCE_NORMAL) != 0;
}

int video_muxer_takes_copy(const AVOutputFormat *of, const AVCodecParameters *par,
                           AVRational tb)
{
    if (!video_container_takes(of, par->codec_id))
        return 0;
    /* the muxer's own word: a header written to memory with a copy of the stream */
    AVFormatContext *fmt = NULL;
    int ok = avformat_alloc_output_context2(&fmt, of, NULL, NULL) >= 0 &&
             avio_open_dyn_buf(&fmt->pb) >= 0;
    AVStream *st = ok ? avformat_new_stream(fmt, NULL) : NULL;
    ok = st && avcodec_parameters_copy(st->codecpar, par) >= 0;
    if (ok) {
        st->codecpar->codec_tag = 0;
        st->time_base = tb;
        video_log_begin();   /* "flac in MP4 support is experimental": a no, not a message */
        ok = avformat_write_header(fmt, NULL) >= 0;
        video_log_end();
    }
    if (fmt && fmt->pb) {
        uint8_t *bytes;
        avio_close_dyn_buf(fmt->pb, &bytes);
        av_free(bytes);
        fmt->pb = NULL;
    }
    avformat_free_context(fmt);
    return ok;
}

int video_check_container(const char *format, const char *codec, char *why, size_t why_len)
{
    const AVOutputFormat *of = av_guess_format(format, NULL, NULL);
    const AVCodec *c = avcodec_find_encoder_by_name(codec);
    if (!of)
        return udcs_why(why, why_len, "no container named %s here", format);
    if (c && !video_container_takes(of, c->id))
        return udcs_why(why, why_len, "a %s file cannot hold %s video; choose another "
                        "container (.mkv takes every codec)", format, avcodec_get_name(c->id));
    return 0;
}

/* ---- files ------------------------------------------------------------------------------ */

int video_input_open(const char *path, AVFormatContext **fmt, char *why, size_t why_len)
{
    *fmt = NULL;
    video_log_begin();
    int rc = avformat_open_input(fmt, path, NULL, NULL);
    if (rc == 0)
        rc = avformat_find_stream_info(*fmt, NULL);
    const char *said = video_log_end();
    if (rc >= 0)
        return 0;
    avformat_close_input(fmt);
    if (rc == AVERROR(ENOENT))
        return udcs_why(why, why_len, "%s: no such file", path);
    if (rc == AVERROR_INVALIDDATA)
        return udcs_why(why, why_len, "%s: not a media file libavformat can read, or cut "
                        "short (%s%s%s)", path, video_err(rc), said[0] ? ": " : "", said);
    return udcs_why(why, why_len, "%s: %s%s%s", path, video_err(rc), said[0] ? ": " : "",
                    said);
}

int video_output_open(struct video_output *o, const char *path, const char *format, int kind,
                      char *why, size_t why_len)
{
    memset(o, 0, sizeof(*o));
    const AVOutputFormat *of = av_guess_format(format, format ? NULL : path, NULL);
    if (!of)
        return udcs_why(why, why_len, "%s: no container for %s%s (use .mp4, .mkv, .mov, "
                        ".webm, .nut or .ts)", path, format ? "format " : "its extension",
                        format ? format : "");
    size_t len = strlen(path) + 32;
    o->path = strdup(path);
    o->tmp = malloc(len);
    if (!o->path || !o->tmp) {
        video_output_abort(o);
        return udcs_why(why, why_len, "out of memory");
    }
    /* the temporary name keeps no extension of its own: the container is chosen here */
    const char *slash = strrchr(path, '/');
    snprintf(o->tmp, len, "%.*s.%s.partial", slash ? (int)(slash - path + 1) : 0, path,
             slash ? slash + 1 : path);
    int rc = avformat_alloc_output_context2(&o->fmt, of, NULL, o->tmp);
    if (rc >= 0 && !(of->flags & AVFMT_NOFILE))
        rc = avio_open(&o->fmt->pb, o->tmp, AVIO_FLAG_WRITE);
    if (rc < 0) {
        udcs_why(why, why_len, "%s: cannot write (%s)", o->tmp, video_err(rc));
        video_output_abort(o);
        return -1;
    }
    o->fmt->flags |= AVFMT_FLAG_BITEXACT;   /* equal packets give equal files */
    /* Intermediate files keep the input's timestamps as they are: shifting each file on
     * its own (what libavformat does where a container has no negative decode times)
     * would move segments against each other. */
    if (kind == VIDEO_OUTPUT_INTERMEDIATE)
        o->fmt->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
    return 0;
}

static void output_free(struct video_output *o)
{
    if (o->fmt && o->fmt->pb && !(o->fmt->oformat->flags & AVFMT_NOFILE))
        avio_closep(&o->fmt->pb);
    avformat_free_context(o->fmt);
    o->fmt = NULL;
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
}

int video_output_finish(struct video_output *o, char *why, size_t why_len)
{
    int rc = av_write_trailer(o->fmt);
    if (rc >= 0 && o->fmt->pb)
        avio_flush(o->fmt->pb);
    if (rc >= 0 && o->fmt->pb && o->fmt->pb->error < 0)
        rc = o->fmt->pb->error;
    int closed = o->fmt->pb && !(o->fmt->oformat->flags & AVFMT_NOFILE) ?
                 avio_closep(&o->fmt->pb) : 0;
    if (rc >= 0)
        rc = closed;
    if (rc < 0) {
        udcs_why(why, why_len, "%s: writing failed (%s)", o->tmp, video_err(rc));
        video_output_abort(o);
        return -1;
    }
    if (rename(o->tmp, o->path) < 0) {
        udcs_why(why, why_len, "%s: cannot rename into place: %s", o->path, strerror(errno));
        video_output_abort(o);
        return -1;
    }
    output_free(o);
    return 0;
}

void video_output_abort(struct video_output *o)
{
    if (o->tmp)
        remove(o->tmp);
    output_free(o);
}
