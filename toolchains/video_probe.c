/* toolchains/video_probe.c - what a video file holds (video_info) and how close two are
 * (video_psnr), for users and for the tests. Both decode every frame of the first video
 * stream through one loop, `decoder_next`, which also shows every packet read to an
 * optional observer: video_info counts packets and keyframes there and reads the audio
 * packets' times without decoding them.
 *
 * The global log level of libav* is the caller's: nothing here changes it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "toolchains/video_internal.h"

/* Successive errors without a frame or a packet taken: a decoder that answers this many
 * times in a row with an error and nothing else is given up on, not looped on. */
#define STALL_LIMIT 64

/* Identical pictures have no noise to measure: PSNR is reported as this, not infinity. */
#define PSNR_CAP 100.0

/* ---- one decoder over the first video stream of a file ------------------------------- */

typedef void packet_fn(void *arg, const AVStream *st, const AVPacket *pkt);

struct decoder {
    const char *path;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;               /* the frame decoder_next returned */
    int video;                    /* stream index */
    int audio;                    /* index of the best audio stream, -1: none or not read */
    int pending;                  /* pkt holds a packet the decoder has not taken yet */
    int draining;                 /* the input is over; the decoder is being flushed */
    int stalls;                   /* errors in a row, see STALL_LIMIT */
    long frames;                  /* frames returned so far */
    long errors;                  /* decode errors, frames decoded damaged (concealed),
                                   * and a read error that ended the input */
    char first_error[160];
    packet_fn *on_packet;         /* sees every packet read, of every stream kept */
    void *arg;
};

static void decoder_close(struct decoder *d)
{
    avcodec_free_context(&d->dec);
    avformat_close_input(&d->fmt);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
}

/* Open `path` and the decoder of its first video stream. With `want_audio`, packets of
 * its best audio stream are read too (d->audio); every other stream is discarded by the
 * demuxer. Returns 0, or -1 with why (nothing left open). */
static int decoder_open(struct decoder *d, const char *path, int want_audio, char *why,
                        size_t why_len)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    d->video = d->audio = -1;
    if (!path || !*path)
        return udcs_why(why, why_len, "no input file given");

    if (video_input_open(path, &d->fmt, why, why_len) < 0)
        return -1;
    int rc = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (rc < 0) {
        udcs_why(why, why_len, "%s: has no video stream (%s format)", path,
                 d->fmt->iformat->name);
        goto out;
    }
    d->video = rc;
    if (want_audio) {
        rc = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, d->video, NULL, 0);
        d->audio = rc >= 0 ? rc : -1;
    }
    for (unsigned i = 0; i < d->fmt->nb_streams; i++)
        if ((int)i != d->video && (int)i != d->audio)
            d->fmt->streams[i]->discard = AVDISCARD_ALL;

    const AVStream *st = d->fmt->streams[d->video];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) {
        udcs_why(why, why_len, "%s: this libavcodec has no decoder for its video (codec %s)",
                 path, avcodec_get_name(st->codecpar->codec_id));
        goto out;
    }
    d->dec = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->dec || !d->pkt || !d->frame) {
        udcs_why(why, why_len, "%s: out of memory opening the %s decoder", path, codec->name);
        goto out;
    }
    rc = avcodec_parameters_to_context(d->dec, st->codecpar);
    if (rc >= 0) {
        d->dec->pkt_timebase = st->time_base;
        /* Slice threads only: frame threads make what a damaged stream's decode reports
         * (and so decode_errors) vary from run to run. */
        d->dec->thread_count = 0;
        d->dec->thread_type = FF_THREAD_SLICE;
        rc = avcodec_open2(d->dec, codec, NULL);
    }
    if (rc < 0) {
        udcs_why(why, why_len, "%s: cannot open the %s decoder for its video (%s)", path,
                 codec->name, video_err(rc));
        goto out;
    }
    return 0;
out:
    decoder_close(d);
    return -1;
}

/* Count an error: `rc` from libav* while doing `what`, or with rc 0, the frame about to
 * be returned came out damaged. The first is kept to be reported. */
static void note_error(struct decoder *d, int rc, const char *what)
{
    if (d->errors++ == 0) {
        if (rc)
            snprintf(d->first_error, sizeof d->first_error, "%s after frame %ld: %s", what,
                     d->frames, video_err(rc));
        else
            snprintf(d->first_error, sizeof d->first_error,
                     "frame %ld (counting from 0) came out damaged, concealed", d->frames);
    }
    d->stalls++;
}

/* Read packets until one of the video stream is in d->pkt, showing each to the observer.
 * Returns 1, or 0 at the end of the input; a read error ends the input and is counted. */
static int read_video_packet(struct decoder *d)
{
    for (;;) {
        int rc = av_read_frame(d->fmt, d->pkt);
        if (rc == AVERROR_EOF)
            return 0;
        if (rc < 0) {
            note_error(d, rc, "reading the file");
            return 0;
        }
        if (d->on_packet)
            d->on_packet(d->arg, d->fmt->streams[d->pkt->stream_index], d->pkt);
        if (d->pkt->stream_index == d->video)
            return 1;
        av_packet_unref(d->pkt);
    }
}

/* The next frame in display order into d->frame. Returns 1, or 0 when there are no more.
 * Decode errors are counted in d->errors and decoding goes on past them. */
static int decoder_next(struct decoder *d)
{
    while (d->stalls < STALL_LIMIT) {
        int rc = avcodec_receive_frame(d->dec, d->frame);
        if (rc == 0) {
            if ((d->frame->flags & AV_FRAME_FLAG_CORRUPT) || d->frame->decode_error_flags)
                note_error(d, 0, NULL);
            d->frames++;
            d->stalls = 0;
            return 1;
        }
        if (rc == AVERROR_EOF)
            return 0;
        if (rc != AVERROR(EAGAIN))
            note_error(d, rc, "decoding");
        else if (d->draining)
            return 0; /* cannot happen: a flushed decoder ends with EOF */
        if (d->draining)
            continue;

        if (!d->pending) {
            if (!read_video_packet(d)) {
                avcodec_send_packet(d->dec, NULL);
                d->draining = 1;
                continue;
            }
            d->pending = 1;
        }
        rc = avcodec_send_packet(d->dec, d->pkt);
        if (rc == AVERROR(EAGAIN))
            continue; /* frames to take first; the packet is sent again after */
        d->pending = 0;
        av_packet_unref(d->pkt);
        if (rc < 0)
            note_error(d, rc, "decoding a packet");
        else
            d->stalls = 0;
    }
    return 0;
}

/* ---- video_info ------------------------------------------------------------------------ */

struct info {
    const AVStream *vst;
    /* video packets, decode order */
    long packets, keyframes;
    int64_t last_dts;
    int dts_monotonic;
    int64_t last_pkt_pts, last_pkt_dur; /* the packet shown last, and its duration */
    /* decoded frames, display order */
    long timed_frames;            /* frames that had a timestamp */
    int64_t first_pts, last_pts, min_pts, max_pts;
    int pts_monotonic;
    /* audio packets: the span of the samples played */
    const AVStream *ast;
    long audio_packets;
    int64_t audio_start, audio_end;
};

static void video_packet(struct info *in, const AVPacket *pkt)
{
    in->packets++;
    if (pkt->flags & AV_PKT_FLAG_KEY)
        in->keyframes++;
    if (pkt->dts != AV_NOPTS_VALUE) {
        if (in->last_dts != AV_NOPTS_VALUE && pkt->dts <= in->last_dts)
            in->dts_monotonic = 0;
        in->last_dts = pkt->dts;
    }
    if (pkt->pts != AV_NOPTS_VALUE &&
        (in->last_pkt_pts == AV_NOPTS_VALUE || pkt->pts > in->last_pkt_pts)) {
        in->last_pkt_pts = pkt->pts;
        in->last_pkt_dur = pkt->duration;
    }
}

/* Samples an encoder added as priming or padding, which the container marks to be
 * skipped (AAC in MP4), are left out of the audio's start and end. */
static void audio_packet(struct info *in, const AVPacket *pkt)
{
    in->audio_packets++;
    int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (t == AV_NOPTS_VALUE)
        return;
    int64_t start = t, end = t + pkt->duration;
    size_t size;
    const uint8_t *skip = av_packet_get_side_data(pkt, AV_PKT_DATA_SKIP_SAMPLES, &size);
    int rate = in->ast->codecpar->sample_rate;
    if (skip && size >= 8 && rate > 0) {
        AVRational sample = { 1, rate };
        start += av_rescale_q(AV_RL32(skip), sample, in->ast->time_base);
        end -= av_rescale_q(AV_RL32(skip + 4), sample, in->ast->time_base);
    }
    if (in->audio_start == AV_NOPTS_VALUE || start < in->audio_start)
        in->audio_start = start;
    if (in->audio_end == AV_NOPTS_VALUE || end > in->audio_end)
        in->audio_end = end;
}

static void info_packet(void *arg, const AVStream *st, const AVPacket *pkt)
{
    struct info *in = arg;
    if (st == in->vst)
        video_packet(in, pkt);
    else if (st == in->ast)
        audio_packet(in, pkt);
}

static void info_frame(struct info *in, const AVFrame *f)
{
    int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp
                                                              : f->pts;
    if (pts == AV_NOPTS_VALUE) {
        in->pts_monotonic = 0; /* a frame without a time is not in order */
        return;
    }
    if (in->timed_frames++ == 0) {
        in->first_pts = in->min_pts = in->max_pts = pts;
    } else {
        if (pts <= in->last_pts)
            in->pts_monotonic = 0;
        in->min_pts = FFMIN(in->min_pts, pts);
        in->max_pts = FFMAX(in->max_pts, pts);
    }
    in->last_pts = pts;
}

/* How long the last frame shows: its packet's duration; when the container does not keep
 * it (Matroska, and MP4 with variable frame rates), one frame at the average frame rate,
 * or the frames' average spacing when there is no such rate. */
static int64_t last_frame_duration(const struct info *in)
{
    AVRational rate = in->vst->avg_frame_rate;
    if (in->last_pkt_pts == in->max_pts && in->last_pkt_dur > 0)
        return in->last_pkt_dur;
    if (rate.num > 0 && rate.den > 0)
        return av_rescale_q(1, av_inv_q(rate), in->vst->time_base);
    if (in->timed_frames > 1)
        return (in->max_pts - in->min_pts) / (in->timed_frames - 1);
    return 0;
}

/* A time in seconds, or NULL (JSON null) when there is none. */
static json_t *seconds(int64_t t, AVRational tb)
{
    return t == AV_NOPTS_VALUE ? NULL : json_real((double)t * av_q2d(tb));
}

static json_t *audio_json(const struct info *in)
{
    const AVCodecParameters *par = in->ast->codecpar;
    int timed = in->audio_start != AV_NOPTS_VALUE;
    AVRational tb = in->ast->time_base;
    return json_pack("{s:s, s:i, s:i, s:I, s:o?, s:o?, s:o?}",
                     "codec", avcodec_get_name(par->codec_id),
                     "sample_rate", par->sample_rate,
                     "channels", par->ch_layout.nb_channels,
                     "packets", (json_int_t)in->audio_packets,
                     "start", seconds(in->audio_start, tb),
                     "end", seconds(in->audio_end, tb),
                     "duration", timed ? seconds(in->audio_end - in->audio_start, tb) : NULL);
}

static json_t *video_json(const struct info *in, const struct decoder *d)
{
    const AVStream *st = in->vst;
    char tb[48], fps[48];
    snprintf(tb, sizeof tb, "%d/%d", st->time_base.num, st->time_base.den);
    snprintf(fps, sizeof fps, "%d/%d", st->avg_frame_rate.num, st->avg_frame_rate.den);
    int fmt = st->codecpar->format != AV_PIX_FMT_NONE ? st->codecpar->format
                                                       : d->dec->pix_fmt;
    int timed = in->timed_frames > 0;
    int64_t end = timed ? in->max_pts + last_frame_duration(in) : 0;
    return json_pack("{s:s, s:i, s:i, s:s?, s:s, s:s, s:I, s:I, s:I, s:o?, s:o?, s:o?, s:o?,"
                     " s:o?, s:b, s:b, s:I}",
                     "codec", avcodec_get_name(st->codecpar->codec_id),
                     "width", st->codecpar->width,
                     "height", st->codecpar->height,
                     "pix_fmt", av_get_pix_fmt_name(fmt),
                     "time_base", tb,
                     "fps", fps,
                     "frames", (json_int_t)d->frames,
                     "packets", (json_int_t)in->packets,
                     "keyframes", (json_int_t)in->keyframes,
                     "first_pts", timed ? json_integer(in->first_pts) : NULL,
                     "last_pts", timed ? json_integer(in->last_pts) : NULL,
                     "start", timed ? seconds(in->min_pts, st->time_base) : NULL,
                     "end", timed ? seconds(end, st->time_base) : NULL,
                     "duration", timed ? seconds(end - in->min_pts, st->time_base) : NULL,
                     "pts_monotonic", in->pts_monotonic,
                     "dts_monotonic", in->dts_monotonic,
                     "decode_errors", (json_int_t)d->errors);
}

int video_info(const char *path, FILE *out, char *why, size_t why_len)
{
    if (!out)
        return udcs_why(why, why_len, "%s: no stream to print to",
                        path ? path : "video_info");
    struct decoder d;
    if (decoder_open(&d, path, 1, why, why_len) < 0)
        return -1;

    struct info in = {
        .vst = d.fmt->streams[d.video],
        .last_dts = AV_NOPTS_VALUE,
        .dts_monotonic = 1,
        .last_pkt_pts = AV_NOPTS_VALUE,
        .pts_monotonic = 1,
        .ast = d.audio >= 0 ? d.fmt->streams[d.audio] : NULL,
        .audio_start = AV_NOPTS_VALUE,
        .audio_end = AV_NOPTS_VALUE,
    };
    d.on_packet = info_packet;
    d.arg = &in;
    while (decoder_next(&d))
        info_frame(&in, d.frame);

    /* json_pack takes the references to video and audio, failing or not */
    int rc = -1;
    json_t *video = video_json(&in, &d);
    json_t *audio = in.ast ? audio_json(&in) : NULL;
    json_t *all = NULL;
    if (video && (audio || !in.ast))
        all = json_pack("{s:s, s:o, s:o*}", "format", d.fmt->iformat->name, "video", video,
                        "audio", audio);
    else {
        json_decref(video);
        json_decref(audio);
    }
    if (!all)
        udcs_why(why, why_len, "%s: out of memory describing it", path);
    else if (json_dumpf(all, out, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(12))
                 < 0 ||
             fputc('\n', out) == EOF || fflush(out) == EOF)
        udcs_why(why, why_len, "%s: cannot write what it holds: %s", path, strerror(errno));
    else
        rc = 0;
    json_decref(all);
    decoder_close(&d);
    return rc;
}

/* ---- video_psnr ------------------------------------------------------------------------ */

/* One input of a comparison: its decoder, and its current frame as 8-bit YUV 4:2:0 at the
 * size of the first frame of `a`. */
struct side {
    struct decoder d;
    struct SwsContext *sws;
    AVFrame *yuv;
};

static void side_close(struct side *s)
{
    decoder_close(&s->d);
    sws_freeContext(s->sws);
    s->sws = NULL;
    av_frame_free(&s->yuv);
}

/* Convert s->d.frame into s->yuv, width x height. Returns 0, or -1 with why. */
static int side_convert(struct side *s, int width, int height, char *why, size_t why_len)
{
    const AVFrame *f = s->d.frame;
    if (!s->yuv) {
        s->yuv = av_frame_alloc();
        if (!s->yuv)
            return udcs_why(why, why_len, "out of memory comparing %s", s->d.path);
        s->yuv->format = AV_PIX_FMT_YUV420P;
        s->yuv->width = width;
        s->yuv->height = height;
        int rc = av_frame_get_buffer(s->yuv, 0);
        if (rc < 0)
            return udcs_why(why, why_len, "%s: no memory for a %dx%d picture (%s)",
                            s->d.path, width, height, video_err(rc));
    }
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, width, height,
                                  AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!s->sws ||
        sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
                  s->yuv->data, s->yuv->linesize) <= 0) {
        const char *name = av_get_pix_fmt_name(f->format);
        return udcs_why(why, why_len,
                        "%s: cannot convert frame %ld (counting from 0; %dx%d %s) to %dx%d "
                        "yuv420p", s->d.path, s->d.frames - 1, f->width, f->height,
                        name ? name : "unknown", width, height);
    }
    return 0;
}

/* Sum of squared differences over the three planes of two yuv420p frames of one size. */
static uint64_t yuv_sse(const AVFrame *a, const AVFrame *b)
{
    uint64_t sse = 0;
    for (int p = 0; p < 3; p++) {
        int w = p ? AV_CEIL_RSHIFT(a->width, 1) : a->width;
        int h = p ? AV_CEIL_RSHIFT(a->height, 1) : a->height;
        for (int y = 0; y < h; y++) {
            const uint8_t *ra = a->data[p] + (ptrdiff_t)y * a->linesize[p];
            const uint8_t *rb = b->data[p] + (ptrdiff_t)y * b->linesize[p];
            for (int x = 0; x < w; x++) {
                int diff = ra[x] - rb[x];
                sse += (uint64_t)(diff * diff);
            }
        }
    }
    return sse;
}

static uint64_t yuv_samples(int width, int height)
{
    uint64_t chroma = (uint64_t)AV_CEIL_RSHIFT(width, 1) * (uint64_t)AV_CEIL_RSHIFT(height, 1);
    return (uint64_t)width * (uint64_t)height + 2 * chroma;
}

/* Count the frames left in a decoder (after the other input ended first). */
static void count_rest(struct decoder *d)
{
    while (decoder_next(d))
        ;
}

/* The mean, over frames, of each frame's MSE over all Y, U and V samples (so Y weighs 4
 * and U, V 1 each, as the planes' sizes), and its PSNR against a peak of 255: what
 * ffmpeg's psnr filter reports as "average". Identical inputs give PSNR_CAP, and no
 * result is above it. A decode error in either input fails the comparison. */
int video_psnr(const char *a, const char *b, double *psnr, long *frames, char *why,
               size_t why_len)
{
    if (!psnr || !frames)
        return udcs_why(why, why_len, "video_psnr: nowhere to put the result");
    struct side sa = { 0 }, sb = { 0 };
    if (decoder_open(&sa.d, a, 0, why, why_len) < 0)
        return -1;
    if (decoder_open(&sb.d, b, 0, why, why_len) < 0) {
        side_close(&sa);
        return -1;
    }

    int rc = -1, width = 0, height = 0;
    double mse_sum = 0;
    for (;;) {
        int more_a = decoder_next(&sa.d), more_b = decoder_next(&sb.d);
        if (more_a != more_b) {
            count_rest(more_a ? &sa.d : &sb.d);
            break;
        }
        if (!more_a)
            break;
        if (!width) {
            width = sa.d.frame->width;
            height = sa.d.frame->height;
        }
        if (side_convert(&sa, width, height, why, why_len) < 0 ||
            side_convert(&sb, width, height, why, why_len) < 0)
            goto out;
        mse_sum += (double)yuv_sse(sa.yuv, sb.yuv) / (double)yuv_samples(width, height);
    }

    const struct decoder *broken = sa.d.errors ? &sa.d : sb.d.errors ? &sb.d : NULL;
    if (broken)
        udcs_why(why, why_len, "%s: %ld decode error%s, the first: %s", broken->path,
                 broken->errors, broken->errors == 1 ? "" : "s", broken->first_error);
    else if (sa.d.frames != sb.d.frames)
        udcs_why(why, why_len, "%s has %ld frames, %s has %ld", a, sa.d.frames, b,
                 sb.d.frames);
    else if (sa.d.frames == 0)
        udcs_why(why, why_len, "%s and %s have no video frames to compare", a, b);
    else {
        double mse = mse_sum / (double)sa.d.frames;
        *psnr = mse > 0 ? fmin(PSNR_CAP, 10.0 * log10(255.0 * 255.0 / mse)) : PSNR_CAP;
        *frames = sa.d.frames;
        rc = 0;
    }
out:
    side_close(&sa);
    side_close(&sb);
    return rc;
}
