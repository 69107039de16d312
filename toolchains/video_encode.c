/* toolchains/video_encode.c - one encode unit: decode a segment (or read a run of
 * images), keep the frames of its window with their timestamps, convert them (libswscale)
 * and encode them with a fresh encoder, so the segment starts with a keyframe and refers
 * to nothing outside itself; the packets go to a NUT file with the encoder's headers. */
#include "toolchains/video_internal.h"

#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct encoder {
    const struct video_encode_job *job;
    AVCodecContext *enc;
    struct SwsContext *sws;
    AVFrame *converted;
    struct video_output out;
    AVPacket *pkt;
    AVRational tb, fps;
    int64_t win_start, win_end;   /* the window, in tb */
    int64_t *durations;           /* of the frames sent, by pts: pts, duration pairs */
    size_t n_durations, cap_durations;
    long frames;
};

static int duration_note(struct encoder *e, int64_t pts, int64_t duration)
{
    if (e->n_durations == e->cap_durations) {
        size_t cap = e->cap_durations ? 2 * e->cap_durations : 256;
        int64_t *grown = realloc(e->durations, cap * 2 * sizeof(*grown));
        if (!grown)
            return -1;
        e->durations = grown;
        e->cap_durations = cap;
    }
    e->durations[2 * e->n_durations] = pts;
    e->durations[2 * e->n_durations + 1] = duration;
    e->n_durations++;
    return 0;
}

static int64_t duration_of(const struct encoder *e, int64_t pts)
{
    for (size_t i = e->n_durations; i-- > 0;)   /* packets come out near the latest frames */
        if (e->durations[2 * i] == pts)
            return e->durations[2 * i + 1];
    return 0;
}

/* Write what the encoder has ready (everything, once flushed). */
static int drain(struct encoder *e, char *why, size_t why_len)
{
    for (;;) {
        int rc = avcodec_receive_packet(e->enc, e->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0)
            return udcs_why(why, why_len, "the %s encoder failed: %s", e->enc->codec->name,
                            video_err(rc));
        if (e->pkt->duration <= 0)
            e->pkt->duration = duration_of(e, e->pkt->pts);
        e->pkt->stream_index = 0;
        av_packet_rescale_ts(e->pkt, e->enc->time_base, e->out.fmt->streams[0]->time_base);
        rc = av_write_frame(e->out.fmt, e->pkt);
        av_packet_unref(e->pkt);
        if (rc < 0)
            return udcs_why(why, why_len, "%s: writing a packet failed (%s)", e->out.path,
                            video_err(rc));
    }
}

static int start(struct encoder *e, const AVFrame *first, char *why, size_t why_len)
{
    const struct video_settings *s = &e->job->settings;
    if (video_encoder_open(s, first->width, first->height, first->format, e->tb, e->fps, 1,
                           &e->enc, why, why_len) < 0)
        return -1;
    if (video_output_open(&e->out, e->job->output, "nut", VIDEO_OUTPUT_INTERMEDIATE, why,
                          why_len) < 0)
        return -1;
    AVStream *st = avformat_new_stream(e->out.fmt, NULL);
    int rc = st ? avcodec_parameters_from_context(st->codecpar, e->enc) : AVERROR(ENOMEM);
    if (rc >= 0) {
        st->time_base = e->tb;
        st->avg_frame_rate = e->fps;
        rc = avformat_write_header(e->out.fmt, NULL);
    }
    if (rc < 0)
        return udcs_why(why, why_len, "%s: cannot start the file (%s)", e->job->output,
                        video_err(rc));
    e->converted = av_frame_alloc();
    if (!e->converted)
        return udcs_why(why, why_len, "out of memory");
    return 0;
}

/* Encode one frame shown at pts for `duration`. */
static int encode(struct encoder *e, AVFrame *frame, int64_t pts, int64_t duration, char *why,
                  size_t why_len)
{
    if (!e->enc && start(e, frame, why, why_len) < 0)
        return -1;
    AVFrame *in = frame;
    if (frame->width != e->enc->width || frame->height != e->enc->height ||
        frame->format != e->enc->pix_fmt) {
        e->sws = sws_getCachedContext(e->sws, frame->width, frame->height, frame->format,
                                      e->enc->width, e->enc->height, e->enc->pix_fmt,
                                      SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL,
                                      NULL);
        av_frame_unref(e->converted);
        e->converted->width = e->enc->width;
        e->converted->height = e->enc->height;
        e->converted->format = e->enc->pix_fmt;
        if (!e->sws || av_frame_get_buffer(e->converted, 0) < 0)
            return udcs_why(why, why_len, "cannot convert %dx%d %s pictures to %dx%d %s",
                            frame->width, frame->height,
                            av_get_pix_fmt_name(frame->format), e->enc->width, e->enc->height,
                            av_get_pix_fmt_name(e->enc->pix_fmt));
        sws_scale(e->sws, (const uint8_t *const *)frame->data, frame->linesize, 0,
                  frame->height, e->converted->data, e->converted->linesize);
        in = e->converted;
    }
    in->pts = pts;
    in->pict_type = AV_PICTURE_TYPE_NONE;   /* the encoder places keyframes, not the source */
    in->key_frame = 0;
    if (duration_note(e, pts, duration) < 0)
        return udcs_why(why, why_len, "out of memory");
    int rc = avcodec_send_frame(e->enc, in);
    if (rc < 0)
        return udcs_why(why, why_len, "the %s encoder refused frame %ld: %s",
                        e->enc->codec->name, e->frames, video_err(rc));
    e->frames++;
    return drain(e, why, why_len);
}

/* ---- from a segment file ------------------------------------------------------------------ */

static int keep(struct encoder *e, AVFrame *frame, AVRational src_tb, char *why, size_t why_len)
{
    if (frame->best_effort_timestamp == AV_NOPTS_VALUE)
        return 0;
    int64_t pts = av_rescale_q(frame->best_effort_timestamp, src_tb, e->tb);
    if (pts < e->win_start || pts >= e->win_end)
        return 0;   /* another segment's frame, decoded for the references */
    int64_t duration = frame->pkt_duration > 0 ? av_rescale_q(frame->pkt_duration, src_tb, e->tb)
                       : av_rescale_q(1, av_inv_q(e->fps), e->tb);
    return encode(e, frame, pts, duration, why, why_len);
}

static int decode_into(struct encoder *e, AVCodecContext *dec, const AVPacket *pkt,
                       AVFrame *frame, AVRational src_tb, char *why, size_t why_len)
{
    int rc = avcodec_send_packet(dec, pkt);
    if (rc < 0 && rc != AVERROR_INVALIDDATA && rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
        return udcs_why(why, why_len, "%s: decoding failed: %s", e->job->input, video_err(rc));
    /* a picture that cannot be decoded is counted out below: the frame count tells */
    for (;;) {
        rc = avcodec_receive_frame(dec, frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc == AVERROR_INVALIDDATA)
            continue;
        if (rc < 0)
            return udcs_why(why, why_len, "%s: decoding failed: %s", e->job->input,
                            video_err(rc));
        rc = keep(e, frame, src_tb, why, why_len);
        av_frame_unref(frame);
        if (rc < 0)
            return rc;
    }
}

static int from_file(struct encoder *e, char *why, size_t why_len)
{
    AVFormatContext *fmt;
    if (video_input_open(e->job->input, &fmt, why, why_len) < 0)
        return -1;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    const AVCodec *codec = NULL;
    int v = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0), rc = 0;
    if (v < 0 || !codec) {
        rc = udcs_why(why, why_len, "%s: no video stream this machine can decode",
                      e->job->input);
    } else {
        AVStream *st = fmt->streams[v];
        const struct video_encode_job *j = e->job;
        /* frames are encoded in the input's time base (the window's), which the NUT file
         * may have refined */
        e->tb = j->tb_num > 0 && j->tb_den > 0 ? (AVRational){ j->tb_num, j->tb_den }
                                               : st->time_base;
        e->win_start = j->start_pts == VIDEO_NO_TS ? INT64_MIN : j->start_pts;
        e->win_end = j->end_pts == VIDEO_PTS_END ? INT64_MAX : j->end_pts;
        if (e->job->fps_num > 0 && e->job->fps_den > 0)
            e->fps = (AVRational){ e->job->fps_num, e->job->fps_den };
        else
            e->fps = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
        if (e->fps.num <= 0 || e->fps.den <= 0)
            e->fps = (AVRational){ 25, 1 };
        dec = avcodec_alloc_context3(codec);
        if (!dec || !pkt || !frame || avcodec_parameters_to_context(dec, st->codecpar) < 0)
            rc = udcs_why(why, why_len, "out of memory");
        if (rc == 0) {
            dec->pkt_timebase = st->time_base;
            dec->thread_count = 1;
            int err = avcodec_open2(dec, codec, NULL);
            if (err < 0)
                rc = udcs_why(why, why_len, "%s: cannot decode %s: %s", e->job->input,
                              codec->name, video_err(err));
        }
    }
    video_log_begin();   /* leading pictures without their references complain: counted */
    while (rc == 0) {
        int got = av_read_frame(fmt, pkt);
        if (got == AVERROR_EOF)
            break;
        if (got < 0) {
            rc = udcs_why(why, why_len, "%s: reading failed: %s", e->job->input,
                          video_err(got));
            break;
        }
        if (pkt->stream_index == v)
            rc = decode_into(e, dec, pkt, frame, fmt->streams[v]->time_base, why, why_len);
        av_packet_unref(pkt);
    }
    if (rc == 0)
        rc = decode_into(e, dec, NULL, frame, fmt->streams[v]->time_base, why, why_len);
    video_log_end();
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return rc;
}

/* ---- from images ------------------------------------------------------------------------- */

/* Decode the one picture of an image file into frame. */
static int read_image(const char *path, AVFrame *frame, char *why, size_t why_len)
{
    AVFormatContext *fmt;
    if (video_input_open(path, &fmt, why, why_len) < 0)
        return -1;
    const AVCodec *codec = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    int v = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0), rc = -1;
    if (v >= 0 && codec && pkt && (dec = avcodec_alloc_context3(codec)) &&
        avcodec_parameters_to_context(dec, fmt->streams[v]->codecpar) >= 0 &&
        avcodec_open2(dec, codec, NULL) >= 0) {
        while ((rc = av_read_frame(fmt, pkt)) >= 0 && pkt->stream_index != v)
            av_packet_unref(pkt);
        if (rc >= 0)
            rc = avcodec_send_packet(dec, pkt);
        if (rc >= 0)
            rc = avcodec_send_packet(dec, NULL);
        if (rc >= 0)
            rc = avcodec_receive_frame(dec, frame);
    }
    if (rc < 0)
        udcs_why(why, why_len, "%s: not an image libavcodec can read%s%s", path,
                 rc != -1 ? ": " : "", rc != -1 ? video_err(rc) : "");
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return rc < 0 ? -1 : 0;
}

static int from_images(struct encoder *e, char *why, size_t why_len)
{
    const struct video_encode_job *j = e->job;
    if (j->fps_num <= 0 || j->fps_den <= 0)
        return udcs_why(why, why_len, "encoding images needs their frame rate");
    e->fps = (AVRational){ j->fps_num, j->fps_den };
    e->tb = av_inv_q(e->fps);
    AVFrame *frame = av_frame_alloc();
    int rc = frame ? 0 : udcs_why(why, why_len, "out of memory");
    for (size_t i = 0; rc == 0 && i < j->n_images; i++) {
        rc = read_image(j->images[i], frame, why, why_len);
        if (rc == 0 && e->enc && !j->settings.width &&
            (frame->width != e->enc->width || frame->height != e->enc->height))
            rc = udcs_why(why, why_len, "%s is %dx%d; the images before it are %dx%d",
                          j->images[i], frame->width, frame->height, e->enc->width,
                          e->enc->height);
        if (rc == 0)
            rc = encode(e, frame, j->first_pts + (int64_t)i, 1, why, why_len);
        av_frame_unref(frame);
    }
    av_frame_free(&frame);
    return rc;
}

int video_encode(const struct video_encode_job *job, long *frames, char *why, size_t why_len)
{
    struct encoder e = { .job = job };
    *frames = 0;
    e.pkt = av_packet_alloc();
    int rc = e.pkt ? 0 : udcs_why(why, why_len, "out of memory");
    if (rc == 0)
        rc = job->images ? from_images(&e, why, why_len) : from_file(&e, why, why_len);
    if (rc == 0 && !e.enc)
        rc = udcs_why(why, why_len, "%s: no frames to encode in its window",
                      job->input ? job->input : "the images");
    if (rc == 0 && job->expect_frames >= 0 && e.frames != job->expect_frames)
        rc = udcs_why(why, why_len, "%s: %ld frames decoded in the segment's window, %ld "
                      "expected: the input is damaged there", job->input, e.frames,
                      job->expect_frames);
    if (rc == 0) {
        int err = avcodec_send_frame(e.enc, NULL);
        rc = err < 0 ? udcs_why(why, why_len, "flushing the encoder failed: %s",
                                video_err(err))
                     : drain(&e, why, why_len);
    }
    if (rc == 0)
        rc = video_output_finish(&e.out, why, why_len);
    else if (e.out.fmt)
        video_output_abort(&e.out);
    *frames = e.frames;
    sws_freeContext(e.sws);
    av_frame_free(&e.converted);
    av_packet_free(&e.pkt);
    video_encoder_close(&e.enc);
    free(e.durations);
    return rc;
}
