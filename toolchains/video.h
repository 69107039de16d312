/* toolchains/video.h - segmented video encoding with FFmpeg's libraries (libavformat,
 * libavcodec, libswscale, libswresample): the encoder adapter behind udcs-encode and the
 * `udcs-video` program agents run.
 *
 * The pipeline (docs/ENCODE.md):
 *   plan    which keyframes to cut the input's video at (video_plan.c; pure, fuzzed);
 *   split   stream copy of the packets of each segment into a NUT file, and of the audio
 *           into one more (video_split.c), each a CAS blob;
 *   encode  one segment (or a run of image files) to a NUT file of encoded packets, the
 *           frames of its window only, with the input's timestamps (video_encode.c);
 *   join    the encoded segments remuxed, with decode timestamps recomputed over the whole
 *           stream, and the audio copied (or encoded once when the container needs it)
 *           into the output container (video_join.c);
 *   probe   what a file holds, and PSNR between two files, for users and for the tests
 *           (video_probe.c).
 * NUT carries the intermediate files because it keeps a stream's time base exactly
 * (Matroska rounds to milliseconds) and takes any codec. */
#ifndef UDCS_VIDEO_H
#define UDCS_VIDEO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the segment planner (video_plan.c) --------------------------------------------- */

/* One video packet as the demuxer gave it, in decode order. */
struct video_packet {
    int64_t pts, dts;             /* in the stream's time base; dts may be VIDEO_NO_TS */
    int64_t duration;             /* 0 when unknown */
    int key;                      /* a keyframe (random access point) */
    int discard;                  /* decoded for the others, never shown: before or after an
                                     edit list's span (a trimmed mp4) */
};
#define VIDEO_NO_TS INT64_MIN

/* One segment: packets [first, end) in decode order are copied into it; the frames whose
 * pts lies in [start_pts, end_pts) are its own (end_pts is VIDEO_PTS_END for the last).
 * Packets past its window that its frames need (the next keyframe, when pictures after it
 * in decode order are shown before it: open GOPs) are copied too, and decoded but not
 * kept; pictures in its range shown before start_pts are likewise dropped. */
struct video_segment {
    size_t first, end;
    int64_t start_pts, end_pts;
    size_t frames;                /* frames in the window */
};
#define VIDEO_PTS_END INT64_MAX

/* A keyframe may be followed (in decode order) by at most this many pictures shown before
 * it; a stream with more is not cut at that keyframe. */
#define VIDEO_MAX_LEADING 64
#define VIDEO_MAX_PACKETS 50000000

/* Cut n packets into segments of about `target` time-base units each, at the keyframes
 * nearest to every multiple of `target` from the first frame. Every packet needs a pts;
 * the first packet must be a keyframe. The first frame is the first keyframe's, or the
 * first one not discarded after it; discarded packets are in no window (the last window
 * then ends after the last frame shown). A remainder shorter than a quarter of `target`
 * joins the segment before it. Returns 0 with *segs (free it), or -1 with why. */
int video_plan(const struct video_packet *pkts, size_t n, int64_t target,
               struct video_segment **segs, size_t *n_segs, char *why, size_t why_len);

/* Decode times for n packets shown at pts[] (in decode order), as an encoder makes them:
 * dts[i] is the (i - d)-th smallest pts, d the least reorder depth that keeps every dts at
 * or before its pts; the first d go back from the first pts by the first frame interval.
 * sorted[] gets the pts in ascending order. Both arrays hold n. Returns 0, or -1 when two
 * packets have the same pts. */
int video_decode_times(const int64_t *pts, size_t n, int64_t *sorted, int64_t *dts);

/* ---- encode settings (parsing them: video_args.c, plain C) ----------------------------- */

struct video_settings {
    const char *codec;            /* an encoder libavcodec has: libx264, libx265, ... */
    int crf;                      /* -1: not set */
    int64_t bitrate;              /* bits per second; 0: not set */
    const char *preset;           /* NULL: the encoder's default */
    int width, height;            /* --scale; 0: the input's size */
    const char *pix_fmt;          /* NULL: yuv420p when the encoder takes it, else its first */
    int threads;                  /* encoder threads; 0: the encoder decides */
};

#define VIDEO_SETTINGS_INIT { .codec = "libx264", .crf = -1, .threads = 1 }

/* Parse "N/D" or "N" (a frame rate, a time base; positive). Returns 0 or -1. */
int video_parse_rate(const char *text, int *num, int *den);
/* Parse "WxH" (2 to 16384 each). Returns 0 or -1. */
int video_parse_size(const char *text, int *width, int *height);
/* Parse "R" for a bitrate: 2500000, 2500k, 2.5M. Returns 0 or -1. */
int video_parse_bitrate(const char *text, int64_t *bps);

/* Take one command-line setting: --codec, --crf, --bitrate, --preset, --scale, --pix-fmt,
 * --threads with its value. Returns 1 when `flag` is one of them, 0 when it is not, -1
 * with why when its value is wrong. */
int video_settings_flag(struct video_settings *s, const char *flag, const char *value,
                        char *why, size_t why_len);
/* The same, also setting the job's field for it in `fields` (an ENCODE job's, or a
 * RENDER job's "encode" object: codec, crf, bitrate, preset, scale, pix_fmt, threads). */
typedef struct json_t json_t;
int video_settings_take(struct video_settings *s, json_t *fields, const char *flag,
                        const char *value, char *why, size_t why_len);
#define VIDEO_SETTINGS_HELP \
    "  --codec NAME       the encoder: libx264 (default), libx265, libsvtav1,\n" \
    "                     libaom-av1, ... (udcs-video encoders lists them)\n" \
    "  --crf N            constant quality (the encoder's scale: x264 0-51)\n" \
    "  --bitrate R        average bits per second instead: 2500k, 4M\n" \
    "  --preset P         the encoder's speed preset (x264: ultrafast ... veryslow)\n" \
    "  --scale WxH        resize to WxH\n" \
    "  --pix-fmt F        pixel format (default yuv420p where the encoder takes it)\n" \
    "  --threads N        encoder threads per unit (default 1: agents run one unit\n" \
    "                     per core, and segments give the parallelism)\n"

/* Check settings against this machine's libavcodec by opening the encoder as the encode
 * units will: for width x height pictures at `fps_num/fps_den` frames a second, in time
 * base tb_num/tb_den (0: 1/fps); an unknown codec (with the list of video encoders there
 * are), a CRF, preset, size or time base the encoder refuses. Returns 0, or -1 with why. */
int video_check_settings(const struct video_settings *s, int width, int height, int fps_num,
                         int fps_den, int tb_num, int tb_den, char *why, size_t why_len);

/* Whether container `format` (a libavformat muxer name: mp4, matroska, webm, ...) can hold
 * what `codec` makes. Returns 0, or -1 with why. */
int video_check_container(const char *format, const char *codec, char *why, size_t why_len);

/* ---- probe, split ---------------------------------------------------------------------- */

/* What the input holds, from its headers and its video packets. */
struct video_input {
    int width, height;
    const char *codec;            /* the decoder's name */
    int tb_num, tb_den;           /* the video stream's time base */
    int fps_num, fps_den;         /* average frame rate */
    int has_audio;
    /* Added to every timestamp of the split's files, in the video's time base, so none is
     * negative there (NUT keeps no negative times; AAC's priming samples, B-frame delays
     * start before zero); video_join takes it off again. */
    int64_t shift;
    struct video_packet *pkts;    /* every video packet, in decode order, shifted */
    size_t n_pkts;
};
void video_input_release(struct video_input *in);

/* Read `path` far enough to plan: the video stream's packets. Errors say what the file is
 * and what was wrong (not a video, truncated, no video stream). Returns 0 or -1. */
int video_probe_input(const char *path, struct video_input *in, char *why, size_t why_len);

/* Write segment i of `segs` to dir/seg_%05d.nut and, when the input has audio,
 * its first audio stream to dir/audio.nut, in one pass over the input. Returns 0, or -1
 * with why. */
int video_split(const char *path, const struct video_input *in,
                const struct video_segment *segs, size_t n_segs, const char *dir, char *why,
                size_t why_len);

/* ---- encode, join (what agents run) ----------------------------------------------------- */

struct video_encode_job {
    struct video_settings settings;
    /* from a segment file: */
    const char *input;            /* a NUT (or any) file holding one video stream */
    int64_t start_pts, end_pts;   /* the window kept; VIDEO_NO_TS / VIDEO_PTS_END: all */
    int tb_num, tb_den;           /* the window's time base (the input's: a NUT file may
                                     count in a finer one); 0: the segment file's */
    long expect_frames;           /* -1: do not check */
    /* or from images (udcs-render --encode): frame i is images[i], shown at pts
     * first_pts + i in a time base of 1 / fps */
    const char *const *images;
    size_t n_images;
    int64_t first_pts;
    int fps_num, fps_den;         /* frame rate (from images: required; else a hint) */
    const char *output;           /* a NUT file of encoded packets */
};
/* Returns 0, or -1 with why. Frames counted go to *frames. */
int video_encode(const struct video_encode_job *job, long *frames, char *why, size_t why_len);

/* Join encoded segment files (in order) and optionally an audio file into `output`,
 * whose container is named by its extension (mp4, mkv, mov, webm, nut, ts) or by
 * `format`. Returns 0, or -1 with why; nothing is left at `output` on failure. */
struct video_join_job {
    const char *const *segments;
    size_t n_segments;
    const char *audio;            /* NULL: none */
    int64_t shift_num, shift_den; /* seconds (the split's shift) taken off every time */
    int tb_num, tb_den;           /* the video's time base in the output (the input's);
                                     0: the segments' */
    const char *output, *format;  /* format NULL: by the output's extension */
};
int video_join(const struct video_join_job *job, char *why, size_t why_len);

/* ---- inspection (video_probe.c) --------------------------------------------------------- */

/* Decode every frame of the first video stream (and the audio packets' times) of `path`
 * and print what was found as one JSON object to `out`: codec, size, pixel format, time
 * base, frame rate, frames, keyframes, first and last pts, duration, whether pts rise
 * strictly in display order and dts in decode order, decode errors; for audio: codec,
 * sample rate, start and duration in seconds. The end of a stream whose container keeps no
 * frame durations (VFR in mkv) is estimated from the frame rate. Returns 0, or -1 with why. */
int video_info(const char *path, FILE *out, char *why, size_t why_len);

/* The PSNR (dB) between the frames of `a` and `b` as ffmpeg's psnr filter reports its
 * "average": the mean squared error of each frame over Y, U and V (weighted 4:1:1), averaged
 * over the frames, then turned into dB once; identical frames give 100 (the cap). Both are
 * decoded; `b` is scaled to `a`'s size when they differ. Frame counts must match, and a
 * decode error in either fails. Returns 0 with *psnr and *frames, or -1 with why. */
int video_psnr(const char *a, const char *b, double *psnr, long *frames, char *why,
               size_t why_len);

#endif
