/* tests/fuzz/fuzz_trace_scene.c - udcs-trace's scene parser (toolchains/trace.h) on
 * arbitrary bytes, with the OBJ reader and includes behind it: the input is split at each
 * line "%%%%" into the scene (t.scn), a file it may include (a.scn) and a mesh it may load
 * (m.obj), all in memory. Loading either succeeds or fails with a known code and a
 * message; whatever loads is evaluated at its first and last frame and rendered at a tiny
 * size, where every pixel must be finite with alpha 1 and a one-pixel region must equal
 * the same pixel of the whole frame. Before the first input, the golden scene of
 * tests/unit/helpers/trace_golden.h must give its exact floats: this target is built by
 * clang, the unit test by gcc, and a farm may mix both builds. */
#include "toolchains/trace.h"
#include "common/err.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/helpers/trace_golden.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define SEPARATOR "\n%%%%\n"
#define FUZZ_WIDTH 5
#define FUZZ_HEIGHT 3

/* Render the frame whole and as one pixel; check what the farm relies on. */
static void check_frame(const struct trace_scene *s, int frame)
{
    char why[512] = "";
    struct trace_view *v = NULL;
    int rc = trace_view_build(s, frame, FUZZ_WIDTH, FUZZ_HEIGHT, 1, &v, why, sizeof(why));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM, "view build gave %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(why[0] != '\0' && v == NULL, "a refused frame without a message");
        return;
    }
    float whole[FUZZ_WIDTH * FUZZ_HEIGHT * 4], one[4];
    FUZZ_CHECK(trace_render_region(v, 0, 0, FUZZ_WIDTH, FUZZ_HEIGHT, 2, whole) == 0,
               "render refused the whole frame");
    for (int i = 0; i < FUZZ_WIDTH * FUZZ_HEIGHT; i++)
        FUZZ_CHECK(isfinite(whole[4 * i]) && isfinite(whole[4 * i + 1]) &&
                   isfinite(whole[4 * i + 2]) && whole[4 * i + 3] == 1.0f,
                   "pixel %d is not finite or its alpha is not 1", i);
    FUZZ_CHECK(trace_render_region(v, 3, 1, 1, 1, 1, one) == 0, "render refused a pixel");
    FUZZ_CHECK(memcmp(one, whole + 4 * (1 * FUZZ_WIDTH + 3), sizeof(one)) == 0,
               "a region differs from the whole frame");
    trace_view_free(v);
}

static void check_golden_pixels(void)
{
    char why[512];
    struct trace_scene *s = NULL;
    struct trace_view *v = NULL;
    FUZZ_CHECK(trace_scene_parse("golden.scn", trace_golden_scene, strlen(trace_golden_scene),
                                 NULL, &s, why, sizeof(why)) == 0, "golden scene: %s", why);
    FUZZ_CHECK(trace_view_build(s, TRACE_GOLDEN_FRAME, 0, 0, 0, &v, why, sizeof(why)) == 0,
               "golden view: %s", why);
    for (size_t i = 0; i < sizeof(trace_golden_pixels) / sizeof(trace_golden_pixels[0]); i++) {
        float px[4];
        trace_render_region(v, trace_golden_pixels[i].x, trace_golden_pixels[i].y, 1, 1, 1, px);
        FUZZ_CHECK(memcmp(px, trace_golden_pixels[i].rgb, 3 * sizeof(float)) == 0,
                   "golden pixel %d,%d is %a %a %a in this build", trace_golden_pixels[i].x,
                   trace_golden_pixels[i].y, px[0], px[1], px[2]);
    }
    trace_view_free(v);
    trace_scene_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int golden_checked;
    if (!golden_checked) {
        check_golden_pixels();
        golden_checked = 1;
    }
    const char *text = (const char *)data, *end = text + size;
    const char *part[3] = { text, NULL, NULL };
    size_t len[3] = { size, 0, 0 };
    for (int i = 1; i < 3; i++) {
        const char *sep = memmem(part[i - 1], len[i - 1], SEPARATOR, strlen(SEPARATOR));
        if (!sep)
            break;
        len[i - 1] = (size_t)(sep - part[i - 1]);
        part[i] = sep + strlen(SEPARATOR);
        len[i] = (size_t)(end - part[i]);
    }
    struct trace_memfile files[2] = {
        { "a.scn", part[1] ? part[1] : "", len[1] },
        { "m.obj", part[2] ? part[2] : "", len[2] },
    };
    char why[1024] = "";
    struct trace_scene *s = NULL;
    int rc = trace_scene_parse_files("t.scn", part[0], len[0], files, 2, &s, why, sizeof(why));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT || rc == UDCS_ETOOBIG ||
               rc == -ENOMEM, "unexpected code %d (%s)", rc, why);
    if (rc < 0) {
        FUZZ_CHECK(s == NULL && why[0] != '\0', "a failure without a message");
        return 0;
    }
    const char *const *inputs;
    int n = trace_scene_inputs(s, &inputs);
    FUZZ_CHECK(n >= 0 && n <= 2, "%d inputs from two files", n);
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(strcmp(inputs[i], "a.scn") == 0 || strcmp(inputs[i], "m.obj") == 0,
                   "input '%s' is not one of the files", inputs[i]);
    struct trace_scene_info info;
    trace_scene_describe(s, &info);
    FUZZ_CHECK(info.width >= 1 && info.height >= 1 && info.samples >= 1 &&
               info.frame_first <= info.frame_last, "settings out of their ranges");
    check_frame(s, info.frame_first);
    if (info.frame_last != info.frame_first)
        check_frame(s, info.frame_last);
    trace_scene_free(s);
    return 0;
}
