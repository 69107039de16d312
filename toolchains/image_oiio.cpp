// toolchains/image_oiio.cpp - the C interface of image.h over OpenImageIO. The only C++
// in UDCS: nothing here throws past the extern "C" boundary, and nothing else includes
// an OpenImageIO header.
#include "toolchains/image.h"

#include <OpenImageIO/imageio.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using OIIO::ImageInput;
using OIIO::ImageOutput;
using OIIO::ImageSpec;
using OIIO::TypeDesc;

static int fail(char *why, size_t why_len, const std::string &text)
{
    if (why && why_len)
        snprintf(why, why_len, "%s", text.c_str());
    return -EIO;
}

// OpenImageIO's messages can run over several lines; one is enough in ours.
static std::string first_line(std::string text)
{
    size_t nl = text.find('\n');
    if (nl != std::string::npos)
        text.resize(nl);
    return text.empty() ? std::string("unknown error") : text;
}

extern "C" int image_read(const char *path, struct image *img, char *why, size_t why_len)
{
    img->pixels = NULL;
    img->width = img->height = 0;
    try {
        auto in = ImageInput::open(path);
        if (!in)
            return fail(why, why_len, std::string(path) + ": " + first_line(OIIO::geterror()));
        const ImageSpec &spec = in->spec();
        int n = spec.nchannels;
        if (spec.width <= 0 || spec.height <= 0 || n <= 0 || spec.depth > 1)
            return fail(why, why_len, std::string(path) + ": not a 2-D image");
        if ((size_t)spec.width * (size_t)spec.height > ((size_t)1 << 28))
            return fail(why, why_len, std::string(path) + ": image too large");
        std::vector<float> raw((size_t)spec.width * spec.height * n);
        if (!in->read_image(0, 0, 0, n, TypeDesc::FLOAT, raw.data()))
            return fail(why, why_len, std::string(path) + ": " + first_line(in->geterror()));
        in->close();
        int rc = image_alloc(img, spec.width, spec.height);
        if (rc < 0)
            return fail(why, why_len, std::string(path) + ": out of memory");
        int alpha = spec.alpha_channel >= 0 ? spec.alpha_channel : (n == 2 || n >= 4 ? n - 1 : -1);
        int colour = n >= 3 ? 3 : 1;
        img->channels = alpha >= 0 ? 4 : 3;
        size_t pixels = (size_t)spec.width * spec.height;
        for (size_t p = 0; p < pixels; p++) {
            const float *s = &raw[p * n];
            float *d = &img->pixels[p * 4];
            for (int c = 0; c < 3; c++)
                d[c] = s[colour == 3 ? c : 0];
            d[3] = alpha >= 0 ? s[alpha] : 1.0f;
        }
        return 0;
    } catch (const std::exception &e) {
        image_release(img);
        return fail(why, why_len, std::string(path) + ": " + e.what());
    }
}

extern "C" int image_write(const char *path, const struct image *img, char *why, size_t why_len)
{
    enum image_format fmt;
    if (image_format_of_path(path, &fmt) < 0)
        return fail(why, why_len, std::string(path) +
                    ": unknown image type; name it .png, .exr, .tif or .tiff");
    if (img->channels != 3 && img->channels != 4)
        return fail(why, why_len, std::string(path) + ": an image has 3 or 4 channels");
    std::string tmp = std::string(path) + ".tmp." + std::to_string((long)getpid());
    try {
        // The temporary name hides the extension from OpenImageIO: name the format.
        auto out = ImageOutput::create(image_format_name(fmt));
        if (!out)
            return fail(why, why_len, std::string(path) + ": " + first_line(OIIO::geterror()));
        TypeDesc type = fmt == IMAGE_PNG ? TypeDesc::UINT8
                        : fmt == IMAGE_TIFF ? TypeDesc::UINT16 : TypeDesc::FLOAT;
        ImageSpec spec(img->width, img->height, img->channels, type);
        spec.attribute("compression", "zip");   // EXR and TIFF; PNG ignores it
        // OpenImageIO stamps EXR and TIFF files with the time of writing unless told a
        // time; a fixed one keeps equal pixels in equal files (and one cache entry).
        if (fmt != IMAGE_PNG)
            spec.attribute("DateTime", "2000:01:01 00:00:00");
        if (!out->open(tmp, spec))
            return fail(why, why_len, std::string(path) + ": " + first_line(out->geterror()));
        // Strides take the first `channels` floats of every 4.
        bool ok = out->write_image(TypeDesc::FLOAT, img->pixels, 4 * sizeof(float));
        ok = out->close() && ok;
        if (!ok) {
            std::string e = first_line(out->geterror());
            unlink(tmp.c_str());
            return fail(why, why_len, std::string(path) + ": " + e);
        }
        if (rename(tmp.c_str(), path) < 0) {
            int e = errno;
            unlink(tmp.c_str());
            return fail(why, why_len, std::string(path) + ": " + strerror(e));
        }
        return 0;
    } catch (const std::exception &e) {
        unlink(tmp.c_str());
        return fail(why, why_len, std::string(path) + ": " + e.what());
    }
}
