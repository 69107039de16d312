/* toolchains/compile_stats.c - the counters of udcs-compile: one small text file per
 * cache ("name value" lines), updated under an exclusive lock by every call, so that a
 * `make -j64` counts every compile once. A lost update would only skew a statistic, but
 * there is none: the read-add-write happens under the lock. */
#include "toolchains/compile.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static const char *const fixed_names[CC_STAT_FIXED_COUNT] = {
    [CC_STAT_CALLS] = "calls",
    [CC_STAT_DIRECT_HITS] = "direct_hits",
    [CC_STAT_PREPROCESSED_HITS] = "preprocessed_hits",
    [CC_STAT_REMOTE_HITS] = "remote_hits",
    [CC_STAT_MISSES] = "misses",
    [CC_STAT_REMOTE_COMPILES] = "remote_compiles",
    [CC_STAT_LOCAL_FALLBACKS] = "local_fallbacks",
    [CC_STAT_ERRORS] = "errors",
    [CC_STAT_FALLBACK_FARM_DOWN] = "local_fallbacks_farm_down",
    [CC_STAT_FALLBACK_NO_AGENT] = "local_fallbacks_no_agent",
    [CC_STAT_FALLBACK_REMOTE_FAILED] = "local_fallbacks_remote_failed",
};

static const char *const uncacheable_keys[CC_UNC_COUNT] = {
    [CC_OK] = "cacheable",
    [CC_UNC_LINK] = "linking",
    [CC_UNC_PREPROCESS] = "preprocessing",
    [CC_UNC_NO_SOURCE] = "no_source",
    [CC_UNC_MULTIPLE_SOURCES] = "multiple_sources",
    [CC_UNC_LANGUAGE] = "language",
    [CC_UNC_STDIN] = "stdio",
    [CC_UNC_RESPONSE_FILE] = "response_file",
    [CC_UNC_PROFILE] = "profile",
    [CC_UNC_EXTRA_OUTPUT] = "extra_output",
    [CC_UNC_PLUGIN] = "plugin",
    [CC_UNC_UNSUPPORTED] = "unsupported_option",
    [CC_UNC_SOURCE_MISSING] = "source_missing",
    [CC_UNC_TIME_MACROS] = "time_macros",
    [CC_UNC_COMPILE_FAILED] = "compile_failed",
    [CC_UNC_HEADER_CHANGED] = "modified_during_compile",
};

const char *cc_stat_name(int index)
{
    if (index >= 0 && index < CC_STAT_FIXED_COUNT)
        return fixed_names[index];
    if (index >= CC_STAT_FIXED_COUNT && index < CC_STAT_COUNT)
        return uncacheable_keys[index - CC_STAT_FIXED_COUNT];
    return "?";
}

static int stat_index(const char *name)
{
    for (int i = 0; i < CC_STAT_COUNT; i++)
        if (strcmp(cc_stat_name(i), name) == 0)
            return i;
    return -1;
}

/* Parse the file's text into `s` (unknown names are ignored: a newer version's). */
static void parse(char *text, struct cc_stats *s)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        unsigned long long v;
        if (sscanf(line, "%63s %llu", name, &v) == 2) {
            int i = stat_index(name);
            if (i >= 0)
                s->v[i] = v;
        }
    }
}

static int read_fd(int fd, struct cc_stats *s)
{
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    memset(s, 0, sizeof(*s));
    parse(buf, s);
    return 0;
}

static int write_fd(int fd, const struct cc_stats *s)
{
    char buf[8192];
    size_t len = 0;
    for (int i = 0; i < CC_STAT_COUNT; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %llu\n", cc_stat_name(i),
                                (unsigned long long)s->v[i]);
    if (pwrite(fd, buf, len, 0) != (ssize_t)len || ftruncate(fd, (off_t)len) < 0)
        return -errno ? -errno : -EIO;
    return 0;
}

/* Open and lock the counters file, creating its directory when needed. */
static int open_locked(const char *path, int create)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0 && errno == ENOENT && create) {
        char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash) {
            *slash = '\0';
            udcs_mkdir_p(dir, 0755);
        }
        free(dir);
        fd = open(path, O_RDWR | O_CLOEXEC | O_CREAT, 0644);
    }
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

void cc_stats_add(const char *path, const struct cc_stats *delta)
{
    int any = 0;
    for (int i = 0; i < CC_STAT_COUNT; i++)
        any |= delta->v[i] != 0;
    if (!any || !path)
        return;
    int fd = open_locked(path, 1);
    struct cc_stats s;
    int rc = fd < 0 ? fd : read_fd(fd, &s);
    if (rc == 0) {
        for (int i = 0; i < CC_STAT_COUNT; i++)
            s.v[i] += delta->v[i];
        rc = write_fd(fd, &s);
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        udcs_log_warn("compile: cannot update the counters in %s: %s", path, udcs_strerror(rc));
}

int cc_stats_read(const char *path, struct cc_stats *out)
{
    memset(out, 0, sizeof(*out));
    int fd = open_locked(path, 0);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    int rc = read_fd(fd, out);
    close(fd);
    return rc;
}

int cc_stats_zero(const char *path)
{
    int fd = open_locked(path, 0);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    struct cc_stats zero = { { 0 } };
    int rc = write_fd(fd, &zero);
    close(fd);
    return rc;
}

char *cc_stats_path(const char *cache_dir)
{
    char *p = NULL;
    return asprintf(&p, "%s/compile/stats", cache_dir) < 0 ? NULL : p;
}
