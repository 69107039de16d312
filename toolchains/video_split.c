/* toolchains/video_split.c - reading an input's video packets for the planner, and the
 * split itself: stream copy of each segment's packets into its own NUT file, and of the
 * first audio stream into one more, in one pass over the input. */
#include "toolchains/video_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void video_input_release(struct video_input *in)
{
    free(in->pkts);
    free((char *)in->codec);
    memset(in, 0, sizeof(*in));
}

/* The next packet of the input, or 1 at its end; errors say where the file went wrong. */
static int read_packet(AVFormatContext *fmt, AVPacket *pkt, const char *path, char *why,
                       size_t why_len)
{
    video_log_begin();
    int rc = av_read_frame(fmt, pkt);
    const char *said = video_log_end();
    if (rc == AVERROR_EOF && !(fmt->pb && fmt->pb->error < 0) && !said[0])
        return 1;
    if (rc >= 0)
        return 0;
    if (rc == AVERROR_EOF && fmt->pb && fmt->pb->error < 0)
        rc = fmt->pb->error;
    return udcs_why(why, why_len, "%s: reading failed at byte %lld: the file is damaged or "
                    "cut short (%s%s%s)", path, fmt->pb ? (long long)avio_tell(fmt->pb) : -1LL,
                    video_err(rc), said[0] ? ": " : "", said);
}

static int pick_video(AVFormatContext *fmt, const char *path, char *why, size_t why_len)
{
    int v = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (v < 0 || (fmt->streams[v]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return udcs_why(why, why_len, "%s: no video stream in this %s file", path,
                        fmt->iformat->name);
    return v;
}

/* The average frame rate over the packets' span, when the container gives none. */
static void average_rate(struct video_input *in, const AVStream *st)
{
    int64_t lo = in->pkts[0].pts, hi = lo;
    for (size_t i = 1; i < in->n_pkts; i++) {
        lo = in->pkts[i].pts < lo ? in->pkts[i].pts : lo;
        hi = in->pkts[i].pts > hi ? in->pkts[i].pts : hi;
    }
    AVRational fps = st->r_frame_rate;
    if (in->n_pkts > 1 && hi > lo && hi != VIDEO_NO_TS && lo != VIDEO_NO_TS)
        av_reduce(&fps.num, &fps.den, (int64_t)(in->n_pkts - 1) * in->tb_den,
                  (hi - lo) * in->tb_num, 1000000);
    in->fps_num = fps.num > 0 && fps.den > 0 ? fps.num : 25;
    in->fps_den = fps.num > 0 && fps.den > 0 ? fps.den : 1;
}

int video_probe_input(const char *path, struct video_input *in, char *why, size_t why_len)
{
    memset(in, 0, sizeof(*in));
    AVFormatContext *fmt;
    if (video_input_open(path, &fmt, why, why_len) < 0)
        return -1;
    int v = pick_video(fmt, path, why, why_len), rc = v < 0 ? -1 : 0;
    AVPacket *pkt = av_packet_alloc();
    size_t cap = 0;
    if (rc == 0) {
        AVStream *st = fmt->streams[v];
        const AVCodecDescriptor *d = avcodec_descriptor_get(st->codecpar->codec_id);
        in->width = st->codecpar->width;
        in->height = st->codecpar->height;
        in->codec = strdup(d ? d->name : "unknown");
        in->tb_num = st->time_base.num;
        in->tb_den = st->time_base.den;
        in->fps_num = st->avg_frame_rate.num;   /* 0 for VFR in Matroska: from the packets */
        in->fps_den = st->avg_frame_rate.den;
        in->has_audio = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) >= 0;
        if (!pkt || !in->codec)
            rc = udcs_why(why, why_len, "out of memory");
        else if (in->width <= 0 || in->height <= 0)
            rc = udcs_why(why, why_len, "%s: the video stream has no picture size", path);
    }
    int a = rc == 0 && in->has_audio ? av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1,
                                                           NULL, 0) : -1;
    int64_t least = 0;   /* the earliest time of any packet copied, in the video time base */
    while (rc == 0) {
        int got = read_packet(fmt, pkt, path, why, why_len);
        if (got) {
            rc = got < 0 ? -1 : 0;
            break;
        }
        if (pkt->stream_index == a || pkt->stream_index == v) {
            int64_t t[2] = { pkt->pts, pkt->dts };
            for (int k = 0; k < 2; k++)
                if (t[k] != AV_NOPTS_VALUE) {
                    int64_t at = av_rescale_q_rnd(t[k], fmt->streams[pkt->stream_index]->time_base,
                                                  fmt->streams[v]->time_base,
                                                  AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX);
                    least = at < least ? at : least;
                }
        }
        if (pkt->stream_index == v) {
            if (in->n_pkts == cap) {
                size_t grown_cap = cap ? 2 * cap : 1024;
                struct video_packet *grown = in->n_pkts < VIDEO_MAX_PACKETS ?
                    realloc(in->pkts, grown_cap * sizeof(*grown)) : NULL;
                if (!grown) {
                    rc = udcs_why(why, why_len, "%s: too many video packets (at most %d)",
                                  path, VIDEO_MAX_PACKETS);
                    break;
                }
                in->pkts = grown;
                cap = grown_cap;
            }
            in->pkts[in->n_pkts++] = (struct video_packet){
                .pts = pkt->pts == AV_NOPTS_VALUE ? VIDEO_NO_TS : pkt->pts,
                .dts = pkt->dts == AV_NOPTS_VALUE ? VIDEO_NO_TS : pkt->dts,
                .duration = pkt->duration,
                .key = !!(pkt->flags & AV_PKT_FLAG_KEY),
                .discard = !!(pkt->flags & AV_PKT_FLAG_DISCARD),
            };
        }
        av_packet_unref(pkt);
    }
    if (rc == 0 && in->n_pkts == 0)
        rc = udcs_why(why, why_len, "%s: the video stream has no frames", path);
    if (rc == 0 && (in->fps_num <= 0 || in->fps_den <= 0))
        average_rate(in, fmt->streams[v]);
    if (rc == 0 && least < -(INT64_MAX / 4))
        rc = udcs_why(why, why_len, "%s: its timestamps start at %lld, too far before zero "
                      "to be moved on", path, (long long)least);
    in->shift = -least;
    for (size_t i = 0; rc == 0 && i < in->n_pkts; i++) {
        in->pkts[i].pts += in->shift;
        if (in->pkts[i].dts != VIDEO_NO_TS)
            in->pkts[i].dts += in->shift;
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (rc < 0)
        video_input_release(in);
    return rc;
}

/* Decode times for the packets of a segment, from their pts: the input's own are not
 * always there to copy (Matroska and NUT keep none; their demuxers guess) and must rise
 * strictly in the segment's file. Returns a new array, or NULL with why. */
static int64_t *segment_decode_times(const struct video_input *in,
                                     const struct video_segment *seg, char *why,
                                     size_t why_len)
{
    size_t n = seg->end - seg->first;
    int64_t *pts = malloc(n * sizeof(*pts)), *sorted = malloc(n * sizeof(*sorted));
    int64_t *dts = malloc(n * sizeof(*dts));
    int rc = pts && sorted && dts ? 0 : udcs_why(why, why_len, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++)
        pts[i] = in->pkts[seg->first + i].pts;
    if (rc == 0 && video_decode_times(pts, n, sorted, dts) < 0)
        rc = udcs_why(why, why_len, "two video frames of the input are shown at the same time "
                      "(between packets %zu and %zu): its timestamps are broken", seg->first,
                      seg->end);
    free(pts);
    free(sorted);
    if (rc < 0) {
        free(dts);
        return NULL;
    }
    return dts;
}

/* A NUT file holding a copy of stream `src`. */
static int open_copy(struct video_output *o, const char *path, const AVStream *src, char *why,
                     size_t why_len)
{
    if (video_output_open(o, path, "nut", VIDEO_OUTPUT_INTERMEDIATE, why, why_len) < 0)
        return -1;
    AVStream *st = avformat_new_stream(o->fmt, NULL);
    int rc = st ? avcodec_parameters_copy(st->codecpar, src->codecpar) : AVERROR(ENOMEM);
    if (rc >= 0) {
        st->codecpar->codec_tag = 0;
        st->time_base = src->time_base;
        st->avg_frame_rate = src->avg_frame_rate;
        st->r_frame_rate = src->r_frame_rate;
        rc = avformat_write_header(o->fmt, NULL);
    }
    if (rc < 0) {
        udcs_why(why, why_len, "%s: cannot start the file (%s)", path, video_err(rc));
        video_output_abort(o);
        return -1;
    }
    return 0;
}

/* Copy pkt, its times moved on by `shift` (in the stream's time base); its decode time
 * `dts` when that is not AV_NOPTS_VALUE (already moved on). */
static int write_copy(struct video_output *o, AVPacket *pkt, const AVStream *src, int64_t shift,
                      int64_t dts, char *why, size_t why_len)
{
    AVPacket *copy = av_packet_clone(pkt);
    if (!copy)
        return udcs_why(why, why_len, "out of memory");
    copy->stream_index = 0;
    copy->pos = -1;
    if (copy->pts != AV_NOPTS_VALUE)
        copy->pts += shift;
    if (copy->dts != AV_NOPTS_VALUE)
        copy->dts += shift;
    if (dts != AV_NOPTS_VALUE)
        copy->dts = dts;
    av_packet_rescale_ts(copy, src->time_base, o->fmt->streams[0]->time_base);
    int rc = av_write_frame(o->fmt, copy);
    av_packet_free(&copy);
    if (rc < 0)
        return udcs_why(why, why_len, "%s: writing a packet failed (%s)", o->path,
                        video_err(rc));
    return 0;
}

int video_split(const char *path, const struct video_input *in,
                const struct video_segment *segs, size_t n_segs, const char *dir, char *why,
                size_t why_len)
{
    AVFormatContext *fmt;
    if (video_input_open(path, &fmt, why, why_len) < 0)
        return -1;
    int v = pick_video(fmt, path, why, why_len), rc = v < 0 ? -1 : 0;
    int a = in->has_audio ? av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) : -1;
    struct video_output audio = { 0 }, open[2] = { { 0 } };   /* open GOPs overlap two */
    int64_t *open_dts[2] = { NULL, NULL };
    size_t open_seg[2] = { 0 }, next = 0, index = 0;
    char name[4096];
    AVPacket *pkt = av_packet_alloc();
    int64_t vshift = in->shift, ashift = a >= 0 && v >= 0 ? av_rescale_q_rnd(in->shift,
        fmt->streams[v]->time_base, fmt->streams[a]->time_base, AV_ROUND_UP) : 0;
    if (!pkt)
        rc = udcs_why(why, why_len, "out of memory");
    if (rc == 0 && a >= 0) {
        snprintf(name, sizeof(name), "%s/audio.nut", dir);
        rc = open_copy(&audio, name, fmt->streams[a], why, why_len);
    }
    while (rc == 0) {
        int got = read_packet(fmt, pkt, path, why, why_len);
        if (got) {
            rc = got < 0 ? -1 : 0;
            break;
        }
        if (pkt->stream_index == a) {
            rc = write_copy(&audio, pkt, fmt->streams[a], ashift, AV_NOPTS_VALUE, why, why_len);
        } else if (pkt->stream_index == v) {
            if (next < n_segs && segs[next].first == index) {
                int slot = open[0].fmt ? 1 : 0;
                if (open[slot].fmt) {
                    rc = udcs_why(why, why_len, "segments overlap by more than one");
                    break;
                }
                snprintf(name, sizeof(name), "%s/seg_%05zu.nut", dir, next);
                free(open_dts[slot]);
                open_dts[slot] = segment_decode_times(in, &segs[next], why, why_len);
                rc = open_dts[slot] ? open_copy(&open[slot], name, fmt->streams[v], why, why_len)
                                    : -1;
                open_seg[slot] = next++;
            }
            for (int k = 0; rc == 0 && k < 2; k++) {
                if (!open[k].fmt || index < segs[open_seg[k]].first)
                    continue;
                rc = write_copy(&open[k], pkt, fmt->streams[v], vshift,
                                open_dts[k][index - segs[open_seg[k]].first], why, why_len);
                if (rc == 0 && index + 1 == segs[open_seg[k]].end)
                    rc = video_output_finish(&open[k], why, why_len);
            }
            index++;
        }
        av_packet_unref(pkt);
    }
    if (rc == 0 && (next != n_segs || open[0].fmt || open[1].fmt))
        rc = udcs_why(why, why_len, "%s changed while it was split (%zu video packets now)",
                      path, index);
    if (rc == 0 && audio.fmt)
        rc = video_output_finish(&audio, why, why_len);
    for (int k = 0; k < 2; k++)
        if (open[k].fmt)
            video_output_abort(&open[k]);
    if (audio.fmt)
        video_output_abort(&audio);
    free(open_dts[0]);
    free(open_dts[1]);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    return rc;
}
