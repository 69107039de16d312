/* toolchains/trace_parse.c - the grammar of .scn files (docs/SCENES.md): statements,
 * settings, materials, the camera and objects with their possibly animated properties,
 * includes and meshes. Tokens come from trace_lex.c, OBJ files are read by trace_obj.c;
 * nothing here evaluates a frame. Every error names FILE:LINE:COL of the token at fault. */
#include "toolchains/trace_internal.h"
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults of the settings block. */
#define TRACE_DEFAULT_WIDTH 640
#define TRACE_DEFAULT_HEIGHT 360
#define TRACE_DEFAULT_SAMPLES 64
#define TRACE_DEFAULT_BOUNCES 8
/* Longest message built here before the location is put in front. */
#define TRACE_MSG_CHARS 512
/* Triangles one quad and one box become. */
#define TRACE_QUAD_TRIANGLES 2
#define TRACE_BOX_TRIANGLES 12

enum value_type {
    V_NUM = 1,
    V_VEC = 2,
    V_ANY = 3,                  /* a number n means <n, n, n> */
};

struct prop_info {
    const char *name;
    enum value_type type;
};

static const struct prop_info prop_table[TRACE_P_COUNT] = {
    [TRACE_P_POSITION] = { "position", V_VEC },
    [TRACE_P_ROTATE] = { "rotate", V_VEC },
    [TRACE_P_SCALE] = { "scale", V_ANY },
    [TRACE_P_ORBIT] = { "orbit", V_VEC },
    [TRACE_P_PIVOT] = { "pivot", V_VEC },
    [TRACE_P_RADIUS] = { "radius", V_NUM },
    [TRACE_P_NORMAL] = { "normal", V_VEC },
    [TRACE_P_CORNER] = { "corner", V_VEC },
    [TRACE_P_EDGE1] = { "edge1", V_VEC },
    [TRACE_P_EDGE2] = { "edge2", V_VEC },
    [TRACE_P_SIZE] = { "size", V_VEC },
    [TRACE_P_LOOK_AT] = { "look_at", V_VEC },
    [TRACE_P_UP] = { "up", V_VEC },
    [TRACE_P_FOV] = { "fov", V_NUM },
    [TRACE_P_APERTURE] = { "aperture", V_NUM },
    [TRACE_P_FOCUS_DISTANCE] = { "focus_distance", V_NUM },
};

#define BIT(p) (1u << (p))
#define PLACED (BIT(TRACE_P_POSITION) | BIT(TRACE_P_ORBIT) | BIT(TRACE_P_PIVOT))
#define SHAPED (PLACED | BIT(TRACE_P_ROTATE) | BIT(TRACE_P_SCALE))

/* The properties each kind of object takes. */
static const unsigned kind_props[TRACE_OBJ_KIND_COUNT] = {
    [TRACE_OBJ_CAMERA] = PLACED | BIT(TRACE_P_LOOK_AT) | BIT(TRACE_P_UP) | BIT(TRACE_P_FOV) |
                         BIT(TRACE_P_APERTURE) | BIT(TRACE_P_FOCUS_DISTANCE),
    [TRACE_OBJ_SPHERE] = PLACED | BIT(TRACE_P_RADIUS),
    [TRACE_OBJ_PLANE] = PLACED | BIT(TRACE_P_NORMAL),
    [TRACE_OBJ_QUAD] = SHAPED | BIT(TRACE_P_CORNER) | BIT(TRACE_P_EDGE1) | BIT(TRACE_P_EDGE2),
    [TRACE_OBJ_BOX] = SHAPED | BIT(TRACE_P_SIZE),
    [TRACE_OBJ_MESH] = SHAPED,
};

static const char *const interp_names[] = {
    [TRACE_INTERP_LINEAR] = "linear",
    [TRACE_INTERP_SMOOTH] = "smooth",
    [TRACE_INTERP_SPLINE] = "spline",
    [TRACE_INTERP_STEP] = "step",
};

static const char *const material_kinds[] = {
    [TRACE_MAT_DIFFUSE] = "diffuse",
    [TRACE_MAT_METAL] = "metal",
    [TRACE_MAT_GLASS] = "glass",
    [TRACE_MAT_EMISSIVE] = "emissive",
};

struct parser {
    struct trace_scene *s;
    const struct trace_source *src;
    struct trace_err *e;
    struct trace_lexer *lx;     /* of the file being read */
    int file;                   /* its index in s->files */
    int depth;                  /* includes open around it */
    const char *open[TRACE_MAX_INCLUDE_DEPTH + 1];  /* relative paths, outermost first */
    unsigned char *input_is_include;                /* beside s->inputs */
    int cap_objects, cap_materials, cap_meshes, cap_inputs, cap_kinds, cap_files;
    int settings_file, settings_line;               /* settings_line 0: none yet */
};

/* ---- messages ------------------------------------------------------------------------- */

static int fail(struct parser *p, int rc, const struct trace_tok *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct parser *p, int rc, const struct trace_tok *at, const char *fmt, ...)
{
    char msg[TRACE_MSG_CHARS];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return trace_err_set(p->e, rc, p->lx->file, at->line, at->col, "%s", msg);
}

/* "expected WHAT CONTEXT, found X" at the current token. */
static int expected(struct parser *p, const char *what, const char *context)
{
    char found[64];
    trace_tok_describe(&p->lx->tok, found, sizeof(found));
    return fail(p, -EINVAL, &p->lx->tok, "expected %s%s%s, found %s", what,
                *context ? " " : "", context, found);
}

static int no_memory(struct parser *p)
{
    return trace_err_set(p->e, -ENOMEM, p->lx ? p->lx->file : NULL, 0, 0, "out of memory");
}

static int next(struct parser *p)
{
    return trace_lex_next(p->lx);
}

/* The current token as text in `out` (for "after 'radius'" contexts). */
static void word_of(const struct trace_tok *t, char *out, size_t len)
{
    snprintf(out, len, "%.*s", (int)(t->len < len ? t->len : len - 1), t->text);
}

/* ---- values --------------------------------------------------------------------------- */

static int parse_number(struct parser *p, double *out, const char *context)
{
    if (p->lx->tok.kind != TRACE_TOK_NUMBER)
        return expected(p, "a number", context);
    *out = p->lx->tok.num;
    return next(p);
}

/* A whole number in [lo, hi]. */
static int parse_int(struct parser *p, int *out, int lo, int hi, const char *context)
{
    struct trace_tok at = p->lx->tok;
    double v = 0;
    int rc = parse_number(p, &v, context);
    if (rc < 0)
        return rc;
    if (v != (double)(long)v || v < lo || v > hi)
        return fail(p, -EINVAL, &at, "expected a whole number from %d to %d %s, found '%.*s'",
                    lo, hi, context, (int)at.len, at.text);
    *out = (int)v;
    return 0;
}

/* The number after `word`, the current token, in [lo, hi]. */
static int parse_word_number(struct parser *p, const char *word, double lo, double hi,
                             double *out)
{
    char context[48];
    snprintf(context, sizeof(context), "after '%s'", word);
    int rc = next(p);
    struct trace_tok at = p->lx->tok;
    if (rc < 0 || (rc = parse_number(p, out, context)) < 0)
        return rc;
    if (*out >= lo && *out <= hi)
        return 0;
    if (lo == 0 && hi >= TRACE_MAX_NUMBER)
        return fail(p, -EINVAL, &at, "'%s' must not be negative", word);
    return fail(p, -EINVAL, &at, "'%s' must lie between %g and %g", word, lo, hi);
}

static int expect_punct(struct parser *p, char c, const char *context)
{
    if (!trace_tok_is(&p->lx->tok, c)) {
        char what[8];
        snprintf(what, sizeof(what), "'%c'", c);
        return expected(p, what, context);
    }
    return next(p);
}

/* <x, y, z> */
static int parse_vector(struct parser *p, struct tvec *out, const char *context)
{
    if (!trace_tok_is(&p->lx->tok, '<'))
        return expected(p, "a vector <x, y, z>", context);
    double v[3];
    int rc = next(p);
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = parse_number(p, &v[i], "in the vector <x, y, z>");
        if (rc == 0 && i < 2)
            rc = expect_punct(p, ',', "between the numbers of a vector");
    }
    if (rc == 0)
        rc = expect_punct(p, '>', "to close the vector");
    if (rc == 0) {
        out->x = v[0];
        out->y = v[1];
        out->z = v[2];
    }
    return rc;
}

static const char *value_what(enum value_type type)
{
    return type == V_NUM ? "a number" : type == V_VEC ? "a vector <x, y, z>"
                                                      : "a number or a vector <x, y, z>";
}

static int parse_value(struct parser *p, enum value_type type, struct tvec *out,
                       const char *context)
{
    const struct trace_tok *t = &p->lx->tok;
    if (t->kind == TRACE_TOK_NUMBER && (type & V_NUM)) {
        double n = t->num;
        out->x = n;
        out->y = type == V_ANY ? n : 0;
        out->z = type == V_ANY ? n : 0;
        return next(p);
    }
    if (trace_tok_is(t, '<') && (type & V_VEC))
        return parse_vector(p, out, context);
    return expected(p, value_what(type), context);
}

/* Colours: three numbers, none negative; at most 1 for surfaces that reflect (an albedo
 * above 1 would create light). */
static int parse_color(struct parser *p, struct tvec *out, double max, const char *context)
{
    struct trace_tok at = p->lx->tok;
    int rc = parse_vector(p, out, context);
    if (rc == 0 && !(out->x >= 0 && out->y >= 0 && out->z >= 0 && out->x <= max &&
                     out->y <= max && out->z <= max)) {
        if (max < TRACE_MAX_NUMBER)
            return fail(p, -EINVAL, &at, "colour components must lie between 0 and %g", max);
        return fail(p, -EINVAL, &at, "colour components must not be negative");
    }
    return rc;
}

/* Range checks of one property value, at the token where it started. */
static int check_value(struct parser *p, enum trace_prop prop, const struct trace_tok *at,
                       struct tvec v)
{
    const char *name = prop_table[prop].name;
    switch (prop) {
    case TRACE_P_RADIUS:
    case TRACE_P_APERTURE:
    case TRACE_P_FOCUS_DISTANCE:
        if (!(v.x >= 0))
            return fail(p, -EINVAL, at, "'%s' must not be negative", name);
        return 0;
    case TRACE_P_FOV:
        if (!(v.x > 0 && v.x < 180))
            return fail(p, -EINVAL, at, "'fov' is the vertical field of view in degrees: "
                        "above 0 and below 180");
        return 0;
    default:
        return 0;
    }
}

static int track_add(struct parser *p, struct trace_track *t, int *cap, double frame,
                     struct tvec v, const struct trace_tok *at)
{
    if (t->n_keys >= TRACE_MAX_KEYS)
        return fail(p, UDCS_ETOOBIG, at, "more than %d keyframes", TRACE_MAX_KEYS);
    if (trace_grow((void **)&t->keys, cap, t->n_keys + 1, sizeof(*t->keys)) < 0)
        return no_memory(p);
    t->keys[t->n_keys].frame = frame;
    t->keys[t->n_keys].value = v;
    t->n_keys++;
    return 0;
}

/* After a property's name: a value, or keyframes `[linear|smooth|spline|step] { F: V ... }`. */
static int parse_track(struct parser *p, enum trace_prop prop, struct trace_track *t)
{
    const char *name = prop_table[prop].name;
    char context[64], keys_context[96];
    snprintf(context, sizeof(context), "after '%s'", name);
    snprintf(keys_context, sizeof(keys_context), "in the keyframes of '%s'", name);
    int cap = 0, rc;
    t->interp = TRACE_INTERP_LINEAR;
    if (p->lx->tok.kind == TRACE_TOK_IDENT) {
        int found = -1;
        for (size_t i = 0; i < sizeof(interp_names) / sizeof(interp_names[0]); i++)
            if (trace_tok_is_word(&p->lx->tok, interp_names[i]))
                found = (int)i;
        if (found < 0)
            return expected(p, value_what(prop_table[prop].type), context);
        t->interp = (enum trace_interp)found;
        snprintf(context, sizeof(context), "after '%s'", interp_names[found]);
        if ((rc = next(p)) < 0)
            return rc;
        if (!trace_tok_is(&p->lx->tok, '{'))
            return expected(p, "'{' and keyframes", context);
    }
    if (!trace_tok_is(&p->lx->tok, '{')) {
        struct trace_tok at = p->lx->tok;
        struct tvec v;
        if ((rc = parse_value(p, prop_table[prop].type, &v, context)) < 0 ||
            (rc = check_value(p, prop, &at, v)) < 0)
            return rc;
        return track_add(p, t, &cap, 0, v, &at);
    }
    struct trace_tok open = p->lx->tok;
    if ((rc = next(p)) < 0)
        return rc;
    while (!trace_tok_is(&p->lx->tok, '}')) {
        struct trace_tok at = p->lx->tok;
        if (at.kind != TRACE_TOK_NUMBER)
            return expected(p, "a frame number or '}'", keys_context);
        double frame = at.num;
        if (!(frame >= -TRACE_MAX_FRAME && frame <= TRACE_MAX_FRAME))
            return fail(p, -EINVAL, &at, "frame %g is outside -%d..%d", frame,
                        TRACE_MAX_FRAME, TRACE_MAX_FRAME);
        if (t->n_keys > 0 && !(frame > t->keys[t->n_keys - 1].frame))
            return fail(p, -EINVAL, &at, "keyframe %g comes after keyframe %g: frames must "
                        "increase", frame, t->keys[t->n_keys - 1].frame);
        if ((rc = next(p)) < 0 || (rc = expect_punct(p, ':', "after the frame number")) < 0)
            return rc;
        struct trace_tok vat = p->lx->tok;
        struct tvec v;
        if ((rc = parse_value(p, prop_table[prop].type, &v, keys_context)) < 0 ||
            (rc = check_value(p, prop, &vat, v)) < 0 ||
            (rc = track_add(p, t, &cap, frame, v, &at)) < 0)
            return rc;
    }
    if (t->n_keys == 0)
        return fail(p, -EINVAL, &open, "the keyframes of '%s' are empty", name);
    return next(p);
}

/* ---- files ---------------------------------------------------------------------------- */

static int add_file_name(struct parser *p, char *display)
{
    if (trace_grow((void **)&p->s->files, &p->cap_files, p->s->n_files + 1,
                   sizeof(*p->s->files)) < 0) {
        free(display);
        return no_memory(p);
    }
    p->s->files[p->s->n_files++] = display;
    return p->s->n_files - 1;
}

static int add_input(struct parser *p, const char *rel, int is_include)
{
    struct trace_scene *s = p->s;
    char *copy = strdup(rel);
    if (!copy || trace_grow((void **)&s->inputs, &p->cap_inputs, s->n_inputs + 1,
                            sizeof(*s->inputs)) < 0 ||
        trace_grow((void **)&p->input_is_include, &p->cap_kinds, s->n_inputs + 1, 1) < 0) {
        free(copy);
        return no_memory(p);
    }
    p->input_is_include[s->n_inputs] = (unsigned char)is_include;
    s->inputs[s->n_inputs++] = copy;
    return 0;
}

/* Resolve the path in the current (string) token against the current file, and read it.
 * `what` is "include" or "mesh". */
static int read_named_file(struct parser *p, const char *what, size_t max, char **rel,
                           char **display, char **text, size_t *len)
{
    const struct trace_tok *at = &p->lx->tok;
    const char *why = NULL;
    char written[TRACE_MSG_CHARS / 2];
    word_of(at, written, sizeof(written));
    int rc = trace_path_resolve(p->open[p->depth], written, rel, &why);
    if (rc == -ENOMEM)
        return no_memory(p);
    if (rc < 0)
        return fail(p, rc, at, "%s '%s': %s", what, written, why);
    if (p->s->n_inputs >= TRACE_MAX_FILES) {
        free(*rel);
        *rel = NULL;
        return fail(p, UDCS_ETOOBIG, at, "more than %d included files and meshes",
                    TRACE_MAX_FILES);
    }
    rc = trace_source_read(p->src, *rel, max, display, text, len, &why);
    if (rc == -ENOMEM) {
        free(*rel);
        *rel = NULL;
        return no_memory(p);
    }
    if (rc < 0) {
        char *shown = p->src->dir && *p->src->dir ? NULL : *rel;
        char full[TRACE_MSG_CHARS / 2] = "";
        if (!shown)
            snprintf(full, sizeof(full), " (%s/%s)", p->src->dir, *rel);
        fail(p, rc, at, "cannot read %s '%s'%s: %s", what, written, full, why);
        free(*rel);
        *rel = NULL;
    }
    return rc;
}

static int parse_file(struct parser *p, int file, const char *text, size_t len);

static int parse_include(struct parser *p)
{
    int rc;
    if ((rc = next(p)) < 0)
        return rc;
    if (p->lx->tok.kind != TRACE_TOK_STRING)
        return expected(p, "a file name in double quotes", "after 'include'");
    struct trace_tok at = p->lx->tok;
    char written[TRACE_MSG_CHARS / 2], *rel = NULL;
    word_of(&at, written, sizeof(written));
    const char *why = NULL;
    rc = trace_path_resolve(p->open[p->depth], written, &rel, &why);
    if (rc == -ENOMEM)
        return no_memory(p);
    if (rc < 0)
        return fail(p, rc, &at, "include '%s': %s", written, why);
    for (int i = 0; i <= p->depth; i++) {
        if (strcmp(p->open[i], rel) == 0) {
            rc = fail(p, -EINVAL, &at, "include '%s': the file is already being read (an "
                      "include cycle)", written);
            free(rel);
            return rc;
        }
    }
    for (int i = 0; i < p->s->n_inputs; i++) {
        if (p->input_is_include[i] && strcmp(p->s->inputs[i], rel) == 0) {
            free(rel);          /* included before: each file is read once */
            return next(p);
        }
    }
    free(rel);
    if (p->depth + 1 >= TRACE_MAX_INCLUDE_DEPTH)
        return fail(p, UDCS_ETOOBIG, &at, "includes nested deeper than %d",
                    TRACE_MAX_INCLUDE_DEPTH);
    char *display = NULL, *text = NULL;
    size_t len = 0;
    if ((rc = read_named_file(p, "include", TRACE_MAX_SCENE_BYTES, &rel, &display, &text,
                              &len)) < 0)
        return rc;
    int file = add_file_name(p, display);
    if (file >= 0 && (rc = add_input(p, rel, 1)) == 0) {
        p->open[++p->depth] = rel;
        rc = parse_file(p, file, text, len);
        p->depth--;
    }
    free(text);
    free(rel);
    if (file < 0)
        return file;
    return rc < 0 ? rc : next(p);
}

/* The mesh named by the current (string) token: loaded once per path. */
static int parse_mesh_file(struct parser *p, int *mesh)
{
    struct trace_scene *s = p->s;
    char *rel = NULL, *display = NULL, *text = NULL;
    size_t len = 0;
    const char *why = NULL;
    char written[TRACE_MSG_CHARS / 2];
    word_of(&p->lx->tok, written, sizeof(written));
    int rc = trace_path_resolve(p->open[p->depth], written, &rel, &why);
    if (rc == -ENOMEM)
        return no_memory(p);
    if (rc < 0)
        return fail(p, rc, &p->lx->tok, "mesh '%s': %s", written, why);
    for (int i = 0; i < s->n_meshes; i++) {
        if (strcmp(s->meshes[i].path, rel) == 0) {
            free(rel);
            *mesh = i;
            return next(p);
        }
    }
    free(rel);
    if ((rc = read_named_file(p, "mesh", TRACE_MAX_OBJ_BYTES, &rel, &display, &text, &len)) < 0)
        return rc;
    struct trace_mesh m = { 0 };
    rc = trace_obj_parse(display, text, len, TRACE_MAX_TRIANGLES - s->n_triangles, &m, p->e);
    free(text);
    free(display);
    if (rc == 0 && trace_grow((void **)&s->meshes, &p->cap_meshes, s->n_meshes + 1,
                              sizeof(*s->meshes)) < 0)
        rc = no_memory(p);
    if (rc == 0)
        rc = add_input(p, rel, 0);
    if (rc < 0) {
        trace_mesh_release(&m);
        free(rel);
        return rc;
    }
    m.path = rel;
    *mesh = s->n_meshes;
    s->meshes[s->n_meshes++] = m;
    return next(p);
}

/* ---- statements ----------------------------------------------------------------------- */

static int parse_settings(struct parser *p)
{
    struct trace_scene *s = p->s;
    struct trace_tok start = p->lx->tok;
    if (p->settings_line)
        return fail(p, -EINVAL, &start, "a second settings block; the first is at %s:%d",
                    s->files[p->settings_file], p->settings_line);
    p->settings_file = p->file;
    p->settings_line = start.line;
    int rc;
    if ((rc = next(p)) < 0 || (rc = expect_punct(p, '{', "after 'settings'")) < 0)
        return rc;
    while (!trace_tok_is(&p->lx->tok, '}')) {
        struct trace_tok at = p->lx->tok;
        if (trace_tok_is_word(&at, "size")) {
            if ((rc = next(p)) < 0 ||
                (rc = parse_int(p, &s->width, 1, TRACE_MAX_SIZE, "after 'size'")) < 0 ||
                (rc = parse_int(p, &s->height, 1, TRACE_MAX_SIZE, "after the width")) < 0)
                return rc;
        } else if (trace_tok_is_word(&at, "samples")) {
            if ((rc = next(p)) < 0 ||
                (rc = parse_int(p, &s->samples, 1, TRACE_MAX_SAMPLES, "after 'samples'")) < 0)
                return rc;
        } else if (trace_tok_is_word(&at, "max_bounces")) {
            if ((rc = next(p)) < 0 || (rc = parse_int(p, &s->max_bounces, 0, TRACE_MAX_BOUNCES,
                                                      "after 'max_bounces'")) < 0)
                return rc;
        } else if (trace_tok_is_word(&at, "frames")) {
            struct trace_tok last;
            if ((rc = next(p)) < 0 ||
                (rc = parse_int(p, &s->frame_first, -TRACE_MAX_FRAME, TRACE_MAX_FRAME,
                                "after 'frames'")) < 0)
                return rc;
            last = p->lx->tok;
            if ((rc = parse_int(p, &s->frame_last, -TRACE_MAX_FRAME, TRACE_MAX_FRAME,
                                "after the first frame")) < 0)
                return rc;
            if (s->frame_last < s->frame_first)
                return fail(p, -EINVAL, &last, "the last frame %d comes before the first, %d",
                            s->frame_last, s->frame_first);
        } else if (trace_tok_is_word(&at, "clamp")) {
            if ((rc = parse_word_number(p, "clamp", 0, TRACE_MAX_NUMBER, &s->clamp)) < 0)
                return rc;
        } else if (trace_tok_is_word(&at, "background")) {
            if ((rc = next(p)) < 0 ||
                (rc = parse_color(p, &s->sky_horizon, TRACE_MAX_NUMBER, "after 'background'")) < 0)
                return rc;
            s->sky_zenith = s->sky_horizon;
            if (trace_tok_is(&p->lx->tok, '<') &&
                (rc = parse_color(p, &s->sky_zenith, TRACE_MAX_NUMBER,
                                  "after the horizon colour")) < 0)
                return rc;
        } else {
            return expected(p, "a setting (size, samples, max_bounces, frames, clamp, "
                            "background) or '}'", "in settings");
        }
    }
    return next(p);
}

static int find_material(const struct trace_scene *s, const struct trace_tok *name)
{
    for (int i = 0; i < s->n_materials; i++)
        if (trace_tok_is_word(name, s->materials[i].name))
            return i;
    return -1;
}

static int parse_material(struct parser *p)
{
    struct trace_scene *s = p->s;
    int rc;
    if ((rc = next(p)) < 0)
        return rc;
    struct trace_tok name = p->lx->tok;
    if (name.kind != TRACE_TOK_IDENT)
        return expected(p, "a material name", "after 'material'");
    int prev = find_material(s, &name);
    if (prev >= 0)
        return fail(p, -EINVAL, &name, "material '%.*s' is already defined at %s:%d",
                    (int)name.len, name.text, s->files[s->materials[prev].file],
                    s->materials[prev].line);
    if (s->n_materials >= TRACE_MAX_MATERIALS)
        return fail(p, UDCS_ETOOBIG, &name, "more than %d materials", TRACE_MAX_MATERIALS);
    if ((rc = next(p)) < 0)
        return rc;
    int kind = -1;
    for (size_t i = 0; i < sizeof(material_kinds) / sizeof(material_kinds[0]); i++)
        if (trace_tok_is_word(&p->lx->tok, material_kinds[i]))
            kind = (int)i;
    if (kind < 0)
        return expected(p, "a material kind (diffuse, metal, glass, emissive)",
                        "after the material's name");
    struct trace_material m = { .kind = kind, .roughness = 0.0f, .ior = 1.5f };
    struct tvec color = { 0.8, 0.8, 0.8 };
    double strength = 1, roughness = 0, ior = 1.5;
    if (kind == TRACE_MAT_EMISSIVE || kind == TRACE_MAT_GLASS)
        color = (struct tvec){ 1, 1, 1 };   /* white light; clear glass */
    if ((rc = next(p)) < 0 || (rc = expect_punct(p, '{', "after the material's kind")) < 0)
        return rc;
    while (!trace_tok_is(&p->lx->tok, '}')) {
        struct trace_tok at = p->lx->tok;
        if (trace_tok_is_word(&at, "color")) {
            double max = kind == TRACE_MAT_EMISSIVE ? TRACE_MAX_NUMBER : 1.0;
            if ((rc = next(p)) < 0 || (rc = parse_color(p, &color, max, "after 'color'")) < 0)
                return rc;
        } else if (trace_tok_is_word(&at, "roughness") && kind == TRACE_MAT_METAL) {
            if ((rc = parse_word_number(p, "roughness", 0, 1, &roughness)) < 0)
                return rc;
        } else if (trace_tok_is_word(&at, "ior") && kind == TRACE_MAT_GLASS) {
            if ((rc = parse_word_number(p, "ior", 0.1, 10, &ior)) < 0)
                return rc;
        } else if (trace_tok_is_word(&at, "strength") && kind == TRACE_MAT_EMISSIVE) {
            if ((rc = parse_word_number(p, "strength", 0, TRACE_MAX_NUMBER, &strength)) < 0)
                return rc;
        } else {
            static const char *const takes[] = {
                [TRACE_MAT_DIFFUSE] = "color",
                [TRACE_MAT_METAL] = "color, roughness",
                [TRACE_MAT_GLASS] = "color, ior",
                [TRACE_MAT_EMISSIVE] = "color, strength",
            };
            char what[96];
            snprintf(what, sizeof(what), "a property of a %s material (%s) or '}'",
                     material_kinds[kind], takes[kind]);
            return expected(p, what, "");
        }
    }
    m.color = (struct trace_vec3){ (float)color.x, (float)color.y, (float)color.z };
    if (kind == TRACE_MAT_EMISSIVE) {
        m.emission = (struct trace_vec3){ (float)(color.x * strength),
                                          (float)(color.y * strength),
                                          (float)(color.z * strength) };
        m.color = (struct trace_vec3){ 0, 0, 0 };
    }
    m.roughness = (float)roughness;
    m.ior = (float)ior;
    char *copy = strndup(name.text, name.len);
    if (!copy || trace_grow((void **)&s->materials, &p->cap_materials, s->n_materials + 1,
                            sizeof(*s->materials)) < 0) {
        free(copy);
        return no_memory(p);
    }
    s->materials[s->n_materials++] = (struct trace_matdef){ .m = m, .name = copy,
                                                            .file = p->file, .line = name.line };
    return next(p);
}

/* "position, radius, orbit, pivot" for a sphere. */
static void list_props(enum trace_object_kind kind, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < TRACE_P_COUNT; i++) {
        if (!(kind_props[kind] & BIT(i)))
            continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", prop_table[i].name);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
    if (kind != TRACE_OBJ_CAMERA)
        snprintf(out + used, len - used, ", material");
}

static void object_release(struct trace_object *o)
{
    for (int i = 0; i < TRACE_P_COUNT; i++)
        trace_track_release(&o->props[i]);
}

static int parse_object_body(struct parser *p, struct trace_object *o, const char *kind_name)
{
    struct trace_scene *s = p->s;
    int given_line[TRACE_P_COUNT] = { 0 };
    char context[64], after[32];
    snprintf(context, sizeof(context), "in the %s that starts on line %d", kind_name, o->line);
    snprintf(after, sizeof(after), "after '%s'", kind_name);
    int rc = expect_punct(p, '{', o->kind == TRACE_OBJ_MESH ? "after the mesh's file name"
                                                          : after);
    while (rc == 0 && !trace_tok_is(&p->lx->tok, '}')) {
        struct trace_tok at = p->lx->tok;
        if (at.kind != TRACE_TOK_IDENT)
            return expected(p, "a property or '}'", context);
        if (trace_tok_is_word(&at, "material") && o->kind != TRACE_OBJ_CAMERA) {
            if ((rc = next(p)) < 0)
                return rc;
            if (p->lx->tok.kind != TRACE_TOK_IDENT)
                return expected(p, "a material name", "after 'material'");
            o->material = find_material(s, &p->lx->tok);
            if (o->material < 0)
                return fail(p, -EINVAL, &p->lx->tok, "unknown material '%.*s' (materials "
                            "are defined before the objects that use them)",
                            (int)p->lx->tok.len, p->lx->tok.text);
            rc = next(p);
            continue;
        }
        int prop = -1;
        for (int i = 0; i < TRACE_P_COUNT; i++)
            if (trace_tok_is_word(&at, prop_table[i].name))
                prop = i;
        if (prop < 0 || !(kind_props[o->kind] & BIT(prop))) {
            char takes[256];
            list_props(o->kind, takes, sizeof(takes));
            return fail(p, -EINVAL, &at, "a %s has no property '%.*s'; it takes %s", kind_name,
                        (int)at.len, at.text, takes);
        }
        if (given_line[prop])
            return fail(p, -EINVAL, &at, "'%s' is given twice (first on line %d)",
                        prop_table[prop].name, given_line[prop]);
        given_line[prop] = at.line;
        if ((rc = next(p)) == 0)
            rc = parse_track(p, (enum trace_prop)prop, &o->props[prop]);
    }
    return rc < 0 ? rc : next(p);
}

/* sphere { ... }, mesh "file.obj" { ... }, camera { ... } and the others. */
static int parse_object(struct parser *p, enum trace_object_kind kind)
{
    struct trace_scene *s = p->s;
    const char *kind_name = trace_object_kind_name(kind);
    struct trace_tok start = p->lx->tok;
    struct trace_object o = { .kind = kind, .material = -1, .mesh = -1, .file = p->file,
                              .line = start.line, .col = start.col };
    if (kind == TRACE_OBJ_CAMERA && s->has_camera)
        return fail(p, -EINVAL, &start, "a second camera; the first is at %s:%d",
                    s->files[s->camera.file], s->camera.line);
    if (kind != TRACE_OBJ_CAMERA && s->n_objects >= TRACE_MAX_OBJECTS)
        return fail(p, UDCS_ETOOBIG, &start, "more than %d objects", TRACE_MAX_OBJECTS);
    int rc = next(p);
    if (rc == 0 && kind == TRACE_OBJ_MESH) {
        if (p->lx->tok.kind != TRACE_TOK_STRING)
            return expected(p, "an OBJ file name in double quotes", "after 'mesh'");
        rc = parse_mesh_file(p, &o.mesh);
    }
    if (rc == 0)
        rc = parse_object_body(p, &o, kind_name);
    if (rc == 0 && kind != TRACE_OBJ_CAMERA && o.material < 0)
        rc = fail(p, -EINVAL, &start, "the %s has no material", kind_name);
    long tris = kind == TRACE_OBJ_QUAD ? TRACE_QUAD_TRIANGLES
                : kind == TRACE_OBJ_BOX ? TRACE_BOX_TRIANGLES
                : kind == TRACE_OBJ_MESH && o.mesh >= 0 ? s->meshes[o.mesh].n_tris : 0;
    if (rc == 0 && s->n_triangles + tris > TRACE_MAX_TRIANGLES)
        rc = fail(p, UDCS_ETOOBIG, &start, "the scene has more than %d triangles",
                  TRACE_MAX_TRIANGLES);
    if (rc == 0 && kind != TRACE_OBJ_CAMERA &&
        trace_grow((void **)&s->objects, &p->cap_objects, s->n_objects + 1,
                   sizeof(*s->objects)) < 0)
        rc = no_memory(p);
    if (rc < 0) {
        object_release(&o);
        return rc;
    }
    s->n_triangles += tris;
    if (kind == TRACE_OBJ_CAMERA) {
        s->camera = o;
        s->has_camera = 1;
    } else {
        s->objects[s->n_objects++] = o;
    }
    return 0;
}

static int parse_statement(struct parser *p)
{
    static const struct {
        const char *word;
        enum trace_object_kind kind;
    } objects[] = {
        { "camera", TRACE_OBJ_CAMERA }, { "sphere", TRACE_OBJ_SPHERE },
        { "plane", TRACE_OBJ_PLANE },   { "quad", TRACE_OBJ_QUAD },
        { "box", TRACE_OBJ_BOX },       { "mesh", TRACE_OBJ_MESH },
    };
    const struct trace_tok *t = &p->lx->tok;
    if (trace_tok_is_word(t, "include"))
        return parse_include(p);
    if (trace_tok_is_word(t, "settings"))
        return parse_settings(p);
    if (trace_tok_is_word(t, "material"))
        return parse_material(p);
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
        if (trace_tok_is_word(t, objects[i].word))
            return parse_object(p, objects[i].kind);
    return expected(p, "include, settings, material, camera, sphere, plane, quad, box or mesh",
                    "");
}

static int parse_file(struct parser *p, int file, const char *text, size_t len)
{
    struct trace_lexer lx, *outer = p->lx;
    int outer_file = p->file;
    p->file = file;
    int rc = trace_lex_init(&lx, p->s->files[file], text, len, p->e);
    p->lx = &lx;
    while (rc == 0 && lx.tok.kind != TRACE_TOK_EOF)
        rc = parse_statement(p);
    p->lx = outer;
    p->file = outer_file;
    return rc;
}

int trace_parse_scene(const char *name, const char *text, size_t len,
                      const struct trace_source *src, struct trace_scene **out,
                      struct trace_err *e)
{
    *out = NULL;
    struct trace_scene *s = calloc(1, sizeof(*s));
    char *display = strdup(name);
    if (!s || !display) {
        free(s);
        free(display);
        return trace_err_set(e, -ENOMEM, name, 0, 0, "out of memory");
    }
    s->width = TRACE_DEFAULT_WIDTH;
    s->height = TRACE_DEFAULT_HEIGHT;
    s->samples = TRACE_DEFAULT_SAMPLES;
    s->max_bounces = TRACE_DEFAULT_BOUNCES;
    s->frame_first = s->frame_last = 1;
    s->camera.material = -1;
    s->camera.mesh = -1;
    struct parser p = { .s = s, .src = src, .e = e };
    const char *base = strrchr(name, '/');
    p.open[0] = base ? base + 1 : name;   /* so that including the scene itself is a cycle */
    int rc = add_file_name(&p, display);
    if (rc >= 0)
        rc = parse_file(&p, 0, text, len);
    if (rc == 0 && !s->has_camera)
        rc = trace_err_set(e, -EINVAL, name, 0, 0, "the scene has no camera; add one such "
                           "as camera { position <0, 1, 5> look_at <0, 1, 0> }");
    free(p.input_is_include);
    if (rc < 0) {
        trace_scene_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
