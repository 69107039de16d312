/* tests/fuzz/fuzz_video_plan.c - the segment planner (video_plan) over any packet list.
 * It must refuse exactly the inputs video.h says it refuses (no packets, a packet without
 * a pts, a first packet that is no keyframe, a length <= 0), with a reason; and for every
 * other input give segments that tile the stream: windows back to back from the first
 * keyframe's pts to VIDEO_PTS_END, each starting (after the first) at a keyframe, packet
 * ranges in decode order that hold every frame of their window and reach at most
 * VIDEO_MAX_LEADING packets past the next cut, no packet in three segments, frame counts
 * that add up, and no piece shorter than a quarter of the length except a stream shorter
 * than that.
 *
 * The input, little-endian:
 *   flags     1 byte: bit 0 a 64-bit length (else 16-bit), bit 1 a 64-bit first pts
 *             (else 0), bit 2 a scale byte follows (pts steps are multiplied by 1 + it)
 *   length    2 or 8 bytes (the target, signed when 64-bit)
 *   base      0 or 8 bytes
 *   scale     0 or 1 byte
 *   packets   each: a byte a (bit 0 keyframe, bit 1 a 64-bit step follows, else a 16-bit
 *             one; bit 2 dts unknown; bits 3-5 all set: a special pts chosen by bits 6-7:
 *             none, VIDEO_PTS_END, the largest or the least valid value) and the signed
 *             step from the previous packet's pts.
 * Arithmetic on pts wraps (in uint64_t), so any value can be reached. */
#include "toolchains/video.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

#define MAX_PACKETS 4096

struct reader {
    const uint8_t *p;
    size_t left;
};

static uint64_t take(struct reader *r, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && r->left; i++, r->p++, r->left--)
        v |= (uint64_t)*r->p << (8 * i);
    return v;
}

static int64_t as_signed(uint64_t v)
{
    int64_t s;
    memcpy(&s, &v, sizeof(s));
    return s;
}

/* b - a for a <= b, as an unsigned distance (no signed overflow). */
static uint64_t span(int64_t a, int64_t b)
{
    return (uint64_t)b - (uint64_t)a;
}

static void check_plan(const struct video_packet *pkts, size_t n, int64_t target,
                       const struct video_segment *segs, size_t n_segs)
{
    int64_t most = pkts[0].pts;
    for (size_t i = 1; i < n; i++)
        most = pkts[i].pts > most ? pkts[i].pts : most;
    uint64_t quarter = (uint64_t)(target / 4);
    FUZZ_CHECK(segs && n_segs >= 1, "success without segments (%zu)", n_segs);
    FUZZ_CHECK(segs[0].first == 0, "the first segment starts at packet %zu", segs[0].first);
    /* the first keyframe's frame comes first: pictures shown before it are its leading
     * pictures, whose references are not in the stream */
    FUZZ_CHECK(segs[0].start_pts == pkts[0].pts, "the first window starts at %lld, not at "
               "the first keyframe's pts %lld", (long long)segs[0].start_pts,
               (long long)pkts[0].pts);
    FUZZ_CHECK(segs[n_segs - 1].end == n, "the last segment ends at packet %zu of %zu",
               segs[n_segs - 1].end, n);
    FUZZ_CHECK(segs[n_segs - 1].end_pts == VIDEO_PTS_END, "the last window ends at %lld",
               (long long)segs[n_segs - 1].end_pts);
    for (size_t k = 0; k < n_segs; k++) {
        const struct video_segment *s = &segs[k];
        FUZZ_CHECK(s->first < s->end && s->end <= n, "segment %zu: packets [%zu, %zu) of %zu",
                   k, s->first, s->end, n);
        FUZZ_CHECK(s->start_pts < s->end_pts, "segment %zu: window [%lld, %lld)", k,
                   (long long)s->start_pts, (long long)s->end_pts);
        FUZZ_CHECK(s->frames >= 1, "segment %zu has no frames", k);
        if (k == 0)
            continue;
        const struct video_segment *p = &segs[k - 1];
        FUZZ_CHECK(p->end_pts == s->start_pts, "segment %zu starts at %lld, the one before "
                   "ends at %lld", k, (long long)s->start_pts, (long long)p->end_pts);
        FUZZ_CHECK(p->first < s->first, "segment %zu starts at packet %zu, the one before at "
                   "%zu", k, s->first, p->first);
        FUZZ_CHECK(pkts[s->first].key, "segment %zu starts at packet %zu, no keyframe", k,
                   s->first);
        FUZZ_CHECK(pkts[s->first].pts == s->start_pts, "segment %zu starts at packet %zu shown "
                   "at %lld, its window at %lld", k, s->first,
                   (long long)pkts[s->first].pts, (long long)s->start_pts);
        FUZZ_CHECK(p->end >= s->first, "packets [%zu, %zu) are in no segment", p->end,
                   s->first);
        FUZZ_CHECK(p->end - p->first <= (s->first - p->first) + VIDEO_MAX_LEADING + 1,
                   "segment %zu copies packets [%zu, %zu), past %d leading pictures after "
                   "the cut at %zu", k - 1, p->first, p->end, VIDEO_MAX_LEADING, s->first);
        FUZZ_CHECK(span(p->start_pts, p->end_pts) >= quarter, "segment %zu is %llu long, under "
                   "a quarter of %lld", k - 1,
                   (unsigned long long)span(p->start_pts, p->end_pts), (long long)target);
        if (k == n_segs - 1)
            FUZZ_CHECK(span(s->start_pts, most) >= quarter, "the last segment holds %llu, "
                       "under a quarter of %lld", (unsigned long long)span(s->start_pts, most),
                       (long long)target);
    }
    /* Each frame belongs to the window that holds its pts, and its packet must be copied
     * into that segment; count them per window. */
    size_t *count = calloc(n_segs, sizeof(*count));
    FUZZ_CHECK(count, "out of memory in the check");
    for (size_t k = 2; k < n_segs; k++)
        FUZZ_CHECK(segs[k - 2].end <= segs[k].first, "segments %zu and %zu share packets: "
                   "[%zu, %zu) and [%zu, ...)", k - 2, k, segs[k - 2].first, segs[k - 2].end,
                   segs[k].first);
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].pts < pkts[0].pts)
            continue;   /* before the first frame: in no window */
        size_t lo = 0, hi = n_segs;   /* the last window starting at or before pts */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (segs[mid].start_pts <= pkts[i].pts)
                lo = mid;
            else
                hi = mid;
        }
        const struct video_segment *s = &segs[lo];
        FUZZ_CHECK(s->start_pts <= pkts[i].pts && pkts[i].pts < s->end_pts,
                   "packet %zu (pts %lld) is in no window", i, (long long)pkts[i].pts);
        FUZZ_CHECK(s->first <= i && i < s->end, "packet %zu (pts %lld) is in the window of "
                   "segment %zu but not among its packets [%zu, %zu)", i,
                   (long long)pkts[i].pts, lo, s->first, s->end);
        count[lo]++;
    }
    for (size_t k = 0; k < n_segs; k++)
        FUZZ_CHECK(count[k] == segs[k].frames, "segment %zu says %zu frames, its window holds "
                   "%zu", k, segs[k].frames, count[k]);
    free(count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = { data, size };
    unsigned flags = (unsigned)take(&r, 1);
    int64_t target = flags & 1 ? as_signed(take(&r, 8)) : (int64_t)take(&r, 2);
    uint64_t pts = flags & 2 ? take(&r, 8) : 0;
    uint64_t scale = flags & 4 ? 1 + take(&r, 1) : 1;

    struct video_packet *pkts = malloc(MAX_PACKETS * sizeof(*pkts));
    FUZZ_CHECK(pkts, "out of memory");
    size_t n = 0;
    while (r.left && n < MAX_PACKETS) {
        unsigned a = (unsigned)take(&r, 1);
        uint64_t step = a & 2 ? take(&r, 8) : (uint64_t)(int64_t)(int16_t)take(&r, 2);
        pts += step * scale;
        struct video_packet *p = &pkts[n];
        *p = (struct video_packet){ .pts = as_signed(pts) };   /* never discarded */
        if ((a & 0x38) == 0x38) {
            static const int64_t special[] = { VIDEO_NO_TS, VIDEO_PTS_END, INT64_MAX - 1,
                                               INT64_MIN + 1 };
            p->pts = special[a >> 6];
        }
        p->dts = a & 4 ? VIDEO_NO_TS : (int64_t)n;
        p->duration = (int64_t)scale;
        p->key = a & 1;
        n++;
    }

    int valid = n > 0 && target > 0 && pkts[0].key;
    for (size_t i = 0; i < n; i++)
        valid &= pkts[i].pts != VIDEO_NO_TS && pkts[i].pts != VIDEO_PTS_END;

    struct video_segment *segs = (void *)1;
    size_t n_segs = 7;
    char why[256] = "";
    int rc = video_plan(pkts, n, target, &segs, &n_segs, why, sizeof(why));
    if (rc == 0) {
        FUZZ_CHECK(valid, "an input video.h says is refused was planned");
        check_plan(pkts, n, target, segs, n_segs);
    } else {
        FUZZ_CHECK(rc == -1, "video_plan returned %d", rc);
        FUZZ_CHECK(!valid, "a valid input of %zu packets was refused: %s", n, why);
        FUZZ_CHECK(why[0], "refused without a reason");
        FUZZ_CHECK(!segs && n_segs == 0, "refused but left segments behind");
    }
    free(segs);
    free(pkts);
    return 0;
}
