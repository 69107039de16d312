/* toolchains/trace_bvh.c - the bounding volume hierarchy of a frame: binned surface-area
 * heuristic, built top-down with an explicit stack (no recursion, so no input can exhaust
 * the C stack) and never deeper than TRACE_BVH_MAX_DEPTH, which sizes the kernel's
 * traversal stack. The build is sequential and has no randomness, so one frame always
 * gets the same tree, wherever it is rendered. */
#include "toolchains/trace_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BVH_BINS 16
/* Largest leaf the builder makes when splitting would cost more than intersecting all. */
#define BVH_LEAF_MAX 8
/* Cost of visiting a node, relative to intersecting one primitive. */
#define BVH_TRAVERSAL_COST 1.0f

struct ref {
    float lo[3], hi[3], c[3];
    uint32_t id;
};

struct box {
    float lo[3], hi[3];
};

struct task {
    int node, start, end, depth;
};

static void box_empty(struct box *b)
{
    for (int k = 0; k < 3; k++) {
        b->lo[k] = INFINITY;
        b->hi[k] = -INFINITY;
    }
}

/* Comparisons rather than fminf/fmaxf, which are calls; bounds are never NaN here (the
 * frame refuses coordinates that are not finite). */
static void box_grow(struct box *b, const float lo[3], const float hi[3])
{
    for (int k = 0; k < 3; k++) {
        b->lo[k] = lo[k] < b->lo[k] ? lo[k] : b->lo[k];
        b->hi[k] = hi[k] > b->hi[k] ? hi[k] : b->hi[k];
    }
}

/* Half the surface area: what the probability of a ray hitting the box is proportional
 * to. */
static float box_half_area(const struct box *b)
{
    float d[3];
    for (int k = 0; k < 3; k++)
        d[k] = b->hi[k] > b->lo[k] ? b->hi[k] - b->lo[k] : 0.0f;
    return d[0] * d[1] + d[1] * d[2] + d[2] * d[0];
}

static int bin_of(float c, float cmin, float scale)
{
    float f = (c - cmin) * scale;
    if (!(f > 0.0f))
        return 0;
    if (f >= (float)(BVH_BINS - 1))
        return BVH_BINS - 1;
    return (int)f;
}

struct split {
    int axis, bin;              /* left: bins 0..bin on axis; axis -1: none found */
    float cost;
};

/* The cheapest split of refs[start, end) by the surface area heuristic. */
static struct split find_split(const struct ref *refs, int start, int end,
                               const struct box *centroids)
{
    struct split best = { -1, 0, INFINITY };
    for (int axis = 0; axis < 3; axis++) {
        float cmin = centroids->lo[axis], extent = centroids->hi[axis] - cmin;
        if (!(extent > 0.0f) || !isfinite(extent))
            continue;
        float scale = (float)BVH_BINS / extent;
        struct box bins[BVH_BINS];
        int counts[BVH_BINS] = { 0 };
        for (int i = 0; i < BVH_BINS; i++)
            box_empty(&bins[i]);
        for (int i = start; i < end; i++) {
            int k = bin_of(refs[i].c[axis], cmin, scale);
            counts[k]++;
            box_grow(&bins[k], refs[i].lo, refs[i].hi);
        }
        /* areas and counts of everything right of each boundary, then sweep from the left */
        float right_area[BVH_BINS];
        int right_count[BVH_BINS];
        struct box acc;
        box_empty(&acc);
        int n = 0;
        for (int i = BVH_BINS - 1; i > 0; i--) {
            box_grow(&acc, bins[i].lo, bins[i].hi);
            n += counts[i];
            right_area[i] = box_half_area(&acc);
            right_count[i] = n;
        }
        box_empty(&acc);
        n = 0;
        for (int i = 0; i < BVH_BINS - 1; i++) {
            box_grow(&acc, bins[i].lo, bins[i].hi);
            n += counts[i];
            if (n == 0 || right_count[i + 1] == 0)
                continue;
            float cost = box_half_area(&acc) * (float)n +
                         right_area[i + 1] * (float)right_count[i + 1];
            if (cost < best.cost) {
                best.axis = axis;
                best.bin = i;
                best.cost = cost;
            }
        }
    }
    return best;
}

/* Move refs of the left side of `sp` to the front; returns where the right side starts. */
static int partition(struct ref *refs, int start, int end, struct split sp,
                     const struct box *centroids)
{
    float cmin = centroids->lo[sp.axis];
    float scale = (float)BVH_BINS / (centroids->hi[sp.axis] - cmin);
    int i = start, j = end - 1;
    while (i <= j) {
        if (bin_of(refs[i].c[sp.axis], cmin, scale) <= sp.bin) {
            i++;
        } else {
            struct ref t = refs[i];
            refs[i] = refs[j];
            refs[j] = t;
            j--;
        }
    }
    return i;
}

int trace_bvh_build(const struct trace_vec3 *lo, const struct trace_vec3 *hi,
                    const uint32_t *ids, uint32_t n, struct trace_bvh_node **nodes_out,
                    int *n_nodes_out, uint32_t **order_out)
{
    *nodes_out = NULL;
    *n_nodes_out = 0;
    *order_out = NULL;
    if (n == 0)
        return 0;
    struct ref *refs = malloc(n * sizeof(*refs));
    struct trace_bvh_node *nodes = malloc((2 * (size_t)n - 1) * sizeof(*nodes));
    uint32_t *order = malloc(n * sizeof(*order));
    struct task *stack = malloc((TRACE_BVH_MAX_DEPTH + 2) * sizeof(*stack));
    if (!refs || !nodes || !order || !stack) {
        free(refs);
        free(nodes);
        free(order);
        free(stack);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const float l[3] = { lo[i].x, lo[i].y, lo[i].z }, h[3] = { hi[i].x, hi[i].y, hi[i].z };
        for (int k = 0; k < 3; k++) {
            refs[i].lo[k] = l[k];
            refs[i].hi[k] = h[k];
            refs[i].c[k] = 0.5f * l[k] + 0.5f * h[k];
        }
        refs[i].id = ids[i];
    }
    int n_nodes = 1, sp = 0;
    stack[sp++] = (struct task){ 0, 0, (int)n, 0 };
    while (sp > 0) {
        struct task t = stack[--sp];
        struct box bounds, centroids;
        box_empty(&bounds);
        box_empty(&centroids);
        for (int i = t.start; i < t.end; i++) {
            box_grow(&bounds, refs[i].lo, refs[i].hi);
            box_grow(&centroids, refs[i].c, refs[i].c);
        }
        struct trace_bvh_node *node = &nodes[t.node];
        node->lo = (struct trace_vec3){ bounds.lo[0], bounds.lo[1], bounds.lo[2] };
        node->hi = (struct trace_vec3){ bounds.hi[0], bounds.hi[1], bounds.hi[2] };
        node->first = t.start;
        node->count = t.end - t.start;
        int count = t.end - t.start;
        if (count <= 1 || t.depth >= TRACE_BVH_MAX_DEPTH - 1)
            continue;           /* a leaf */
        struct split best = find_split(refs, t.start, t.end, &centroids);
        int mid;
        if (best.axis < 0) {
            /* all centroids in one point: only size can tell them apart, so halve */
            if (count <= BVH_LEAF_MAX)
                continue;
            mid = t.start + count / 2;
        } else {
            float leaf_cost = box_half_area(&bounds) * (float)count;
            float split_cost = box_half_area(&bounds) * BVH_TRAVERSAL_COST + best.cost;
            if (count <= BVH_LEAF_MAX && leaf_cost <= split_cost)
                continue;
            mid = partition(refs, t.start, t.end, best, &centroids);
            if (mid == t.start || mid == t.end)
                mid = t.start + count / 2;
        }
        node->first = n_nodes;
        node->count = 0;
        stack[sp++] = (struct task){ n_nodes + 1, mid, t.end, t.depth + 1 };
        stack[sp++] = (struct task){ n_nodes, t.start, mid, t.depth + 1 };
        n_nodes += 2;
    }
    for (uint32_t i = 0; i < n; i++)
        order[i] = refs[i].id;
    free(refs);
    free(stack);
    *nodes_out = nodes;
    *n_nodes_out = n_nodes;
    *order_out = order;
    return 0;
}
