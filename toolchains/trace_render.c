/* toolchains/trace_render.c - rendering a rectangle of a frame over threads, and the
 * display encoding of its pixels. Threads take whole rows from a shared counter; which
 * thread computes a row changes nothing, because trace_pixel() depends only on the view
 * and the pixel's coordinates in the whole frame. */
#include "toolchains/trace_internal.h"
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>

/* More threads than this gains nothing on any machine we run on; a bound keeps a typo in
 * --threads from asking for millions. */
#define TRACE_MAX_THREADS 1024

struct region_job {
    const struct trace_view *v;
    int x, y, w, h;
    float *rgba;
    atomic_int next_row;
};

static void *render_rows(void *arg)
{
    struct region_job *job = arg;
    for (;;) {
        int row = atomic_fetch_add(&job->next_row, 1);
        if (row >= job->h)
            return NULL;
        float *out = job->rgba + (size_t)row * (size_t)job->w * 4;
        for (int col = 0; col < job->w; col++)
            trace_pixel(job->v, job->x + col, job->y + row, out + 4 * (size_t)col);
    }
}

int trace_render_region(const struct trace_view *v, int x, int y, int w, int h, int threads,
                        float *rgba)
{
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > v->width - w || y > v->height - h)
        return -EINVAL;
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (int)(cpus < TRACE_MAX_THREADS ? cpus : TRACE_MAX_THREADS) : 1;
    }
    if (threads > TRACE_MAX_THREADS)
        threads = TRACE_MAX_THREADS;
    if (threads > h)
        threads = h;
    struct region_job job = { .v = v, .x = x, .y = y, .w = w, .h = h, .rgba = rgba };
    atomic_init(&job.next_row, 0);
    pthread_t tids[TRACE_MAX_THREADS];
    int started = 0;
    for (int i = 1; i < threads; i++) {
        int rc = pthread_create(&tids[started], NULL, render_rows, &job);
        if (rc != 0) {
            /* The rows still get rendered, by the threads there are: only slower. */
            udcs_log_warn("trace: could not start render thread %d of %d (%s); going on "
                          "with %d", i + 1, threads, strerror(rc), started + 1);
            break;
        }
        started++;
    }
    render_rows(&job);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    return 0;
}

/* The sRGB transfer function (IEC 61966-2-1) of a value clamped to [0, 1]. */
static float srgb_encode(float c)
{
    if (!(c > 0.0f))
        return 0.0f;            /* NaN too */
    if (c >= 1.0f)
        return 1.0f;
    if (c <= 0.0031308f)
        return 12.92f * c;
    return 1.055f * powf(c, 1.0f / 2.4f) - 0.055f;
}

void trace_encode_srgb(float *rgba, size_t n_pixels)
{
    for (size_t i = 0; i < n_pixels; i++)
        for (int k = 0; k < 3; k++)
            rgba[4 * i + k] = srgb_encode(rgba[4 * i + k]);
}
