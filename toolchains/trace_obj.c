/* toolchains/trace_obj.c - Wavefront OBJ meshes for udcs-trace: positions (v), normals
 * (vn) and faces (f) in the forms v, v/vt, v//vn and v/vt/vn, with negative (relative)
 * indices; polygons become triangle fans. Texture coordinates, groups, smoothing groups and
 * materials (usemtl, mtllib) are read past: a mesh's material comes from the scene. Errors
 * name FILE:LINE:COL. */
#include "toolchains/trace_internal.h"
#include "common/err.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Corners of one face that are kept; more is not a polygon anyone models. */
#define TRACE_OBJ_MAX_FACE_CORNERS 4096

struct obj_reader {
    const char *name;
    const char *text;
    size_t len, pos;
    size_t line_start;
    int line;
    struct trace_err *e;
    struct trace_mesh *m;
    int cap_positions, cap_normals, cap_tris;
    long budget;
    int corner_p[TRACE_OBJ_MAX_FACE_CORNERS], corner_n[TRACE_OBJ_MAX_FACE_CORNERS];
};

static int obj_fail(struct obj_reader *r, int rc, const char *msg)
{
    int col = (int)(r->pos - r->line_start) + 1;
    return trace_err_set(r->e, rc, r->name, r->line, col, "%s", msg);
}

static int at_line_end(const struct obj_reader *r)
{
    return r->pos >= r->len || r->text[r->pos] == '\n' || r->text[r->pos] == '#';
}

static void skip_blanks(struct obj_reader *r)
{
    while (r->pos < r->len && (r->text[r->pos] == ' ' || r->text[r->pos] == '\t' ||
                               r->text[r->pos] == '\r'))
        r->pos++;
}

static int is_blank_or_end(const struct obj_reader *r, size_t at)
{
    return at >= r->len || r->text[at] == ' ' || r->text[at] == '\t' || r->text[at] == '\r' ||
           r->text[at] == '\n' || r->text[at] == '#';
}

static int read_float(struct obj_reader *r, float *out)
{
    skip_blanks(r);
    double v;
    size_t n = trace_number_scan(r->text + r->pos, r->len - r->pos, &v);
    if (n == 0 || !is_blank_or_end(r, r->pos + n))
        return obj_fail(r, -EINVAL, "expected a number");
    if (!(fabs(v) <= TRACE_MAX_NUMBER))
        return obj_fail(r, -EINVAL, "number out of range");
    *out = (float)v;
    r->pos += n;
    return 0;
}

/* Three numbers (a fourth, the weight of a position, is allowed and dropped). */
static int read_triple(struct obj_reader *r, float **arr, int *n, int *cap)
{
    if (*n >= TRACE_MAX_VERTICES)
        return obj_fail(r, UDCS_ETOOBIG, "more vertices than the limit");
    if (trace_grow((void **)arr, cap, 3 * (*n + 1), sizeof(**arr)) < 0)
        return obj_fail(r, -ENOMEM, "out of memory");
    float *v = *arr + 3 * *n;
    int rc;
    for (int i = 0; i < 3; i++)
        if ((rc = read_float(r, &v[i])) < 0)
            return rc;
    skip_blanks(r);
    if (!at_line_end(r)) {
        float w;
        if ((rc = read_float(r, &w)) < 0)
            return rc;
    }
    (*n)++;
    return 0;
}

/* An index of a face corner, 1-based or negative (counting back from the last of `count`
 * defined so far). Either way it must name one defined before the face, as exporters
 * write them. */
static int read_index(struct obj_reader *r, int count, int *out)
{
    const char *s = r->text + r->pos;
    size_t i = 0, left = r->len - r->pos;
    int neg = 0;
    long v = 0;
    if (i < left && s[i] == '-') {
        neg = 1;
        i++;
    }
    size_t digits = 0;
    while (i < left && s[i] >= '0' && s[i] <= '9') {
        if (v < TRACE_MAX_VERTICES + 1L)
            v = v * 10 + (s[i] - '0');
        i++, digits++;
    }
    if (digits == 0)
        return obj_fail(r, -EINVAL, "expected a vertex index");
    if (v == 0)
        return obj_fail(r, -EINVAL, "vertex index 0 (OBJ indices start at 1)");
    if (v > count)
        return obj_fail(r, -EINVAL, neg ? "relative index before the first one defined"
                                        : "index of a vertex or normal not defined before "
                                          "this face");
    *out = neg ? count - (int)v : (int)v - 1;
    r->pos += i;
    return 0;
}

static int read_face(struct obj_reader *r)
{
    struct trace_mesh *m = r->m;
    int n = 0, with_normals = 0, rc;
    for (skip_blanks(r); !at_line_end(r); skip_blanks(r)) {
        if (n >= TRACE_OBJ_MAX_FACE_CORNERS)
            return obj_fail(r, UDCS_ETOOBIG, "a face with too many corners");
        int pi, ni = -1;
        if ((rc = read_index(r, m->n_positions, &pi)) < 0)
            return rc;
        if (r->pos < r->len && r->text[r->pos] == '/') {
            r->pos++;
            if (r->pos < r->len && r->text[r->pos] != '/' && !is_blank_or_end(r, r->pos)) {
                int ti;   /* texture coordinates: checked for form, not kept */
                if ((rc = read_index(r, INT32_MAX, &ti)) < 0)
                    return rc;
            }
            if (r->pos < r->len && r->text[r->pos] == '/') {
                r->pos++;
                if ((rc = read_index(r, m->n_normals, &ni)) < 0)
                    return rc;
            }
        }
        if (!is_blank_or_end(r, r->pos))
            return obj_fail(r, -EINVAL, "expected a face corner: v, v/vt, v//vn or v/vt/vn");
        r->corner_p[n] = pi;
        r->corner_n[n] = ni;
        with_normals += ni >= 0;
        n++;
    }
    if (n < 3)
        return obj_fail(r, -EINVAL, "a face needs at least 3 corners");
    long tris = n - 2;
    if (tris > r->budget - m->n_tris)
        return obj_fail(r, UDCS_ETOOBIG, "the scene has more triangles than the limit");
    if (trace_grow((void **)&m->tris, &r->cap_tris, (int)(6 * (m->n_tris + tris)),
                   sizeof(*m->tris)) < 0)
        return obj_fail(r, -ENOMEM, "out of memory");
    for (int k = 1; k + 1 < n; k++) {
        int32_t *t = m->tris + 6 * m->n_tris++;
        int corners[3] = { 0, k, k + 1 };
        for (int c = 0; c < 3; c++) {
            t[c] = r->corner_p[corners[c]];
            /* normals only when every corner has one */
            t[3 + c] = with_normals == n ? r->corner_n[corners[c]] : -1;
        }
    }
    return 0;
}

static int keyword_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

int trace_obj_parse(const char *name, const char *text, size_t len, long budget,
                    struct trace_mesh *m, struct trace_err *e)
{
    memset(m, 0, sizeof(*m));
    struct obj_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return trace_err_set(e, -ENOMEM, name, 0, 0, "out of memory");
    r->name = name;
    r->text = text;
    r->len = len;
    r->line = 1;
    r->e = e;
    r->m = m;
    r->budget = budget;
    int rc = 0;
    while (rc == 0 && r->pos < r->len) {
        skip_blanks(r);
        size_t start = r->pos;
        while (!is_blank_or_end(r, r->pos))
            r->pos++;
        const char *kw = r->text + start;
        size_t n = r->pos - start;
        if (memchr(kw, '\0', n))
            rc = obj_fail(r, -EINVAL, "NUL byte in an OBJ file");
        else if (keyword_is(kw, n, "v"))
            rc = read_triple(r, &m->positions, &m->n_positions, &r->cap_positions);
        else if (keyword_is(kw, n, "vn"))
            rc = read_triple(r, &m->normals, &m->n_normals, &r->cap_normals);
        else if (keyword_is(kw, n, "f"))
            rc = read_face(r);
        if (rc == 0) {
            skip_blanks(r);
            if (!at_line_end(r) && (keyword_is(kw, n, "v") || keyword_is(kw, n, "vn")))
                rc = obj_fail(r, -EINVAL, "more numbers than a vertex has");
        }
        /* everything else on the line (vt, o, g, s, usemtl, comments) is read past */
        while (r->pos < r->len && r->text[r->pos] != '\n')
            r->pos++;
        if (r->pos < r->len) {
            r->pos++;
            r->line++;
            r->line_start = r->pos;
        }
    }
    if (rc == 0 && m->n_tris == 0)
        rc = trace_err_set(e, -EINVAL, name, 0, 0, "no faces ('f' lines) in the OBJ file");
    free(r);
    if (rc < 0)
        trace_mesh_release(m);
    return rc;
}

void trace_mesh_release(struct trace_mesh *m)
{
    free(m->path);
    free(m->positions);
    free(m->normals);
    free(m->tris);
    memset(m, 0, sizeof(*m));
}
