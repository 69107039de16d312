/* tests/unit/test_render_split.c - render jobs as units: frame lists, tile grids (POV-Ray's
 * aligned to its 32-pixel blocks), the command line of each renderer for a frame and a
 * tile, merge units that take the tiles' outputs, and the refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "toolchains/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void frames_ok(const char *text, size_t n, int first, int last)
{
    int *f;
    size_t got;
    char why[256];
    assert_int_equal(render_frames_parse(text, &f, &got, why, sizeof(why)), 0);
    assert_int_equal(got, n);
    assert_int_equal(f[0], first);
    assert_int_equal(f[got - 1], last);
    for (size_t i = 1; i < got; i++)
        assert_true(f[i] > f[i - 1]);
    free(f);
}

static void frames_bad(const char *text, const char *says)
{
    int *f;
    size_t n;
    char why[256];
    assert_int_equal(render_frames_parse(text, &f, &n, why, sizeof(why)), -1);
    assert_null(f);
    assert_non_null(strstr(why, says));
}

static void frame_lists(void **state)
{
    (void)state;
    frames_ok("1-240,300,310-320", 252, 1, 320);
    frames_ok("7", 1, 7, 7);
    frames_ok("5,1-3,2", 4, 1, 5);           /* sorted, each once */
    frames_ok("0-0", 1, 0, 0);
    frames_bad("5-1", "ends before it starts");
    frames_bad("", "not a list");
    frames_bad("1,", "not a list");
    frames_bad("1-", "not a list");
    frames_bad("a", "not a list");
    frames_bad("-3", "not a list");
    frames_bad("1-2x", "not a list");
    frames_bad("99999999", "not a list");
    frames_bad("0-20000", "more than");
    frames_ok("1-20000", 20000, 1, 20000);
}

static void tile_grids_cover_the_frame(void **state)
{
    (void)state;
    int sizes[][2] = { { 90, 70 }, { 1920, 1080 }, { 33, 7 }, { 160, 120 } };
    for (size_t s = 0; s < 4; s++) {
        for (int align = 1; align <= 32; align += 31) {
            int w = sizes[s][0], h = sizes[s][1], cols = 3, rows = 2;
            if (align > 1 && (w / cols < align || h / rows < align))
                continue;
            long area = 0;
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) {
                    int rect[4];
                    render_tile_rect(w, h, cols, rows, align, c, r, rect);
                    assert_true(rect[2] > 0 && rect[3] > 0);
                    assert_true(rect[0] + rect[2] <= w && rect[1] + rect[3] <= h);
                    assert_int_equal(rect[0] % align, 0);
                    assert_int_equal(rect[1] % align, 0);
                    area += (long)rect[2] * rect[3];
                }
            assert_int_equal(area, (long)w * h);
        }
    }
    int rect[4];
    render_tile_rect(160, 120, 2, 2, 32, 1, 1, rect);
    assert_int_equal(rect[0], 64);            /* 80 down to POV-Ray's block */
    assert_int_equal(rect[1], 32);
    assert_int_equal(rect[2], 96);
    assert_int_equal(rect[3], 88);
}

static void tile_grids_parse_columns_by_rows(void **state)
{
    (void)state;
    int cols = 0, rows = 0;
    assert_int_equal(render_tiles_parse("4x3", &cols, &rows), 0);
    assert_int_equal(cols, 4);
    assert_int_equal(rows, 3);
    assert_int_equal(render_tiles_parse("64x1", &cols, &rows), 0);
    static const char *const bad[] = { "0x2", "2x0", "65x1", "1x65", "4", "4x", "x4", "-1x2",
                                       "4x4x4", "4 x4", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (render_tiles_parse(bad[i], &cols, &rows) == 0)
            fail_msg("tiles '%s' taken as %dx%d", bad[i], cols, rows);
}

static json_t *split(const char *text, char *why, size_t len)
{
    json_error_t e;
    json_t *job = json_loads(text, 0, &e);
    assert_non_null(job);
    json_t *units = render_split(job, why, len);
    json_decref(job);
    return units;
}

static const char *arg(json_t *unit, size_t i)
{
    return json_string_value(json_array_get(json_object_get(unit, "argv"), i));
}

static int has_arg(json_t *unit, const char *want)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(unit, "argv"), i, a)
        if (strcmp(json_string_value(a), want) == 0)
            return 1;
    return 0;
}

static void builtin_frames_and_tiles(void **state)
{
    (void)state;
    char why[512];
    json_t *u = split("{\"type\":\"RENDER\",\"scene\":\"s/a.scn\",\"inputs\":{\"s/a.scn\":"
                      "\"x\"},\"frames\":\"1-3\",\"size\":\"64x48\",\"samples\":8,"
                      "\"renderer_fingerprint\":\"abc\"}", why, sizeof(why));
    assert_non_null(u);
    assert_int_equal(json_array_size(u), 3);  /* one unit per frame */
    json_t *f2 = json_array_get(u, 1);
    assert_string_equal(json_string_value(json_object_get(f2, "name")), "frame 2");
    assert_string_equal(arg(f2, 0), "udcs-trace");
    assert_string_equal(arg(f2, 1), "a.scn");
    assert_true(has_arg(f2, "64x48") && has_arg(f2, "--threads") && !has_arg(f2, "--region"));
    assert_string_equal(json_string_value(json_object_get(f2, "cwd")), "s");
    assert_string_equal(json_string_value(json_array_get(json_object_get(f2, "outputs"), 0)),
                        "frame.png");
    json_t *tc = json_object_get(json_object_get(f2, "requirements"), "toolchains");
    assert_string_equal(json_string_value(json_array_get(tc, 0)), "udcs-trace@abc");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f2, "env"),
                                                          "UDCS_RENDERER")), "udcs-trace@abc");
    json_decref(u);

    u = split("{\"scene\":\"a.scn\",\"inputs\":{\"a.scn\":\"x\"},\"frames\":[4,2],"
              "\"size\":\"90x70\",\"tiles\":\"2x2\",\"format\":\"exr\"}", why, sizeof(why));
    assert_non_null(u);
    assert_int_equal(json_array_size(u), 10); /* per frame: 4 tiles and a merge */
    json_t *tile = json_array_get(u, 1), *merge = json_array_get(u, 4);
    assert_string_equal(json_string_value(json_object_get(tile, "name")), "frame 2 tile 1,0");
    assert_true(has_arg(tile, "--region") && has_arg(tile, "45,0,45,35") &&
                has_arg(tile, "--linear") && has_arg(tile, "--float-tiff"));
    assert_null(json_object_get(tile, "cwd"));
    assert_string_equal(json_string_value(json_object_get(merge, "name")), "frame 2");
    assert_string_equal(arg(merge, 0), "udcs-image");
    assert_true(has_arg(merge, "frame.exr") && has_arg(merge, "tile_1_0.tif@45,0,45,35"));
    json_t *in = json_object_get(json_object_get(merge, "inputs"), "tile_1_0.tif");
    assert_int_equal(json_integer_value(json_object_get(in, "unit")), 1);
    assert_string_equal(json_string_value(json_object_get(in, "output")), "tile.tif");
    assert_string_equal(json_string_value(json_object_get(json_array_get(u, 9), "name")),
                        "frame 4");
    json_decref(u);

    /* tiles run beside the scene; the merge at the top, where its inputs are placed */
    u = split("{\"scene\":\"s/a.scn\",\"inputs\":{\"s/a.scn\":\"x\"},\"frames\":\"1\","
              "\"size\":\"8x8\",\"tiles\":\"2x1\"}", why, sizeof(why));
    assert_non_null(u);
    assert_int_equal(json_array_size(u), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(u, 0), "cwd")), "s");
    assert_null(json_object_get(json_array_get(u, 2), "cwd"));
    assert_null(json_object_get(json_object_get(json_array_get(u, 2), "env"), "HOME"));
    json_decref(u);
}

static void povray_and_blender_command_lines(void **state)
{
    (void)state;
    char why[512];
    json_t *u = split("{\"renderer\":\"povray\",\"scene\":\"b.pov\",\"inputs\":{\"b.pov\":"
                      "\"x\"},\"frames\":\"5\",\"animation\":\"1-240\",\"tiles\":\"2x1\","
                      "\"size\":\"160x120\",\"samples\":3}", why, sizeof(why));
    assert_non_null(u);
    json_t *t = json_array_get(u, 1);
    assert_true(has_arg(t, "+Ib.pov") && has_arg(t, "+KFI1") && has_arg(t, "+KFF240") &&
                has_arg(t, "+SF5") && has_arg(t, "+EF5") && has_arg(t, "+R3") &&
                has_arg(t, "+SC65") && has_arg(t, "+EC160") && has_arg(t, "+SR1") &&
                has_arg(t, "+ER120") && has_arg(t, "+BS32") && has_arg(t, "+WT1"));
    /* POV-Ray numbers the files of an animation itself */
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "outputs"), 0)),
                        "tile005.png");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "env"), "HOME")),
                        "/nonexistent");
    json_decref(u);

    u = split("{\"renderer\":\"povray\",\"scene\":\"b.pov\",\"inputs\":{\"b.pov\":\"x\"},"
              "\"frames\":\"1\"}", why, sizeof(why));
    assert_non_null(u);
    assert_int_equal(json_array_size(u), 1);  /* a PNG straight from POV-Ray */
    assert_true(has_arg(json_array_get(u, 0), "+W640") && !has_arg(json_array_get(u, 0), "+KFI1"));
    json_decref(u);

    u = split("{\"renderer\":\"blender\",\"scene\":\"c.blend\",\"inputs\":{\"c.blend\":\"x\"},"
              "\"frames\":\"12\",\"tiles\":\"1x2\",\"size\":\"64x48\",\"samples\":16}", why,
              sizeof(why));
    assert_non_null(u);
    t = json_array_get(u, 0);
    assert_string_equal(arg(t, 0), "blender");
    assert_true(has_arg(t, "-b") && has_arg(t, "c.blend") && has_arg(t, "12"));
    const char *code = arg(t, 5);
    assert_non_null(strstr(code, "s.cycles.seed = 0"));
    assert_non_null(strstr(code, "s.cycles.samples = 16"));
    assert_non_null(strstr(code, "r.use_border = True"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "outputs"), 0)),
                        "tile_0012.png");
    json_decref(u);
}

static void refusals(void **state)
{
    (void)state;
    static const struct { const char *job, *says; } cases[] = {
        { "{\"scene\":\"a.scn\",\"inputs\":{\"a.scn\":\"x\"}}", "field 'frames'" },
        { "{\"scene\":\"a.scn\",\"inputs\":{},\"frames\":\"1\"}", "not among the job's" },
        { "{\"scene\":\"../a.scn\",\"inputs\":{\"../a.scn\":\"x\"},\"frames\":\"1\"}",
          "relative path" },
        { "{\"renderer\":\"maya\",\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\"}",
          "renderer 'maya' is not known" },
        { "{\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\",\"tiles\":\"2x2\"}",
          "needs 'size'" },
        { "{\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\",\"format\":\"jpg\"}",
          "format 'jpg'" },
        { "{\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\",\"tiles\":\"0x2\","
          "\"size\":\"8x8\"}", "tiles '0x2'" },
        { "{\"renderer\":\"povray\",\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\","
          "\"tiles\":\"8x8\",\"size\":\"128x128\"}", "at least 32 pixels" },
        { "{\"renderer\":\"povray\",\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\","
          "\"samples\":12}", "field 'samples'" },
        { "{\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":[1,\"2\"]}", "frames[1]" },
        { "{\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\",\"animation\":\"9-2\"}",
          "animation '9-2'" },
        { "{\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\",\"colour\":1}",
          "unknown field 'colour'" },
        { "{\"scene\":\"a\",\"inputs\":{\"a\":\"x\"},\"frames\":\"1\","
          "\"renderer_fingerprint\":\"XYZ\"}", "fingerprint" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[512] = "";
        json_t *u = split(cases[i].job, why, sizeof(why));
        if (u || !strstr(why, cases[i].says))
            fail_msg("case %zu: wanted '%s', got %s '%s'", i, cases[i].says,
                     u ? "units" : "error", why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_lists),
        cmocka_unit_test(tile_grids_cover_the_frame),
        cmocka_unit_test(tile_grids_parse_columns_by_rows),
        cmocka_unit_test(builtin_frames_and_tiles),
        cmocka_unit_test(povray_and_blender_command_lines),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
