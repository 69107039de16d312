/* ci/ci_log.c - the step log: one JSON object per line in CACHE_DIR/ci/steps.jsonl, one
 * line per `udcs ci step` (hit or miss, times, the step's definition). `report` and
 * `affected` read it. Lines are appended with one write on an O_APPEND descriptor, so
 * steps running side by side do not tear each other's lines. */
#include "ci/ci_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *ci_log_path(const char *cache_dir)
{
    return udcs_path_join(cache_dir, "ci/steps.jsonl");
}

int ci_log_append(const char *cache_dir, json_t *record)
{
    char *dir = udcs_path_join(cache_dir, "ci");
    char *path = ci_log_path(cache_dir);
    char *line = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = dir && path && line ? udcs_mkdir_p(dir, 0777) : -ENOMEM;
    int fd = -1;
    if (rc == 0 && (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666)) < 0)
        rc = -errno;
    if (rc == 0) {
        size_t n = strlen(line);
        line[n] = '\n';   /* json_dumps leaves room for its NUL; the line needs no NUL */
        rc = udcs_write_full(fd, line, n + 1);
    }
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        udcs_log_error("ci: cannot append to the step log %s: %s", path ? path : cache_dir,
                       udcs_strerror(rc));
    free(line);
    free(path);
    free(dir);
    return rc;
}

int ci_log_read(const char *cache_dir, json_t **out)
{
    char *path = ci_log_path(cache_dir);
    struct udcs_buf b = UDCS_BUF_INIT(CI_LOG_MAX_BYTES);
    *out = json_array();
    int rc = path && *out ? udcs_read_file(path, &b) : -ENOMEM;
    if (rc == -ENOENT)
        rc = 0;
    else if (rc < 0)
        udcs_log_error("ci: cannot read the step log %s: %s", path, udcs_strerror(rc));
    size_t lineno = 0;
    for (size_t at = 0; rc == 0 && at < b.len; lineno++) {
        const char *start = b.data + at;
        const char *nl = memchr(start, '\n', b.len - at);
        size_t n = nl ? (size_t)(nl - start) : b.len - at;
        at += n + 1;
        json_t *rec = NULL;
        char why[256] = "";
        if (n == 0)
            continue;
        if (udcs_json_parse(start, n, &rec, why, sizeof(why)) == 0 && !json_is_object(rec)) {
            json_decref(rec);
            snprintf(why, sizeof(why), "not a JSON object");
            rec = NULL;
        } else if (!rec) {
            rec = NULL;
        }
        if (!rec) {
            udcs_log_warn("ci: step log %s, line %zu is not a record (%s); skipped", path,
                          lineno + 1, why);
            continue;
        }
        if (json_array_append_new(*out, rec) < 0)
            rc = -ENOMEM;
    }
    udcs_buf_release(&b);
    free(path);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
