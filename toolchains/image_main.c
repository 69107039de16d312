/* toolchains/image_main.c - udcs-image: what a render farm does with images besides
 * rendering them. `merge` is the merge unit of a tiled frame; `compare` is how tests and
 * people check that two renders have the same pixels; `convert` changes the file type.
 *
 *   udcs-image merge --size WxH -o OUT TILE@X,Y,W,H...
 *   udcs-image compare A B [--tolerance T]
 *   udcs-image convert IN OUT
 *   udcs-image info FILE...
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "toolchains/image.h"

static const struct udcs_setting settings[] = {
    UDCS_SETTING(log_level, "--log-level", "UDCS_LOG_LEVEL", "log.level", "warn", STRING,
                 "error, warn, info or debug"),
};

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-image merge --size WxH -o OUT TILE@X,Y,W,H...\n"
            "       udcs-image compare A B [--tolerance T]\n"
            "       udcs-image convert IN OUT\n"
            "       udcs-image info FILE...\n"
            "\n"
            "merge    stitch tiles into one frame. A tile file is either W x H (the tile\n"
            "         alone) or the frame's size (the tile's rectangle is taken from it);\n"
            "         the tiles must cover the frame exactly once.\n"
            "compare  exit 0 when A and B have the same size and pixels (every channel\n"
            "         within T, default 0), 1 when they differ (says where and how much).\n"
            "convert  read any image OpenImageIO reads, write .png, .exr, .tif.\n"
            "info     size and channels of each file.\n"
            "\n");
    udcs_config_print_flags(cfg, out);
}

struct tile {
    const char *path;
    int rect[4];
};

/* "FILE@X,Y,W,H" */
static int parse_tile(char *arg, struct tile *t)
{
    char *at = strrchr(arg, '@');
    if (!at || at == arg || image_parse_rect(at + 1, t->rect) < 0) {
        udcs_log_error("tile '%s' is not FILE@X,Y,W,H (for example tile_0_0.exr@0,0,480,270)",
                       arg);
        return -1;
    }
    *at = '\0';
    t->path = arg;
    return 0;
}

/* Every pixel of the frame covered by exactly one tile, every tile inside the frame. */
static int check_cover(const struct tile *tiles, int n, int w, int h)
{
    unsigned char *seen = calloc((size_t)w * (size_t)h, 1);
    if (!seen)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const int *r = tiles[i].rect;
        if (r[0] + r[2] > w || r[1] + r[3] > h) {
            udcs_log_error("tile %s at %d,%d size %dx%d reaches outside the %dx%d frame",
                           tiles[i].path, r[0], r[1], r[2], r[3], w, h);
            rc = -1;
        }
        for (int y = r[1]; y < r[1] + r[3] && rc == 0; y++)
            for (int x = r[0]; x < r[0] + r[2] && rc == 0; x++)
                if (seen[(size_t)y * w + x]++) {
                    udcs_log_error("tile %s overlaps another tile at pixel %d,%d", tiles[i].path,
                                   x, y);
                    rc = -1;
                }
    }
    for (size_t p = 0; rc == 0 && p < (size_t)w * h; p++)
        if (!seen[p]) {
            udcs_log_error("no tile covers pixel %zu,%zu of the %dx%d frame", p % (size_t)w,
                           p / (size_t)w, w, h);
            rc = -1;
        }
    free(seen);
    return rc;
}

static int cmd_merge(int argc, char **argv)
{
    const char *out = NULL, *size = NULL;
    struct tile *tiles = calloc((size_t)argc + 1, sizeof(*tiles));
    int n = 0, w = 0, h = 0, rc = UDCS_EXIT_USAGE;
    if (!tiles)
        return UDCS_EXIT_FAILED;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--size") == 0) && i + 1 < argc) {
            *(argv[i][1] == 'o' ? &out : &size) = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-') {
            udcs_log_error("merge: unknown option '%s' (see 'udcs-image --help')", argv[i]);
            goto done;
        } else if (parse_tile(argv[i], &tiles[n++]) < 0) {
            goto done;
        }
    }
    if (!out || !size || n == 0) {
        udcs_log_error("merge needs --size WxH, -o OUT and at least one tile");
        goto done;
    }
    if (image_parse_size(size, &w, &h) < 0) {
        udcs_log_error("--size '%s' is not WIDTHxHEIGHT (for example 1920x1080)", size);
        goto done;
    }
    if (check_cover(tiles, n, w, h) < 0)
        goto done;
    struct image frame;
    char why[512];
    rc = UDCS_EXIT_FAILED;
    if (image_alloc(&frame, w, h) < 0) {
        udcs_log_error("a %dx%d frame does not fit in memory", w, h);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        struct image t;
        const int *r = tiles[i].rect;
        if (image_read(tiles[i].path, &t, why, sizeof(why)) < 0) {
            udcs_log_error("%s", why);
            goto release;
        }
        int whole = t.width == w && t.height == h;
        if (!whole && (t.width != r[2] || t.height != r[3])) {
            udcs_log_error("tile %s is %dx%d: expected the tile (%dx%d) or the frame (%dx%d)",
                           tiles[i].path, t.width, t.height, r[2], r[3], w, h);
            image_release(&t);
            goto release;
        }
        image_copy_rect(&frame, r[0], r[1], &t, whole ? r[0] : 0, whole ? r[1] : 0, r[2], r[3]);
        if (t.channels > frame.channels)
            frame.channels = t.channels;
        image_release(&t);
    }
    if (image_write(out, &frame, why, sizeof(why)) < 0)
        udcs_log_error("%s", why);
    else
        rc = UDCS_EXIT_OK;
release:
    image_release(&frame);
done:
    free(tiles);
    return rc;
}

static int cmd_compare(int argc, char **argv)
{
    const char *paths[2] = { NULL, NULL };
    double tolerance = 0;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--tolerance") == 0 && i + 1 < argc) {
            char *end;
            tolerance = strtod(argv[++i], &end);
            if (*end || !(tolerance >= 0)) {
                udcs_log_error("--tolerance '%s' is not a number >= 0", argv[i]);
                return UDCS_EXIT_USAGE;
            }
        } else if (argv[i][0] == '-' || n == 2) {
            udcs_log_error("compare: unexpected '%s'; usage: udcs-image compare A B "
                           "[--tolerance T]", argv[i]);
            return UDCS_EXIT_USAGE;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n != 2) {
        udcs_log_error("compare needs two images");
        return UDCS_EXIT_USAGE;
    }
    struct image a, b;
    char why[512];
    if (image_read(paths[0], &a, why, sizeof(why)) < 0) {
        udcs_log_error("%s", why);
        return UDCS_EXIT_USAGE;
    }
    if (image_read(paths[1], &b, why, sizeof(why)) < 0) {
        udcs_log_error("%s", why);
        image_release(&a);
        return UDCS_EXIT_USAGE;
    }
    int rc = UDCS_EXIT_OK;
    if (a.width != b.width || a.height != b.height) {
        printf("%s is %dx%d, %s is %dx%d\n", paths[0], a.width, a.height, paths[1], b.width,
               b.height);
        rc = UDCS_EXIT_FAILED;
    } else {
        size_t differ = 0, first = 0;
        double worst = 0;
        for (size_t p = 0; p < (size_t)a.width * a.height; p++) {
            double d = 0;
            for (int c = 0; c < 4; c++)
                d = fmax(d, fabs((double)a.pixels[p * 4 + c] - b.pixels[p * 4 + c]));
            if (d > tolerance && differ++ == 0)
                first = p;
            worst = fmax(worst, d);
        }
        if (differ) {
            const float *x = &a.pixels[first * 4], *y = &b.pixels[first * 4];
            printf("%zu of %zu pixels differ (largest difference %g); first at %zu,%zu: "
                   "%g %g %g %g vs %g %g %g %g\n", differ, (size_t)a.width * a.height, worst,
                   first % (size_t)a.width, first / (size_t)a.width, x[0], x[1], x[2], x[3],
                   y[0], y[1], y[2], y[3]);
            rc = UDCS_EXIT_FAILED;
        } else {
            printf("same %dx%d pixels (largest difference %g)\n", a.width, a.height, worst);
        }
    }
    image_release(&a);
    image_release(&b);
    return rc;
}

static int cmd_convert(int argc, char **argv)
{
    if (argc != 2) {
        udcs_log_error("usage: udcs-image convert IN OUT");
        return UDCS_EXIT_USAGE;
    }
    struct image img;
    char why[512];
    if (image_read(argv[0], &img, why, sizeof(why)) < 0) {
        udcs_log_error("%s", why);
        return UDCS_EXIT_FAILED;
    }
    int rc = image_write(argv[1], &img, why, sizeof(why));
    if (rc < 0)
        udcs_log_error("%s", why);
    image_release(&img);
    return rc < 0 ? UDCS_EXIT_FAILED : UDCS_EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
    int rc = argc ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    for (int i = 0; i < argc; i++) {
        struct image img;
        char why[512];
        if (image_read(argv[i], &img, why, sizeof(why)) < 0) {
            udcs_log_error("%s", why);
            rc = UDCS_EXIT_FAILED;
            continue;
        }
        printf("%s: %dx%d, %d channels\n", argv[i], img.width, img.height, img.channels);
        image_release(&img);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct udcs_config cfg;
    udcs_log_init("udcs-image", UDCS_LOG_WARN, UDCS_LOG_STYLE_CLI);
    if (udcs_config_init(&cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return UDCS_EXIT_FAILED;
    struct udcs_cli cli = { .program = "udcs-image", .usage = usage };
    int status = udcs_cli_parse(&cli, &cfg, argc, argv);
    static const struct { const char *name; int (*run)(int, char **); } commands[] = {
        { "merge", cmd_merge }, { "compare", cmd_compare }, { "convert", cmd_convert },
        { "info", cmd_info },
    };
    if (status <= 0) {
        status = status == 0 ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    } else if (cli.n_rest == 0) {
        usage(stderr, &cfg);
        status = UDCS_EXIT_USAGE;
    } else {
        status = -1;
        for (size_t k = 0; status < 0 && k < sizeof(commands) / sizeof(commands[0]); k++)
            if (strcmp(cli.rest[0], commands[k].name) == 0)
                status = commands[k].run(cli.n_rest - 1, cli.rest + 1);
        if (status < 0) {
            udcs_log_error("unknown command '%s'; commands are merge, compare, convert, info "
                           "(see 'udcs-image --help')", cli.rest[0]);
            status = UDCS_EXIT_USAGE;
        }
    }
    free(cli.rest);
    udcs_config_release(&cfg);
    return udcs_cli_finish(status);
}
