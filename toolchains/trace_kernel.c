/* toolchains/trace_kernel.c - trace_pixel(): a path tracer over one struct trace_view.
 *
 * Rules kept so this file is also an OpenCL and a CUDA kernel (see trace_kernel.h): no
 * allocation, no recursion (the bounce loop and the BVH walk are loops with fixed-size
 * stacks), no globals, float arithmetic and the exactly rounded float functions only. Sines
 * and cosines come from a polynomial below rather than libm, whose results may differ
 * between versions and devices; a frame split over machines must give the same pixels.
 *
 * Light transport: diffuse surfaces sample a light (next-event estimation) and a cosine
 * direction, weighted by the power heuristic; metal and glass only continue the path;
 * Russian roulette after TRACE_RR_BOUNCE bounces. */
#include "toolchains/trace_kernel.h"

#ifndef TRACE_DEVICE
#include <math.h>
#endif

#ifndef TRACE_FN
#define TRACE_FN static inline
#endif

#define TRACE_PI 3.14159265358979f
#define TRACE_FAR 1e30f
/* A ray leaves a surface this far out, relative to the size of the hit point's coordinates:
 * near enough not to skip thin geometry, far enough for float rounding not to make the
 * surface hit itself. */
#define TRACE_EPS_REL 1e-4f
/* Shadow rays stop this fraction short of the light sample, so they do not hit the light. */
#define TRACE_SHADOW_SHORTEN 1e-3f
#define TRACE_RR_BOUNCE 3
#define TRACE_STACK (TRACE_BVH_MAX_DEPTH + 4)

/* ---- vectors -------------------------------------------------------------------------- */

/* Minimum and maximum as comparisons, which compile to single instructions; libm's fminf
 * and fmaxf are calls (they must treat NaN specially). Where an operand is NaN these
 * return the second one; no result here depends on that case. */
TRACE_FN float minf(float a, float b)
{
    return a < b ? a : b;
}

TRACE_FN float maxf(float a, float b)
{
    return a > b ? a : b;
}

TRACE_FN struct trace_vec3 v3(float x, float y, float z)
{
    struct trace_vec3 r;
    r.x = x;
    r.y = y;
    r.z = z;
    return r;
}

TRACE_FN struct trace_vec3 v3_add(struct trace_vec3 a, struct trace_vec3 b)
{
    return v3(a.x + b.x, a.y + b.y, a.z + b.z);
}

TRACE_FN struct trace_vec3 v3_sub(struct trace_vec3 a, struct trace_vec3 b)
{
    return v3(a.x - b.x, a.y - b.y, a.z - b.z);
}

TRACE_FN struct trace_vec3 v3_mul(struct trace_vec3 a, struct trace_vec3 b)
{
    return v3(a.x * b.x, a.y * b.y, a.z * b.z);
}

TRACE_FN struct trace_vec3 v3_scale(struct trace_vec3 a, float s)
{
    return v3(a.x * s, a.y * s, a.z * s);
}

/* a + b * s */
TRACE_FN struct trace_vec3 v3_madd(struct trace_vec3 a, struct trace_vec3 b, float s)
{
    return v3(a.x + b.x * s, a.y + b.y * s, a.z + b.z * s);
}

TRACE_FN float v3_dot(struct trace_vec3 a, struct trace_vec3 b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

TRACE_FN struct trace_vec3 v3_cross(struct trace_vec3 a, struct trace_vec3 b)
{
    return v3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

TRACE_FN struct trace_vec3 v3_norm(struct trace_vec3 a)
{
    float len2 = v3_dot(a, a);
    return len2 > 0.0f ? v3_scale(a, 1.0f / sqrtf(len2)) : a;
}

TRACE_FN float v3_max(struct trace_vec3 a)
{
    return maxf(a.x, maxf(a.y, a.z));
}

TRACE_FN struct trace_vec3 v3_reflect(struct trace_vec3 d, struct trace_vec3 n)
{
    return v3_madd(d, n, -2.0f * v3_dot(d, n));
}

/* ---- random numbers ------------------------------------------------------------------- */

/* Chris Wellons' lowbias32: a 32-bit integer hash whose output bits each depend on every
 * input bit. */
TRACE_FN uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* The stream of one bounce of one path: base names (frame, x, y, sample, bounce), n counts
 * the numbers drawn. Nothing else feeds it: no thread, region or order. */
struct rng {
    uint32_t base, n;
};

TRACE_FN uint32_t path_seed(int frame, int x, int y, int sample)
{
    uint32_t h = hash32((uint32_t)frame ^ 0x5bd1e995u);
    h = hash32(h ^ (uint32_t)x);
    h = hash32(h ^ ((uint32_t)y * 0x9e3779b9u));
    return hash32(h ^ (uint32_t)sample);
}

TRACE_FN struct rng rng_for_bounce(uint32_t seed, int bounce)
{
    struct rng r;
    r.base = hash32(seed ^ hash32((uint32_t)bounce + 0x68e31da4u));
    r.n = 0;
    return r;
}

/* A float in [0, 1): the top 24 bits, which a float holds exactly. Each call is a
 * statement of its own, never one of two calls in an expression or argument list: C leaves
 * the order of function arguments to the compiler (gcc and clang differ), and the numbers
 * must be drawn in the same order by every build. */
TRACE_FN float rng_next(struct rng *r)
{
    r->n++;
    return (float)(hash32(r->base + r->n * 0x9e3779b9u) >> 8) * (1.0f / 16777216.0f);
}

/* ---- sampling ------------------------------------------------------------------------- */

/* sin and cos of 2*pi*t for t in [0, 1): Taylor series on a quarter turn (error below
 * 1e-7), then the quadrant. Used instead of libm so results are the same everywhere. */
TRACE_FN void sincos_turns(float t, float *s_out, float *c_out)
{
    float q4 = t * 4.0f;
    int q = (int)q4;
    if (q < 0)
        q = 0;
    if (q > 3)
        q = 3;
    float a = (q4 - (float)q) * (0.5f * TRACE_PI);
    float a2 = a * a;
    float s = a * (1.0f - a2 / 6.0f * (1.0f - a2 / 20.0f * (1.0f - a2 / 42.0f *
                  (1.0f - a2 / 72.0f * (1.0f - a2 / 110.0f)))));
    float c = 1.0f - a2 / 2.0f * (1.0f - a2 / 12.0f * (1.0f - a2 / 30.0f *
                  (1.0f - a2 / 56.0f * (1.0f - a2 / 90.0f * (1.0f - a2 / 132.0f)))));
    if (q == 0) {
        *s_out = s;
        *c_out = c;
    } else if (q == 1) {
        *s_out = c;
        *c_out = -s;
    } else if (q == 2) {
        *s_out = -s;
        *c_out = -c;
    } else {
        *s_out = -c;
        *c_out = s;
    }
}

/* A point of the unit disk, uniform in area. */
TRACE_FN void sample_disk(float u1, float u2, float *x, float *y)
{
    float r = sqrtf(u1), s, c;
    sincos_turns(u2, &s, &c);
    *x = r * c;
    *y = r * s;
}

/* A direction on the unit sphere, uniform. */
TRACE_FN struct trace_vec3 sample_sphere(float u1, float u2)
{
    float z = 1.0f - 2.0f * u1;
    float r = sqrtf(maxf(0.0f, 1.0f - z * z)), s, c;
    sincos_turns(u2, &s, &c);
    return v3(r * c, r * s, z);
}

/* Two unit vectors that make an orthonormal basis with n (Duff et al. 2017). */
TRACE_FN void basis_of(struct trace_vec3 n, struct trace_vec3 *t, struct trace_vec3 *b)
{
    float sign = copysignf(1.0f, n.z);
    float a = -1.0f / (sign + n.z);
    float c = n.x * n.y * a;
    *t = v3(1.0f + sign * n.x * n.x * a, sign * c, -sign * n.x);
    *b = v3(c, sign + n.y * n.y * a, -n.y);
}

/* A direction around n with density cos(theta) / pi. */
TRACE_FN struct trace_vec3 sample_cosine(struct trace_vec3 n, float u1, float u2)
{
    float x, y;
    sample_disk(u1, u2, &x, &y);
    float z = sqrtf(maxf(0.0f, 1.0f - u1));
    struct trace_vec3 t, b;
    basis_of(n, &t, &b);
    return v3_norm(v3_add(v3_add(v3_scale(t, x), v3_scale(b, y)), v3_scale(n, z)));
}

/* ---- intersection --------------------------------------------------------------------- */

struct ray {
    struct trace_vec3 o, d, inv;
};

TRACE_FN struct ray ray_make(struct trace_vec3 o, struct trace_vec3 d)
{
    struct ray r;
    r.o = o;
    r.d = d;
    r.inv = v3(1.0f / d.x, 1.0f / d.y, 1.0f / d.z);
    return r;
}

struct hit {
    float t;
    uint32_t prim;              /* as in the BVH; planes are TRACE_HIT_PLANE | index */
    float u, v;                 /* barycentric coordinates on a triangle */
};

#define TRACE_HIT_NONE 0xffffffffu
#define TRACE_HIT_PLANE 0x40000000u

/* Entry distance of the ray into the box, or TRACE_FAR when it misses or enters beyond
 * tmax. A ray lying in a slab's plane makes 0 * inf = NaN; the box then counts as hit or
 * missed, the same way every time, and the primitives inside decide. */
TRACE_FN float box_entry(TRACE_GLOBAL const struct trace_bvh_node *n, const struct ray *r,
                         float tmax)
{
    float tx1 = (n->lo.x - r->o.x) * r->inv.x, tx2 = (n->hi.x - r->o.x) * r->inv.x;
    float ty1 = (n->lo.y - r->o.y) * r->inv.y, ty2 = (n->hi.y - r->o.y) * r->inv.y;
    float tz1 = (n->lo.z - r->o.z) * r->inv.z, tz2 = (n->hi.z - r->o.z) * r->inv.z;
    float t0 = maxf(maxf(minf(tx1, tx2), minf(ty1, ty2)), maxf(minf(tz1, tz2), 0.0f));
    float t1 = minf(minf(maxf(tx1, tx2), maxf(ty1, ty2)), minf(maxf(tz1, tz2), tmax));
    return t0 <= t1 ? t0 : TRACE_FAR;
}

/* Möller-Trumbore. Returns 1 and fills t, u, v when the ray meets the triangle in
 * (0, tmax). */
TRACE_FN int hit_triangle(TRACE_GLOBAL const struct trace_triangle *tri, const struct ray *r,
                          float tmax, float *t, float *u, float *v)
{
    struct trace_vec3 p = v3_cross(r->d, tri->e2);
    float det = v3_dot(tri->e1, p);
    if (det == 0.0f)
        return 0;
    float inv = 1.0f / det;
    struct trace_vec3 s = v3_sub(r->o, tri->p0);
    float bu = v3_dot(s, p) * inv;
    if (!(bu >= 0.0f && bu <= 1.0f))
        return 0;
    struct trace_vec3 q = v3_cross(s, tri->e1);
    float bv = v3_dot(r->d, q) * inv;
    if (!(bv >= 0.0f && bu + bv <= 1.0f))
        return 0;
    float tt = v3_dot(tri->e2, q) * inv;
    if (!(tt > 0.0f && tt < tmax))
        return 0;
    *t = tt;
    *u = bu;
    *v = bv;
    return 1;
}

/* The nearest t in (0, tmax) where the ray (unit direction) meets the sphere, or 0. */
TRACE_FN float hit_sphere(TRACE_GLOBAL const struct trace_sphere *s, const struct ray *r,
                          float tmax)
{
    struct trace_vec3 oc = v3_sub(r->o, s->center);
    float b = v3_dot(oc, r->d);
    float c = v3_dot(oc, oc) - s->radius * s->radius;
    float disc = b * b - c;
    if (!(disc >= 0.0f))
        return 0.0f;
    float root = sqrtf(disc);
    float t = -b - root;
    if (!(t > 0.0f))
        t = -b + root;
    return t > 0.0f && t < tmax ? t : 0.0f;
}

TRACE_FN float hit_plane(TRACE_GLOBAL const struct trace_plane *p, const struct ray *r,
                         float tmax)
{
    float denom = v3_dot(p->normal, r->d);
    if (denom == 0.0f)
        return 0.0f;
    float t = v3_dot(v3_sub(p->point, r->o), p->normal) / denom;
    return t > 0.0f && t < tmax ? t : 0.0f;
}

/* Test the primitive `prim` and shorten h->t on a hit. */
TRACE_FN void hit_prim(const struct trace_view *v, uint32_t prim,
                       const struct ray *r, struct hit *h)
{
    if (prim & TRACE_PRIM_SPHERE) {
        float t = hit_sphere(&v->spheres[prim & ~TRACE_PRIM_SPHERE], r, h->t);
        if (t > 0.0f) {
            h->t = t;
            h->prim = prim;
        }
    } else {
        float t, bu, bv;
        if (hit_triangle(&v->triangles[prim], r, h->t, &t, &bu, &bv)) {
            h->t = t;
            h->prim = prim;
            h->u = bu;
            h->v = bv;
        }
    }
}

/* The nearest hit closer than tmax, or h.prim == TRACE_HIT_NONE. With any_hit, stop at
 * the first hit found (shadow rays). */
TRACE_FN struct hit intersect(const struct trace_view *v, const struct ray *r,
                              float tmax, int any_hit)
{
    struct hit h;
    h.t = tmax;
    h.prim = TRACE_HIT_NONE;
    h.u = 0.0f;
    h.v = 0.0f;
    for (int i = 0; i < v->n_planes; i++) {
        float t = hit_plane(&v->planes[i], r, h.t);
        if (t > 0.0f) {
            h.t = t;
            h.prim = TRACE_HIT_PLANE | (uint32_t)i;
            if (any_hit)
                return h;
        }
    }
    if (v->n_nodes == 0 || box_entry(&v->nodes[0], r, h.t) >= TRACE_FAR)
        return h;
    int stack[TRACE_STACK];
    float stack_t[TRACE_STACK];
    int sp = 0, idx = 0;
    for (;;) {
        TRACE_GLOBAL const struct trace_bvh_node *n = &v->nodes[idx];
        if (n->count > 0) {
            for (int i = 0; i < n->count; i++) {
                hit_prim(v, v->prims[n->first + i], r, &h);
                if (any_hit && h.prim != TRACE_HIT_NONE)
                    return h;
            }
        } else {
            int a = n->first, b = n->first + 1;
            float ta = box_entry(&v->nodes[a], r, h.t), tb = box_entry(&v->nodes[b], r, h.t);
            if (tb < ta) {
                int ti = a;
                a = b;
                b = ti;
                float tt = ta;
                ta = tb;
                tb = tt;
            }
            if (ta < TRACE_FAR) {
                if (tb < TRACE_FAR && sp < TRACE_STACK) {
                    stack[sp] = b;
                    stack_t[sp] = tb;
                    sp++;
                }
                idx = a;
                continue;
            }
        }
        /* next: the nearest postponed node still in front of the nearest hit */
        for (;;) {
            if (sp == 0)
                return h;
            sp--;
            if (stack_t[sp] < h.t)
                break;
        }
        idx = stack[sp];
    }
}

/* ---- surfaces ------------------------------------------------------------------------- */

struct surface {
    struct trace_vec3 p;        /* the hit point */
    struct trace_vec3 ng;       /* geometric normal, facing the incoming ray */
    struct trace_vec3 ns;       /* shading normal, on the side of ng */
    int material;
    int light;
    int front;                  /* the ray came from the side the normal points to */
};

TRACE_FN struct surface surface_at(const struct trace_view *v,
                                   const struct ray *r, const struct hit *h)
{
    struct surface s;
    s.p = v3_madd(r->o, r->d, h->t);
    s.light = -1;
    if (h->prim & TRACE_PRIM_SPHERE) {
        TRACE_GLOBAL const struct trace_sphere *sp = &v->spheres[h->prim & ~TRACE_PRIM_SPHERE];
        s.ng = v3_norm(v3_sub(s.p, sp->center));
        s.ns = s.ng;
        s.material = sp->material;
        s.light = sp->light;
    } else if (h->prim & TRACE_HIT_PLANE) {
        TRACE_GLOBAL const struct trace_plane *pl = &v->planes[h->prim & ~TRACE_HIT_PLANE];
        s.ng = pl->normal;
        s.ns = s.ng;
        s.material = pl->material;
    } else {
        TRACE_GLOBAL const struct trace_triangle *tri = &v->triangles[h->prim];
        s.ng = v3_norm(v3_cross(tri->e1, tri->e2));
        s.ns = s.ng;
        if (tri->normals >= 0) {
            TRACE_GLOBAL const struct trace_tri_normals *tn = &v->normals[tri->normals];
            float w = 1.0f - h->u - h->v;
            s.ns = v3_norm(v3_add(v3_add(v3_scale(tn->n[0], w), v3_scale(tn->n[1], h->u)),
                                  v3_scale(tn->n[2], h->v)));
            if (v3_dot(s.ns, s.ng) < 0.0f)   /* normals wound against the corners */
                s.ns = v3_scale(s.ns, -1.0f);
        }
        s.material = tri->material;
        s.light = tri->light;
    }
    s.front = v3_dot(s.ng, r->d) < 0.0f;
    if (!s.front) {
        s.ng = v3_scale(s.ng, -1.0f);
        s.ns = v3_scale(s.ns, -1.0f);
    }
    return s;
}

/* The origin of a ray leaving the surface at p towards the side of `side`. */
TRACE_FN struct trace_vec3 offset_from(struct trace_vec3 p, struct trace_vec3 side)
{
    float scale = 1.0f + maxf(fabsf(p.x), maxf(fabsf(p.y), fabsf(p.z)));
    return v3_madd(p, side, TRACE_EPS_REL * scale);
}

TRACE_FN struct trace_vec3 background(const struct trace_view *v,
                                      struct trace_vec3 d)
{
    float t = minf(maxf(d.y, 0.0f), 1.0f);
    return v3_add(v3_scale(v->sky_horizon, 1.0f - t), v3_scale(v->sky_zenith, t));
}

/* Power heuristic for two strategies, one sample each. */
TRACE_FN float mis_weight(float pdf_this, float pdf_other)
{
    float a = pdf_this * pdf_this, b = pdf_other * pdf_other;
    return a + b > 0.0f ? a / (a + b) : 0.0f;
}

/* Solid-angle density with which light sampling picks the point at distance `dist` seen
 * under cos_light on light `li`. */
TRACE_FN float light_pdf(const struct trace_view *v, int li, float dist,
                         float cos_light)
{
    TRACE_GLOBAL const struct trace_light *l = &v->lights[li];
    if (!(cos_light > 0.0f) || !(l->area > 0.0f))
        return 0.0f;
    return l->select * dist * dist / (l->area * cos_light);
}

/* Index of the light whose cdf interval holds u. */
TRACE_FN int light_pick(const struct trace_view *v, float u)
{
    int lo = 0, hi = v->n_lights - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (v->lights[mid].cdf > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Direct light at diffuse surface s: one light sample, MIS-weighted against the cosine
 * sampling that continues the path. Returns radiance times the BRDF's cosine term. */
TRACE_FN struct trace_vec3 direct_light(const struct trace_view *v,
                                        const struct surface *s, struct trace_vec3 albedo,
                                        struct rng *rg)
{
    struct trace_vec3 none = v3(0.0f, 0.0f, 0.0f);
    float u0 = rng_next(rg);
    float u1 = rng_next(rg);
    float u2 = rng_next(rg);
    if (v->n_lights == 0)
        return none;
    int li = light_pick(v, u0);
    TRACE_GLOBAL const struct trace_light *l = &v->lights[li];
    struct trace_vec3 q, nq;
    int material;
    if (l->prim & TRACE_PRIM_SPHERE) {
        TRACE_GLOBAL const struct trace_sphere *sp = &v->spheres[l->prim & ~TRACE_PRIM_SPHERE];
        nq = sample_sphere(u1, u2);
        q = v3_madd(sp->center, nq, sp->radius);
        material = sp->material;
    } else {
        TRACE_GLOBAL const struct trace_triangle *tri = &v->triangles[l->prim];
        float su = sqrtf(u1);
        q = v3_madd(v3_madd(tri->p0, tri->e1, su * (1.0f - u2)), tri->e2, su * u2);
        nq = v3_norm(v3_cross(tri->e1, tri->e2));
        material = tri->material;
    }
    struct trace_vec3 to = v3_sub(q, s->p);
    float dist2 = v3_dot(to, to);
    if (!(dist2 > 0.0f))
        return none;
    float dist = sqrtf(dist2);
    struct trace_vec3 wi = v3_scale(to, 1.0f / dist);
    float cos_s = v3_dot(s->ns, wi), cos_g = v3_dot(s->ng, wi);
    float cos_l = -v3_dot(nq, wi);      /* lights shine from their front side only */
    if (!(cos_s > 0.0f && cos_g > 0.0f))
        return none;
    float pdf_l = light_pdf(v, li, dist, cos_l);
    if (!(pdf_l > 0.0f))
        return none;
    struct ray shadow = ray_make(offset_from(s->p, s->ng), wi);
    if (intersect(v, &shadow, dist * (1.0f - TRACE_SHADOW_SHORTEN), 1).prim != TRACE_HIT_NONE)
        return none;
    float w = mis_weight(pdf_l, cos_s / TRACE_PI);
    struct trace_vec3 le = v->materials[material].emission;
    return v3_scale(v3_mul(albedo, le), cos_s / TRACE_PI * w / pdf_l);
}

/* Schlick's approximation of the reflectance of a dielectric. */
TRACE_FN float schlick(float cosine, float ior)
{
    float r0 = (1.0f - ior) / (1.0f + ior);
    r0 = r0 * r0;
    float m = 1.0f - cosine;
    float m2 = m * m;
    return r0 + (1.0f - r0) * m2 * m2 * m;
}

/* ---- paths ---------------------------------------------------------------------------- */

/* Add light `c` that reached the camera after `scatterings` bounces. Light scattered two
 * times or more is limited to v->clamp (when above 0): the rare bright paths of caustics
 * (a diffuse wall, a mirror, the lamp) would otherwise speckle the image at low sample
 * counts. Light seen directly or through one bounce is never changed. */
TRACE_FN struct trace_vec3 add_light(const struct trace_view *v,
                                     struct trace_vec3 radiance, struct trace_vec3 c,
                                     int scatterings)
{
    if (scatterings >= 2 && v->clamp > 0.0f) {
        float m = v3_max(c);
        if (m > v->clamp)
            c = v3_scale(c, v->clamp / m);
    }
    return v3_add(radiance, c);
}

TRACE_FN struct trace_vec3 trace_path(const struct trace_view *v, int x, int y,
                                      uint32_t seed)
{
    struct rng rg = rng_for_bounce(seed, 0);
    const struct trace_camera *cam = &v->camera;
    float sx = ((float)x + rng_next(&rg)) / (float)v->width * 2.0f - 1.0f;
    float sy = 1.0f - ((float)y + rng_next(&rg)) / (float)v->height * 2.0f;
    float lx, ly;
    float l1 = rng_next(&rg);
    float l2 = rng_next(&rg);
    sample_disk(l1, l2, &lx, &ly);
    struct trace_vec3 lens = v3_add(v3_scale(cam->lens_u, lx), v3_scale(cam->lens_v, ly));
    struct trace_vec3 target = v3_add(v3_add(cam->forward, v3_scale(cam->right, sx)),
                                      v3_scale(cam->up, sy));
    struct ray r = ray_make(v3_add(cam->origin, lens), v3_norm(v3_sub(target, lens)));

    struct trace_vec3 radiance = v3(0.0f, 0.0f, 0.0f), beta = v3(1.0f, 1.0f, 1.0f);
    float pdf_diffuse = 0.0f;   /* > 0: the last bounce was diffuse, with this density */
    for (int bounce = 0;; bounce++) {
        struct hit h = intersect(v, &r, TRACE_FAR, 0);
        if (h.prim == TRACE_HIT_NONE) {
            radiance = add_light(v, radiance, v3_mul(beta, background(v, r.d)), bounce);
            break;
        }
        struct surface s = surface_at(v, &r, &h);
        TRACE_GLOBAL const struct trace_material *m = &v->materials[s.material];
        if (m->kind == TRACE_MAT_EMISSIVE) {
            float w = 1.0f;
            if (pdf_diffuse > 0.0f && s.light >= 0)
                w = mis_weight(pdf_diffuse, light_pdf(v, s.light, h.t, -v3_dot(s.ng, r.d)));
            if (s.front)    /* the back of a light is black */
                radiance = add_light(v, radiance, v3_scale(v3_mul(beta, m->emission), w),
                                     bounce);
            break;
        }
        if (bounce >= v->max_bounces)
            break;
        rg = rng_for_bounce(seed, bounce + 1);
        struct trace_vec3 dir;
        struct trace_vec3 from = offset_from(s.p, s.ng);
        if (m->kind == TRACE_MAT_DIFFUSE) {
            radiance = add_light(v, radiance, v3_mul(beta, direct_light(v, &s, m->color, &rg)),
                                 bounce + 1);
            float u1 = rng_next(&rg);
            float u2 = rng_next(&rg);
            dir = sample_cosine(s.ns, u1, u2);
            float cos_s = v3_dot(dir, s.ns);
            if (!(v3_dot(dir, s.ng) > 0.0f) || !(cos_s > 0.0f))
                break;
            beta = v3_mul(beta, m->color);   /* albedo/pi * cos / (cos/pi) */
            pdf_diffuse = cos_s / TRACE_PI;
        } else if (m->kind == TRACE_MAT_METAL) {
            float u1 = rng_next(&rg);
            float u2 = rng_next(&rg);
            struct trace_vec3 fuzz = sample_sphere(u1, u2);
            dir = v3_norm(v3_madd(v3_reflect(r.d, s.ns), fuzz, m->roughness));
            if (!(v3_dot(dir, s.ng) > 0.0f))
                break;
            beta = v3_mul(beta, m->color);
            pdf_diffuse = 0.0f;
        } else {
            float eta = s.front ? 1.0f / m->ior : m->ior;
            float cos_i = minf(-v3_dot(r.d, s.ns), 1.0f);
            float sin2_t = eta * eta * (1.0f - cos_i * cos_i);
            float u = rng_next(&rg);
            if (sin2_t >= 1.0f) {
                dir = v3_reflect(r.d, s.ns);
            } else {
                float cos_t = sqrtf(1.0f - sin2_t);
                float reflectance = schlick(s.front ? cos_i : cos_t, m->ior);
                if (u < reflectance) {
                    dir = v3_reflect(r.d, s.ns);
                } else {
                    dir = v3_norm(v3_madd(v3_scale(r.d, eta), s.ns, eta * cos_i - cos_t));
                    from = offset_from(s.p, v3_scale(s.ng, -1.0f));
                    beta = v3_mul(beta, m->color);
                }
            }
            pdf_diffuse = 0.0f;
        }
        if (bounce + 1 >= TRACE_RR_BOUNCE) {
            float keep = minf(v3_max(beta), 0.95f);
            if (!(rng_next(&rg) < keep))
                break;
            beta = v3_scale(beta, 1.0f / keep);
        }
        r = ray_make(from, dir);
    }
    return radiance;
}

void trace_pixel(const struct trace_view *v, int x, int y, float rgba_out[4])
{
    float sum_r = 0.0f, sum_g = 0.0f, sum_b = 0.0f;
    for (int sample = 0; sample < v->samples; sample++) {
        struct trace_vec3 c = trace_path(v, x, y, path_seed(v->frame, x, y, sample));
        /* x - x == 0 only for finite x: NaN and infinities are dropped */
        if (c.x - c.x == 0.0f && c.y - c.y == 0.0f && c.z - c.z == 0.0f) {
            sum_r += c.x;
            sum_g += c.y;
            sum_b += c.z;
        }
    }
    float inv = v->samples > 0 ? 1.0f / (float)v->samples : 0.0f;
    rgba_out[0] = sum_r * inv;
    rgba_out[1] = sum_g * inv;
    rgba_out[2] = sum_b * inv;
    rgba_out[3] = 1.0f;
}
