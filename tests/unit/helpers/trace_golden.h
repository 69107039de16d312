/* tests/unit/helpers/trace_golden.h - a small scene and the exact floats udcs-trace gives
 * for six of its pixels, shared by tests/unit/test_trace_scene.c (built by gcc, with and
 * without sanitizers) and tests/fuzz/fuzz_trace_scene.c (built by clang). Agents of a farm
 * may run builds from different compilers; every one must draw the same random numbers in
 * the same order and round the same way, or tiles would not match. These values were
 * computed by the gcc -O2 build; gcc -O1 with sanitizers and clang -O2 agree.
 *
 * A deliberate change of the renderer's arithmetic changes them: print the new values
 * (the failing check shows them) and replace them here, in the same commit. */
#ifndef UDCS_TESTS_TRACE_GOLDEN_H
#define UDCS_TESTS_TRACE_GOLDEN_H

/* Every kind of material and primitive but meshes, a lens, an orbit and clamping. */
static const char trace_golden_scene[] =
    "settings { size 16 12 samples 8 max_bounces 6 clamp 20\n"
    "           background <0.3, 0.2, 0.1> <0.1, 0.2, 0.5> }\n"
    "camera { position <0, 1, 4> look_at <0, 0.8, 0> fov 45 aperture 0.1 orbit <0, 10, 0> }\n"
    "material white diffuse { color <0.7, 0.7, 0.7> }\n"
    "material steel metal { color <0.9, 0.8, 0.7> roughness 0.3 }\n"
    "material glass glass { ior 1.45 }\n"
    "material lamp emissive { color <1, 0.9, 0.8> strength 8 }\n"
    "plane { material white }\n"
    "box { material white size <0.6, 1, 0.6> position <-0.8, 0.5, -0.5> rotate <0, 30, 0> }\n"
    "sphere { material steel position <0.7, 0.4, 0> radius 0.4 }\n"
    "sphere { material glass position <0, 0.35, 0.8> radius 0.35 }\n"
    "sphere { material lamp position <0, 2.5, 0> radius 0.3 }\n"
    "quad { material lamp corner <-2, 0.01, -2> edge1 <0, 0, 0.3> edge2 <0.3, 0, 0> }\n";

#define TRACE_GOLDEN_FRAME 3

/* glass, metal, the box, the lamp, the floor, the sky */
static const struct {
    int x, y;
    float rgb[3];
} trace_golden_pixels[] = {
    { 7, 8, { 0x1.277dfep-3f, 0x1.35c7e2p-3f, 0x1.d8556cp-3f } },
    { 10, 7, { 0x1.61cc04p-3f, 0x1.49b532p-3f, 0x1.c80e7cp-3f } },
    { 5, 5, { 0x1.bb2856p-3f, 0x1.642e8p-3f, 0x1.2f70eep-3f } },
    { 7, 0, { 0x1.07ccfp+2f, 0x1.d99998p+1f, 0x1.a732aap+1f } },
    { 3, 10, { 0x1.08fbb4p-3f, 0x1.53e1dp-3f, 0x1.3f7932p-2f } },
    { 13, 4, { 0x1.28afbcp-2f, 0x1.99999cp-3f, 0x1.edb562p-4f } },
};

#endif
