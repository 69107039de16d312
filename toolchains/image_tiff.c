/* toolchains/image_tiff.c - the farm's tile files: 32-bit float TIFF written with libtiff.
 *
 * A tile is an intermediate between a render unit and the merge unit, read back by
 * OpenImageIO there; it must keep every float exactly. Writing it with libtiff spares the
 * renderer loading OpenImageIO (and the 260 libraries it links) in every tile's process,
 * which cost a 4x4-tiled frame more than its rendering at moderate sizes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "toolchains/image.h"

static int fail(char *why, size_t why_len, const char *path, const char *what)
{
    snprintf(why, why_len, "%s: %s", path, what);
    return -EIO;
}

/* libtiff reports through global handlers: keep its messages out of the unit's stderr
 * (the result says what failed). */
static void quiet(const char *module, const char *fmt, va_list ap)
{
    (void)module, (void)fmt, (void)ap;
}

int image_write_float_tiff(const char *path, const struct image *img, char *why, size_t why_len)
{
    char tmp[4096];
    if (img->channels != 3 && img->channels != 4)
        return fail(why, why_len, path, "an image has 3 or 4 channels");
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return fail(why, why_len, path, "name too long");
    TIFFSetErrorHandler(quiet);
    TIFFSetWarningHandler(quiet);
    TIFF *t = TIFFOpen(tmp, "w");
    if (!t)
        return fail(why, why_len, path, strerror(errno ? errno : EIO));
    int n = img->channels, ok = 1;
    uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    ok &= TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)img->width);
    ok &= TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)img->height);
    ok &= TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)n);
    ok &= TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)32);
    ok &= TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, (uint16_t)SAMPLEFORMAT_IEEEFP);
    ok &= TIFFSetField(t, TIFFTAG_PHOTOMETRIC, (uint16_t)PHOTOMETRIC_RGB);
    ok &= TIFFSetField(t, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG);
    ok &= TIFFSetField(t, TIFFTAG_ORIENTATION, (uint16_t)ORIENTATION_TOPLEFT);
    ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_ADOBE_DEFLATE);
    ok &= TIFFSetField(t, TIFFTAG_PREDICTOR, (uint16_t)PREDICTOR_FLOATINGPOINT);
    ok &= TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)16);
    if (n == 4)
        ok &= TIFFSetField(t, TIFFTAG_EXTRASAMPLES, (uint16_t)1, &extra);
    float *row = malloc((size_t)img->width * 4 * sizeof(float));
    ok &= row != NULL;
    for (int y = 0; ok && y < img->height; y++) {
        const float *src = &img->pixels[(size_t)y * img->width * 4];
        for (int x = 0; x < img->width; x++)
            memcpy(&row[x * n], &src[x * 4], (size_t)n * sizeof(float));
        ok = TIFFWriteScanline(t, row, (uint32_t)y, 0) == 1;
    }
    TIFFClose(t);
    free(row);
    if (!ok) {
        unlink(tmp);
        return fail(why, why_len, path, "writing the TIFF failed (disk full?)");
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return fail(why, why_len, path, strerror(e));
    }
    return 0;
}
