/* toolchains/encode.h - encode jobs as units: one `udcs-video encode` unit per segment and
 * one `udcs-video join` unit after them (named "output"), ordinary EXEC units like a
 * render's (docs/ENCODE.md), so caching, leases and retries are the farm's. Plain C over
 * jansson: the master links it, without FFmpeg.
 *
 * An ENCODE job (udcs-encode splits the input and sends this):
 *   {"type": "ENCODE", "format": "mp4", "fps": "25/1", "time_base": "1/12800",
 *    "shift": "1024/12800",
 *    "segments": [{"digest": "HEX/SIZE", "start_pts": 0, "end_pts": 25600, "frames": 50},
 *                 ..., {"digest": ..., "start_pts": 76800, "frames": 50}],
 *    "audio": "HEX/SIZE",
 *    "codec": "libx264", "crf": 23, "bitrate": "2500k", "preset": "medium",
 *    "scale": "1280x720", "pix_fmt": "yuv420p", "threads": 1,
 *    "encoder_fingerprint": "HEX"}
 * A RENDER job may carry the same settings as "encode": {..., "format": "mp4",
 * "fps": "24", "segment_frames": 48}; its encode units take the rendered frames. */
#ifndef UDCS_ENCODE_H
#define UDCS_ENCODE_H

#include <jansson.h>
#include <stddef.h>

/* The program encode and join units run on agents. */
#define ENCODE_TOOL "udcs-video"
#define ENCODE_MAX_SEGMENTS 100000
#define ENCODE_DEFAULT_SEGMENT_FRAMES 48

/* Containers a job's output may be. */
#define ENCODE_FORMATS "mp4, mkv, mov, webm, nut, ts"
int encode_format_known(const char *format);

/* Check an ENCODE job and split it into unit specs: "segment K" (0-based) units, then
 * "output". Returns a JSON array, or NULL with why. */
json_t *encode_split(const json_t *job, char *why, size_t why_len);

/* For udcs-render --encode: check the RENDER job's "encode" object and append its units to
 * `units`: frame i of n is output `frame_output[i]` of unit `frame_unit[i]` (in order of
 * display); `tool_req` is the encoder's toolchain requirement ("udcs-video@FP").
 * Returns 0, or -1 with why. */
int encode_append_for_frames(json_t *units, const json_t *encode, const size_t *frame_unit,
                             const char *const *frame_output, size_t n, const char *tool_req,
                             char *why, size_t why_len);

/* The fields of a RENDER job's "encode" object, for its check before the render splits. */
int encode_check_render_settings(const json_t *encode, char *why, size_t why_len);

#endif
