/* tests/unit/test_trace_scene.c - udcs-trace's scenes and rendering (toolchains/trace.h):
 * every construct of the .scn format and of OBJ files, errors with their exact
 * FILE:LINE:COL, includes and meshes found relative to the file naming them, the inputs
 * list, animation curves, what the kernel makes of simple scenes, and the property the farm
 * relies on: a region, rendered with any number of threads, holds bit for bit the pixels of
 * the whole frame. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "toolchains/trace.h"
#include "common/err.h"
#include "helpers/testutil.h"
#include "helpers/trace_golden.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WHY 1024

/* A camera every scene below can include. */
#define CAMERA "camera { position <0, 1, 5> look_at <0, 1, 0> }\n"

static struct trace_scene *parse_ok(const char *text)
{
    char why[WHY];
    struct trace_scene *s = NULL;
    int rc = trace_scene_parse("t.scn", text, strlen(text), NULL, &s, why, sizeof(why));
    if (rc != 0)
        fprintf(stderr, "# unexpected error: %s\n", why);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

/* Parse `text` expecting failure `rc`; returns the message (static). */
static const char *parse_fails(const char *text, int rc)
{
    static char why[WHY];
    struct trace_scene *s = (struct trace_scene *)1;
    int got = trace_scene_parse("t.scn", text, strlen(text), NULL, &s, why, sizeof(why));
    if (got != rc)
        fprintf(stderr, "# wanted %d, got %d (%s) for:\n%s\n", rc, got, why, text);
    assert_int_equal(got, rc);
    assert_null(s);
    return why;
}

static struct trace_view *view_of(const struct trace_scene *s, int frame, int w, int h,
                                  int samples)
{
    char why[WHY];
    struct trace_view *v = NULL;
    int rc = trace_view_build(s, frame, w, h, samples, &v, why, sizeof(why));
    if (rc != 0)
        fprintf(stderr, "# view: %s\n", why);
    assert_int_equal(rc, 0);
    return v;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);          /* one level of subdirectory is all the tests use */
    *slash = '/';
    test_write_file(path, text, strlen(text));
    free(path);
}

/* ---- the format ----------------------------------------------------------------------- */

static void parse_reads_every_construct(void **state)
{
    (void)state;
    struct trace_scene *s = parse_ok(
        "# a comment\n"
        "settings {\n"
        "    size 320 200   samples 9   max_bounces 3   frames -2 40   clamp 5\n"
        "    background <0.1, 0.2, 0.3> <0.4, 0.5, 0.6>\n"
        "}\n"
        "material m1 diffuse { color <0.5, 0.5, 0.5> }\n"
        "material m2 metal { color <1, 1, 1> roughness 0.25 }\n"
        "material m3 glass { ior 1.33 color <0.9, 1, 0.9> }\n"
        "material m4 emissive { color <1, 0.5, 0.25> strength 4 }  # trailing comment\n"
        "camera { position <1, 2, 3> look_at <0, 0, 0> up <0, 1, 0> fov 50 aperture 0.1\n"
        "         focus_distance 3 orbit <0, 10, 0> pivot <0, 0, 0> }\n"
        "sphere { material m1 position <0, 1, 0> radius 0.5 orbit <0, 0, 0> pivot <1, 0, 0> }\n"
        "plane { material m2 position <0, -1, 0> normal <0, 1, 0> }\n"
        "quad { material m4 corner <0, 0, 0> edge1 <1, 0, 0> edge2 <0, 1, 0>\n"
        "       position <0, 0, -2> rotate <0, 0, 0> scale 2 }\n"
        "box { material m3 size <1, 2, 3> position { 1: <0, 0, 0> 10: <1, 0, 0> }\n"
        "      rotate smooth { 1: <0, 0, 0> 10: <0, 90, 0> } scale <1, 1, 1> }\n");
    struct trace_scene_info i;
    trace_scene_describe(s, &i);
    assert_int_equal(i.width, 320);
    assert_int_equal(i.height, 200);
    assert_int_equal(i.samples, 9);
    assert_int_equal(i.max_bounces, 3);
    assert_int_equal(i.frame_first, -2);
    assert_int_equal(i.frame_last, 40);
    assert_int_equal(i.n_materials, 4);
    assert_int_equal(i.n_objects, 4);
    assert_int_equal(i.n_spheres, 1);
    assert_int_equal(i.n_planes, 1);
    assert_int_equal(i.n_quads, 1);
    assert_int_equal(i.n_boxes, 1);
    assert_int_equal(i.n_meshes, 0);
    assert_int_equal(i.n_triangles, 2 + 12);
    assert_int_equal(i.n_emissive, 1);
    assert_int_equal(i.n_animated, 2);
    assert_int_equal(i.n_inputs, 0);

    struct trace_view *v = view_of(s, 1, 0, 0, 0);
    assert_int_equal(v->width, 320);
    assert_int_equal(v->samples, 9);
    assert_int_equal(v->max_bounces, 3);
    assert_true(v->clamp == 5.0f);
    assert_true(v->sky_horizon.y == 0.2f && v->sky_zenith.z == 0.6f);
    assert_int_equal(v->n_spheres, 1);
    assert_int_equal(v->n_planes, 1);
    assert_int_equal(v->n_triangles, 14);
    assert_int_equal(v->n_materials, 4);
    assert_int_equal(v->materials[1].kind, TRACE_MAT_METAL);
    assert_true(v->materials[1].roughness == 0.25f);
    assert_int_equal(v->materials[2].kind, TRACE_MAT_GLASS);
    assert_true(v->materials[2].ior == 1.33f);
    /* emission is colour times strength */
    assert_true(v->materials[3].emission.x == 4.0f && v->materials[3].emission.z == 1.0f);
    assert_true(v->spheres[0].radius == 0.5f && v->spheres[0].center.y == 1.0f);
    /* the quad's two triangles are lights, the only ones */
    assert_int_equal(v->n_lights, 2);
    assert_true(v->lights[1].cdf == 1.0f);
    trace_view_free(v);
    trace_scene_free(s);
}

static void defaults_apply_when_a_scene_sets_nothing(void **state)
{
    (void)state;
    struct trace_scene *s = parse_ok(CAMERA);
    struct trace_scene_info i;
    trace_scene_describe(s, &i);
    assert_int_equal(i.width, 640);
    assert_int_equal(i.height, 360);
    assert_int_equal(i.samples, 64);
    assert_int_equal(i.max_bounces, 8);
    assert_int_equal(i.frame_first, 1);
    assert_int_equal(i.frame_last, 1);
    /* sizes and samples given to the view replace the scene's */
    struct trace_view *v = view_of(s, 1, 8, 6, 2);
    assert_int_equal(v->width, 8);
    assert_int_equal(v->height, 6);
    assert_int_equal(v->samples, 2);
    assert_int_equal(v->n_nodes, 0);
    trace_view_free(v);
    trace_scene_free(s);
}

struct error_case {
    const char *text;
    int rc;
    const char *why;
};

static void errors_name_file_line_and_column(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        { CAMERA "sphere { radius }", -EINVAL,
          "t.scn:2:17: expected a number after 'radius', found '}'" },
        { CAMERA "spere { }", -EINVAL,
          "t.scn:2:1: expected include, settings, material, camera, sphere, plane, quad, box "
          "or mesh, found 'spere'" },
        { CAMERA "material m diffuse { color <1, 2> }", -EINVAL,
          "t.scn:2:33: expected ',' between the numbers of a vector, found '>'" },
        { CAMERA "material m diffuse { color <1, 1, 2> }", -EINVAL,
          "t.scn:2:28: colour components must lie between 0 and 1" },
        { CAMERA "material m metal { ior 1.5 }", -EINVAL,
          "t.scn:2:20: expected a property of a metal material (color, roughness) or '}', "
          "found 'ior'" },
        { CAMERA "material m wood { }", -EINVAL,
          "t.scn:2:12: expected a material kind (diffuse, metal, glass, emissive) after the "
          "material's name, found 'wood'" },
        { CAMERA "material m diffuse { }\nmaterial m glass { }", -EINVAL,
          "t.scn:3:10: material 'm' is already defined at t.scn:2" },
        { CAMERA "sphere { material nothing }", -EINVAL,
          "t.scn:2:19: unknown material 'nothing' (materials are defined before the objects "
          "that use them)" },
        { CAMERA "material m diffuse { }\nsphere { material m scale 2 }", -EINVAL,
          "t.scn:3:21: a sphere has no property 'scale'; it takes position, orbit, pivot, "
          "radius, material" },
        { CAMERA "material m diffuse { }\nsphere {\n material m\n radius 1\n radius 2 }", -EINVAL,
          "t.scn:6:2: 'radius' is given twice (first on line 5)" },
        { CAMERA "material m diffuse { }\nsphere { radius 1 }", -EINVAL,
          "t.scn:3:1: the sphere has no material" },
        { CAMERA "material m diffuse { }\nsphere { material m radius -1 }", -EINVAL,
          "t.scn:3:28: 'radius' must not be negative" },
        { CAMERA "material m diffuse { }\nsphere { material m position { 5: <0,0,0> 2: "
          "<1,1,1> } }", -EINVAL,
          "t.scn:3:43: keyframe 2 comes after keyframe 5: frames must increase" },
        { CAMERA "material m diffuse { }\nsphere { material m position { } }", -EINVAL,
          "t.scn:3:30: the keyframes of 'position' are empty" },
        { CAMERA "material m diffuse { }\nsphere { material m position { 1 <0,0,0> } }",
          -EINVAL, "t.scn:3:34: expected ':' after the frame number, found '<'" },
        { CAMERA "material m diffuse { }\nsphere { material m position bouncy { } }",
          -EINVAL, "t.scn:3:30: expected a vector <x, y, z> after 'position', found 'bouncy'" },
        { CAMERA "material m diffuse { }\nsphere { material m position 1 }", -EINVAL,
          "t.scn:3:30: expected a vector <x, y, z> after 'position', found '1'" },
        { "camera { fov 180 }", -EINVAL,
          "t.scn:1:14: 'fov' is the vertical field of view in degrees: above 0 and below 180" },
        { CAMERA "camera { }", -EINVAL, "t.scn:2:1: a second camera; the first is at t.scn:1" },
        { CAMERA "settings { }\nsettings { }", -EINVAL,
          "t.scn:3:1: a second settings block; the first is at t.scn:2" },
        { CAMERA "settings { size 0.5 10 }", -EINVAL,
          "t.scn:2:17: expected a whole number from 1 to 16384 after 'size', found '0.5'" },
        { CAMERA "settings { frames 10 2 }", -EINVAL,
          "t.scn:2:22: the last frame 2 comes before the first, 10" },
        { CAMERA "settings { speed 2 }", -EINVAL,
          "t.scn:2:12: expected a setting (size, samples, max_bounces, frames, clamp, "
          "background) or '}' in settings, found 'speed'" },
        { CAMERA "settings { samples 1e12 }", -EINVAL,
          "t.scn:2:20: number '1e12' is out of range (at most 1e+09 in magnitude)" },
        { CAMERA "settings { samples 12x }", -EINVAL, "t.scn:2:20: malformed number '12x'" },
        { CAMERA "include \"a.scn", -EINVAL, "t.scn:2:9: string not closed on its line" },
        { CAMERA "settings { samples 2; }", -EINVAL, "t.scn:2:21: unexpected character ';'" },
        { CAMERA "settings {", -EINVAL,
          "t.scn:2:11: expected a setting (size, samples, max_bounces, frames, clamp, "
          "background) or '}' in settings, found the end of the file" },
        { "", -EINVAL, "t.scn: the scene has no camera; add one such as camera { position "
                       "<0, 1, 5> look_at <0, 1, 0> }" },
        { CAMERA "include \"other.scn\"", -EINVAL,
          "t.scn:2:9: cannot read include 'other.scn': the scene was given as text without a "
          "directory, so it cannot include files or load meshes" },
        { CAMERA "material m diffuse { }\nmesh \"m.obj\" { material m }", -EINVAL,
          "t.scn:3:6: cannot read mesh 'm.obj': the scene was given as text without a "
          "directory, so it cannot include files or load meshes" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = parse_fails(cases[i].text, cases[i].rc);
        if (strcmp(why, cases[i].why) != 0)
            fprintf(stderr, "# case %zu:\n#  got    %s\n#  wanted %s\n", i, why, cases[i].why);
        assert_string_equal(why, cases[i].why);
    }
}

static void frames_that_cannot_be_rendered_are_refused_by_the_view(void **state)
{
    (void)state;
    char why[WHY];
    struct trace_view *v = (struct trace_view *)1;
    struct trace_scene *s = parse_ok(
        "camera { position { 1: <0, 0, 5> 9: <0, 0, -5> } look_at <0, 0, 0> }\n");
    assert_int_equal(trace_view_build(s, 5, 4, 4, 1, &v, why, sizeof(why)), -EINVAL);
    assert_null(v);
    assert_string_equal(why, "frame 5: the camera at t.scn:1:1 looks at its own position "
                             "(look_at equals position)");
    assert_int_equal(trace_view_build(s, 4, 0, 3, 1, &v, why, sizeof(why)), 0);
    trace_view_free(v);
    trace_scene_free(s);

    s = parse_ok("camera { position <0, 5, 0> look_at <0, 0, 0> }\n");
    assert_int_equal(trace_view_build(s, 1, 4, 4, 1, &v, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "frame 1: the camera at t.scn:1:1 has 'up' along its line of "
                             "sight; choose another 'up'");
    assert_int_equal(trace_view_build(s, 1, 4, 4, TRACE_MAX_SAMPLES + 1, &v, why,
                                      sizeof(why)), -EINVAL);
    trace_scene_free(s);
}

/* ---- animation ------------------------------------------------------------------------ */

/* The x of the sphere's centre at `frame`. */
static double sphere_x(const struct trace_scene *s, int frame)
{
    struct trace_view *v = view_of(s, frame, 4, 4, 1);
    assert_int_equal(v->n_spheres, 1);
    double x = v->spheres[0].center.x;
    trace_view_free(v);
    return x;
}

static struct trace_scene *moving_sphere(const char *track)
{
    char text[512];
    snprintf(text, sizeof(text), CAMERA "material m diffuse { }\n"
             "sphere { material m position %s }\n", track);
    return parse_ok(text);
}

static void keyframes_interpolate_linear_smooth_spline_and_step(void **state)
{
    (void)state;
    struct trace_scene *s = moving_sphere("{ 1: <0, 0, 0> 11: <10, 0, 0> 21: <0, 0, 0> }");
    assert_true(sphere_x(s, -5) == 0.0);        /* before the first key: the first */
    assert_true(sphere_x(s, 6) == 5.0);
    assert_true(sphere_x(s, 11) == 10.0);
    assert_true(sphere_x(s, 16) == 5.0);
    assert_true(sphere_x(s, 99) == 0.0);        /* after the last: the last */
    trace_scene_free(s);

    s = moving_sphere("smooth { 1: <0, 0, 0> 11: <10, 0, 0> }");
    assert_true(sphere_x(s, 6) == 5.0);         /* half way is half way */
    assert_float_equal(sphere_x(s, 3), 10 * 0.2 * 0.2 * (3 - 2 * 0.2), 1e-5);   /* eased */
    trace_scene_free(s);

    /* Catmull-Rom: slopes from the neighbours (one-sided at the ends), so 1 at the first
     * key and 0 at the middle one: the curve overshoots the straight line. */
    s = moving_sphere("spline { 1: <0, 0, 0> 11: <10, 0, 0> 21: <0, 0, 0> }");
    assert_float_equal(sphere_x(s, 6), 6.25, 1e-5);
    assert_true(sphere_x(s, 11) == 10.0);       /* through every key */
    trace_scene_free(s);

    s = moving_sphere("step { 1: <0, 0, 0> 11: <10, 0, 0> }");
    assert_true(sphere_x(s, 10) == 0.0);
    assert_true(sphere_x(s, 11) == 10.0);
    trace_scene_free(s);
}

static void orbit_turns_an_object_about_its_pivot(void **state)
{
    (void)state;
    struct trace_scene *s = parse_ok(
        CAMERA "material m diffuse { }\n"
        "sphere { material m position <3, 0, 0> pivot <1, 0, 0>\n"
        "         orbit { 0: <0, 0, 0> 90: <0, 90, 0> } }\n");
    struct trace_view *v = view_of(s, 90, 4, 4, 1);
    /* <3,0,0> is 2 from the pivot along x; a quarter turn about y takes x to -z */
    assert_float_equal(v->spheres[0].center.x, 1.0, 1e-6);
    assert_float_equal(v->spheres[0].center.z, -2.0, 1e-6);
    trace_view_free(v);
    trace_scene_free(s);
}

/* ---- files ---------------------------------------------------------------------------- */

static const char cube_obj[] =
    "# a cube as six quads, with normals on two faces\n"
    "o cube\n"
    "v -1 -1 -1\nv 1 -1 -1\nv 1 1 -1\nv -1 1 -1\n"
    "v -1 -1 1\nv 1 -1 1\nv 1 1 1\nv -1 1 1 1.0\n"
    "vt 0 0\nvt 1 0\nvt 1 1\n"
    "vn 0 0 -1\nvn 0 0 1\n"
    "usemtl whatever\ns off\n"
    "f 1//1 4//1 3//1 2//1\n"          /* v//vn */
    "f 5/1/2 6/2/2 7/3/2 8/3/2\n"      /* v/vt/vn */
    "f 1/1 2/2 6/3 5/1\n"              /* v/vt */
    "f -5 -1 -2 -6\n"                  /* relative: 4 8 7 3 */
    "f 1 5 8 4\n"                      /* v */
    "f 2 3 7 6\n";

static void include_and_mesh_paths_are_relative_to_the_file_naming_them(void **state)
{
    (void)state;
    char *dir = test_tmpdir("trace");
    write_text(dir, "scene.scn",
               "include \"parts/a.scn\"\n"
               "include \"parts/a.scn\"   # a second time: read once\n"
               CAMERA
               "mesh \"models/cube.obj\" { material m scale 0.5 }\n");
    write_text(dir, "parts/a.scn",
               "material m diffuse { }\n"
               "include \"b.scn\"\n"
               "mesh \"../models/cube.obj\" { material m }\n"
               "mesh \"./../models/../models/cube.obj\" { material m position <3, 0, 0> }\n");
    write_text(dir, "parts/b.scn", "material n metal { }\n");
    write_text(dir, "models/cube.obj", cube_obj);

    char *path = NULL, why[WHY];
    assert_true(asprintf(&path, "%s/scene.scn", dir) > 0);
    struct trace_scene *s = NULL;
    int rc = trace_scene_load(path, &s, why, sizeof(why));
    if (rc)
        fprintf(stderr, "# %s\n", why);
    assert_int_equal(rc, 0);
    const char *const *inputs;
    assert_int_equal(trace_scene_inputs(s, &inputs), 3);
    assert_string_equal(inputs[0], "parts/a.scn");
    assert_string_equal(inputs[1], "parts/b.scn");
    assert_string_equal(inputs[2], "models/cube.obj");
    struct trace_scene_info i;
    trace_scene_describe(s, &i);
    assert_int_equal(i.n_meshes, 3);
    assert_int_equal(i.n_materials, 2);
    assert_int_equal(i.n_triangles, 3 * 12);
    struct trace_view *v = view_of(s, 1, 4, 4, 1);
    assert_int_equal(v->n_triangles, 36);
    assert_int_equal(v->n_normals, 3 * 4);  /* the two faces with normals, two triangles each */
    trace_view_free(v);
    trace_scene_free(s);
    free(path);
    test_rmtree(dir);
}

static void missing_include_or_mesh_names_the_file_and_the_line_asking_for_it(void **state)
{
    (void)state;
    char *dir = test_tmpdir("trace");
    write_text(dir, "s.scn", CAMERA "material m diffuse { }\n\ninclude \"parts/no.scn\"\n");
    write_text(dir, "t.scn", CAMERA "material m diffuse { }\nmesh  \"none.obj\" { material m }\n");
    char *path = NULL, want[WHY], why[WHY];
    struct trace_scene *s = NULL;

    assert_true(asprintf(&path, "%s/s.scn", dir) > 0);
    assert_int_equal(trace_scene_load(path, &s, why, sizeof(why)), -ENOENT);
    snprintf(want, sizeof(want), "%s:4:9: cannot read include 'parts/no.scn' (%s/parts/no.scn): "
             "No such file or directory", path, dir);
    assert_string_equal(why, want);
    free(path);

    assert_true(asprintf(&path, "%s/t.scn", dir) > 0);
    assert_int_equal(trace_scene_load(path, &s, why, sizeof(why)), -ENOENT);
    snprintf(want, sizeof(want), "%s:3:7: cannot read mesh 'none.obj' (%s/none.obj): No such "
             "file or directory", path, dir);
    assert_string_equal(why, want);
    free(path);

    assert_true(asprintf(&path, "%s/absent.scn", dir) > 0);
    assert_int_equal(trace_scene_load(path, &s, why, sizeof(why)), -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot read the scene: No such file or directory", path);
    assert_string_equal(why, want);
    assert_null(s);
    free(path);
    test_rmtree(dir);
}

static void paths_leaving_the_scene_directory_are_refused(void **state)
{
    (void)state;
    char why[WHY];
    struct trace_scene *s = NULL;
    const char *text = CAMERA "include \"../up.scn\"\n";
    assert_int_equal(trace_scene_parse("t.scn", text, strlen(text), "/tmp", &s, why,
                                       sizeof(why)), -EINVAL);
    assert_string_equal(why, "t.scn:2:9: include '../up.scn': the path climbs out of the "
                             "scene's directory: a farm ships only what lies below it");
    text = CAMERA "material m diffuse { }\nmesh \"/etc/x.obj\" { material m }\n";
    assert_int_equal(trace_scene_parse("t.scn", text, strlen(text), "/tmp", &s, why,
                                       sizeof(why)), -EINVAL);
    assert_string_equal(why, "t.scn:3:6: mesh '/etc/x.obj': absolute paths are refused: a "
                             "farm could not ship the file; write it relative to the scene's "
                             "directory");
    /* climbing out from a subdirectory, even if it comes back in later */
    struct trace_memfile files[] = {
        { "a/b.scn", "include \"../../t/x.scn\"\n", 24 },
    };
    text = CAMERA "include \"a/b.scn\"\n";
    assert_int_equal(trace_scene_parse_files("t.scn", text, strlen(text), files, 1, &s, why,
                                             sizeof(why)), -EINVAL);
    assert_string_equal(why, "a/b.scn:1:9: include '../../t/x.scn': the path climbs out of "
                             "the scene's directory: a farm ships only what lies below it");
    assert_null(s);
}

static void include_cycles_and_deep_nesting_are_refused(void **state)
{
    (void)state;
    char why[WHY];
    struct trace_scene *s = NULL;
    struct trace_memfile cycle[] = {
        { "a.scn", "include \"b/c.scn\"\n", 17 },
        { "b/c.scn", "\n include \"../a.scn\"\n", 21 },
    };
    const char *text = CAMERA "include \"a.scn\"\n";
    assert_int_equal(trace_scene_parse_files("t.scn", text, strlen(text), cycle, 2, &s, why,
                                             sizeof(why)), -EINVAL);
    assert_string_equal(why, "b/c.scn:2:10: include '../a.scn': the file is already being "
                             "read (an include cycle)");
    /* the top scene itself */
    struct trace_memfile self[] = { { "a.scn", "include \"t.scn\"\n", 16 } };
    assert_int_equal(trace_scene_parse_files("t.scn", text, strlen(text), self, 1, &s, why,
                                             sizeof(why)), -EINVAL);
    assert_string_equal(why, "a.scn:1:9: include 't.scn': the file is already being read (an "
                             "include cycle)");

    /* f0 includes f1 ... includes f19: deeper than the limit */
    struct trace_memfile chain[20];
    char names[20][16], texts[20][32];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d.scn", i);
        snprintf(texts[i], sizeof(texts[i]), "include \"f%d.scn\"\n", i + 1);
        chain[i] = (struct trace_memfile){ names[i], texts[i], strlen(texts[i]) };
    }
    text = CAMERA "include \"f0.scn\"\n";
    assert_int_equal(trace_scene_parse_files("t.scn", text, strlen(text), chain, 20, &s, why,
                                             sizeof(why)), UDCS_ETOOBIG);
    assert_string_equal(why, "f14.scn:1:9: includes nested deeper than 16");
    assert_null(s);
}

static void obj_faces_in_every_form_become_triangles(void **state)
{
    (void)state;
    struct trace_memfile files[] = { { "cube.obj", cube_obj, sizeof(cube_obj) - 1 } };
    const char *text = CAMERA "material m diffuse { }\nmesh \"cube.obj\" { material m }\n";
    char why[WHY];
    struct trace_scene *s = NULL;
    assert_int_equal(trace_scene_parse_files("t.scn", text, strlen(text), files, 1, &s, why,
                                             sizeof(why)), 0);
    struct trace_view *v = view_of(s, 1, 4, 4, 1);
    assert_int_equal(v->n_triangles, 12);
    /* the relative face -5 -1 -2 -6 is 4 8 7 3: the top, y = 1 */
    int top = 0;
    for (int i = 0; i < v->n_triangles; i++) {
        const struct trace_triangle *t = &v->triangles[i];
        top += t->p0.y == 1.0f && t->e1.y == 0.0f && t->e2.y == 0.0f;
    }
    assert_int_equal(top, 2);
    trace_view_free(v);
    trace_scene_free(s);
}

static void obj_errors_name_file_line_and_column(void **state)
{
    (void)state;
    static const struct {
        const char *obj;
        const char *why;
    } cases[] = {
        { "v 0 0 0\nv 1 0 0\nf 1 2\n", "m.obj:3:6: a face needs at least 3 corners" },
        { "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n",
          "m.obj:4:7: index of a vertex or normal not defined before this face" },
        { "v 0 0 0\nf 0 1 1\n", "m.obj:2:3: vertex index 0 (OBJ indices start at 1)" },
        { "v 0 0 0\nf -2 -1 -1\n",
          "m.obj:2:3: relative index before the first one defined" },
        { "v 0 zero 0\n", "m.obj:1:5: expected a number" },
        { "v 0 0 0 1 2\n", "m.obj:1:11: more numbers than a vertex has" },
        { "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/x 2 3\n", "m.obj:4:5: expected a vertex index" },
        { "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3x\n",
          "m.obj:4:8: expected a face corner: v, v/vt, v//vn or v/vt/vn" },
        { "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1//1 2 3\n",
          "m.obj:4:6: index of a vertex or normal not defined before this face" },
        { "# nothing\nv 0 0 0\n", "m.obj: no faces ('f' lines) in the OBJ file" },
    };
    const char *text = CAMERA "material m diffuse { }\nmesh \"m.obj\" { material m }\n";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct trace_memfile files[] = { { "m.obj", cases[i].obj, strlen(cases[i].obj) } };
        char why[WHY];
        struct trace_scene *s = NULL;
        assert_int_equal(trace_scene_parse_files("t.scn", text, strlen(text), files, 1, &s,
                                                 why, sizeof(why)), -EINVAL);
        if (strcmp(why, cases[i].why) != 0)
            fprintf(stderr, "# case %zu: got %s\n", i, why);
        assert_string_equal(why, cases[i].why);
    }
}

/* ---- rendering ------------------------------------------------------------------------ */

/* One pixel, rendered as a 1x1 region. */
static void pixel_of(const struct trace_view *v, int x, int y, float out[4])
{
    assert_int_equal(trace_render_region(v, x, y, 1, 1, 1, out), 0);
}

static void a_light_seen_head_on_gives_its_emission_and_its_back_is_black(void **state)
{
    (void)state;
    /* A big lamp filling the view; its front (cross(edge1, edge2) = +z) faces the camera. */
    struct trace_scene *s = parse_ok(
        "camera { position <0, 0, 5> look_at <0, 0, 0> fov 10 }\n"
        "settings { background <0.25, 0.5, 1> }\n"
        "material lamp emissive { color <1, 0.5, 0.25> strength 2 }\n"
        "quad { material lamp corner <-10, -10, 0> edge1 <20, 0, 0> edge2 <0, 20, 0> }\n");
    struct trace_view *v = view_of(s, 1, 8, 8, 4);
    float px[4];
    pixel_of(v, 3, 4, px);
    assert_true(px[0] == 2.0f && px[1] == 1.0f && px[2] == 0.5f && px[3] == 1.0f);
    trace_view_free(v);
    trace_scene_free(s);

    s = parse_ok("camera { position <0, 0, 5> look_at <0, 0, 0> fov 10 }\n"
                 "material lamp emissive { color <1, 1, 1> strength 2 }\n"
                 "quad { material lamp corner <-10, -10, 0> edge1 <0, 20, 0> edge2 <20, 0, 0> }\n");
    v = view_of(s, 1, 8, 8, 4);
    pixel_of(v, 3, 4, px);
    assert_true(px[0] == 0.0f && px[1] == 0.0f && px[2] == 0.0f);
    trace_view_free(v);
    trace_scene_free(s);

    /* nothing in the way: the background, the same in every direction here */
    s = parse_ok("camera { position <0, 0, 5> look_at <0, 0, 0> }\n"
                 "settings { background <0.25, 0.5, 1> }\n");
    v = view_of(s, 1, 8, 8, 3);
    pixel_of(v, 0, 0, px);
    assert_true(px[0] == 0.25f && px[1] == 0.5f && px[2] == 1.0f);
    trace_view_free(v);
    trace_scene_free(s);
}

static void a_white_floor_under_a_white_sky_reflects_it(void **state)
{
    (void)state;
    /* A diffuse floor of albedo 0.5 under a uniform sky of 1 receives 1 from every
     * direction, so it reflects 0.5: a check of sampling and weights, within noise. */
    struct trace_scene *s = parse_ok(
        "camera { position <0, 1, 0> look_at <0, 0, 0> up <0, 0, -1> fov 20 }\n"
        "settings { background <1, 1, 1> max_bounces 1 }\n"
        "material grey diffuse { color <0.5, 0.5, 0.5> }\n"
        "plane { material grey }\n");
    struct trace_view *v = view_of(s, 1, 4, 4, 4096);
    float px[4];
    pixel_of(v, 2, 2, px);
    assert_float_equal(px[0], 0.5, 0.02);
    trace_view_free(v);
    trace_scene_free(s);
}

static const char box_scene[] =
    "settings { size 24 18 samples 3 max_bounces 4 background <0.1, 0.1, 0.2> }\n"
    "camera { position <0, 1, 3.9> look_at <0, 1, 0> fov 39 aperture 0.05 }\n"
    "material white diffuse { color <0.73, 0.71, 0.68> }\n"
    "material red diffuse { color <0.63, 0.06, 0.05> }\n"
    "material lamp emissive { color <1, 0.8, 0.5> strength 12 }\n"
    "material steel metal { roughness 0.2 }\n"
    "material glass glass { }\n"
    "quad { material white corner <-1, 0, -1> edge1 <2, 0, 0> edge2 <0, 0, 2> }\n"
    "quad { material red corner <-1, 0, -1> edge1 <0, 0, 2> edge2 <0, 2, 0> }\n"
    "quad { material lamp corner <-0.3, 1.98, -0.3> edge1 <0.6, 0, 0> edge2 <0, 0, 0.6> }\n"
    "box { material white size <0.5, 1, 0.5> position <-0.3, 0.5, -0.3> rotate <0, 20, 0> }\n"
    "sphere { material steel position <0.4, 0.3, 0.3> radius 0.3 }\n"
    "sphere { material glass position <-0.4, 0.3, 0.5> radius 0.25 }\n"
    "sphere { material lamp position <0.6, 1.5, -0.5> radius 0.1 }\n"
    "plane { material white position <0, 0, -1> normal <0, 0, 1> }\n"
    "mesh \"ico.obj\" { material white scale 0.2 position <0.5, 1, 0> }\n";

static const char tetra_obj[] =
    "v 0 1 0\nv 1 -1 1\nv -1 -1 1\nv 0 -1 -1\n"
    "vn 0 1 0\nvn 1 0 1\nvn -1 0 1\nvn 0 0 -1\n"
    "f 1//1 2//2 3//3\nf 1//1 3//3 4//4\nf 1//1 4//4 2//2\nf 2 4 3\n";

static void regions_and_threads_give_the_pixels_of_the_whole_frame(void **state)
{
    (void)state;
    struct trace_memfile files[] = { { "ico.obj", tetra_obj, sizeof(tetra_obj) - 1 } };
    char why[WHY];
    struct trace_scene *s = NULL;
    assert_int_equal(trace_scene_parse_files("t.scn", box_scene, sizeof(box_scene) - 1, files,
                                             1, &s, why, sizeof(why)), 0);
    struct trace_view *v = view_of(s, 7, 0, 0, 0);
    const int w = v->width, h = v->height;
    float *whole = calloc((size_t)w * h * 4, sizeof(float));
    float *again = calloc((size_t)w * h * 4, sizeof(float));
    assert_non_null(whole);
    assert_non_null(again);
    assert_int_equal(trace_render_region(v, 0, 0, w, h, 1, whole), 0);

    /* not a blank frame: some pixels differ, all are finite with alpha 1 */
    int differ = 0;
    for (int i = 0; i < w * h; i++) {
        assert_true(isfinite(whole[4 * i]) && whole[4 * i + 3] == 1.0f);
        differ += whole[4 * i] != whole[0];
    }
    assert_true(differ > w * h / 2);

    assert_int_equal(trace_render_region(v, 0, 0, w, h, 5, again), 0);
    assert_memory_equal(whole, again, (size_t)w * h * 4 * sizeof(float));

    static const int rects[][4] = { { 5, 3, 7, 9 }, { 0, 0, 1, 1 }, { 23, 17, 1, 1 },
                                    { 0, 9, 24, 9 }, { 11, 0, 13, 18 } };
    for (size_t r = 0; r < sizeof(rects) / sizeof(rects[0]); r++) {
        const int *rc = rects[r];
        for (int threads = 1; threads <= 3; threads += 2) {
            float *part = calloc((size_t)rc[2] * rc[3] * 4, sizeof(float));
            assert_non_null(part);
            assert_int_equal(trace_render_region(v, rc[0], rc[1], rc[2], rc[3], threads, part), 0);
            for (int y = 0; y < rc[3]; y++)
                assert_memory_equal(part + (size_t)y * rc[2] * 4,
                                    whole + ((size_t)(rc[1] + y) * w + rc[0]) * 4,
                                    (size_t)rc[2] * 4 * sizeof(float));
            free(part);
        }
    }

    /* the same frame evaluated again (a new view, as another agent would) */
    struct trace_view *v2 = view_of(s, 7, 0, 0, 0);
    assert_int_equal(trace_render_region(v2, 0, 0, w, h, 2, again), 0);
    assert_memory_equal(whole, again, (size_t)w * h * 4 * sizeof(float));
    trace_view_free(v2);

    /* another frame draws other random numbers */
    v2 = view_of(s, 8, 0, 0, 0);
    assert_int_equal(trace_render_region(v2, 0, 0, w, h, 2, again), 0);
    assert_true(memcmp(whole, again, (size_t)w * h * 4 * sizeof(float)) != 0);
    trace_view_free(v2);

    /* sRGB encoding is per pixel too */
    float *enc_whole = malloc((size_t)w * h * 4 * sizeof(float)), part[4 * 4];
    assert_non_null(enc_whole);
    memcpy(enc_whole, whole, (size_t)w * h * 4 * sizeof(float));
    trace_encode_srgb(enc_whole, (size_t)w * h);
    assert_int_equal(trace_render_region(v, 10, 10, 4, 1, 1, part), 0);
    trace_encode_srgb(part, 4);
    assert_memory_equal(part, enc_whole + (10 * w + 10) * 4, sizeof(part));
    free(enc_whole);

    free(whole);
    free(again);
    trace_view_free(v);
    trace_scene_free(s);
}

static void a_fixed_scene_renders_to_the_same_floats_in_every_build(void **state)
{
    (void)state;
    struct trace_scene *s = parse_ok(trace_golden_scene);
    struct trace_view *v = view_of(s, TRACE_GOLDEN_FRAME, 0, 0, 0);
    int wrong = 0;
    for (size_t i = 0; i < sizeof(trace_golden_pixels) / sizeof(trace_golden_pixels[0]); i++) {
        float px[4];
        pixel_of(v, trace_golden_pixels[i].x, trace_golden_pixels[i].y, px);
        if (memcmp(px, trace_golden_pixels[i].rgb, sizeof(trace_golden_pixels[i].rgb)) != 0) {
            fprintf(stderr, "# { %d, %d, { %af, %af, %af } },\n", trace_golden_pixels[i].x,
                    trace_golden_pixels[i].y, px[0], px[1], px[2]);
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
    trace_view_free(v);
    trace_scene_free(s);
}

static void render_region_refuses_rectangles_outside_the_frame(void **state)
{
    (void)state;
    struct trace_scene *s = parse_ok(CAMERA);
    struct trace_view *v = view_of(s, 1, 8, 6, 1);
    float px[4 * 64];
    assert_int_equal(trace_render_region(v, 0, 0, 9, 1, 1, px), -EINVAL);
    assert_int_equal(trace_render_region(v, 7, 5, 2, 1, 1, px), -EINVAL);
    assert_int_equal(trace_render_region(v, -1, 0, 1, 1, 1, px), -EINVAL);
    assert_int_equal(trace_render_region(v, 0, 0, 0, 1, 1, px), -EINVAL);
    assert_int_equal(trace_render_region(v, 7, 5, 1, 1, 1, px), 0);
    trace_view_free(v);
    trace_scene_free(s);
}

static void srgb_encoding_clamps_and_follows_the_standard_curve(void **state)
{
    (void)state;
    float px[12] = { 0.0f, 1.0f, 0.5f, 0.7f, -1.0f, 2.0f, NAN, 0.25f, 0.001f, 0, 0, 1 };
    trace_encode_srgb(px, 3);
    assert_true(px[0] == 0.0f && px[1] == 1.0f);
    assert_float_equal(px[2], 0.735357, 1e-5);
    assert_true(px[3] == 0.7f && px[7] == 0.25f);   /* alpha untouched */
    assert_true(px[4] == 0.0f && px[5] == 1.0f && px[6] == 0.0f);
    assert_float_equal(px[8], 0.01292, 1e-6);   /* the linear toe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_reads_every_construct),
        cmocka_unit_test(defaults_apply_when_a_scene_sets_nothing),
        cmocka_unit_test(errors_name_file_line_and_column),
        cmocka_unit_test(frames_that_cannot_be_rendered_are_refused_by_the_view),
        cmocka_unit_test(keyframes_interpolate_linear_smooth_spline_and_step),
        cmocka_unit_test(orbit_turns_an_object_about_its_pivot),
        cmocka_unit_test(include_and_mesh_paths_are_relative_to_the_file_naming_them),
        cmocka_unit_test(missing_include_or_mesh_names_the_file_and_the_line_asking_for_it),
        cmocka_unit_test(paths_leaving_the_scene_directory_are_refused),
        cmocka_unit_test(include_cycles_and_deep_nesting_are_refused),
        cmocka_unit_test(obj_faces_in_every_form_become_triangles),
        cmocka_unit_test(obj_errors_name_file_line_and_column),
        cmocka_unit_test(a_light_seen_head_on_gives_its_emission_and_its_back_is_black),
        cmocka_unit_test(a_white_floor_under_a_white_sky_reflects_it),
        cmocka_unit_test(regions_and_threads_give_the_pixels_of_the_whole_frame),
        cmocka_unit_test(a_fixed_scene_renders_to_the_same_floats_in_every_build),
        cmocka_unit_test(render_region_refuses_rectangles_outside_the_frame),
        cmocka_unit_test(srgb_encoding_clamps_and_follows_the_standard_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
