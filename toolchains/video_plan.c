/* toolchains/video_plan.c - where to cut a video stream: keyframes near every multiple of
 * the segment length, from the packets' timestamps and flags alone (no FFmpeg here, so
 * the planner is fuzzed on its own: tests/fuzz/fuzz_video_plan.c).
 *
 * A keyframe K at decode position c with pts P is a cut when no packet before c is shown
 * at or after P, and the pictures after c shown before P (the leading pictures of an open
 * GOP) end within VIDEO_MAX_LEADING packets. The segment before the cut then copies
 * packets up to the last one shown before P (K included when leading pictures need it)
 * and keeps the frames shown before P; the segment from the cut keeps frames from P on. */
#include "toolchains/video.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* The last decode position after c whose picture is shown before pts p, or c - 1 when
 * there is none; -2 when that lies more than VIDEO_MAX_LEADING packets on. suffix_min[i]
 * is the least pts from decode position i on. */
static long last_leading(const struct video_packet *pkts, const int64_t *suffix_min, size_t n,
                         size_t c, int64_t p)
{
    size_t stop = c + 1 + VIDEO_MAX_LEADING;
    if (stop < n && suffix_min[stop] < p)
        return -2;
    long last = (long)c - 1;
    for (size_t i = c + 1; i < n && i < stop; i++)
        if (pkts[i].pts < p)
            last = (long)i;
    return last;
}

/* pts - first for pts >= first, exact over all of int64_t. */
static uint64_t off(int64_t pts, int64_t first)
{
    return (uint64_t)pts - (uint64_t)first;
}

/* a + b, or UINT64_MAX when that does not fit: a goal past every frame. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static size_t frames_in(const struct video_packet *pkts, size_t n, int64_t start, int64_t end)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !pkts[i].discard && pkts[i].pts >= start && pkts[i].pts < end;
    return k;
}

int video_plan(const struct video_packet *pkts, size_t n, int64_t target,
               struct video_segment **segs, size_t *n_segs, char *why, size_t why_len)
{
    *segs = NULL;
    *n_segs = 0;
    if (n == 0)
        return udcs_why(why, why_len, "the video stream has no packets");
    if (n > VIDEO_MAX_PACKETS)
        return udcs_why(why, why_len, "the video stream has %zu packets; at most %d can be planned",
                        n, VIDEO_MAX_PACKETS);
    if (target <= 0)
        return udcs_why(why, why_len, "the segment length must be positive");
    /* The first frame is the first keyframe's: pictures shown before it (an open GOP's
     * leading pictures, cut from the stream they referred to) cannot be decoded; or, when
     * an edit list discards the start, the first frame shown after that */
    int64_t first = pkts[0].pts, last = VIDEO_NO_TS, least_kept = VIDEO_PTS_END;
    int discarded_after = 0;
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].pts == VIDEO_NO_TS || pkts[i].pts == VIDEO_PTS_END)
            return udcs_why(why, why_len, "video packet %zu has no presentation timestamp; "
                            "remux the input into a container that keeps them (mkv, mp4)", i);
        if (!pkts[i].discard && pkts[i].pts > last)
            last = pkts[i].pts;
        if (!pkts[i].discard && pkts[i].pts < least_kept)
            least_kept = pkts[i].pts;
    }
    if (least_kept == VIDEO_PTS_END)
        return udcs_why(why, why_len, "every video packet is discarded (an edit list shows "
                        "none of them)");
    if (least_kept > first)
        first = least_kept;
    if (last < first)
        return udcs_why(why, why_len, "no frame is shown from the first keyframe on");
    for (size_t i = 0; i < n; i++)
        discarded_after |= pkts[i].discard && pkts[i].pts > last;
    if (!pkts[0].key)
        return udcs_why(why, why_len, "the video stream does not start with a keyframe; its first "
                        "frames cannot be decoded on their own");
    /* Candidates: keyframes shown after everything decoded before them. */
    size_t *cand = malloc(n * sizeof(*cand)), n_cand = 0;
    int64_t *suffix_min = malloc(n * sizeof(*suffix_min));
    struct video_segment *out = malloc(sizeof(*out));
    if (!cand || !suffix_min || !out) {
        free(cand);
        free(suffix_min);
        free(out);
        return udcs_why(why, why_len, "out of memory");
    }
    suffix_min[n - 1] = pkts[n - 1].pts;
    for (size_t i = n - 1; i-- > 0;)
        suffix_min[i] = pkts[i].pts < suffix_min[i + 1] ? pkts[i].pts : suffix_min[i + 1];
    int64_t max_before = pkts[0].pts;
    for (size_t c = 1; c < n; c++) {
        if (pkts[c].key && !pkts[c].discard && pkts[c].pts > first && pkts[c].pts > max_before &&
            last_leading(pkts, suffix_min, n, c, pkts[c].pts) != -2)
            cand[n_cand++] = c;
        if (pkts[c].pts > max_before)
            max_before = pkts[c].pts;
    }
    /* Greedy from the start: the candidate nearest to each segment's target end. */
    size_t n_out = 0, start = 0, k = 0, min_cut = 0;
    int64_t start_pts = first;
    int failed = 0;
    /* Times are reckoned as offsets from the first frame, in uint64_t: pts may lie anywhere
     * in int64_t's range, where their differences, and the goals, would overflow it. */
    const uint64_t t = (uint64_t)target, rest = off(last, first);
    for (;;) {
        /* targets are measured from the first frame, so lengths do not drift */
        uint64_t at = off(start_pts, first);
        uint64_t goal = sat_add(at / t * t, t);
        if (at % t > t / 2)
            goal = sat_add(goal, t);   /* a segment that began late does not end early */
        /* a cut comes after the pictures the segment before this one carries past its own
         * cut: a packet is never in more than two segments */
        while (k < n_cand && (pkts[cand[k]].pts <= start_pts || cand[k] < min_cut))
            k++;
        size_t best = 0;
        int found = 0;
        for (size_t j = k; j < n_cand; j++) {
            uint64_t pj = off(pkts[cand[j]].pts, first);
            if (pj >= goal) {
                if (!found || pj - goal < goal - off(pkts[best].pts, first))
                    best = cand[j];
                found = 1;
                break;
            }
            best = cand[j];
            found = 1;
        }
        if (found && rest - off(pkts[best].pts, first) < t / 4)
            found = 0;   /* a short remainder joins this segment */
        if (found && off(pkts[best].pts, first) - at < t / 4) {
            /* the nearest is too close to the start: take the next one, if any */
            size_t j = k;
            while (j < n_cand && off(pkts[cand[j]].pts, first) - at < t / 4)
                j++;
            found = j < n_cand && rest - off(pkts[cand[j]].pts, first) >= t / 4;
            if (found)
                best = cand[j];
        }
        struct video_segment s = { .first = start, .start_pts = start_pts };
        if (found) {
            long lead = last_leading(pkts, suffix_min, n, best, pkts[best].pts);
            s.end = (size_t)(lead >= (long)best ? lead + 1 : (long)best);
            s.end_pts = pkts[best].pts;
        } else {
            s.end = n;
            s.end_pts = discarded_after ? last + 1 : VIDEO_PTS_END;
        }
        s.frames = frames_in(pkts + s.first, s.end - s.first, s.start_pts, s.end_pts);
        if (n_out && !(n_out & (n_out - 1))) {
            struct video_segment *grown = realloc(out, 2 * n_out * sizeof(*out));
            if (!grown) {
                failed = 1;
                break;
            }
            out = grown;
        }
        out[n_out++] = s;
        if (!found)
            break;
        min_cut = s.end;
        start = best;
        start_pts = pkts[best].pts;
    }
    free(cand);
    free(suffix_min);
    if (failed) {
        free(out);
        return udcs_why(why, why_len, "out of memory");
    }
    *segs = out;
    *n_segs = n_out;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int video_decode_times(const int64_t *pts, size_t n, int64_t *sorted, int64_t *dts)
{
    if (n == 0)
        return 0;
    memcpy(sorted, pts, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (sorted[i] == sorted[i - 1])
            return -1;
    /* d: how far a packet comes before its place in display order, at most */
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t *at = bsearch(&pts[i], sorted, n, sizeof(*sorted), cmp_i64);
        size_t rank = (size_t)(at - sorted);
        if (i > rank && i - rank > d)
            d = i - rank;
    }
    uint64_t step = n > 1 ? (uint64_t)sorted[1] - (uint64_t)sorted[0] : 1;
    for (size_t i = 0; i < n; i++)
        dts[i] = i >= d ? sorted[i - d]
                        : (int64_t)((uint64_t)sorted[0] - (uint64_t)(d - i) * step);
    return 0;
}
