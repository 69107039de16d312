/* toolchains/video_join.c - the join unit: encoded segments remuxed, in order, into one
 * stream, and the audio copied beside it (or encoded once, when the container cannot hold
 * the input's audio codec).
 *
 * Each segment's packets keep their presentation timestamps (the input's own, so they
 * continue across segments by construction). Decode timestamps are not taken from the
 * segments: each encoder began its own with a negative offset for its B-frame delay, so
 * they would step back at every joint. They are computed once over the whole stream, as
 * an encoder would: dts[i] is the (i - d)-th smallest pts, with d the least reorder depth
 * that keeps every dts at or below its pts. */
#include "toolchains/video_internal.h"

#include <libavutil/audio_fifo.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct segments {
    const char *const *paths;
    size_t n, at;                 /* the segment being read */
    AVFormatContext *fmt;
    AVRational tb;
    int64_t *dts;                 /* per packet of the whole stream, in tb */
    int64_t *pts_sorted;
    size_t n_pkts, next;          /* packets in all; the next one's index */
    int64_t last_duration;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Whether two segments' streams are the same encoding (so one decoder plays both). */
static int same_stream(const AVCodecParameters *a, const AVCodecParameters *b)
{
    return a->codec_id == b->codec_id && a->width == b->width && a->height == b->height &&
           a->format == b->format && a->extradata_size == b->extradata_size &&
           (!a->extradata_size || memcmp(a->extradata, b->extradata,
                                         (size_t)a->extradata_size) == 0);
}

/* Pass one: every packet's pts, checks that the segments fit together, and the dts. */
static int plan_dts(struct segments *s, AVCodecParameters *par, AVRational *fps, char *why,
                    size_t why_len)
{
    int64_t *pts = NULL;
    size_t cap = 0;
    int rc = 0;
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return udcs_why(why, why_len, "out of memory");
    for (size_t k = 0; rc == 0 && k < s->n; k++) {
        AVFormatContext *fmt;
        if (video_input_open(s->paths[k], &fmt, why, why_len) < 0) {
            rc = -1;
            break;
        }
        AVStream *st = fmt->nb_streams == 1 ? fmt->streams[0] : NULL;
        if (!st || st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) {
            rc = udcs_why(why, why_len, "%s: not an encoded segment (one video stream)",
                          s->paths[k]);
        } else if (k == 0) {
            s->tb = st->time_base;
            *fps = st->avg_frame_rate;
            rc = avcodec_parameters_copy(par, st->codecpar) < 0 ? -1 : 0;
        } else if (av_cmp_q(st->time_base, s->tb) != 0 || !same_stream(par, st->codecpar)) {
            rc = udcs_why(why, why_len, "%s is not encoded like %s (codec, size, pixel format "
                          "or headers differ): were the segments encoded with different "
                          "settings or encoder builds?", s->paths[k], s->paths[0]);
        }
        int64_t seg_min = INT64_MAX;
        while (rc == 0 && av_read_frame(fmt, pkt) >= 0) {
            if (pkt->pts == AV_NOPTS_VALUE) {
                rc = udcs_why(why, why_len, "%s: a packet has no timestamp", s->paths[k]);
            } else if (s->n_pkts == cap) {
                cap = cap ? 2 * cap : 4096;
                int64_t *grown = realloc(pts, cap * sizeof(*pts));
                if (!grown)
                    rc = udcs_why(why, why_len, "out of memory");
                else
                    pts = grown;
            }
            if (rc == 0) {
                pts[s->n_pkts++] = pkt->pts;
                if (pkt->pts < seg_min)
                    seg_min = pkt->pts;
                if (pkt->duration > 0)
                    s->last_duration = pkt->duration;
            }
            av_packet_unref(pkt);
        }
        if (rc == 0 && seg_min == INT64_MAX)
            rc = udcs_why(why, why_len, "%s: an empty segment", s->paths[k]);
        avformat_close_input(&fmt);
    }
    av_packet_free(&pkt);
    if (rc == 0) {
        s->pts_sorted = malloc(s->n_pkts * sizeof(int64_t));
        s->dts = malloc(s->n_pkts * sizeof(int64_t));
        if (!s->pts_sorted || !s->dts)
            rc = udcs_why(why, why_len, "out of memory");
    }
    if (rc == 0 && video_decode_times(pts, s->n_pkts, s->pts_sorted, s->dts) < 0)
        rc = udcs_why(why, why_len, "two frames are shown at the same time: the segments "
                      "overlap");
    free(pts);
    return rc;
}

/* The next video packet of the joined stream, with its dts and duration set; 1 at the end. */
static int next_video(struct segments *s, AVPacket *pkt, char *why, size_t why_len)
{
    for (;;) {
        if (!s->fmt) {
            if (s->at == s->n)
                return 1;
            if (video_input_open(s->paths[s->at], &s->fmt, why, why_len) < 0)
                return -1;
        }
        int rc = av_read_frame(s->fmt, pkt);
        if (rc == AVERROR_EOF) {
            avformat_close_input(&s->fmt);
            s->at++;
            continue;
        }
        if (rc < 0)
            return udcs_why(why, why_len, "%s: reading failed: %s", s->paths[s->at],
                            video_err(rc));
        if (s->next >= s->n_pkts) {
            av_packet_unref(pkt);
            return udcs_why(why, why_len, "%s changed while it was joined", s->paths[s->at]);
        }
        pkt->dts = s->dts[s->next++];
        if (pkt->duration <= 0) {   /* until the next frame shown, or like the last */
            int64_t *at = bsearch(&pkt->pts, s->pts_sorted, s->n_pkts, sizeof(int64_t),
                                  cmp_i64);
            size_t rank = at ? (size_t)(at - s->pts_sorted) : s->n_pkts;
            pkt->duration = rank + 1 < s->n_pkts ? s->pts_sorted[rank + 1] - pkt->pts
                                                 : s->last_duration;
        }
        pkt->pos = -1;
        return 0;
    }
}

/* ---- audio ------------------------------------------------------------------------------ */

struct audio {
    AVFormatContext *in;
    int stream;                   /* in `in` */
    AVStream *out_st;
    /* when it is encoded anew: */
    AVCodecContext *dec, *enc;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *frame;
    int64_t next_pts;             /* in the encoder's time base (1 / sample rate) */
    int input_done, flushed;
    AVPacket *queued;             /* packets ready to write, one at a time */
};

static int audio_open(struct audio *a, const char *path, AVFormatContext *out, char *why,
                      size_t why_len)
{
    if (video_input_open(path, &a->in, why, why_len) < 0)
        return -1;
    a->stream = av_find_best_stream(a->in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (a->stream < 0)
        return udcs_why(why, why_len, "%s: no audio stream", path);
    AVStream *src = a->in->streams[a->stream];
    a->out_st = avformat_new_stream(out, NULL);
    a->queued = av_packet_alloc();
    if (!a->out_st || !a->queued)
        return udcs_why(why, why_len, "out of memory");
    if (video_muxer_takes_copy(out->oformat, src->codecpar, src->time_base)) {
        if (avcodec_parameters_copy(a->out_st->codecpar, src->codecpar) < 0)
            return udcs_why(why, why_len, "out of memory");
        a->out_st->codecpar->codec_tag = 0;
        a->out_st->time_base = src->time_base;
        return 0;
    }
    /* The container cannot hold this audio: encode it once, with its default codec. */
    const AVCodec *dc = avcodec_find_decoder(src->codecpar->codec_id);
    const AVCodec *ec = avcodec_find_encoder(out->oformat->audio_codec);
    if (!dc || !ec)
        return udcs_why(why, why_len, "%s: its audio (%s) cannot go into %s as it is, and "
                        "cannot be %s here", path, avcodec_get_name(src->codecpar->codec_id),
                        out->oformat->name, dc ? "encoded for it" : "decoded");
    a->dec = avcodec_alloc_context3(dc);
    a->enc = avcodec_alloc_context3(ec);
    a->frame = av_frame_alloc();
    if (!a->dec || !a->enc || !a->frame ||
        avcodec_parameters_to_context(a->dec, src->codecpar) < 0)
        return udcs_why(why, why_len, "out of memory");
    a->dec->pkt_timebase = src->time_base;
    int rc = avcodec_open2(a->dec, dc, NULL);
    if (rc < 0)
        return udcs_why(why, why_len, "%s: cannot decode its audio: %s", path, video_err(rc));
    a->enc->sample_rate = a->dec->sample_rate;
    if (ec->supported_samplerates) {   /* the nearest rate the encoder takes */
        int best = ec->supported_samplerates[0];
        for (int i = 0; ec->supported_samplerates[i]; i++)
            if (abs(ec->supported_samplerates[i] - a->dec->sample_rate) <
                abs(best - a->dec->sample_rate))
                best = ec->supported_samplerates[i];
        a->enc->sample_rate = best;
    }
    av_channel_layout_copy(&a->enc->ch_layout, &a->dec->ch_layout);
    if (a->enc->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&a->enc->ch_layout, a->dec->ch_layout.nb_channels);
    a->enc->sample_fmt = ec->sample_fmts ? ec->sample_fmts[0] : a->dec->sample_fmt;
    a->enc->time_base = (AVRational){ 1, a->enc->sample_rate };
    if (out->oformat->flags & AVFMT_GLOBALHEADER)
        a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    rc = avcodec_open2(a->enc, ec, NULL);
    if (rc >= 0)
        rc = avcodec_parameters_from_context(a->out_st->codecpar, a->enc);
    if (rc >= 0)
        rc = swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, a->enc->sample_fmt,
                                 a->enc->sample_rate, &a->dec->ch_layout, a->dec->sample_fmt,
                                 a->dec->sample_rate, 0, NULL);
    if (rc >= 0)
        rc = swr_init(a->swr);
    if (rc < 0)
        return udcs_why(why, why_len, "cannot encode the audio with %s: %s", ec->name,
                        video_err(rc));
    a->fifo = av_audio_fifo_alloc(a->enc->sample_fmt, a->enc->ch_layout.nb_channels,
                                  a->enc->frame_size > 0 ? a->enc->frame_size : 1024);
    a->out_st->time_base = a->enc->time_base;
    /* the audio starts where the input's did */
    a->next_pts = src->start_time != AV_NOPTS_VALUE
                  ? av_rescale_q(src->start_time, src->time_base, a->enc->time_base) : 0;
    return a->fifo ? 0 : udcs_why(why, why_len, "out of memory");
}

/* Convert n samples (in NULL: what the resampler still holds) into the fifo. */
static int audio_resample(struct audio *a, const uint8_t **in, int n, char *why, size_t why_len)
{
    int max = swr_get_out_samples(a->swr, n);
    uint8_t **data = NULL;
    int got = max <= 0 ? max : av_samples_alloc_array_and_samples(&data, NULL,
        a->enc->ch_layout.nb_channels, max, a->enc->sample_fmt, 0);
    if (got > 0)
        got = swr_convert(a->swr, data, max, in, n);
    if (got > 0 && av_audio_fifo_write(a->fifo, (void **)data, got) < got)
        got = AVERROR(ENOMEM);
    if (data)
        av_freep(&data[0]);
    av_freep(&data);
    return got < 0 ? udcs_why(why, why_len, "converting the audio failed: %s", video_err(got))
                   : 0;
}

/* Decode a packet (NULL: the end) and put its samples, converted, into the fifo. */
static int audio_decode(struct audio *a, const AVPacket *pkt, char *why, size_t why_len)
{
    int rc = avcodec_send_packet(a->dec, pkt);
    while (rc >= 0 || rc == AVERROR(EAGAIN)) {
        rc = avcodec_receive_frame(a->dec, a->frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            break;
        if (rc < 0)
            break;
        int got = audio_resample(a, (const uint8_t **)a->frame->extended_data,
                                 a->frame->nb_samples, why, why_len);
        av_frame_unref(a->frame);
        if (got < 0)
            return -1;
    }
    if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
        return udcs_why(why, why_len, "decoding the audio failed: %s", video_err(rc));
    if (!pkt)
        return audio_resample(a, NULL, 0, why, why_len);   /* the resampler's last samples */
    return 0;
}

/* Feed the encoder a frame from the fifo (the rest, at the end), then the end itself. */
static int audio_feed(struct audio *a, char *why, size_t why_len)
{
    int size = a->enc->frame_size > 0 ? a->enc->frame_size : 1024;
    int have = av_audio_fifo_size(a->fifo);
    if (have < size && !a->input_done)
        return 0;
    if (have == 0) {
        a->flushed = 1;
        return avcodec_send_frame(a->enc, NULL) < 0 ? udcs_why(why, why_len, "flushing the "
                                                               "audio encoder failed") : 0;
    }
    AVFrame *f = av_frame_alloc();
    int n = have < size ? have : size, rc = f ? 0 : AVERROR(ENOMEM);
    if (f) {
        f->nb_samples = n;
        f->format = a->enc->sample_fmt;
        f->sample_rate = a->enc->sample_rate;
        rc = av_channel_layout_copy(&f->ch_layout, &a->enc->ch_layout);
    }
    if (rc >= 0)
        rc = av_frame_get_buffer(f, 0);
    if (rc >= 0 && av_audio_fifo_read(a->fifo, (void **)f->data, n) < n)
        rc = AVERROR(EIO);
    if (rc >= 0) {
        f->pts = a->next_pts;
        a->next_pts += n;
        rc = avcodec_send_frame(a->enc, f);
    }
    av_frame_free(&f);
    return rc < 0 ? udcs_why(why, why_len, "encoding the audio failed: %s", video_err(rc)) : 0;
}

/* The next audio packet to write (in out_st's time base of the input or the encoder);
 * 1 at the end. */
static int next_audio(struct audio *a, AVPacket *pkt, char *why, size_t why_len)
{
    if (!a->enc) {
        for (;;) {
            int rc = av_read_frame(a->in, pkt);
            if (rc == AVERROR_EOF)
                return 1;
            if (rc < 0)
                return udcs_why(why, why_len, "reading the audio failed: %s", video_err(rc));
            if (pkt->stream_index == a->stream)
                return 0;
            av_packet_unref(pkt);
        }
    }
    for (;;) {
        int rc = avcodec_receive_packet(a->enc, pkt);
        if (rc == 0)
            return 0;
        if (rc == AVERROR_EOF)
            return 1;
        if (rc != AVERROR(EAGAIN))
            return udcs_why(why, why_len, "encoding the audio failed: %s", video_err(rc));
        if (a->flushed)
            return 1;
        if (!a->input_done && av_audio_fifo_size(a->fifo) < (a->enc->frame_size > 0 ?
                                                             a->enc->frame_size : 1024)) {
            rc = av_read_frame(a->in, a->queued);
            if (rc == AVERROR_EOF) {
                a->input_done = 1;
                if (audio_decode(a, NULL, why, why_len) < 0)
                    return -1;
            } else if (rc < 0) {
                return udcs_why(why, why_len, "reading the audio failed: %s", video_err(rc));
            } else {
                int bad = a->queued->stream_index == a->stream &&
                          audio_decode(a, a->queued, why, why_len) < 0;
                av_packet_unref(a->queued);
                if (bad)
                    return -1;
            }
            continue;
        }
        if (audio_feed(a, why, why_len) < 0)
            return -1;
    }
}

static void audio_close(struct audio *a)
{
    avformat_close_input(&a->in);
    avcodec_free_context(&a->dec);
    video_encoder_close(&a->enc);
    swr_free(&a->swr);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    av_frame_free(&a->frame);
    av_packet_free(&a->queued);
}

/* ---- the join ---------------------------------------------------------------------------- */

int video_join(const struct video_join_job *job, char *why, size_t why_len)
{
    const char *output = job->output;
    int64_t shift_num = job->shift_num, shift_den = job->shift_den ? job->shift_den : 1;
    if (job->n_segments == 0)
        return udcs_why(why, why_len, "nothing to join: no segments");
    if (shift_num < 0 || shift_den <= 0 || shift_den > INT_MAX)
        return udcs_why(why, why_len, "the shift must be N/D seconds, N >= 0, D > 0");
    AVRational shift_unit = { 1, (int)shift_den };
    struct segments s = { .paths = job->segments, .n = job->n_segments };
    struct audio a = { 0 };
    struct video_output o = { 0 };
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVPacket *vp = av_packet_alloc(), *ap = av_packet_alloc();
    AVRational fps = { 0, 1 };
    int rc = par && vp && ap ? 0 : udcs_why(why, why_len, "out of memory");
    if (rc == 0)
        rc = plan_dts(&s, par, &fps, why, why_len);
    if (rc == 0)
        rc = video_output_open(&o, output, job->format, VIDEO_OUTPUT_FINAL, why, why_len);
    AVStream *vst = NULL;
    if (rc == 0) {
        if (!video_container_takes(o.fmt->oformat, par->codec_id))
            rc = udcs_why(why, why_len, "%s: a %s file cannot hold %s video; choose another "
                          "container (.mkv takes every codec)", output, o.fmt->oformat->name,
                          avcodec_get_name(par->codec_id));
    }
    if (rc == 0) {
        vst = avformat_new_stream(o.fmt, NULL);
        if (!vst || avcodec_parameters_copy(vst->codecpar, par) < 0)
            rc = udcs_why(why, why_len, "out of memory");
    }
    if (rc == 0) {
        vst->codecpar->codec_tag = 0;
        vst->time_base = job->tb_num > 0 && job->tb_den > 0
                         ? (AVRational){ job->tb_num, job->tb_den } : s.tb;
        vst->avg_frame_rate = fps;
        if (job->audio)
            rc = audio_open(&a, job->audio, o.fmt, why, why_len);
    }
    if (rc == 0) {
        int err = avformat_write_header(o.fmt, NULL);
        if (err < 0)
            rc = udcs_why(why, why_len, "%s: cannot start the file: %s", output,
                          video_err(err));
    }
    /* Interleave: write whichever stream's next packet comes first. */
    AVRational atb = a.out_st ? (a.enc ? a.enc->time_base : a.in->streams[a.stream]->time_base)
                              : (AVRational){ 1, 1 };
    /* the split's shift, taken off again (rounded as the split rounded it) */
    int64_t vshift = rc == 0 ? av_rescale_q(shift_num, shift_unit, s.tb) : 0;
    int64_t ashift = a.out_st ? av_rescale_q_rnd(shift_num, shift_unit, atb, AV_ROUND_UP) : 0;
    int vdone = rc != 0, adone = rc != 0 || !a.out_st, have_v = 0, have_a = 0;
    while (rc == 0 && !(vdone && adone)) {
        if (!vdone && !have_v) {
            int got = next_video(&s, vp, why, why_len);
            rc = got < 0 ? -1 : 0;
            vdone = got != 0;
            have_v = got == 0;
        }
        if (rc == 0 && !adone && !have_a) {
            int got = next_audio(&a, ap, why, why_len);
            rc = got < 0 ? -1 : 0;
            adone = got != 0;
            have_a = got == 0;
        }
        if (rc < 0)
            break;
        int64_t at = have_a ? (ap->dts != AV_NOPTS_VALUE ? ap->dts : ap->pts) : 0;
        int take_video = have_v && (!have_a || av_compare_ts(vp->dts, s.tb, at, atb) <= 0);
        AVPacket *p = take_video ? vp : have_a ? ap : NULL;
        if (!p)
            continue;
        AVRational from = take_video ? s.tb : atb;
        int64_t back = take_video ? vshift : ashift;
        if (p->pts != AV_NOPTS_VALUE)
            p->pts -= back;
        if (p->dts != AV_NOPTS_VALUE)
            p->dts -= back;
        AVStream *to = take_video ? vst : a.out_st;
        p->stream_index = to->index;
        av_packet_rescale_ts(p, from, to->time_base);
        int err = av_interleaved_write_frame(o.fmt, p);   /* takes the packet's data */
        if (err < 0)
            rc = udcs_why(why, why_len, "%s: writing a packet failed (%s)", output,
                          video_err(err));
        if (take_video)
            have_v = 0;
        else
            have_a = 0;
    }
    if (rc == 0 && s.next != s.n_pkts)
        rc = udcs_why(why, why_len, "the segments changed while they were joined");
    if (rc == 0)
        rc = video_output_finish(&o, why, why_len);
    else if (o.fmt)
        video_output_abort(&o);
    audio_close(&a);
    avformat_close_input(&s.fmt);
    free(s.dts);
    free(s.pts_sorted);
    av_packet_free(&vp);
    av_packet_free(&ap);
    avcodec_parameters_free(&par);
    return rc;
}
