/* toolchains/trace_anim.c - animated properties: evaluation of a track at a frame
 * (linear, smooth, spline, step), and the value each property has when a scene leaves it
 * out. Parsing tracks is trace_parse.c's work; applying the values, trace_frame.c's. */
#include "toolchains/trace_internal.h"

#include <stdlib.h>

static struct tvec tv(double x, double y, double z)
{
    struct tvec r = { x, y, z };
    return r;
}

static struct tvec lerp(struct tvec a, struct tvec b, double u)
{
    return tv(a.x + (b.x - a.x) * u, a.y + (b.y - a.y) * u, a.z + (b.z - a.z) * u);
}

/* The slope of the track at key i for Catmull-Rom: from the neighbouring keys, one-sided at
 * the ends. Keys may be unevenly spaced, so slopes are per frame. */
static struct tvec slope_at(const struct trace_track *t, int i)
{
    int a = i > 0 ? i - 1 : i, b = i + 1 < t->n_keys ? i + 1 : i;
    double span = t->keys[b].frame - t->keys[a].frame;
    struct tvec pa = t->keys[a].value, pb = t->keys[b].value;
    return tv((pb.x - pa.x) / span, (pb.y - pa.y) / span, (pb.z - pa.z) / span);
}

struct tvec trace_track_eval(const struct trace_track *t, double frame)
{
    int n = t->n_keys;
    const struct trace_key *k = t->keys;
    if (n == 1 || frame <= k[0].frame)
        return k[0].value;
    if (frame >= k[n - 1].frame)
        return k[n - 1].value;
    int lo = 0, hi = n - 1;     /* k[lo].frame <= frame < k[hi].frame */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (k[mid].frame <= frame)
            lo = mid;
        else
            hi = mid;
    }
    double h = k[hi].frame - k[lo].frame;
    double u = (frame - k[lo].frame) / h;
    struct tvec p0 = k[lo].value, p1 = k[hi].value;
    switch (t->interp) {
    case TRACE_INTERP_STEP:
        return p0;
    case TRACE_INTERP_SMOOTH:
        return lerp(p0, p1, u * u * (3.0 - 2.0 * u));
    case TRACE_INTERP_SPLINE: {
        /* cubic Hermite with Catmull-Rom slopes: passes through every key */
        struct tvec m0 = slope_at(t, lo), m1 = slope_at(t, hi);
        double u2 = u * u, u3 = u2 * u;
        double h00 = 2 * u3 - 3 * u2 + 1, h10 = (u3 - 2 * u2 + u) * h;
        double h01 = -2 * u3 + 3 * u2, h11 = (u3 - u2) * h;
        return tv(h00 * p0.x + h10 * m0.x + h01 * p1.x + h11 * m1.x,
                  h00 * p0.y + h10 * m0.y + h01 * p1.y + h11 * m1.y,
                  h00 * p0.z + h10 * m0.z + h01 * p1.z + h11 * m1.z);
    }
    case TRACE_INTERP_LINEAR:
    default:
        return lerp(p0, p1, u);
    }
}

void trace_track_release(struct trace_track *t)
{
    free(t->keys);
    t->keys = NULL;
    t->n_keys = 0;
}

struct tvec trace_prop_default(enum trace_object_kind kind, enum trace_prop p)
{
    switch (p) {
    case TRACE_P_SCALE:
    case TRACE_P_SIZE:
        return tv(1, 1, 1);
    case TRACE_P_RADIUS:
        return tv(1, 0, 0);
    case TRACE_P_NORMAL:
    case TRACE_P_UP:
        return tv(0, 1, 0);
    case TRACE_P_CORNER:
        return tv(-0.5, 0, -0.5);
    case TRACE_P_EDGE1:         /* with edge2, a unit square facing up, like a floor */
        return tv(0, 0, 1);
    case TRACE_P_EDGE2:
        return tv(1, 0, 0);
    case TRACE_P_LOOK_AT:
        return tv(0, 0, -1);
    case TRACE_P_FOV:
        return tv(40, 0, 0);
    default:
        (void)kind;             /* the same for every kind so far */
        return tv(0, 0, 0);     /* position, rotate, orbit, pivot, aperture, focus_distance */
    }
}

const char *trace_object_kind_name(enum trace_object_kind kind)
{
    static const char *const names[TRACE_OBJ_KIND_COUNT] = {
        "camera", "sphere", "plane", "quad", "box", "mesh",
    };
    return kind >= 0 && kind < TRACE_OBJ_KIND_COUNT ? names[kind] : "object";
}
