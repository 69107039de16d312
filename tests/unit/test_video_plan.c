/* tests/unit/test_video_plan.c - the plain-C parts of segmented encoding: where the planner
 * cuts (closed and open GOPs, keyframes far apart, VFR, the short-remainder and
 * leading-picture rules, timestamps at the ends of int64_t) and what it refuses; the
 * parsers of rates, sizes, bitrates and encode flags; and encode jobs as units (an ENCODE
 * job's segments and join, a RENDER job's "encode"), with their refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "toolchains/encode.h"
#include "toolchains/render.h"
#include "toolchains/video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- packet lists ----------------------------------------------------------------------- */

#define MAX_PKTS 2000

struct stream {
    struct video_packet p[MAX_PKTS];
    size_t n;
};

static void push(struct stream *s, int64_t pts, int key)
{
    assert_true(s->n < MAX_PKTS);
    s->p[s->n] = (struct video_packet){ .pts = pts, .dts = (int64_t)s->n, .duration = 1,
                                        .key = key };
    s->n++;
}

/* Closed GOPs of `gop` frames (gop - 1 a multiple of 3) with two B-frames: per GOP from
 * pts g, decode order I(g) P(g+3) B(g+1) B(g+2) P(g+6) B(g+4) B(g+5) ... */
static void closed_gops(struct stream *s, int64_t gop, int64_t n_gops)
{
    for (int64_t g = 0; g < n_gops * gop; g += gop) {
        push(s, g, 1);
        for (int64_t a = g + 3; a < g + gop; a += 3) {
            push(s, a, 0);
            push(s, a - 2, 0);
            push(s, a - 1, 0);
        }
    }
}

struct expect {
    size_t first, end;
    int64_t start_pts, end_pts;
    size_t frames;
};

static struct video_segment *plan_ok(const struct stream *s, int64_t target, size_t *n)
{
    struct video_segment *segs = NULL;
    char why[256] = "";
    if (video_plan(s->p, s->n, target, &segs, n, why, sizeof(why)) != 0)
        fail_msg("video_plan refused: %s", why);
    assert_non_null(segs);
    return segs;
}

static void plan_is(const struct stream *s, int64_t target, const struct expect *want,
                    size_t n_want)
{
    size_t n;
    struct video_segment *segs = plan_ok(s, target, &n);
    if (n != n_want) {
        for (size_t k = 0; k < n; k++)
            print_message("segment %zu: packets [%zu, %zu) pts [%lld, %lld) %zu frames\n", k,
                          segs[k].first, segs[k].end, (long long)segs[k].start_pts,
                          (long long)segs[k].end_pts, segs[k].frames);
        fail_msg("%zu segments, wanted %zu", n, n_want);
    }
    for (size_t k = 0; k < n; k++) {
        if (segs[k].first != want[k].first || segs[k].end != want[k].end ||
            segs[k].start_pts != want[k].start_pts || segs[k].end_pts != want[k].end_pts ||
            segs[k].frames != want[k].frames)
            fail_msg("segment %zu: packets [%zu, %zu) pts [%lld, %lld) %zu frames; wanted "
                     "[%zu, %zu) [%lld, %lld) %zu", k, segs[k].first, segs[k].end,
                     (long long)segs[k].start_pts, (long long)segs[k].end_pts, segs[k].frames,
                     want[k].first, want[k].end, (long long)want[k].start_pts,
                     (long long)want[k].end_pts, want[k].frames);
    }
    free(segs);
}

static void plan_refused(const struct video_packet *p, size_t n, int64_t target,
                         const char *says)
{
    struct video_segment *segs = (void *)1;
    size_t n_segs = 9;
    char why[256] = "";
    assert_int_equal(video_plan(p, n, target, &segs, &n_segs, why, sizeof(why)), -1);
    assert_null(segs);
    assert_int_equal(n_segs, 0);
    if (!strstr(why, says))
        fail_msg("wanted '%s' in '%s'", says, why);
}

#define END VIDEO_PTS_END
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void closed_gop_cuts_at_keyframes(void **state)
{
    (void)state;
    static struct stream s;
    s.n = 0;
    closed_gops(&s, 25, 10);   /* 10 s at 25 fps in a time base of 1/25 */
    assert_int_equal(s.n, 250);
    /* 3 s: every third keyframe, exactly on the goal */
    static const struct expect three[] = {
        { 0, 75, 0, 75, 75 }, { 75, 150, 75, 150, 75 }, { 150, 225, 150, 225, 75 },
        { 225, 250, 225, END, 25 },
    };
    plan_is(&s, 75, three, N_OF(three));
    /* 3.6 s: the keyframe nearest to 90 is 100, to 180 is 175; from 175 (late by more than
     * half a length) the next goal is 270, whose nearest is the last keyframe, 225 */
    static const struct expect odd[] = {
        { 0, 100, 0, 100, 100 }, { 100, 175, 100, 175, 75 }, { 175, 225, 175, 225, 50 },
        { 225, 250, 225, END, 25 },
    };
    plan_is(&s, 90, odd, N_OF(odd));
    /* a length past the stream: one segment */
    static const struct expect all[] = { { 0, 250, 0, END, 250 } };
    plan_is(&s, 100000, all, N_OF(all));
}

static void short_remainder_joins_the_last_segment(void **state)
{
    (void)state;
    static struct stream s;
    s.n = 0;
    for (int64_t i = 0; i < 240; i++)
        push(&s, i, i % 25 == 0);
    /* from the keyframe at 225 to the last frame (239) is 14, under a quarter of 75 (18) */
    static const struct expect merged[] = {
        { 0, 75, 0, 75, 75 }, { 75, 150, 75, 150, 75 }, { 150, 240, 150, END, 90 },
    };
    plan_is(&s, 75, merged, N_OF(merged));
    /* to a last frame at 243 it is 18, not under a quarter: that piece stays on its own */
    for (int64_t i = 240; i < 244; i++)
        push(&s, i, 0);
    static const struct expect kept[] = {
        { 0, 75, 0, 75, 75 }, { 75, 150, 75, 150, 75 }, { 150, 225, 150, 225, 75 },
        { 225, 244, 225, END, 19 },
    };
    plan_is(&s, 75, kept, N_OF(kept));
}

static void keyframes_far_apart(void **state)
{
    (void)state;
    static struct stream s;
    s.n = 0;
    for (int64_t i = 0; i < 300; i++)
        push(&s, i, i == 0);
    static const struct expect one[] = { { 0, 300, 0, END, 300 } };
    plan_is(&s, 50, one, N_OF(one));

    /* keyframes every 10 s, 2 s asked for: 10 s segments */
    s.n = 0;
    for (int64_t i = 0; i < 1000; i++)
        push(&s, i, i % 250 == 0);
    static const struct expect tens[] = {
        { 0, 250, 0, 250, 250 }, { 250, 500, 250, 500, 250 }, { 500, 750, 500, 750, 250 },
        { 750, 1000, 750, END, 250 },
    };
    plan_is(&s, 50, tens, N_OF(tens));
}

static void open_gop_keeps_leading_pictures_before_the_cut(void **state)
{
    (void)state;
    /* I0, then per anchor a = 3, 6, ... 96: P(a) B(a-2) B(a-1), the anchor a keyframe when
     * a % 24 == 0: decode order I24 B22 B23 puts two pictures shown before the keyframe
     * after it. I24 is packet 22, I48 packet 46, I72 packet 70, I96 packet 94. */
    static struct stream s;
    s.n = 0;
    push(&s, 0, 1);
    for (int64_t a = 3; a <= 96; a += 3) {
        push(&s, a, a % 24 == 0);
        push(&s, a - 2, 0);
        push(&s, a - 1, 0);
    }
    assert_int_equal(s.n, 97);
    assert_true(s.p[22].key && s.p[22].pts == 24 && s.p[23].pts == 22 && s.p[24].pts == 23);
    /* each segment copies through the next keyframe's leading pictures (the keyframe
     * included) and keeps the frames before the keyframe's pts; the last keyframe (96)
     * would leave no remainder and is not cut */
    static const struct expect want[] = {
        { 0, 25, 0, 24, 24 }, { 22, 49, 24, 48, 24 }, { 46, 73, 48, 72, 24 },
        { 70, 97, 72, END, 25 },
    };
    plan_is(&s, 24, want, N_OF(want));
}

/* A stream cut out of a longer one at an open GOP's keyframe: the B-frames after it, shown
 * before it, refer to what is gone; its own frame is the first. */
static void open_gop_at_the_start_drops_its_leading_pictures(void **state)
{
    (void)state;
    static struct stream s;
    s.n = 0;
    const int64_t pts[] = { 3, 1, 2, 6, 4, 5, 9, 12, 10, 11 };
    for (size_t i = 0; i < N_OF(pts); i++)
        push(&s, pts[i], pts[i] == 3 || pts[i] == 9);
    const struct expect want[] = { { 0, 6, 3, 9, 4 }, { 6, 10, 9, END, 4 } };
    plan_is(&s, 6, want, N_OF(want));
}

/* K2's leading picture comes after K2 itself: a cut at K2 would put packets 3 and 4 in
 * three segments (the splitter holds two at once); K2 is passed over. */
static void no_packet_in_three_segments(void **state)
{
    (void)state;
    static struct stream s;
    s.n = 0;
    const int64_t pts[] = { 0, 1, 10, 20, 5, 21, 30, 31, 40 };
    const int key[] = { 1, 0, 1, 1, 0, 0, 1, 0, 0 };
    for (size_t i = 0; i < N_OF(pts); i++)
        push(&s, pts[i], key[i]);
    const struct expect want[] = { { 0, 5, 0, 10, 3 }, { 2, 6, 10, 30, 3 },
                                   { 6, 9, 30, END, 3 } };
    plan_is(&s, 10, want, N_OF(want));
}

/* A trimmed mp4: its edit list discards the pictures before the trim (and after its end);
 * they are decoded for the others and shown in no window. */
static void discarded_packets_are_in_no_window(void **state)
{
    (void)state;
    static struct stream s;
    const int64_t pts[] = { 0, 3, 1, 2, 6, 9, 7, 8 };
    const int key[] = { 1, 0, 0, 0, 1, 0, 0, 0 };
    const int discard[] = { 1, 0, 1, 0, 0, 0, 0, 0 };
    s.n = 0;
    for (size_t i = 0; i < N_OF(pts); i++) {
        push(&s, pts[i], key[i]);
        s.p[i].discard = discard[i];
    }
    const struct expect want[] = { { 0, 4, 2, 6, 2 }, { 4, 8, 6, END, 4 } };
    plan_is(&s, 6, want, N_OF(want));
    s.p[5].discard = 1;   /* pts 9, past the end of the edit */
    const struct expect cut_end[] = { { 0, 4, 2, 6, 2 }, { 4, 8, 6, 9, 3 } };
    plan_is(&s, 6, cut_end, N_OF(cut_end));
}

static void too_many_leading_pictures_is_no_cut(void **state)
{
    (void)state;
    static struct stream s;
    for (int lead = VIDEO_MAX_LEADING; lead <= VIDEO_MAX_LEADING + 1; lead++) {
        /* pts 0..99, then a keyframe shown at 100 + lead decoded before the `lead` pictures
         * shown from 100 on, then the rest up to 199 */
        s.n = 0;
        for (int64_t i = 0; i < 100; i++)
            push(&s, i, i == 0);
        push(&s, 100 + lead, 1);
        for (int64_t i = 100; i < 100 + lead; i++)
            push(&s, i, 0);
        for (int64_t i = 101 + lead; i < 200; i++)
            push(&s, i, 0);
        assert_int_equal(s.n, 200);
        if (lead == VIDEO_MAX_LEADING) {
            const struct expect cut[] = {
                { 0, 101 + (size_t)lead, 0, 100 + lead, 100 + (size_t)lead },
                { 100, 200, 100 + lead, END, 100 - (size_t)lead },
            };
            plan_is(&s, 100, cut, N_OF(cut));
        } else {
            static const struct expect whole[] = { { 0, 200, 0, END, 200 } };
            plan_is(&s, 100, whole, N_OF(whole));
        }
    }
}

static void keyframe_shown_before_earlier_packets_is_no_cut(void **state)
{
    (void)state;
    /* a keyframe at packet 50 shown at 40, before packets decoded ahead of it */
    static struct stream s;
    s.n = 0;
    for (int64_t i = 0; i < 100; i++)
        push(&s, i == 50 ? 40 : i == 40 ? 50 : i, i == 0 || i == 50);
    static const struct expect whole[] = { { 0, 100, 0, END, 100 } };
    plan_is(&s, 50, whole, N_OF(whole));
}

static void variable_frame_rate(void **state)
{
    (void)state;
    /* a time base of 1/1000, keyframes at 0, 900, 2100, 2950 and 4000, frames between them
     * 17 to 100 ms apart, the last at 4500 */
    static const int64_t keys[] = { 0, 900, 2100, 2950, 4000, 4501 };
    static const int64_t steps[] = { 33, 50, 17, 100, 41 };
    static struct stream s;
    s.n = 0;
    for (size_t k = 0; k + 1 < N_OF(keys); k++)
        for (int64_t t = keys[k], i = 0; t < keys[k + 1]; t += steps[i++ % 5])
            push(&s, t, t == keys[k]);
    if (s.p[s.n - 1].pts != 4500)
        push(&s, 4500, 0);
    /* goals: 1000 (nearest 900); from 900, late by more than half, 2000 (2100); 3000
     * (2950); from 2950, 4000 */
    static const int64_t cuts[] = { 0, 900, 2100, 2950, 4000, END };
    size_t n;
    struct video_segment *segs = plan_ok(&s, 1000, &n);
    assert_int_equal(n, 5);
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(segs[k].start_pts, cuts[k]);
        assert_int_equal(segs[k].end_pts, cuts[k + 1]);
        size_t frames = 0, first = s.n;
        for (size_t i = 0; i < s.n; i++)
            if (s.p[i].pts >= cuts[k] && s.p[i].pts < cuts[k + 1]) {
                frames++;
                first = i < first ? i : first;
            }
        assert_int_equal(segs[k].frames, frames);
        assert_int_equal(segs[k].first, first);
        assert_int_equal(segs[k].end, k + 1 < n ? segs[k + 1].first : s.n);
        assert_true(s.p[segs[k].first].key);
        total += frames;
    }
    assert_int_equal(total, s.n);
    free(segs);
}

static void timestamps_at_the_ends_of_int64(void **state)
{
    (void)state;
    /* found by fuzz_video_plan: the goals and the differences of these overflowed int64_t */
    static struct stream s;
    s.n = 0;
    push(&s, INT64_MAX - 1, 1);
    static const struct expect one[] = { { 0, 1, INT64_MAX - 1, END, 1 } };
    plan_is(&s, 47545, one, N_OF(one));
    plan_is(&s, INT64_MAX, one, N_OF(one));

    s.n = 0;
    push(&s, INT64_MIN + 1, 1);
    push(&s, INT64_C(1) << 62, 1);
    push(&s, INT64_MAX - 1, 0);
    static const struct expect two[] = {
        { 0, 1, INT64_MIN + 1, INT64_C(1) << 62, 1 }, { 1, 3, INT64_C(1) << 62, END, 2 },
    };
    plan_is(&s, 4, two, N_OF(two));
    /* the goal, INT64_MAX past the first frame, is pts 0: still nearest to 1 << 62 */
    plan_is(&s, INT64_MAX, two, N_OF(two));
}

static void plan_refusals(void **state)
{
    (void)state;
    struct video_packet p[3] = {
        { .pts = 0, .dts = 0, .key = 1 }, { .pts = 1, .dts = 1 }, { .pts = 2, .dts = 2 },
    };
    plan_refused(p, 0, 10, "no packets");
    plan_refused(p, 3, 0, "must be positive");
    plan_refused(p, 3, -5, "must be positive");
    p[1].pts = VIDEO_NO_TS;
    plan_refused(p, 3, 10, "packet 1 has no presentation timestamp");
    p[1].pts = VIDEO_PTS_END;
    plan_refused(p, 3, 10, "packet 1 has no presentation timestamp");
    p[1].pts = 1;
    p[0].key = 0;
    p[1].key = 1;
    plan_refused(p, 3, 10, "does not start with a keyframe");
    p[0].key = 1;
    size_t n;
    struct video_segment *segs = NULL;
    char why[64];
    assert_int_equal(video_plan(p, 3, 10, &segs, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 1);
    free(segs);
}

/* ---- parsers ------------------------------------------------------------------------------ */

static void rates_and_sizes(void **state)
{
    (void)state;
    int a = 0, b = 0;
    assert_int_equal(video_parse_rate("25", &a, &b), 0);
    assert_true(a == 25 && b == 1);
    assert_int_equal(video_parse_rate("30000/1001", &a, &b), 0);
    assert_true(a == 30000 && b == 1001);
    assert_int_equal(video_parse_rate("1/12800", &a, &b), 0);
    assert_true(a == 1 && b == 12800);
    static const char *const bad_rates[] = { "", "0", "-25", "25/0", "25/-1", "25/", "/25",
                                             "x", "25x", "1/2/3", "2.5", "99999999999",
                                             "1/99999999999" };
    for (size_t i = 0; i < N_OF(bad_rates); i++)
        if (video_parse_rate(bad_rates[i], &a, &b) != -1)
            fail_msg("rate '%s' was taken", bad_rates[i]);
    assert_int_equal(video_parse_rate(NULL, &a, &b), -1);

    assert_int_equal(video_parse_size("1920x1080", &a, &b), 0);
    assert_true(a == 1920 && b == 1080);
    assert_int_equal(video_parse_size("2x16384", &a, &b), 0);
    assert_true(a == 2 && b == 16384);
    static const char *const bad_sizes[] = { "", "1920", "1920x", "x1080", "1x2", "2x1",
                                             "16385x2", "2x16385", "1920x1080p", "axb",
                                             "-2x2", "1920X1080" };
    for (size_t i = 0; i < N_OF(bad_sizes); i++)
        if (video_parse_size(bad_sizes[i], &a, &b) != -1)
            fail_msg("size '%s' was taken", bad_sizes[i]);
    assert_int_equal(video_parse_size(NULL, &a, &b), -1);
}

static void bitrates(void **state)
{
    (void)state;
    static const struct { const char *text; int64_t bps; } good[] = {
        { "2500k", 2500000 }, { "2500K", 2500000 }, { "2.5M", 2500000 }, { "2.5m", 2500000 },
        { "1G", 1000000000 }, { "3000000", 3000000 }, { "1k", 1000 }, { "1000", 1000 },
        { "100G", 100000000000 },
    };
    for (size_t i = 0; i < N_OF(good); i++) {
        int64_t bps = 0;
        if (video_parse_bitrate(good[i].text, &bps) != 0 || bps != good[i].bps)
            fail_msg("bitrate '%s': got %lld, wanted %lld", good[i].text, (long long)bps,
                     (long long)good[i].bps);
    }
    static const char *const bad[] = { "", "k", "-5", "0.5", "999", "0", "-2500k", "2500x",
                                       "2500kb", "101G", "nan", "inf", "M" };
    for (size_t i = 0; i < N_OF(bad); i++) {
        int64_t bps = 42;
        if (video_parse_bitrate(bad[i], &bps) != -1 || bps != 42)
            fail_msg("bitrate '%s' was taken (%lld)", bad[i], (long long)bps);
    }
    int64_t bps;
    assert_int_equal(video_parse_bitrate(NULL, &bps), -1);
}

static void settings_flags(void **state)
{
    (void)state;
    struct video_settings s = VIDEO_SETTINGS_INIT;
    char why[256];
    assert_string_equal(s.codec, "libx264");
    assert_int_equal(s.crf, -1);
    assert_int_equal(s.threads, 1);
    assert_int_equal(video_settings_flag(&s, "--codec", "libx265", why, sizeof(why)), 1);
    assert_string_equal(s.codec, "libx265");
    assert_int_equal(video_settings_flag(&s, "--crf", "28", why, sizeof(why)), 1);
    assert_int_equal(s.crf, 28);
    assert_int_equal(video_settings_flag(&s, "--bitrate", "4M", why, sizeof(why)), 1);
    assert_int_equal(s.bitrate, 4000000);
    assert_int_equal(video_settings_flag(&s, "--preset", "veryfast", why, sizeof(why)), 1);
    assert_string_equal(s.preset, "veryfast");
    assert_int_equal(video_settings_flag(&s, "--scale", "1280x720", why, sizeof(why)), 1);
    assert_true(s.width == 1280 && s.height == 720);
    assert_int_equal(video_settings_flag(&s, "--pix-fmt", "yuv444p", why, sizeof(why)), 1);
    assert_string_equal(s.pix_fmt, "yuv444p");
    assert_int_equal(video_settings_flag(&s, "--threads", "0", why, sizeof(why)), 1);
    assert_int_equal(s.threads, 0);
    assert_int_equal(video_settings_flag(&s, "--threads", "256", why, sizeof(why)), 1);
    assert_int_equal(s.threads, 256);

    /* not ours: left for the caller, the settings untouched */
    assert_int_equal(video_settings_flag(&s, "--segment", "2", why, sizeof(why)), 0);
    assert_int_equal(video_settings_flag(&s, "-o", "out.mp4", why, sizeof(why)), 0);
    assert_int_equal(video_settings_flag(&s, "--crf=20", NULL, why, sizeof(why)), 0);
    assert_int_equal(s.crf, 28);

    static const struct { const char *flag, *value, *says; } bad[] = {
        { "--crf", "abc", "--crf abc" },     { "--crf", "-1", "--crf -1" },
        { "--crf", "1001", "--crf 1001" },   { "--crf", "2.5", "--crf 2.5" },
        { "--bitrate", "k", "--bitrate k" }, { "--bitrate", "0.5", "--bitrate 0.5" },
        { "--scale", "1x1", "--scale 1x1" }, { "--scale", "1280", "--scale 1280" },
        { "--threads", "257", "--threads 257" }, { "--threads", "-1", "--threads -1" },
        { "--codec", "", "--codec needs a value" }, { "--preset", NULL, "--preset needs a value" },
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        why[0] = '\0';
        int rc = video_settings_flag(&s, bad[i].flag, bad[i].value, why, sizeof(why));
        if (rc != -1 || !strstr(why, bad[i].says))
            fail_msg("%s %s: got %d '%s', wanted -1 '%s'", bad[i].flag,
                     bad[i].value ? bad[i].value : "(null)", rc, why, bad[i].says);
    }
    assert_int_equal(s.crf, 28);
    assert_int_equal(s.threads, 256);
    assert_true(s.width == 1280 && s.height == 720);
}

/* ---- encode jobs as units ----------------------------------------------------------------- */

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *job = json_loads(text, 0, &e);
    if (!job)
        fail_msg("bad JSON in the test at %d: %s", e.column, e.text);
    return job;
}

static json_t *encode_units(const char *text, char *why, size_t len)
{
    json_t *job = load(text);
    json_t *units = encode_split(job, why, len);
    json_decref(job);
    return units;
}

static const char *name_of(json_t *unit)
{
    return json_string_value(json_object_get(unit, "name"));
}

/* argv of `unit` as one string, arguments separated by single spaces */
static char *argv_text(json_t *unit, char *out, size_t len)
{
    size_t i, at = 0;
    json_t *a;
    out[0] = '\0';
    json_array_foreach(json_object_get(unit, "argv"), i, a) {
        int w = snprintf(out + at, len - at, "%s%s", i ? " " : "", json_string_value(a));
        assert_true(w >= 0 && (size_t)w < len - at);
        at += (size_t)w;
    }
    return out;
}

/* argv of `unit` holds `words` (one or more arguments, space-separated) in a row */
static int has_args(json_t *unit, const char *words)
{
    char text[2048], padded[2048], want[256];
    snprintf(padded, sizeof(padded), " %s ", argv_text(unit, text, sizeof(text)));
    snprintf(want, sizeof(want), " %s ", words);
    return strstr(padded, want) != NULL;
}

static void args_are(json_t *unit, const char *starts, const char *const *has,
                     const char *ends)
{
    char text[2048];
    argv_text(unit, text, sizeof(text));
    size_t n = strlen(text), e = strlen(ends);
    if (strncmp(text, starts, strlen(starts)) != 0 || n < e || strcmp(text + n - e, ends) != 0)
        fail_msg("unit '%s': '%s' does not start '%s' and end '%s'", name_of(unit), text,
                 starts, ends);
    for (size_t i = 0; has[i]; i++)
        if (!has_args(unit, has[i]))
            fail_msg("unit '%s': no '%s' in '%s'", name_of(unit), has[i], text);
}

static void input_is_unit(json_t *unit, const char *as, size_t from, const char *output)
{
    json_t *in = json_object_get(json_object_get(unit, "inputs"), as);
    if (!json_is_object(in))
        fail_msg("unit '%s' has no input %s from a unit", name_of(unit), as);
    assert_int_equal(json_integer_value(json_object_get(in, "unit")), from);
    assert_string_equal(json_string_value(json_object_get(in, "output")), output);
}

static const char *only_output(json_t *unit)
{
    json_t *outs = json_object_get(unit, "outputs");
    assert_int_equal(json_array_size(outs), 1);
    return json_string_value(json_array_get(outs, 0));
}

#define SEGMENTS3                                                                      \
    "\"segments\":[{\"digest\":\"aa/1\",\"start_pts\":0,\"end_pts\":25600,\"frames\":50}," \
    "{\"digest\":\"bb/2\",\"start_pts\":25600,\"end_pts\":51200,\"frames\":50},"         \
    "{\"digest\":\"cc/3\",\"start_pts\":51200,\"frames\":49}]"

static void encode_job_units(void **state)
{
    (void)state;
    char why[512] = "";
    json_t *u = encode_units("{\"type\":\"ENCODE\",\"format\":\"mp4\",\"fps\":\"25/1\","
                             "\"time_base\":\"1/12800\",\"shift\":\"1024/12800\","
                             SEGMENTS3 ",\"audio\":\"dd/4\"}", why, sizeof(why));
    if (!u)
        fail_msg("refused: %s", why);
    assert_int_equal(json_array_size(u), 4);
    assert_string_equal(name_of(json_array_get(u, 0)), "segment 0");
    assert_string_equal(name_of(json_array_get(u, 1)), "segment 1");
    assert_string_equal(name_of(json_array_get(u, 2)), "segment 2");
    assert_string_equal(name_of(json_array_get(u, 3)), "output");

    json_t *s1 = json_array_get(u, 1);
    static const char *const s1_has[] = { "-o encoded.nut", "--start-pts 25600",
                                          "--end-pts 51200", "--time-base 1/12800",
                                          "--frames 50", "--fps 25/1", "--codec libx264",
                                          "--threads 1", NULL };
    args_are(s1, "udcs-video encode segment.nut", s1_has, "");
    assert_false(has_args(s1, "--crf") || has_args(s1, "--bitrate"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(s1, "inputs"),
                                                          "segment.nut")), "bb/2");
    assert_string_equal(only_output(s1), "encoded.nut");
    json_t *tc = json_object_get(json_object_get(s1, "requirements"), "toolchains");
    assert_string_equal(json_string_value(json_array_get(tc, 0)), "udcs-video");
    /* the last runs to the end of its file */
    static const char *const s2_has[] = { "--start-pts 51200", "--frames 49", NULL };
    args_are(json_array_get(u, 2), "udcs-video encode segment.nut", s2_has, "");
    assert_false(has_args(json_array_get(u, 2), "--end-pts"));
    static const char *const s0_has[] = { "--start-pts 0", "--end-pts 25600", NULL };
    args_are(json_array_get(u, 0), "udcs-video encode segment.nut", s0_has, "");

    json_t *join = json_array_get(u, 3);
    static const char *const join_has[] = { "--shift 1024/12800", "--audio audio.nut",
                                            "--time-base 1/12800", NULL };
    args_are(join, "udcs-video join -o output.mp4 --format mp4", join_has,
             " seg_00000.nut seg_00001.nut seg_00002.nut");
    for (size_t k = 0; k < 3; k++) {
        char as[32];
        snprintf(as, sizeof(as), "seg_%05zu.nut", k);
        input_is_unit(join, as, k, "encoded.nut");
    }
    assert_string_equal(json_string_value(json_object_get(json_object_get(join, "inputs"),
                                                          "audio.nut")), "dd/4");
    assert_int_equal(json_object_size(json_object_get(join, "inputs")), 4);
    assert_string_equal(only_output(join), "output.mp4");
    json_decref(u);

    /* settings into every segment's argv; mkv is FFmpeg's matroska; no audio */
    u = encode_units("{\"format\":\"mkv\",\"fps\":\"30000/1001\",\"time_base\":\"1/90000\","
                     SEGMENTS3 ",\"codec\":\"libx265\",\"crf\":28,\"preset\":\"fast\","
                     "\"scale\":\"1280x720\",\"pix_fmt\":\"yuv420p10le\",\"threads\":2,"
                     "\"encoder_fingerprint\":\"0123abcd\"}", why, sizeof(why));
    if (!u)
        fail_msg("refused: %s", why);
    assert_int_equal(json_array_size(u), 4);
    static const char *const set_has[] = { "--time-base 1/90000", "--fps 30000/1001",
                                           "--codec libx265", "--crf 28", "--preset fast",
                                           "--scale 1280x720", "--pix-fmt yuv420p10le",
                                           "--threads 2", NULL };
    for (size_t k = 0; k < 3; k++)
        args_are(json_array_get(u, k), "udcs-video encode segment.nut", set_has, "");
    join = json_array_get(u, 3);
    static const char *const none[] = { NULL };
    args_are(join, "udcs-video join -o output.mkv --format matroska", none,
             " seg_00000.nut seg_00001.nut seg_00002.nut");
    assert_false(has_args(join, "--audio") || has_args(join, "--shift"));
    assert_null(json_object_get(json_object_get(join, "inputs"), "audio.nut"));
    assert_string_equal(only_output(join), "output.mkv");
    tc = json_object_get(json_object_get(join, "requirements"), "toolchains");
    assert_string_equal(json_string_value(json_array_get(tc, 0)), "udcs-video@0123abcd");
    json_decref(u);

    /* a bitrate alone, as text or as a number */
    u = encode_units("{\"fps\":\"25\",\"time_base\":\"1/25\",\"segments\":[{\"digest\":\"a/1\","
                     "\"start_pts\":0,\"frames\":10}],\"bitrate\":\"2500k\"}", why,
                     sizeof(why));
    if (!u)
        fail_msg("refused: %s", why);
    assert_int_equal(json_array_size(u), 2);
    assert_true(has_args(json_array_get(u, 0), "--bitrate 2500k"));
    json_decref(u);
}

static void encode_job_refusals(void **state)
{
    (void)state;
    static const struct { const char *job, *says; } cases[] = {
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"colour\":1}",
          "unknown field 'colour'" },
        { "{\"format\":\"avi\",\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 "}",
          "format 'avi' is not one of" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\",\"segments\":[{\"digest\":\"a/1\","
          "\"start_pts\":0,\"end_pts\":100,\"frames\":4},{\"digest\":\"b/1\","
          "\"start_pts\":101,\"frames\":4}]}", "segment 1 starts at 101, not where segment 0 "
          "ends (100)" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\",\"segments\":[{\"digest\":\"a/1\","
          "\"start_pts\":0,\"frames\":4},{\"digest\":\"b/1\",\"start_pts\":0,\"frames\":4}]}",
          "segment 0 needs its end_pts" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\",\"segments\":[{\"digest\":\"a/1\","
          "\"start_pts\":10,\"end_pts\":10,\"frames\":4}]}", "segment 0 ends before it starts" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\",\"segments\":[{\"digest\":\"a/1\","
          "\"start_pts\":0,\"frames\":0}]}", "segment 0 must be" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\",\"segments\":[]}", "field 'segments'" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"}", "field 'segments'" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"crf\":23,"
          "\"bitrate\":\"2500k\"}", "'crf' and 'bitrate' both given" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"crf\":\"23\"}",
          "field 'crf' must be a whole number" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"crf\":-3}", "field 'crf'" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"bitrate\":\"fast\"}",
          "field 'bitrate'" },
        { "{\"fps\":\"25\",\"time_base\":\"1/x\"," SEGMENTS3 "}", "field 'time_base'" },
        { "{\"fps\":\"25\",\"time_base\":\"0/25\"," SEGMENTS3 "}", "field 'time_base'" },
        { "{\"fps\":\"25\"," SEGMENTS3 "}", "field 'time_base'" },
        { "{\"fps\":\"25/0\",\"time_base\":\"1/25\"," SEGMENTS3 "}", "field 'fps'" },
        { "{\"time_base\":\"1/25\"," SEGMENTS3 "}", "field 'fps'" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\",\"shift\":\"-1/25\"," SEGMENTS3 "}",
          "field 'shift'" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"codec\":\"-x\"}",
          "field 'codec': '-x' is not a name" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"preset\":\"a b\"}",
          "field 'preset': 'a b' is not a name" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"scale\":\"big\"}",
          "field 'scale'" },
        { "{\"fps\":\"25\",\"time_base\":\"1/25\"," SEGMENTS3 ",\"threads\":999}",
          "field 'threads'" },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        char why[512] = "";
        json_t *u = encode_units(cases[i].job, why, sizeof(why));
        if (u || !strstr(why, cases[i].says))
            fail_msg("case %zu: wanted '%s', got %s '%s'", i, cases[i].says,
                     u ? "units" : "error", why);
    }
}

static void render_job_with_encode(void **state)
{
    (void)state;
    char why[512] = "";
    json_t *job = load("{\"type\":\"RENDER\",\"scene\":\"a.scn\",\"inputs\":{\"a.scn\":\"x\"},"
                       "\"frames\":\"1-5\",\"size\":\"64x48\",\"encode\":{\"fps\":\"24\","
                       "\"segment_frames\":2,\"format\":\"mkv\"}}");
    json_t *u = render_split(job, why, sizeof(why));
    json_decref(job);
    if (!u)
        fail_msg("refused: %s", why);
    /* five frames, three encodes of 2, 2 and 1 frames, the join */
    assert_int_equal(json_array_size(u), 9);
    for (size_t i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof(want), "frame %zu", i + 1);
        assert_string_equal(name_of(json_array_get(u, i)), want);
    }
    const char *frame_out = only_output(json_array_get(u, 0));
    const char *ext = strrchr(frame_out, '.');
    assert_non_null(ext);
    static const size_t first_of[] = { 0, 2, 4, 5 };
    for (size_t k = 0; k < 3; k++) {
        json_t *e = json_array_get(u, 5 + k);
        char want[32];
        snprintf(want, sizeof(want), "segment %zu", k);
        assert_string_equal(name_of(e), want);
        assert_string_equal(only_output(e), "encoded.nut");
        snprintf(want, sizeof(want), "--first-pts %zu", first_of[k]);
        const char *const has[] = { "--fps 24", want, "-o encoded.nut", "--codec libx264",
                                    "--threads 1", NULL };
        args_are(e, "udcs-video encode --images", has, "");
        size_t count = first_of[k + 1] - first_of[k];
        assert_int_equal(json_object_size(json_object_get(e, "inputs")), count);
        for (size_t i = first_of[k]; i < first_of[k + 1]; i++) {
            char as[64];
            snprintf(as, sizeof(as), "f_%07zu%s", i, ext);
            input_is_unit(e, as, i, frame_out);
            assert_true(has_args(e, as));
        }
        json_t *tc = json_object_get(json_object_get(e, "requirements"), "toolchains");
        assert_string_equal(json_string_value(json_array_get(tc, 0)), "udcs-video");
    }
    json_t *join = json_array_get(u, 8);
    assert_string_equal(name_of(join), "output");
    static const char *const none[] = { NULL };
    args_are(join, "udcs-video join -o output.mkv --format matroska", none,
             " seg_00000.nut seg_00001.nut seg_00002.nut");
    assert_false(has_args(join, "--audio"));
    assert_int_equal(json_object_size(json_object_get(join, "inputs")), 3);
    input_is_unit(join, "seg_00000.nut", 5, "encoded.nut");
    input_is_unit(join, "seg_00001.nut", 6, "encoded.nut");
    input_is_unit(join, "seg_00002.nut", 7, "encoded.nut");
    assert_string_equal(only_output(join), "output.mkv");
    json_decref(u);

    /* tiled frames: each encode takes the merge of its frame (the last of its units) */
    job = load("{\"scene\":\"a.scn\",\"inputs\":{\"a.scn\":\"x\"},\"frames\":\"1-3\","
               "\"size\":\"64x48\",\"tiles\":\"2x1\",\"encode\":{}}");
    u = render_split(job, why, sizeof(why));
    json_decref(job);
    if (!u)
        fail_msg("refused: %s", why);
    assert_int_equal(json_array_size(u), 3 * 3 + 1 + 1);   /* default: 48 frames a segment */
    json_t *e = json_array_get(u, 9);
    for (size_t i = 0; i < 3; i++) {
        json_t *merge = json_array_get(u, 3 * i + 2);
        char as[64];
        snprintf(as, sizeof(as), "f_%07zu%s", i, strrchr(only_output(merge), '.'));
        input_is_unit(e, as, 3 * i + 2, only_output(merge));
    }
    assert_true(has_args(json_array_get(u, 10), "-o output.mp4 --format mp4"));
    json_decref(u);

    static const struct { const char *encode, *says; } bad[] = {
        { "{\"format\":\"avi\"}", "format 'avi'" },
        { "{\"segment_frames\":0}", "field 'segment_frames'" },
        { "{\"fps\":\"x\"}", "field 'fps'" },
        { "{\"crf\":20,\"bitrate\":\"1M\"}", "both given" },
        { "{\"time_base\":\"1/25\"}", "unknown field 'time_base'" },
        { "[]", "field 'encode' must be an object" },
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        char spec[512];
        snprintf(spec, sizeof(spec), "{\"scene\":\"a.scn\",\"inputs\":{\"a.scn\":\"x\"},"
                 "\"frames\":\"1-5\",\"encode\":%s}", bad[i].encode);
        job = load(spec);
        why[0] = '\0';
        u = render_split(job, why, sizeof(why));
        json_decref(job);
        if (u || !strstr(why, bad[i].says))
            fail_msg("encode %s: wanted '%s', got %s '%s'", bad[i].encode, bad[i].says,
                     u ? "units" : "error", why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_gop_cuts_at_keyframes),
        cmocka_unit_test(short_remainder_joins_the_last_segment),
        cmocka_unit_test(keyframes_far_apart),
        cmocka_unit_test(open_gop_keeps_leading_pictures_before_the_cut),
        cmocka_unit_test(open_gop_at_the_start_drops_its_leading_pictures),
        cmocka_unit_test(no_packet_in_three_segments),
        cmocka_unit_test(discarded_packets_are_in_no_window),
        cmocka_unit_test(too_many_leading_pictures_is_no_cut),
        cmocka_unit_test(keyframe_shown_before_earlier_packets_is_no_cut),
        cmocka_unit_test(variable_frame_rate),
        cmocka_unit_test(timestamps_at_the_ends_of_int64),
        cmocka_unit_test(plan_refusals),
        cmocka_unit_test(rates_and_sizes),
        cmocka_unit_test(bitrates),
        cmocka_unit_test(settings_flags),
        cmocka_unit_test(encode_job_units),
        cmocka_unit_test(encode_job_refusals),
        cmocka_unit_test(render_job_with_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
