/* toolchains/image.h - reading and writing images (PNG, OpenEXR, TIFF) through
 * OpenImageIO, which is C++: toolchains/image_oiio.cpp is the one file that speaks to it,
 * behind this C interface. Programs link it (IMAGE_LIB), or load it when they first
 * write (image_dl.c, libudcs-image.so: udcs-trace); the rest is plain C
 * (image_core.c, image_tiff.c).
 *
 * An image here is always float RGBA, rows top to bottom. Writing converts to the file's
 * type the same way every time (PNG: 8 bits, TIFF: 16 bits, clamped to [0, 1] and
 * rounded; OpenEXR: 32-bit float, lossless ZIP; no time of writing in the file: EXR and
 * TIFF carry a fixed DateTime), so equal pixels give equal files: a
 * frame stitched from tiles is byte for byte the frame rendered whole. Values are
 * written as they are given; colour encoding (sRGB for PNG and TIFF, linear for EXR) is
 * the renderer's business. */
#ifndef UDCS_IMAGE_H
#define UDCS_IMAGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum image_format { IMAGE_PNG = 0, IMAGE_EXR, IMAGE_TIFF };

struct image {
    int width, height;
    int channels;               /* written to files: 3 (RGB) or 4 (RGBA) */
    float *pixels;              /* width * height * 4 floats: R, G, B, A */
};

/* The format a path's extension names (.png, .exr, .tif or .tiff, any case); -1 if none. */
int image_format_of_path(const char *path, enum image_format *fmt);
const char *image_format_name(enum image_format fmt);     /* "png", "exr", "tiff" */

/* Allocate a width x height image of zeros (alpha 0), to be written as RGB. */
int image_alloc(struct image *img, int width, int height);
void image_release(struct image *img);

/* Read any image OpenImageIO reads; grey becomes RGB, missing alpha becomes 1, and
 * `channels` says whether the file had alpha. Errors name the file and what was wrong. */
int image_read(const char *path, struct image *img, char *why, size_t why_len);

/* Write atomically (a temporary file renamed over `path`) in the format of its
 * extension. */
int image_write(const char *path, const struct image *img, char *why, size_t why_len);

/* The farm's tile format: 32-bit float TIFF, every value kept exactly, written
 * atomically with libtiff (image_tiff.c), so a tile's process does not load
 * OpenImageIO. image_read reads it back. */
int image_write_float_tiff(const char *path, const struct image *img, char *why,
                           size_t why_len);

/* Copy the w x h block at (sx, sy) of `src` to (dx, dy) of `dst`; rectangles must lie
 * inside both. */
void image_copy_rect(struct image *dst, int dx, int dy, const struct image *src, int sx,
                     int sy, int w, int h);

/* The largest width or height an image size may give. */
#define IMAGE_MAX_SIDE 65536
/* "1920x1080" -> 1920, 1080 (each 1 to IMAGE_MAX_SIDE). Returns 0 or -1. */
int image_parse_size(const char *text, int *w, int *h);
/* "X,Y,W,H" -> a rectangle with W, H >= 1 and X, Y >= 0. Returns 0 or -1. */
int image_parse_rect(const char *text, int rect[4]);

#ifdef __cplusplus
}
#endif

#endif
