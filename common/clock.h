/* common/clock.h - monotonic and wall-clock time in the units UDCS measures with. */
#ifndef UDCS_COMMON_CLOCK_H
#define UDCS_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds: for durations, never for timestamps shown to people. */
static inline uint64_t udcs_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t udcs_mono_ms(void)
{
    return udcs_mono_ns() / 1000000u;
}

/* Wall-clock milliseconds since the Unix epoch: for records and logs. */
static inline uint64_t udcs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The CLOCK_REALTIME instant `ms` milliseconds from now: the deadline that
 * pthread_cond_timedwait() takes (condition variables use that clock by default). */
static inline struct timespec udcs_deadline_after_ms(uint64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

#endif
