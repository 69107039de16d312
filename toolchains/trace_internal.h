/* toolchains/trace_internal.h - what the files of udcs-trace share and nothing else
 * includes: the loaded scene (struct trace_scene), animation tracks, meshes, the error
 * text every parser writes, and the entry points between the parser (trace_parse.c,
 * trace_lex.c, trace_obj.c), the evaluation of a frame (trace_frame.c, trace_anim.c) and
 * the BVH builder (trace_bvh.c). */
#ifndef UDCS_TRACE_INTERNAL_H
#define UDCS_TRACE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "toolchains/trace.h"

/* Scene values are kept in double until a frame is evaluated: animation and transforms
 * lose nothing before the final conversion to the kernel's floats. */
struct tvec {
    double x, y, z;
};

/* ---- errors --------------------------------------------------------------------------- */

/* Where a message goes: the caller's buffer. The first error wins; later ones (while
 * unwinding) are dropped, so the message names the first thing that went wrong. */
struct trace_err {
    char *why;
    size_t len;
    int rc;                     /* 0 until an error is set */
};

/* Set the error once: rc and "FILE:LINE:COL: message" (line 0: "FILE: message"; file
 * NULL: just the message). Returns rc. */
int trace_err_set(struct trace_err *e, int rc, const char *file, int line, int col,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- the scene's tokens (trace_lex.c) ------------------------------------------------- */

enum trace_tok_kind {
    TRACE_TOK_EOF = 0,
    TRACE_TOK_IDENT,            /* [A-Za-z_][A-Za-z0-9_]* */
    TRACE_TOK_NUMBER,           /* value in num */
    TRACE_TOK_STRING,           /* "..." on one line; text/len exclude the quotes */
    TRACE_TOK_PUNCT,            /* one of { } < > , : */
};

struct trace_tok {
    enum trace_tok_kind kind;
    const char *text;
    size_t len;
    int line, col;              /* 1-based; columns count bytes */
    double num;
};

struct trace_lexer {
    const char *file;           /* display name, for messages */
    const char *text;
    size_t len, pos;
    int line, col;
    struct trace_tok tok;       /* the current token */
    struct trace_err *e;
};

/* Start on `text` and read the first token. Returns 0 or the error set in e. */
int trace_lex_init(struct trace_lexer *lx, const char *file, const char *text, size_t len,
                   struct trace_err *e);
/* Read the next token into lx->tok. Returns 0 or the error set in e (a character that
 * starts no token, an unterminated string, a malformed or out-of-range number). */
int trace_lex_next(struct trace_lexer *lx);
/* Whether the current token is the punctuation `c` / the identifier `word`. */
int trace_tok_is(const struct trace_tok *t, char c);
int trace_tok_is_word(const struct trace_tok *t, const char *word);
/* The token as a message shows it: 'radius', "x.obj", end of file. */
void trace_tok_describe(const struct trace_tok *t, char *out, size_t out_len);

/* Read a number at s (at most `len` bytes): [+-] digits [. digits] [e [+-] digits], or
 * with no digits before the point. Returns the bytes used (0: not a number). The value is
 * whatever strtod makes of it; callers check the range. */
size_t trace_number_scan(const char *s, size_t len, double *out);

/* ---- animation ------------------------------------------------------------------------ */

enum trace_interp {
    TRACE_INTERP_LINEAR = 0,    /* straight lines between keys */
    TRACE_INTERP_SMOOTH,        /* eases in and out of every key (smoothstep) */
    TRACE_INTERP_SPLINE,        /* Catmull-Rom through the keys */
    TRACE_INTERP_STEP,          /* holds each key until the next */
};

struct trace_key {
    double frame;
    struct tvec value;          /* numbers are stored in x */
};

/* A property's value over time: one key for a constant, none for "not set" (the default
 * applies). Frames strictly increase. */
struct trace_track {
    int n_keys;
    enum trace_interp interp;
    struct trace_key *keys;
};

/* The value of `t` at `frame`: before the first key the first value, after the last the
 * last. t->n_keys must be at least 1. */
struct tvec trace_track_eval(const struct trace_track *t, double frame);
void trace_track_release(struct trace_track *t);

/* ---- the scene ------------------------------------------------------------------------ */

/* Animatable properties; which kinds take which is in trace_parse.c's table. */
enum trace_prop {
    TRACE_P_POSITION = 0,
    TRACE_P_ROTATE,
    TRACE_P_SCALE,
    TRACE_P_ORBIT,
    TRACE_P_PIVOT,
    TRACE_P_RADIUS,
    TRACE_P_NORMAL,
    TRACE_P_CORNER,
    TRACE_P_EDGE1,
    TRACE_P_EDGE2,
    TRACE_P_SIZE,
    TRACE_P_LOOK_AT,
    TRACE_P_UP,
    TRACE_P_FOV,
    TRACE_P_APERTURE,
    TRACE_P_FOCUS_DISTANCE,
    TRACE_P_COUNT
};

enum trace_object_kind {
    TRACE_OBJ_CAMERA = 0,
    TRACE_OBJ_SPHERE,
    TRACE_OBJ_PLANE,
    TRACE_OBJ_QUAD,
    TRACE_OBJ_BOX,
    TRACE_OBJ_MESH,
    TRACE_OBJ_KIND_COUNT
};

/* The value a property has when the scene does not set it. */
struct tvec trace_prop_default(enum trace_object_kind kind, enum trace_prop p);
const char *trace_object_kind_name(enum trace_object_kind kind);

struct trace_object {
    enum trace_object_kind kind;
    int material;               /* index into scene->materials; -1 for the camera */
    int mesh;                   /* index into scene->meshes for TRACE_OBJ_MESH, else -1 */
    int file, line, col;        /* where it starts: scene->files[file] */
    struct trace_track props[TRACE_P_COUNT];
};

/* An OBJ file as loaded: positions, normals, triangles as indices into both. */
struct trace_mesh {
    char *path;                 /* normalised, relative to the scene's directory */
    float *positions;           /* 3 floats per position */
    float *normals;             /* 3 floats per normal */
    int n_positions, n_normals;
    int32_t *tris;              /* 6 per triangle: 3 positions, 3 normals (-1: none) */
    long n_tris;
};

/* A named material as the scene defines it; `m` is what the kernel gets. */
struct trace_matdef {
    struct trace_material m;
    char *name;
    int file, line;             /* where it is defined */
};

struct trace_scene {
    int width, height, samples, max_bounces;
    int frame_first, frame_last;
    double clamp;               /* 0: no limit */
    struct tvec sky_horizon, sky_zenith;

    struct trace_matdef *materials;
    int n_materials;

    struct trace_object *objects;
    int n_objects;
    struct trace_object camera;
    int has_camera;

    struct trace_mesh *meshes;
    int n_meshes;
    long n_triangles;           /* what every object will make, for the limit */

    char **inputs;              /* includes and meshes, normalised relative paths */
    int n_inputs;
    char **files;               /* display names of the scene files, for messages */
    int n_files;
};

/* Where the parser reads includes and meshes from. */
struct trace_source {
    const char *dir;            /* the scene's directory on disk (may be ""), or NULL */
    const struct trace_memfile *mem;   /* used when dir is NULL and n_mem > 0 */
    size_t n_mem;
};

/* The path `written` (as a scene writes it) of a file named by the file at `from` (both
 * relative to the scene's directory), normalised: "." and ".." resolved, no empty parts.
 * Returns 0 and a malloc()ed *out, -EINVAL with *why saying what is wrong (absolute, climbs
 * out of the scene's directory, empty) or -ENOMEM. */
int trace_path_resolve(const char *from, const char *written, char **out, const char **why);

/* Read the file at the normalised relative path `rel` from `src`, at most `max` bytes.
 * Returns 0 with *text (NUL-terminated, malloc()ed, *len bytes) and *display (the name for
 * messages, malloc()ed), or -errno / UDCS_ETOOBIG with *why naming the cause. */
int trace_source_read(const struct trace_source *src, const char *rel, size_t max,
                      char **display, char **text, size_t *len, const char **why);

/* Parse the top scene file (trace_parse.c). */
int trace_parse_scene(const char *name, const char *text, size_t len,
                      const struct trace_source *src, struct trace_scene **out,
                      struct trace_err *e);

/* Parse an OBJ file's text into `m` (trace_obj.c). `name` is used in messages; `budget`
 * is how many more triangles the scene may take. Returns 0 or an error set in `e`. */
int trace_obj_parse(const char *name, const char *text, size_t len, long budget,
                    struct trace_mesh *m, struct trace_err *e);
void trace_mesh_release(struct trace_mesh *m);

/* Build a BVH over n primitives with the given bounds (trace_bvh.c). On success *nodes
 * (n_nodes) and *order (n, the primitives' ids in leaf order) are malloc()ed. Returns 0 or
 * -ENOMEM. n may be 0 (no nodes). */
int trace_bvh_build(const struct trace_vec3 *lo, const struct trace_vec3 *hi,
                    const uint32_t *ids, uint32_t n, struct trace_bvh_node **nodes,
                    int *n_nodes, uint32_t **order);

/* Grow *arr (of *cap elements of `size` bytes) to hold at least `need`; doubling. Returns
 * 0 or -ENOMEM. */
int trace_grow(void **arr, int *cap, int need, size_t size);

#endif
