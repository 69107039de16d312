/* tests/unit/test_trace_gpu.c - udcs-trace on a GPU (toolchains/trace_gpu.h) against the
 * CPU: the scenes of scenes/ (the Cornell box; orbit.scn's meshes, glass, metal and lens)
 * and a few made here, rendered on a device and by trace_render_region(), must be the
 * same to the bit, whole frames and odd regions alike, and udcs-trace --device API must
 * write the same file. Each comparison prints how many pixels differ and by how much at
 * most. The comparisons are one table run once per API of apis[] (main() makes it):
 * OpenCL (trace_gpu.cl; PoCL is a platform on any CPU: pocl-opencl-icd) and CUDA
 * (trace_gpu.cu through NVRTC, with --fmad=false and the other options that make its
 * arithmetic the C build's, so the tolerance is zero there too). Where an API has no
 * device its comparisons skip, saying why. Also the farm's side: a RENDER job's "device"
 * field (toolchains/render_split.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "toolchains/render.h"
#include "toolchains/trace.h"
#include "toolchains/trace_gpu.h"
#include "kernels/runtime.h"
#include "common/err.h"
#include "common/proc.h"
#include "helpers/testutil.h"
#include "helpers/trace_golden.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY 2048

extern char **environ;

/* An API the comparisons run on, with the renderer compiled for its device once for
 * every test (PoCL takes about a second, NVRTC longer); NULL where the API has no device,
 * with the reason in no_device_why. Each comparison gets its entry as its state. */
struct api_case {
    enum trace_device device;
    enum kernel_api api;
    const char *name;           /* for messages: "OpenCL" */
    struct trace_gpu *gpu;
    char no_device_why[WHY];
};

static struct api_case apis[] = {
    { .device = TRACE_DEVICE_OPENCL, .api = KERNEL_API_OPENCL, .name = "OpenCL" },
    { .device = TRACE_DEVICE_CUDA, .api = KERNEL_API_CUDA, .name = "CUDA" },
};
#define N_APIS (sizeof(apis) / sizeof(apis[0]))

/* The comparison running now: its API (use_api() sets both) and that API's renderer. */
static const struct api_case *cur;
static struct trace_gpu *gpu;

static int open_gpus(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_APIS; i++) {
        struct api_case *a = &apis[i];
        char why[WHY];
        if (!kernel_api_available(a->api, why, sizeof(why))) {
            snprintf(a->no_device_why, sizeof(a->no_device_why), "%s", why);
            printf("# skipping the %s comparisons: %s\n", a->name, why);
            continue;
        }
        int rc = trace_gpu_open(a->device, &a->gpu, why, sizeof(why));
        if (rc < 0) {
            /* a device is there, so this is a failure of ours, not a missing device */
            fprintf(stderr, "# opening %s failed: %s (%s)\n", a->name, why, udcs_strerror(rc));
            return -1;
        }
        printf("# %s device: %s\n", a->name, trace_gpu_device_class(a->gpu));
    }
    return 0;
}

static int close_gpus(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_APIS; i++) {
        trace_gpu_free(apis[i].gpu);
        apis[i].gpu = NULL;
    }
    return 0;
}

/* Compare on the API of the test's state; skip, saying why, where it has no device. */
static void use_api(void **state)
{
    cur = *state;
    gpu = cur->gpu;
    if (!gpu) {
        print_message("skipped: no %s device: %s\n", cur->name, cur->no_device_why);
        skip();
    }
}

static struct trace_view *view_of_file(const char *path, int frame, int w, int h, int samples,
                                       struct trace_scene **scene)
{
    char why[WHY];
    struct trace_view *v = NULL;
    if (trace_scene_load(path, scene, why, sizeof(why)) != 0)
        fail_msg("%s: %s (the tests run from the top of the source tree)", path, why);
    if (trace_view_build(*scene, frame, w, h, samples, &v, why, sizeof(why)) != 0)
        fail_msg("%s frame %d: %s", path, frame, why);
    return v;
}

static struct trace_view *view_of_text(const char *text, int frame, int w, int h, int samples,
                                       struct trace_scene **scene)
{
    char why[WHY];
    struct trace_view *v = NULL;
    if (trace_scene_parse("t.scn", text, strlen(text), NULL, scene, why, sizeof(why)) != 0)
        fail_msg("t.scn: %s", why);
    if (trace_view_build(*scene, frame, w, h, samples, &v, why, sizeof(why)) != 0)
        fail_msg("t.scn frame %d: %s", frame, why);
    return v;
}

/* Render (x, y, w, h) of `v` on the CPU and on the test's device, print how many pixels
 * differ and by how much at most, and require none to: the kernel is the same C, compiled
 * without contraction into FMA and with correctly rounded division and square root
 * (trace_gpu.cl, trace_gpu.cu), so every operation rounds as in the C build
 * (docs/RENDER.md). */
static void same_pixels(const char *what, const struct trace_view *v, int x, int y, int w,
                        int h)
{
    size_t n = (size_t)w * (size_t)h * 4;
    float *cpu = malloc(n * sizeof(float)), *dev = malloc(n * sizeof(float));
    assert_non_null(cpu);
    assert_non_null(dev);
    memset(dev, 0xff, n * sizeof(float));     /* NaN: a pixel never written shows */
    char why[WHY];
    assert_int_equal(trace_render_region(v, x, y, w, h, 0, cpu), 0);
    int rc = trace_gpu_render_region(gpu, v, x, y, w, h, dev, why, sizeof(why));
    if (rc != 0)
        fail_msg("%s: %s", what, why);
    size_t differ = 0;
    double most = 0;
    for (size_t p = 0; p < n / 4; p++) {
        if (memcmp(cpu + 4 * p, dev + 4 * p, 4 * sizeof(float)) == 0)
            continue;
        differ++;
        for (int k = 0; k < 4; k++) {
            double d = fabs((double)cpu[4 * p + k] - (double)dev[4 * p + k]);
            if (!(d <= most))   /* NaN counts as the largest */
                most = isnan(d) ? INFINITY : d;
        }
    }
    printf("# %s: %s, %dx%d at %d,%d, %d samples: %zu of %zu pixels differ, max difference "
           "%g\n", cur->name, what, w, h, x, y, v->samples, differ, n / 4, most);
    free(cpu);
    free(dev);
    assert_int_equal(differ, 0);
}

/* ---- pixels ------------------------------------------------------------------------------ */

/* `path` at `frame`, w x h, `samples`: the whole frame both ways. */
static void same_frame_from_file(void **state, const char *path, int frame, int w, int h,
                                 int samples)
{
    use_api(state);
    struct trace_scene *s;
    struct trace_view *v = view_of_file(path, frame, w, h, samples, &s);
    char what[128];
    snprintf(what, sizeof(what), "%s frame %d", path, frame);
    same_pixels(what, v, 0, 0, w, h);
    trace_view_free(v);
    trace_scene_free(s);
}

static void renders_the_cornell_box_as_the_cpu_does(void **state)
{
    same_frame_from_file(state, "scenes/cornell.scn", 1, 64, 48, 8);
}

/* Smooth-shaded meshes through the BVH, glass, metal, a plane, depth of field, a sky. */
static void renders_orbit_meshes_glass_and_metal_as_the_cpu_does(void **state)
{
    same_frame_from_file(state, "scenes/orbit.scn", 40, 96, 54, 4);
}

/* Work-groups (CUDA blocks) are 8x8: a region neither placed nor sized on multiples of 8
 * has items outside it, which must write nothing, and pixels whose coordinates are the
 * frame's. */
static void region_holds_the_pixels_of_the_whole_frame(void **state)
{
    use_api(state);
    struct trace_scene *s;
    struct trace_view *v = view_of_file("scenes/cornell.scn", 1, 61, 45, 4, &s);
    same_pixels("cornell.scn region", v, 5, 3, 13, 7);
    same_pixels("cornell.scn last column", v, 60, 0, 1, 45);
    trace_view_free(v);
    trace_scene_free(s);
}

/* The pixels tests/unit/helpers/trace_golden.h holds, from gcc's build: every material and
 * primitive but meshes, a lens, an orbit, clamping. */
static void gives_the_golden_pixels(void **state)
{
    use_api(state);
    struct trace_scene *s;
    struct trace_view *v = view_of_text(trace_golden_scene, TRACE_GOLDEN_FRAME, 0, 0, 0, &s);
    float *px = malloc((size_t)v->width * (size_t)v->height * 4 * sizeof(float));
    assert_non_null(px);
    char why[WHY];
    if (trace_gpu_render_region(gpu, v, 0, 0, v->width, v->height, px, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    for (size_t i = 0; i < sizeof(trace_golden_pixels) / sizeof(trace_golden_pixels[0]); i++) {
        const float *got = px + ((size_t)trace_golden_pixels[i].y * (size_t)v->width +
                                 (size_t)trace_golden_pixels[i].x) * 4;
        if (memcmp(got, trace_golden_pixels[i].rgb, sizeof(trace_golden_pixels[i].rgb)) != 0)
            fail_msg("pixel %d,%d: %s gives { %af, %af, %af }", trace_golden_pixels[i].x,
                     trace_golden_pixels[i].y, cur->name, got[0], got[1], got[2]);
    }
    same_pixels("golden scene", v, 0, 0, v->width, v->height);
    free(px);
    trace_view_free(v);
    trace_scene_free(s);
}

/* Arrays of no elements (no planes, triangles, normals or lights) are buffers of no bytes. */
static void renders_a_scene_with_empty_arrays(void **state)
{
    use_api(state);
    struct trace_scene *s;
    struct trace_view *v = view_of_text(
        "settings { background <0.6, 0.7, 0.9> <0.1, 0.2, 0.6> }\n"
        "camera { position <0, 1, 5> look_at <0, 1, 0> }\n"
        "material m metal { color <0.8, 0.6, 0.4> roughness 0.1 }\n"
        "sphere { material m position <0, 1, 0> radius 0.8 }\n", 1, 24, 16, 4, &s);
    assert_int_equal(v->n_planes + v->n_triangles + v->n_normals + v->n_lights, 0);
    same_pixels("a lone sphere", v, 0, 0, 24, 16);
    trace_view_free(v);
    trace_scene_free(s);
}

static void refuses_a_region_outside_the_frame(void **state)
{
    use_api(state);
    struct trace_scene *s;
    struct trace_view *v = view_of_file("scenes/cornell.scn", 1, 16, 12, 1, &s);
    float px[4 * 4];
    char why[WHY];
    assert_int_equal(trace_gpu_render_region(gpu, v, 14, 0, 4, 1, px, why, sizeof(why)),
                     -EINVAL);
    assert_non_null(strstr(why, "not inside the 16x12 frame"));
    assert_int_equal(trace_gpu_render_region(gpu, v, 0, 0, 0, 1, px, why, sizeof(why)),
                     -EINVAL);
    trace_view_free(v);
    trace_scene_free(s);
}

/* ---- udcs-trace --device ----------------------------------------------------------------- */

/* Run udcs-trace with `args` (NULL-ended) and extra environment `extra_env` (or NULL);
 * returns its exit status, its stderr in `err`. */
static int run_trace(const char *const *args, const char *extra_env, struct udcs_buf *err)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)test_bin("udcs-trace");
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **env = calloc(n_env + 2, sizeof(char *));
    assert_non_null(env);
    memcpy(env, environ, n_env * sizeof(char *));
    env[n_env] = (char *)extra_env;
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.env = env;
    p.out.mode = UDCS_PROC_NULL;
    p.err.mode = UDCS_PROC_CAPTURE;
    p.err.buf = err;
    p.timeout_ms = 120000;
    assert_int_equal(udcs_proc_run(&p), 0);
    free(env);
    return p.exit_code;
}

static void udcs_trace_writes_the_same_file(void **state)
{
    use_api(state);
    const char *device = trace_device_name(cur->device);
    char *dir = test_tmpdir("trace-gpu");
    char cpu[512], dev[512];
    snprintf(cpu, sizeof(cpu), "%s/cpu.png", dir);
    snprintf(dev, sizeof(dev), "%s/%s.png", dir, device);
    struct udcs_buf err = UDCS_BUF_INIT(1 << 16);
    const char *a[] = { "scenes/cornell.scn", "--frame", "1", "--size", "40x30", "--samples",
                        "4", "--region", "3,5,30,20", "-o", cpu, NULL };
    int status = run_trace(a, NULL, &err);
    if (status != 0)
        fail_msg("udcs-trace on the CPU: exit %d: %s", status, err.data);
    const char *b[] = { "scenes/cornell.scn", "--frame", "1", "--size", "40x30", "--samples",
                        "4", "--region", "3,5,30,20", "--device", device, "-o", dev, NULL };
    status = run_trace(b, NULL, &err);
    if (status != 0)
        fail_msg("udcs-trace --device %s: exit %d: %s", device, status, err.data);
    size_t len;
    void *bytes = test_read_file(cpu, &len);
    assert_true(test_file_is(dev, bytes, len));
    free(bytes);
    udcs_buf_release(&err);
    test_rmtree(dir);
}

/* A missing API is an error naming it and what to install, never the CPU instead: with no
 * OpenCL vendor to load (ocl-icd reads OCL_ICD_VENDORS), and CUDA where it is absent. */
static void udcs_trace_without_the_api_says_what_to_install(void **state)
{
    (void)state;
    struct udcs_buf err = UDCS_BUF_INIT(1 << 16);
    const char *cl[] = { "scenes/cornell.scn", "--frame", "1", "--size", "8x8", "--device",
                         "opencl", "-o", "/nonexistent/x.png", NULL };
    assert_int_equal(run_trace(cl, "OCL_ICD_VENDORS=/nonexistent", &err), 1);
    printf("# without OpenCL: %s", err.data);
    assert_non_null(strstr(err.data, "--device opencl"));
    assert_non_null(strstr(err.data, "OpenCL"));
    assert_non_null(strstr(err.data, "install"));
    char why[WHY];
    if (!kernel_api_available(KERNEL_API_CUDA, why, sizeof(why))) {
        const char *cu[] = { "scenes/cornell.scn", "--frame", "1", "--size", "8x8", "--device",
                             "cuda", "-o", "/nonexistent/x.png", NULL };
        udcs_buf_reset(&err);
        assert_int_equal(run_trace(cu, NULL, &err), 1);
        printf("# without CUDA: %s", err.data);
        assert_non_null(strstr(err.data, "--device cuda"));
        assert_non_null(strstr(err.data, "install"));
    }
    const char *bad[] = { "scenes/cornell.scn", "--frame", "1", "--device", "gpu", "-o",
                          "x.png", NULL };
    udcs_buf_reset(&err);
    assert_int_equal(run_trace(bad, NULL, &err), 2);
    assert_non_null(strstr(err.data, "cpu, opencl or cuda"));
    udcs_buf_release(&err);
}

static void device_names(void **state)
{
    (void)state;
    enum trace_device d;
    assert_int_equal(trace_device_parse("cpu", &d), 0);
    assert_int_equal(d, TRACE_DEVICE_CPU);
    assert_int_equal(trace_device_parse("opencl", &d), 0);
    assert_int_equal(d, TRACE_DEVICE_OPENCL);
    assert_int_equal(trace_device_parse("cuda", &d), 0);
    assert_string_equal(trace_device_name(d), "cuda");
    assert_int_equal(trace_device_parse("gpu", &d), -1);
    assert_int_equal(trace_device_parse("", &d), -1);
    struct trace_gpu *g = (struct trace_gpu *)1;
    char why[WHY];
    assert_int_equal(trace_gpu_open(TRACE_DEVICE_CPU, &g, why, sizeof(why)), -EINVAL);
    assert_null(g);
}

/* ---- RENDER jobs with a device (render_split.c) -------------------------------------------- */

/* The units of a job rendering frames of a.scn, with `fields` (JSON members) added; NULL
 * with why when render_split() refuses it. */
static json_t *units_with(const char *fields, char *why, size_t why_len)
{
    char text[1024];
    snprintf(text, sizeof(text), "{\"scene\":\"a.scn\",\"inputs\":{\"a.scn\":\"x\"},%s}",
             fields);
    json_error_t e;
    json_t *job = json_loads(text, 0, &e);
    if (!job)
        fail_msg("%s: %s", text, e.text);
    json_t *units = render_split(job, why, why_len);
    json_decref(job);
    return units;
}

/* Whether `unit`'s command line holds `a` directly followed by `b`. */
static int has_args(json_t *unit, const char *a, const char *b)
{
    json_t *argv = json_object_get(unit, "argv");
    for (size_t i = 0; i + 1 < json_array_size(argv); i++)
        if (strcmp(json_string_value(json_array_get(argv, i)), a) == 0 &&
            strcmp(json_string_value(json_array_get(argv, i + 1)), b) == 0)
            return 1;
    return 0;
}

static json_t *toolchains_of(json_t *unit)
{
    return json_object_get(json_object_get(unit, "requirements"), "toolchains");
}

static void render_units_on_a_device_ask_for_its_api(void **state)
{
    (void)state;
    char why[512];
    json_t *u = units_with("\"frames\":\"1-2\",\"size\":\"64x48\",\"device\":\"opencl\","
                           "\"device_fingerprint\":\"c1\",\"renderer_fingerprint\":\"abc\"",
                           why, sizeof(why));
    if (!u)
        fail_msg("%s", why);
    json_t *f1 = json_array_get(u, 0);
    assert_true(has_args(f1, "--device", "opencl"));
    json_t *tc = toolchains_of(f1);
    assert_int_equal(json_array_size(tc), 2);
    assert_string_equal(json_string_value(json_array_get(tc, 0)), "udcs-trace@abc");
    assert_string_equal(json_string_value(json_array_get(tc, 1)), "opencl@c1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f1, "env"),
                                                          "UDCS_DEVICE")), "opencl@c1");
    json_decref(u);

    /* tiles on CUDA; the merge unit is udcs-image's alone */
    u = units_with("\"frames\":\"1\",\"size\":\"64x48\",\"tiles\":\"2x1\",\"device\":\"cuda\"",
                   why, sizeof(why));
    if (!u)
        fail_msg("%s", why);
    assert_int_equal(json_array_size(u), 3);
    assert_true(has_args(json_array_get(u, 1), "--device", "cuda"));
    assert_string_equal(json_string_value(json_array_get(toolchains_of(json_array_get(u, 1)),
                                                         1)), "cuda");
    assert_int_equal(json_array_size(toolchains_of(json_array_get(u, 2))), 1);
    assert_false(has_args(json_array_get(u, 2), "--device", "cuda"));
    json_decref(u);

    /* the CPU, said or not: no --device, one requirement */
    u = units_with("\"frames\":\"1\",\"device\":\"cpu\"", why, sizeof(why));
    if (!u)
        fail_msg("%s", why);
    assert_false(has_args(json_array_get(u, 0), "--device", "cpu"));
    assert_int_equal(json_array_size(toolchains_of(json_array_get(u, 0))), 1);
    assert_null(json_object_get(json_object_get(json_array_get(u, 0), "env"), "UDCS_DEVICE"));
    json_decref(u);
}

static void render_jobs_refuse_devices_they_cannot_use(void **state)
{
    (void)state;
    static const struct { const char *fields, *says; } cases[] = {
        { "\"frames\":\"1\",\"device\":\"gpu\"", "device 'gpu' was not resolved" },
        { "\"frames\":\"1\",\"device\":\"tpu\"",
          "device 'tpu' is not one of cpu, gpu, opencl, cuda" },
        { "\"frames\":\"1\",\"renderer\":\"povray\",\"device\":\"opencl\"",
          "device 'opencl' needs the builtin renderer" },
        { "\"frames\":\"1\",\"renderer\":\"blender\",\"device\":\"cuda\"",
          "device 'cuda' needs the builtin renderer" },
        { "\"frames\":\"1\",\"device_fingerprint\":\"ab\"",
          "'device_fingerprint' goes with device" },
        { "\"frames\":\"1\",\"device\":\"cuda\",\"device_fingerprint\":\"NV\"",
          "field 'device_fingerprint' must be" },
        { "\"frames\":\"1\",\"device\":7", "device" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[512] = "";
        json_t *u = units_with(cases[i].fields, why, sizeof(why));
        if (u || !strstr(why, cases[i].says))
            fail_msg("case %zu: wanted '%s', got %s '%s'", i, cases[i].says,
                     u ? "units" : "error", why);
    }
    assert_true(render_device_known("gpu") && render_device_known("cpu") &&
                !render_device_known("GPU"));
}

/* The comparisons every API runs: main() makes each a test per entry of apis[], named
 * after the API ("opencl_renders_...", "cuda_renders_...") with the entry as its state. */
static const struct {
    const char *name;
    CMUnitTestFunction fn;
} per_api_tests[] = {
#define PER_API(f) { #f, f }
    PER_API(renders_the_cornell_box_as_the_cpu_does),
    PER_API(renders_orbit_meshes_glass_and_metal_as_the_cpu_does),
    PER_API(region_holds_the_pixels_of_the_whole_frame),
    PER_API(gives_the_golden_pixels),
    PER_API(renders_a_scene_with_empty_arrays),
    PER_API(refuses_a_region_outside_the_frame),
    PER_API(udcs_trace_writes_the_same_file),
#undef PER_API
};
#define N_PER_API (sizeof(per_api_tests) / sizeof(per_api_tests[0]))

int main(void)
{
    static const struct CMUnitTest once[] = {
        cmocka_unit_test(udcs_trace_without_the_api_says_what_to_install),
        cmocka_unit_test(device_names),
        cmocka_unit_test(render_units_on_a_device_ask_for_its_api),
        cmocka_unit_test(render_jobs_refuse_devices_they_cannot_use),
    };
    static char names[N_APIS * N_PER_API][96];
    struct CMUnitTest tests[N_APIS * N_PER_API + sizeof(once) / sizeof(once[0])];
    for (size_t i = 0; i < N_APIS * N_PER_API; i++) {
        struct api_case *a = &apis[i / N_PER_API];
        snprintf(names[i], sizeof(names[i]), "%s_%s", trace_device_name(a->device),
                 per_api_tests[i % N_PER_API].name);
        tests[i] = (struct CMUnitTest){ .name = names[i],
                                        .test_func = per_api_tests[i % N_PER_API].fn,
                                        .initial_state = a };
    }
    memcpy(tests + N_APIS * N_PER_API, once, sizeof(once));
    return cmocka_run_group_tests(tests, open_gpus, close_gpus);
}
