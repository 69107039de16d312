/* toolchains/job_fields.c - the fields of submitted jobs (job_fields.h). */
#include "toolchains/job_fields.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_PATH_TEXT 1024


int job_safe_relative(const char *path)
{
    if (!*path || path[0] == '/' || strlen(path) >= MAX_PATH_TEXT)
        return 0;
    for (const char *p = path; p; p = strchr(p, '/')) {
        if (*p == '/')
            p++;
        if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
            return 0;
    }
    return 1;
}

int job_opt_int(const json_t *job, const char *key, int min, int max, int def, int *out,
                char *why, size_t why_len)
{
    json_t *v = json_object_get(job, key);
    *out = def;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return udcs_why(why, why_len, "field '%s' must be a whole number from %d to %d", key,
                        min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

int job_opt_str(const json_t *job, const char *key, const char *def, const char **out,
                char *why, size_t why_len)
{
    json_t *v = json_object_get(job, key);
    *out = v ? json_string_value(v) : def;
    if (v && !json_is_string(v))
        return udcs_why(why, why_len, "field '%s' must be a string", key);
    return 0;
}

int job_known_fields(const json_t *job, const char *const *known, const char *what, char *why,
                     size_t why_len)
{
    static const char *const every[] = { "type", "priority", "requirements", "max_attempts",
                                         "retry_failed_commands", "callback_url", NULL };
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)job, k, v) {
        int found = 0;
        for (int i = 0; !found && known[i]; i++)
            found = strcmp(k, known[i]) == 0;
        for (int i = 0; !found && every[i]; i++)
            found = strcmp(k, every[i]) == 0;
        if (found)
            continue;
        char list[1024];
        size_t at = 0;
        for (int i = 0; known[i] && at < sizeof(list); i++)
            at += (size_t)snprintf(list + at, sizeof(list) - at, "%s, ", known[i]);
        return udcs_why(why, why_len, "unknown field '%s' in %s; known: %sand every job's type, "
                        "priority, requirements, max_attempts, callback_url", k, what, list);
    }
    return 0;
}

int job_tool_requirement(const json_t *job, const char *key, const char *tool, char *req,
                         size_t len, char *why, size_t why_len)
{
    const char *fp;
    if (job_opt_str(job, key, NULL, &fp, why, why_len) < 0)
        return -1;
    if (fp && (!*fp || strlen(fp) > 64 || strspn(fp, "0123456789abcdef") != strlen(fp)))
        return udcs_why(why, why_len, "field '%s' must be a toolchain fingerprint (lower-case "
                        "hex, as 'udcs devices --json' shows it)", key);
    snprintf(req, len, "%s%s%s", tool, fp ? "@" : "", fp ? fp : "");
    return 0;
}

void job_arg(json_t *argv, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_array_append_new(argv, json_string(text));
}
