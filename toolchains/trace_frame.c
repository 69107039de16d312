/* toolchains/trace_frame.c - one frame of a scene as the kernel reads it: every animated
 * property evaluated, transforms applied (scale, rotate, position, then orbit about the
 * pivot), quads, boxes and meshes turned into world-space triangles, the light list for
 * next-event estimation, and the BVH (trace_bvh.c). Everything is computed in double and
 * stored as float once, the same way for every region of the frame. */
#include "toolchains/trace_internal.h"
#include "common/err.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEG_TO_RAD (3.14159265358979323846 / 180.0)

/* The view and the arrays it points to, which the view itself only reads. */
struct view_alloc {
    struct trace_view view;     /* first: trace_view_free() gets this pointer */
    struct trace_material *materials;
    struct trace_sphere *spheres;
    struct trace_plane *planes;
    struct trace_triangle *triangles;
    struct trace_tri_normals *normals;
    struct trace_bvh_node *nodes;
    uint32_t *prims;
    struct trace_light *lights;
    int cap_spheres, cap_planes, cap_triangles, cap_normals;
};

struct builder {
    const struct trace_scene *s;
    struct view_alloc *a;
    struct trace_err *e;
    int frame;
};

/* An affine map: p -> lin * p + t. */
struct affine {
    double lin[3][3];
    struct tvec t;
};

/* ---- small linear algebra ------------------------------------------------------------- */

static struct tvec tv(double x, double y, double z)
{
    struct tvec r = { x, y, z };
    return r;
}

static struct tvec tv_sub(struct tvec a, struct tvec b)
{
    return tv(a.x - b.x, a.y - b.y, a.z - b.z);
}

static struct tvec tv_add(struct tvec a, struct tvec b)
{
    return tv(a.x + b.x, a.y + b.y, a.z + b.z);
}

static struct tvec tv_scale(struct tvec a, double s)
{
    return tv(a.x * s, a.y * s, a.z * s);
}

static double tv_dot(struct tvec a, struct tvec b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

static struct tvec tv_cross(struct tvec a, struct tvec b)
{
    return tv(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

static double tv_len(struct tvec a)
{
    return sqrt(tv_dot(a, a));
}

static struct tvec mat_apply(const double m[3][3], struct tvec p)
{
    return tv(m[0][0] * p.x + m[0][1] * p.y + m[0][2] * p.z,
              m[1][0] * p.x + m[1][1] * p.y + m[1][2] * p.z,
              m[2][0] * p.x + m[2][1] * p.y + m[2][2] * p.z);
}

static void mat_mul(double out[3][3], const double a[3][3], const double b[3][3])
{
    double r[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
    memcpy(out, r, sizeof(r));
}

/* Rotation by angles in degrees about X, then Y, then Z (R = Rz * Ry * Rx). */
static void mat_rotation(double out[3][3], struct tvec deg)
{
    double cx = cos(deg.x * DEG_TO_RAD), sx = sin(deg.x * DEG_TO_RAD);
    double cy = cos(deg.y * DEG_TO_RAD), sy = sin(deg.y * DEG_TO_RAD);
    double cz = cos(deg.z * DEG_TO_RAD), sz = sin(deg.z * DEG_TO_RAD);
    const double rx[3][3] = { { 1, 0, 0 }, { 0, cx, -sx }, { 0, sx, cx } };
    const double ry[3][3] = { { cy, 0, sy }, { 0, 1, 0 }, { -sy, 0, cy } };
    const double rz[3][3] = { { cz, -sz, 0 }, { sz, cz, 0 }, { 0, 0, 1 } };
    double zy[3][3];
    mat_mul(zy, rz, ry);
    mat_mul(out, zy, rx);
}

/* The transpose of the cofactor matrix's transpose: cof(m) = det(m) * inverse(m)^T, which
 * maps normals like the inverse transpose does (up to length), and exists for every m. */
static void mat_cofactor(double out[3][3], const double m[3][3])
{
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            int i1 = (i + 1) % 3, i2 = (i + 2) % 3, j1 = (j + 1) % 3, j2 = (j + 2) % 3;
            out[i][j] = m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1];
        }
    }
}

/* ---- evaluation ----------------------------------------------------------------------- */

static struct tvec prop_at(const struct trace_object *o, enum trace_prop p, int frame)
{
    const struct trace_track *t = &o->props[p];
    return t->n_keys ? trace_track_eval(t, frame) : trace_prop_default(o->kind, p);
}

/* orbit about pivot, applied after everything else */
static void orbit_of(const struct trace_object *o, int frame, double rot[3][3],
                     struct tvec *pivot)
{
    mat_rotation(rot, prop_at(o, TRACE_P_ORBIT, frame));
    *pivot = prop_at(o, TRACE_P_PIVOT, frame);
}

static struct tvec orbit_point(const double rot[3][3], struct tvec pivot, struct tvec p)
{
    return tv_add(pivot, mat_apply(rot, tv_sub(p, pivot)));
}

/* The whole transform of a shaped object: scale, rotate, position, orbit about pivot. */
static void object_transform(const struct trace_object *o, int frame, struct affine *out)
{
    struct tvec scale = prop_at(o, TRACE_P_SCALE, frame);
    double rot[3][3], orb[3][3], lin[3][3];
    struct tvec pivot;
    mat_rotation(rot, prop_at(o, TRACE_P_ROTATE, frame));
    orbit_of(o, frame, orb, &pivot);
    const double s[3][3] = { { scale.x, 0, 0 }, { 0, scale.y, 0 }, { 0, 0, scale.z } };
    mat_mul(lin, rot, s);
    mat_mul(out->lin, orb, lin);
    out->t = orbit_point(orb, pivot, prop_at(o, TRACE_P_POSITION, frame));
}

static struct tvec affine_apply(const struct affine *a, struct tvec p)
{
    return tv_add(mat_apply(a->lin, p), a->t);
}

static struct trace_vec3 to_float(struct tvec v)
{
    struct trace_vec3 f = { (float)v.x, (float)v.y, (float)v.z };
    return f;
}

static int is_finite3(struct trace_vec3 v)
{
    return isfinite(v.x) && isfinite(v.y) && isfinite(v.z);
}

static int object_fail(struct builder *b, const struct trace_object *o, int rc, const char *what)
{
    return trace_err_set(b->e, rc, NULL, 0, 0, "frame %d: the %s at %s:%d:%d %s", b->frame,
                         trace_object_kind_name(o->kind), b->s->files[o->file], o->line,
                         o->col, what);
}

/* ---- primitives ----------------------------------------------------------------------- */

static int add_triangle(struct builder *b, const struct trace_object *o, struct tvec pa,
                        struct tvec pb, struct tvec pc, const struct tvec *normals)
{
    struct view_alloc *a = b->a;
    struct trace_view *v = &a->view;
    struct trace_vec3 p0 = to_float(pa), p1 = to_float(pb), p2 = to_float(pc);
    if (!is_finite3(p0) || !is_finite3(p1) || !is_finite3(p2))
        return object_fail(b, o, -EINVAL, "has coordinates too large for a float");
    struct trace_triangle t;
    t.p0 = p0;
    t.e1 = (struct trace_vec3){ p1.x - p0.x, p1.y - p0.y, p1.z - p0.z };
    t.e2 = (struct trace_vec3){ p2.x - p0.x, p2.y - p0.y, p2.z - p0.z };
    struct tvec cross = tv_cross(tv(t.e1.x, t.e1.y, t.e1.z), tv(t.e2.x, t.e2.y, t.e2.z));
    if (tv_dot(cross, cross) == 0)
        return 0;               /* no area: no ray can hit it */
    t.material = o->material;
    t.light = -1;
    t.normals = -1;
    if (normals) {
        struct trace_tri_normals tn;
        int ok = 1;
        for (int i = 0; i < 3; i++) {
            double len = tv_len(normals[i]);
            ok &= len > 0 && isfinite(len);
            tn.n[i] = ok ? to_float(tv_scale(normals[i], 1.0 / len)) : (struct trace_vec3){ 0 };
        }
        if (ok) {
            if (trace_grow((void **)&a->normals, &a->cap_normals, v->n_normals + 1,
                           sizeof(*a->normals)) < 0)
                return -ENOMEM;
            t.normals = v->n_normals;
            a->normals[v->n_normals++] = tn;
        }
    }
    if (trace_grow((void **)&a->triangles, &a->cap_triangles, v->n_triangles + 1,
                   sizeof(*a->triangles)) < 0)
        return -ENOMEM;
    a->triangles[v->n_triangles++] = t;
    return 0;
}

static int add_quad_corners(struct builder *b, const struct trace_object *o,
                            const struct tvec c[4])
{
    int rc = add_triangle(b, o, c[0], c[1], c[2], NULL);
    return rc < 0 ? rc : add_triangle(b, o, c[0], c[2], c[3], NULL);
}

static int add_quad(struct builder *b, const struct trace_object *o)
{
    struct affine x;
    object_transform(o, b->frame, &x);
    struct tvec corner = prop_at(o, TRACE_P_CORNER, b->frame);
    struct tvec e1 = prop_at(o, TRACE_P_EDGE1, b->frame), e2 = prop_at(o, TRACE_P_EDGE2, b->frame);
    struct tvec c[4] = {
        affine_apply(&x, corner),
        affine_apply(&x, tv_add(corner, e1)),
        affine_apply(&x, tv_add(tv_add(corner, e1), e2)),
        affine_apply(&x, tv_add(corner, e2)),
    };
    return add_quad_corners(b, o, c);
}

static int add_box(struct builder *b, const struct trace_object *o)
{
    /* corner i has x = bit 0, y = bit 1, z = bit 2; faces wound outwards */
    static const int faces[6][4] = {
        { 1, 3, 7, 5 }, { 0, 4, 6, 2 }, { 2, 6, 7, 3 },
        { 0, 1, 5, 4 }, { 4, 5, 7, 6 }, { 0, 2, 3, 1 },
    };
    struct affine x;
    object_transform(o, b->frame, &x);
    struct tvec size = prop_at(o, TRACE_P_SIZE, b->frame), corners[8];
    for (int i = 0; i < 8; i++)
        corners[i] = affine_apply(&x, tv(((i & 1) - 0.5) * size.x, (((i >> 1) & 1) - 0.5) * size.y,
                                         (((i >> 2) & 1) - 0.5) * size.z));
    for (int f = 0; f < 6; f++) {
        struct tvec c[4];
        for (int k = 0; k < 4; k++)
            c[k] = corners[faces[f][k]];
        int rc = add_quad_corners(b, o, c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int add_mesh(struct builder *b, const struct trace_object *o)
{
    const struct trace_mesh *m = &b->s->meshes[o->mesh];
    struct affine x;
    double nmat[3][3];
    object_transform(o, b->frame, &x);
    mat_cofactor(nmat, x.lin);
    for (long t = 0; t < m->n_tris; t++) {
        const int32_t *tri = m->tris + 6 * t;
        struct tvec p[3], n[3];
        for (int c = 0; c < 3; c++) {
            const float *q = m->positions + 3 * tri[c];
            p[c] = affine_apply(&x, tv(q[0], q[1], q[2]));
            if (tri[3] >= 0) {
                const float *nn = m->normals + 3 * tri[3 + c];
                n[c] = mat_apply(nmat, tv(nn[0], nn[1], nn[2]));
            }
        }
        int rc = add_triangle(b, o, p[0], p[1], p[2], tri[3] >= 0 ? n : NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int add_sphere(struct builder *b, const struct trace_object *o)
{
    struct view_alloc *a = b->a;
    double rot[3][3];
    struct tvec pivot;
    orbit_of(o, b->frame, rot, &pivot);
    struct trace_sphere sp;
    sp.center = to_float(orbit_point(rot, pivot, prop_at(o, TRACE_P_POSITION, b->frame)));
    sp.radius = (float)prop_at(o, TRACE_P_RADIUS, b->frame).x;
    sp.material = o->material;
    sp.light = -1;
    if (!is_finite3(sp.center) || !isfinite(sp.radius))
        return object_fail(b, o, -EINVAL, "has coordinates too large for a float");
    if (!(sp.radius > 0))
        return 0;               /* radius 0 (a spline may dip below): not there this frame */
    if (trace_grow((void **)&a->spheres, &a->cap_spheres, a->view.n_spheres + 1,
                   sizeof(*a->spheres)) < 0)
        return -ENOMEM;
    a->spheres[a->view.n_spheres++] = sp;
    return 0;
}

static int add_plane(struct builder *b, const struct trace_object *o)
{
    struct view_alloc *a = b->a;
    double rot[3][3];
    struct tvec pivot;
    orbit_of(o, b->frame, rot, &pivot);
    struct tvec n = mat_apply(rot, prop_at(o, TRACE_P_NORMAL, b->frame));
    double len = tv_len(n);
    if (!(len > 0) || !isfinite(len))
        return object_fail(b, o, -EINVAL, "has a normal of length zero");
    struct trace_plane pl;
    pl.point = to_float(orbit_point(rot, pivot, prop_at(o, TRACE_P_POSITION, b->frame)));
    pl.normal = to_float(tv_scale(n, 1.0 / len));
    pl.material = o->material;
    if (!is_finite3(pl.point))
        return object_fail(b, o, -EINVAL, "has coordinates too large for a float");
    if (trace_grow((void **)&a->planes, &a->cap_planes, a->view.n_planes + 1,
                   sizeof(*a->planes)) < 0)
        return -ENOMEM;
    a->planes[a->view.n_planes++] = pl;
    return 0;
}

/* ---- camera, lights, BVH -------------------------------------------------------------- */

static int build_camera(struct builder *b)
{
    const struct trace_object *c = &b->s->camera;
    struct trace_view *v = &b->a->view;
    double rot[3][3];
    struct tvec pivot;
    orbit_of(c, b->frame, rot, &pivot);
    struct tvec eye = orbit_point(rot, pivot, prop_at(c, TRACE_P_POSITION, b->frame));
    struct tvec at = orbit_point(rot, pivot, prop_at(c, TRACE_P_LOOK_AT, b->frame));
    struct tvec up = mat_apply(rot, prop_at(c, TRACE_P_UP, b->frame));
    double fov = prop_at(c, TRACE_P_FOV, b->frame).x;
    double aperture = prop_at(c, TRACE_P_APERTURE, b->frame).x;
    double focus = prop_at(c, TRACE_P_FOCUS_DISTANCE, b->frame).x;
    struct tvec w = tv_sub(at, eye);
    double dist = tv_len(w);
    if (!(dist > 0) || !isfinite(dist))
        return object_fail(b, c, -EINVAL, "looks at its own position (look_at equals "
                           "position)");
    w = tv_scale(w, 1.0 / dist);
    struct tvec u = tv_cross(w, up);
    double ulen = tv_len(u);
    if (!(ulen > 1e-12) || !isfinite(ulen))
        return object_fail(b, c, -EINVAL, "has 'up' along its line of sight; choose another "
                           "'up'");
    u = tv_scale(u, 1.0 / ulen);
    struct tvec vv = tv_cross(u, w);
    if (!(fov > 0 && fov < 180))
        return object_fail(b, c, -EINVAL, "has a field of view outside 0..180 degrees");
    if (!(focus > 0))
        focus = dist;
    if (!(aperture > 0))
        aperture = 0;
    double half_h = tan(fov * 0.5 * DEG_TO_RAD) * focus;
    double half_w = half_h * (double)v->width / (double)v->height;
    struct trace_camera *cam = &v->camera;
    cam->origin = to_float(eye);
    cam->forward = to_float(tv_scale(w, focus));
    cam->right = to_float(tv_scale(u, half_w));
    cam->up = to_float(tv_scale(vv, half_h));
    cam->lens_u = to_float(tv_scale(u, aperture * 0.5));
    cam->lens_v = to_float(tv_scale(vv, aperture * 0.5));
    if (!is_finite3(cam->origin) || !is_finite3(cam->forward) || !is_finite3(cam->right) ||
        !is_finite3(cam->up) || !is_finite3(cam->lens_u))
        return object_fail(b, c, -EINVAL, "has coordinates too large for a float");
    return 0;
}

static double triangle_area(const struct trace_triangle *t)
{
    return 0.5 * tv_len(tv_cross(tv(t->e1.x, t->e1.y, t->e1.z), tv(t->e2.x, t->e2.y, t->e2.z)));
}

static double sphere_area(const struct trace_sphere *sp)
{
    return 4 * 3.14159265358979323846 * (double)sp->radius * sp->radius;
}

static double luminance(struct trace_vec3 c)
{
    return 0.2126 * c.x + 0.7152 * c.y + 0.0722 * c.z;
}

/* Every emissive triangle and sphere, chosen in proportion to area times brightness. */
static int build_lights(struct builder *b)
{
    struct view_alloc *a = b->a;
    struct trace_view *v = &a->view;
    int n = v->n_triangles + v->n_spheres, count = 0;
    double *weight = calloc(n ? (size_t)n : 1, sizeof(*weight)), total = 0;
    if (!weight)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        int material;
        double area;
        if (i < v->n_triangles) {
            material = a->triangles[i].material;
            area = triangle_area(&a->triangles[i]);
        } else {
            material = a->spheres[i - v->n_triangles].material;
            area = sphere_area(&a->spheres[i - v->n_triangles]);
        }
        const struct trace_material *m = &a->materials[material];
        double w = m->kind == TRACE_MAT_EMISSIVE ? area * luminance(m->emission) : 0;
        if (w > 0 && isfinite(w)) {
            weight[i] = w;
            total += w;
            count++;
        }
    }
    if (count == 0 || !(total > 0) || !isfinite(total)) {
        free(weight);
        return 0;
    }
    a->lights = calloc((size_t)count, sizeof(*a->lights));
    if (!a->lights) {
        free(weight);
        return -ENOMEM;
    }
    double run = 0;
    for (int i = 0; i < n; i++) {
        if (weight[i] == 0)
            continue;
        struct trace_light *l = &a->lights[v->n_lights];
        run += weight[i];
        l->cdf = (float)(run / total);
        l->select = (float)(weight[i] / total);
        if (i < v->n_triangles) {
            l->prim = (uint32_t)i;
            l->area = (float)triangle_area(&a->triangles[i]);
            a->triangles[i].light = v->n_lights;
        } else {
            l->prim = (uint32_t)(i - v->n_triangles) | TRACE_PRIM_SPHERE;
            l->area = (float)sphere_area(&a->spheres[i - v->n_triangles]);
            a->spheres[i - v->n_triangles].light = v->n_lights;
        }
        v->n_lights++;
    }
    a->lights[v->n_lights - 1].cdf = 1.0f;   /* so every u in [0, 1) finds a light */
    free(weight);
    return 0;
}

static int build_bvh(struct builder *b)
{
    struct view_alloc *a = b->a;
    struct trace_view *v = &a->view;
    uint32_t n = (uint32_t)v->n_triangles + (uint32_t)v->n_spheres;
    struct trace_vec3 *lo = malloc((n ? n : 1) * sizeof(*lo));
    struct trace_vec3 *hi = malloc((n ? n : 1) * sizeof(*hi));
    uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    int rc = -ENOMEM;
    if (lo && hi && ids) {
        for (uint32_t i = 0; i < n; i++) {
            if (i < (uint32_t)v->n_triangles) {
                const struct trace_triangle *t = &a->triangles[i];
                struct trace_vec3 p1 = { t->p0.x + t->e1.x, t->p0.y + t->e1.y, t->p0.z + t->e1.z };
                struct trace_vec3 p2 = { t->p0.x + t->e2.x, t->p0.y + t->e2.y, t->p0.z + t->e2.z };
                lo[i] = (struct trace_vec3){ fminf(t->p0.x, fminf(p1.x, p2.x)),
                                             fminf(t->p0.y, fminf(p1.y, p2.y)),
                                             fminf(t->p0.z, fminf(p1.z, p2.z)) };
                hi[i] = (struct trace_vec3){ fmaxf(t->p0.x, fmaxf(p1.x, p2.x)),
                                             fmaxf(t->p0.y, fmaxf(p1.y, p2.y)),
                                             fmaxf(t->p0.z, fmaxf(p1.z, p2.z)) };
                ids[i] = i;
            } else {
                const struct trace_sphere *sp = &a->spheres[i - (uint32_t)v->n_triangles];
                float r = sp->radius;
                lo[i] = (struct trace_vec3){ sp->center.x - r, sp->center.y - r, sp->center.z - r };
                hi[i] = (struct trace_vec3){ sp->center.x + r, sp->center.y + r, sp->center.z + r };
                ids[i] = (i - (uint32_t)v->n_triangles) | TRACE_PRIM_SPHERE;
            }
        }
        rc = trace_bvh_build(lo, hi, ids, n, &a->nodes, &v->n_nodes, &a->prims);
        v->n_prims = (int)n;
    }
    free(lo);
    free(hi);
    free(ids);
    return rc;
}

/* ---- the view ------------------------------------------------------------------------- */

static int add_object(struct builder *b, const struct trace_object *o)
{
    switch (o->kind) {
    case TRACE_OBJ_SPHERE: return add_sphere(b, o);
    case TRACE_OBJ_PLANE: return add_plane(b, o);
    case TRACE_OBJ_QUAD: return add_quad(b, o);
    case TRACE_OBJ_BOX: return add_box(b, o);
    case TRACE_OBJ_MESH: return add_mesh(b, o);
    default: return 0;
    }
}

static int check_size(struct trace_err *e, int frame, int width, int height, int samples)
{
    if (width < 1 || width > TRACE_MAX_SIZE || height < 1 || height > TRACE_MAX_SIZE)
        return trace_err_set(e, -EINVAL, NULL, 0, 0, "frame %d: size %dx%d is outside 1x1.."
                             "%dx%d", frame, width, height, TRACE_MAX_SIZE, TRACE_MAX_SIZE);
    if (samples < 1 || samples > TRACE_MAX_SAMPLES)
        return trace_err_set(e, -EINVAL, NULL, 0, 0, "frame %d: %d samples is outside 1..%d",
                             frame, samples, TRACE_MAX_SAMPLES);
    if (frame < -TRACE_MAX_FRAME || frame > TRACE_MAX_FRAME)
        return trace_err_set(e, -EINVAL, NULL, 0, 0, "frame %d is outside -%d..%d", frame,
                             TRACE_MAX_FRAME, TRACE_MAX_FRAME);
    return 0;
}

int trace_view_build(const struct trace_scene *s, int frame, int width, int height,
                     int samples, struct trace_view **out, char *why, size_t why_len)
{
    *out = NULL;
    if (why && why_len)
        why[0] = '\0';
    struct trace_err e = { why, why_len, 0 };
    width = width ? width : s->width;
    height = height ? height : s->height;
    samples = samples ? samples : s->samples;
    int rc = check_size(&e, frame, width, height, samples);
    if (rc < 0)
        return rc;
    struct view_alloc *a = calloc(1, sizeof(*a));
    if (!a)
        return trace_err_set(&e, -ENOMEM, NULL, 0, 0, "out of memory");
    struct trace_view *v = &a->view;
    v->frame = frame;
    v->width = width;
    v->height = height;
    v->samples = samples;
    v->max_bounces = s->max_bounces;
    v->clamp = (float)s->clamp;
    v->sky_horizon = to_float(s->sky_horizon);
    v->sky_zenith = to_float(s->sky_zenith);
    struct builder b = { .s = s, .a = a, .e = &e, .frame = frame };
    a->materials = calloc(s->n_materials ? (size_t)s->n_materials : 1, sizeof(*a->materials));
    rc = a->materials ? 0 : -ENOMEM;
    for (int i = 0; rc == 0 && i < s->n_materials; i++)
        a->materials[i] = s->materials[i].m;
    v->n_materials = s->n_materials;
    if (rc == 0)
        rc = build_camera(&b);
    for (int i = 0; rc == 0 && i < s->n_objects; i++)
        rc = add_object(&b, &s->objects[i]);
    if (rc == 0)
        rc = build_lights(&b);
    if (rc == 0)
        rc = build_bvh(&b);
    v->materials = a->materials;
    v->spheres = a->spheres;
    v->planes = a->planes;
    v->triangles = a->triangles;
    v->normals = a->normals;
    v->nodes = a->nodes;
    v->prims = a->prims;
    v->lights = a->lights;
    if (rc < 0) {
        if (rc == -ENOMEM)
            trace_err_set(&e, rc, NULL, 0, 0, "frame %d: out of memory", frame);
        trace_view_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void trace_view_free(struct trace_view *v)
{
    if (!v)
        return;
    struct view_alloc *a = (struct view_alloc *)v;
    free(a->materials);
    free(a->spheres);
    free(a->planes);
    free(a->triangles);
    free(a->normals);
    free(a->nodes);
    free(a->prims);
    free(a->lights);
    free(a);
}
