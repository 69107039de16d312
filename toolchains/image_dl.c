/* toolchains/image_dl.c - image_write() for programs that load OpenImageIO only when they
 * write a PNG, EXR or TIFF for people: udcs-trace, whose tile units write float TIFF
 * with libtiff (image_tiff.c) and would otherwise pay OpenImageIO's start-up (about
 * 0.2 s: 260 shared libraries) in every tile.
 *
 * The OpenImageIO half (image_oiio.cpp) is built as libudcs-image.so and installed in
 * lib/udcs/ beside bin/: it is found from the running program's own path. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "toolchains/image.h"

#define IMAGE_DL_NAME "libudcs-image.so"

typedef int write_fn(const char *path, const struct image *img, char *why, size_t why_len);

static write_fn *load_writer(char *why, size_t why_len)
{
    static write_fn *writer;
    if (writer)
        return writer;
    char exe[PATH_MAX], lib[PATH_MAX + 64];
    int rc = udcs_self_dir(exe, sizeof(exe));
    if (rc < 0) {
        snprintf(why, why_len, "cannot find this program's directory: %s", strerror(-rc));
        return NULL;
    }
    snprintf(lib, sizeof(lib), "%s/../lib/udcs/" IMAGE_DL_NAME, exe);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, why_len, "cannot load the image library %s (installed with UDCS "
                 "beside bin/): %s", lib, dlerror());
        return NULL;
    }
    writer = (write_fn *)dlsym(h, "image_write");
    if (!writer)
        snprintf(why, why_len, "%s has no image_write: %s", lib, dlerror());
    return writer;
}

int image_write(const char *path, const struct image *img, char *why, size_t why_len)
{
    write_fn *w = load_writer(why, why_len);
    return w ? w(path, img, why, why_len) : -EIO;
}
