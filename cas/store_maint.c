/* cas/store_maint.c - keeping a store in shape: eviction of least recently used entries
 * (automatic after writes, and `udcs-cas trim`), and full verification (`udcs-cas
 * verify`). Both scan the shard directories; a lock file keeps two processes from
 * scanning at once. Hits never come here. */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/log.h"
#include "common/units.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const area_dirs[] = { "cas", "ac" };

struct entry {
    int64_t mtime_ns;
    uint64_t size;
    enum cas_area area;
    char rel[CAS_REL_PATH_MAX];
};

struct scan {
    struct entry *v;
    size_t n, cap;
    uint64_t count[2], bytes[2];
    uint64_t temps_removed;
};

static int is_entry_name(const char *name)
{
    return strlen(name) == CAS_HEX_LEN - 2 && strspn(name, "0123456789abcdef") == CAS_HEX_LEN - 2;
}

/* Remove a writer's named temporary once it is old enough that the writer is gone. */
static void drop_stale_temp(int dirfd, const char *name, struct scan *sc)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        time(NULL) - st.st_mtime > CAS_STALE_TEMP_S && unlinkat(dirfd, name, 0) == 0)
        sc->temps_removed++;
}

static int scan_dir(struct cas_store *cs, enum cas_area area, int shard, struct scan *sc)
{
    char rel[16];
    snprintf(rel, sizeof(rel), "%s/%02x", area_dirs[area], shard);
    int fd = openat(cs->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tmp.")) {
            drop_stale_temp(fd, e->d_name, sc);
            continue;
        }
        if (!is_entry_name(e->d_name))
            continue;
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;   /* removed meanwhile, or not ours */
        if (sc->n == sc->cap) {
            size_t cap = sc->cap ? sc->cap * 2 : 1024;
            struct entry *v = realloc(sc->v, cap * sizeof(*v));
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            sc->v = v;
            sc->cap = cap;
        }
        struct entry *en = &sc->v[sc->n++];
        en->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        en->size = (uint64_t)st.st_size;
        en->area = area;
        snprintf(en->rel, sizeof(en->rel), "%s/%s", rel, e->d_name);
        sc->count[area]++;
        sc->bytes[area] += en->size;
    }
    closedir(d);
    return rc;
}

static int scan_store(struct cas_store *cs, struct scan *sc)
{
    memset(sc, 0, sizeof(*sc));
    for (int a = 0; a < 2; a++)
        for (int s = 0; s < 256; s++) {
            int rc = scan_dir(cs, (enum cas_area)a, s, sc);
            if (rc < 0)
                return rc;
        }
    /* Unnamed writes fall back to named temporaries in the root on some file systems. */
    int fd = dup(cs->root_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, ".udcs.tmp.", 10) == 0)
            drop_stale_temp(dirfd(d), e->d_name, sc);
    closedir(d);
    return 0;
}

static int by_age(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

static void set_sizes(struct cas_store *cs, const uint64_t count[2], const uint64_t bytes[2])
{
    cas_stat_set(cs, CAS_STAT_BLOB_COUNT, count[CAS_AREA_BLOB]);
    cas_stat_set(cs, CAS_STAT_BLOB_BYTES, bytes[CAS_AREA_BLOB]);
    cas_stat_set(cs, CAS_STAT_AC_COUNT, count[CAS_AREA_AC]);
    cas_stat_set(cs, CAS_STAT_AC_BYTES, bytes[CAS_AREA_AC]);
}

/* Evict oldest first until the store holds at most `target` bytes. Call with the lock. */
static int evict_to(struct cas_store *cs, uint64_t target, const char *protect,
                    struct cas_trim_report *rep)
{
    struct scan sc;
    int rc = scan_store(cs, &sc);
    if (rc < 0) {
        free(sc.v);
        return rc;
    }
    if (sc.n > 1)   /* qsort() must not see the NULL array of an empty store */
        qsort(sc.v, sc.n, sizeof(*sc.v), by_age);
    uint64_t total = sc.bytes[0] + sc.bytes[1];
    struct cas_trim_report r = { 0 };
    for (size_t i = 0; i < sc.n && total > target; i++) {
        struct entry *en = &sc.v[i];
        if (protect && strcmp(en->rel, protect) == 0)
            continue;
        if (unlinkat(cs->root_fd, en->rel, 0) < 0)
            continue;   /* gone already: another process removed it */
        total -= en->size;
        sc.count[en->area]--;
        sc.bytes[en->area] -= en->size;
        r.removed_count++;
        r.removed_bytes += en->size;
    }
    r.kept_count = sc.count[0] + sc.count[1];
    r.kept_bytes = total;
    set_sizes(cs, sc.count, sc.bytes);
    cas_stat_add(cs, CAS_STAT_EVICTIONS, r.removed_count);
    cas_stat_add(cs, CAS_STAT_CLEANUPS, 1);
    free(sc.v);
    if (rep)
        *rep = r;
    return 0;
}

void cas_store_maybe_cleanup(struct cas_store *cs, const char *protect_rel)
{
    if (!cs->max_size || cs->readonly)
        return;
    uint64_t used = cas_stat_get(cs, CAS_STAT_BLOB_BYTES) + cas_stat_get(cs, CAS_STAT_AC_BYTES);
    if (used <= cs->max_size)
        return;
    if (flock(cs->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return;   /* another process is cleaning up right now */
    struct cas_trim_report rep;
    uint64_t target = cs->max_size / 100 * CAS_TRIM_LOW_WATER_PERCENT;
    if (evict_to(cs, target, protect_rel, &rep) == 0 && rep.removed_count) {
        char removed[32], kept[32];
        udcs_log_info("cas: %s was over its maximum size; removed %llu least recently used "
                      "entries (%s), %s kept", cs->root, (unsigned long long)rep.removed_count,
                      udcs_size_format(rep.removed_bytes, removed, sizeof(removed)),
                      udcs_size_format(rep.kept_bytes, kept, sizeof(kept)));
    }
    flock(cs->lock_fd, LOCK_UN);
}

int cas_store_trim(struct cas_store *cs, uint64_t max_size, struct cas_trim_report *rep)
{
    if (cs->readonly)
        return -EROFS;
    if (flock(cs->lock_fd, LOCK_EX) < 0)
        return -errno;
    int rc = evict_to(cs, max_size, NULL, rep);
    flock(cs->lock_fd, LOCK_UN);
    return rc;
}

/* Fully verify one entry. Returns 0, or UDCS_ECORRUPT with *why set (possibly pointing
 * into `why_buf`), or -errno. */
static int verify_entry(const struct entry *en, int fd, const char **why, char *why_buf,
                        size_t why_len)
{
    if (en->area == CAS_AREA_BLOB) {
        /* The name is the digest: rebuild it from the path "cas/ab/cdef...". */
        char hex[CAS_HEX_LEN + 1];
        snprintf(hex, sizeof(hex), "%.2s%s", en->rel + 4, en->rel + 7);
        struct cas_digest d;
        if (cas_digest_parse(hex, &d, NULL) < 0) {
            *why = "its file name is not a digest";
            return UDCS_ECORRUPT;
        }
        return cas_decode_fd(fd, &d, NULL, NULL, why);
    }
    struct udcs_buf stored = UDCS_BUF_INIT(CAS_AC_MAX_BYTES + CAS_BLOB_HEADER_BYTES);
    struct udcs_buf json = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
    int rc = udcs_buf_read_fd(&stored, fd);
    if (rc == UDCS_ETOOBIG) {
        rc = UDCS_ECORRUPT;
        *why = "the record is larger than any action result";
    }
    if (rc == 0)
        rc = cas_blob_decode_mem(stored.data, stored.len, NULL, &json, why);
    if (rc == 0) {
        struct cas_action_result r;
        if (cas_action_result_from_json(json.data, json.len, &r, why_buf, why_len) < 0) {
            rc = UDCS_ECORRUPT;
            *why = why_buf;
        } else {
            cas_action_result_release(&r);
        }
    }
    udcs_buf_release(&stored);
    udcs_buf_release(&json);
    return rc;
}

int cas_store_verify(struct cas_store *cs, struct cas_verify_report *rep,
                     void (*on_corrupt)(void *arg, const char *path, const char *why),
                     void *arg)
{
    if (cs->readonly)
        return -EROFS;
    if (flock(cs->lock_fd, LOCK_EX) < 0)
        return -errno;
    struct scan sc;
    int rc = scan_store(cs, &sc);
    struct cas_verify_report r = { .removed_temporaries = sc.temps_removed };
    for (size_t i = 0; rc == 0 && i < sc.n; i++) {
        struct entry *en = &sc.v[i];
        int fd = openat(cs->root_fd, en->rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            sc.count[en->area]--;   /* removed meanwhile */
            sc.bytes[en->area] -= en->size;
            continue;
        }
        const char *why = NULL;
        char why_buf[256];
        int v = verify_entry(en, fd, &why, why_buf, sizeof(why_buf));
        r.checked++;
        if (v == UDCS_ECORRUPT) {
            r.corrupt++;
            if (on_corrupt)
                on_corrupt(arg, en->rel, why ? why : "damaged");
            cas_stat_add(cs, CAS_STAT_CORRUPT, 1);
            if (unlinkat(cs->root_fd, en->rel, 0) == 0) {
                sc.count[en->area]--;
                sc.bytes[en->area] -= en->size;
            }
        } else if (v < 0) {
            rc = v;
        }
        close(fd);
    }
    if (rc == 0) {
        set_sizes(cs, sc.count, sc.bytes);
        r.blob_count = sc.count[CAS_AREA_BLOB];
        r.blob_bytes = sc.bytes[CAS_AREA_BLOB];
        r.ac_count = sc.count[CAS_AREA_AC];
        r.ac_bytes = sc.bytes[CAS_AREA_AC];
    }
    flock(cs->lock_fd, LOCK_UN);
    free(sc.v);
    if (rep)
        *rep = r;
    return rc;
}
