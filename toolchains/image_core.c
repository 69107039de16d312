/* toolchains/image_core.c - what needs no image library: file types by name, sizes
 * and rectangles as people and unit commands write them ("1920x1080", "0,0,480,270"),
 * and images in memory. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "toolchains/image.h"

/* One decimal number from *p up to a character in `ends`; advances *p. */
static int take_number(const char **p, long min, long max, char end, long *out)
{
    char *stop;
    if (**p < '0' || **p > '9')
        return -1;
    errno = 0;
    long v = strtol(*p, &stop, 10);
    if (errno || stop == *p || *stop != end || v < min || v > max)
        return -1;
    *p = end ? stop + 1 : stop;
    *out = v;
    return 0;
}

int image_parse_size(const char *text, int *w, int *h)
{
    long a, b;
    if (take_number(&text, 1, IMAGE_MAX_SIDE, 'x', &a) < 0 ||
        take_number(&text, 1, IMAGE_MAX_SIDE, '\0', &b) < 0)
        return -1;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

int image_parse_rect(const char *text, int rect[4])
{
    long v[4];
    for (int i = 0; i < 4; i++)
        if (take_number(&text, i < 2 ? 0 : 1, IMAGE_MAX_SIDE, i < 3 ? ',' : '\0', &v[i]) < 0)
            return -1;
    for (int i = 0; i < 4; i++)
        rect[i] = (int)v[i];
    return 0;
}

int image_format_of_path(const char *path, enum image_format *fmt)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return -1;
    if (strcasecmp(dot, ".png") == 0)
        *fmt = IMAGE_PNG;
    else if (strcasecmp(dot, ".exr") == 0)
        *fmt = IMAGE_EXR;
    else if (strcasecmp(dot, ".tif") == 0 || strcasecmp(dot, ".tiff") == 0)
        *fmt = IMAGE_TIFF;
    else
        return -1;
    return 0;
}

const char *image_format_name(enum image_format fmt)
{
    switch (fmt) {
    case IMAGE_PNG: return "png";
    case IMAGE_EXR: return "exr";
    case IMAGE_TIFF: return "tiff";
    }
    return "?";
}

int image_alloc(struct image *img, int width, int height)
{
    img->width = img->height = 0;
    img->channels = 3;
    img->pixels = NULL;
    if (width <= 0 || height <= 0 || (size_t)width > SIZE_MAX / 16 / (size_t)height)
        return -EINVAL;
    img->pixels = calloc((size_t)width * (size_t)height * 4, sizeof(float));
    if (!img->pixels)
        return -ENOMEM;
    img->width = width;
    img->height = height;
    return 0;
}

void image_release(struct image *img)
{
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = 0;
}

void image_copy_rect(struct image *dst, int dx, int dy, const struct image *src, int sx, int sy,
                     int w, int h)
{
    for (int row = 0; row < h; row++)
        memcpy(&dst->pixels[((size_t)(dy + row) * dst->width + dx) * 4],
               &src->pixels[((size_t)(sy + row) * src->width + sx) * 4],
               (size_t)w * 4 * sizeof(float));
}
