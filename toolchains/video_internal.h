/* toolchains/video_internal.h - what the files of the encoder adapter share: libav's
 * error text, a capture of libav's own log lines for error messages, and opening an
 * encoder from video_settings the one same way everywhere. */
#ifndef UDCS_VIDEO_INTERNAL_H
#define UDCS_VIDEO_INTERNAL_H

#include "toolchains/video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* Errors: udcs_why (common/err.h) fills why and returns -1. */
#include "common/err.h"

/* libav's text for an AVERROR code (in a static buffer per call site: use at once). */
const char *video_err(int averr);

/* From begin to end, libav's log lines of level error and worse are kept (the last few),
 * and not printed: they become part of our own error message instead. end returns the
 * kept text ("" when none); it is valid until the next begin. Not for threads. */
void video_log_begin(void);
const char *video_log_end(void);

/* Open `s`'s encoder for width x height pictures of source pixel format src, in time base
 * tb at frame rate fps, with global headers (extradata) when `global_header`. Errors name
 * the setting refused and repeat the encoder's own words. Returns 0 or -1. */
int video_encoder_open(const struct video_settings *s, int width, int height,
                       enum AVPixelFormat src, AVRational tb, AVRational fps, int global_header,
                       AVCodecContext **out, char *why, size_t why_len);

/* End (flush) an opened encoder, dropping what it still had, and free it; NULL is fine.
 * An encoder that has had pictures; see video_check_settings for one that has not. */
void video_encoder_close(AVCodecContext **ctx);

/* A muxer for `path` (its extension, or `format` when not NULL) of `kind` (a segment or
 * split file, or the output people get), writing to a temporary name beside it; video_output_finish renames it into place, video_output_abort removes
 * it. Both free the context. */
struct video_output {
    AVFormatContext *fmt;
    char *path, *tmp;
};
#define VIDEO_OUTPUT_FINAL 0        /* the container's own timestamp rules */
#define VIDEO_OUTPUT_INTERMEDIATE 1 /* timestamps exactly as given, never shifted */
int video_output_open(struct video_output *o, const char *path, const char *format, int kind,
                      char *why,
                      size_t why_len);
int video_output_finish(struct video_output *o, char *why, size_t why_len);
void video_output_abort(struct video_output *o);

/* Whether a container of `of` can hold `codec`: 1 yes, 0 no; libavformat cannot tell for
 * some (mpegts, nut): those are taken at their word, and the muxer says no if need be. */
int video_container_takes(const AVOutputFormat *of, enum AVCodecID codec);

/* Whether the muxer of `of` accepts a copy of a stream like `par` (in time base tb): its
 * header is written to memory to find out ("flac in MP4 support is experimental"). */
int video_muxer_takes_copy(const AVOutputFormat *of, const AVCodecParameters *par,
                           AVRational tb);

/* Open `path` for reading; errors say what it is. Returns 0 or -1. */
int video_input_open(const char *path, AVFormatContext **fmt, char *why, size_t why_len);

#endif
