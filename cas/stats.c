/* cas/stats.c - the store's counters: shared by every process using the store through a
 * small memory-mapped file, updated with atomic adds, so counting costs no lock and no
 * system call on the hot path. */
#include "cas/cas_internal.h"

void cas_stat_add(struct cas_store *cs, enum cas_stat which, uint64_t n)
{
    if (n && !cs->readonly)
        __atomic_fetch_add(&cs->counters[which], n, __ATOMIC_RELAXED);
}

void cas_stat_sub(struct cas_store *cs, enum cas_stat which, uint64_t n)
{
    if (!n || cs->readonly)
        return;
    /* Sizes are recounted by cleanups and may drift below what is removed: clamp at 0. */
    uint64_t cur = __atomic_load_n(&cs->counters[which], __ATOMIC_RELAXED);
    uint64_t next;
    do {
        next = cur > n ? cur - n : 0;
    } while (!__atomic_compare_exchange_n(&cs->counters[which], &cur, next, 1,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

void cas_stat_set(struct cas_store *cs, enum cas_stat which, uint64_t v)
{
    if (!cs->readonly)
        __atomic_store_n(&cs->counters[which], v, __ATOMIC_RELAXED);
}

uint64_t cas_stat_get(const struct cas_store *cs, enum cas_stat which)
{
    return __atomic_load_n(&cs->counters[which], __ATOMIC_RELAXED);
}

void cas_store_stats(struct cas_store *cs, struct cas_stats *o)
{
    o->hits = cas_stat_get(cs, CAS_STAT_HITS);
    o->misses = cas_stat_get(cs, CAS_STAT_MISSES);
    o->puts_new = cas_stat_get(cs, CAS_STAT_PUTS_NEW);
    o->puts_existing = cas_stat_get(cs, CAS_STAT_PUTS_EXISTING);
    o->bytes_in = cas_stat_get(cs, CAS_STAT_BYTES_IN);
    o->bytes_out = cas_stat_get(cs, CAS_STAT_BYTES_OUT);
    o->ac_hits = cas_stat_get(cs, CAS_STAT_AC_HITS);
    o->ac_misses = cas_stat_get(cs, CAS_STAT_AC_MISSES);
    o->ac_puts = cas_stat_get(cs, CAS_STAT_AC_PUTS);
    o->evictions = cas_stat_get(cs, CAS_STAT_EVICTIONS);
    o->corrupt = cas_stat_get(cs, CAS_STAT_CORRUPT);
    o->remote_hits = cas_stat_get(cs, CAS_STAT_REMOTE_HITS);
    o->remote_misses = cas_stat_get(cs, CAS_STAT_REMOTE_MISSES);
    o->remote_bytes_down = cas_stat_get(cs, CAS_STAT_REMOTE_BYTES_DOWN);
    o->remote_bytes_up = cas_stat_get(cs, CAS_STAT_REMOTE_BYTES_UP);
    o->cleanups = cas_stat_get(cs, CAS_STAT_CLEANUPS);
    o->blob_count = cas_stat_get(cs, CAS_STAT_BLOB_COUNT);
    o->blob_bytes = cas_stat_get(cs, CAS_STAT_BLOB_BYTES);
    o->ac_count = cas_stat_get(cs, CAS_STAT_AC_COUNT);
    o->ac_bytes = cas_stat_get(cs, CAS_STAT_AC_BYTES);
    o->max_size = cs->max_size;
}

void cas_store_stats_zero(struct cas_store *cs)
{
    for (int i = 0; i < CAS_STAT_BLOB_COUNT; i++)   /* events only; sizes stay */
        cas_stat_set(cs, (enum cas_stat)i, 0);
}

json_t *cas_stats_to_json(const struct cas_stats *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "hits", (json_int_t)s->hits, "misses", (json_int_t)s->misses,
                     "puts_new", (json_int_t)s->puts_new,
                     "puts_existing", (json_int_t)s->puts_existing,
                     "bytes_in", (json_int_t)s->bytes_in, "bytes_out", (json_int_t)s->bytes_out,
                     "ac_hits", (json_int_t)s->ac_hits, "ac_misses", (json_int_t)s->ac_misses,
                     "ac_puts", (json_int_t)s->ac_puts, "evictions", (json_int_t)s->evictions,
                     "corrupt", (json_int_t)s->corrupt, "remote_hits", (json_int_t)s->remote_hits,
                     "remote_misses", (json_int_t)s->remote_misses,
                     "remote_bytes_down", (json_int_t)s->remote_bytes_down,
                     "remote_bytes_up", (json_int_t)s->remote_bytes_up,
                     "cleanups", (json_int_t)s->cleanups, "blob_count", (json_int_t)s->blob_count,
                     "blob_bytes", (json_int_t)s->blob_bytes, "ac_count", (json_int_t)s->ac_count,
                     "ac_bytes", (json_int_t)s->ac_bytes, "max_size", (json_int_t)s->max_size);
}

void cas_store_count_remote(struct cas_store *cs, int hit, uint64_t bytes_down,
                            uint64_t bytes_up)
{
    if (hit > 0)
        cas_stat_add(cs, CAS_STAT_REMOTE_HITS, 1);
    else if (hit == 0)
        cas_stat_add(cs, CAS_STAT_REMOTE_MISSES, 1);
    cas_stat_add(cs, CAS_STAT_REMOTE_BYTES_DOWN, bytes_down);
    cas_stat_add(cs, CAS_STAT_REMOTE_BYTES_UP, bytes_up);
}

