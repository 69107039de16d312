/* toolchains/compile_farm_down.c - the marker CACHE/compile/farm-down: a farm that did
 * not answer is left alone by the calls of the next minute.
 *
 * Every compiler call is a new process, so what one call learns about a dead or silent
 * master would be learnt again, at the price of a timeout, by each of the next thousand.
 * The call that meets the failure writes the marker ("SECONDS FARM" and a line saying
 * why); udcs-compile reads it before handing a miss to udcs-compile-farm, which reads it
 * too. Deciding when the farm fails is compile_farm.c's business. */
#include "toolchains/compile_internal.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The marker is a line or two; more is not ours. */
#define MARKER_MAX_BYTES 4096

static void marker_path(const char *cache_dir, char *out, size_t len)
{
    snprintf(out, len, "%s/compile/farm-down", cache_dir);
}

int cc_farm_down_mark(const char *cache_dir, const char *farm, const char *why)
{
    char path[PATH_MAX], dir[PATH_MAX], text[MARKER_MAX_BYTES];
    snprintf(dir, sizeof(dir), "%s/compile", cache_dir);
    marker_path(cache_dir, path, sizeof(path));
    int n = snprintf(text, sizeof(text), "%lld %s\n%s\n", (long long)time(NULL), farm, why);
    if (n < 0 || (size_t)n >= sizeof(text))
        n = (int)strlen(text);
    int rc = udcs_mkdir_p(dir, 0755);
    struct udcs_afile af;
    if (rc == 0)
        rc = udcs_afile_open(&af, path, 0, 0644);   /* no fsync: a lost marker costs a retry */
    if (rc < 0)
        return rc;
    rc = udcs_write_full(af.fd, text, (size_t)n);
    if (rc < 0) {
        udcs_afile_abort(&af);
        return rc;
    }
    return udcs_afile_commit(&af);
}

int cc_farm_down_check(const char *cache_dir, const char *farm)
{
    char path[PATH_MAX], text[MARKER_MAX_BYTES], url[MARKER_MAX_BYTES];
    marker_path(cache_dir, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;   /* the usual case: no marker */
    ssize_t n;
    while ((n = read(fd, text, sizeof(text) - 1)) < 0 && errno == EINTR)
        ;
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    long long since;
    if (sscanf(text, "%lld %4095s", &since, url) != 2 || strcmp(url, farm) != 0)
        return 0;   /* another farm's, or not ours: try the farm */
    long long now = (long long)time(NULL);
    /* a marker from the future (the clock went back) is stale rather than eternal */
    return now >= since && now - since < CC_FARM_DOWN_HOLD_S;
}
