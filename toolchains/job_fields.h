/* toolchains/job_fields.h - reading the fields of a submitted job (RENDER, ENCODE) the one
 * same way: optional fields with defaults and ranges, unknown fields refused with the list
 * of known ones. Each returns 0, or -1 with why naming the field (udcs_why). */
#ifndef UDCS_JOB_FIELDS_H
#define UDCS_JOB_FIELDS_H

#include <jansson.h>
#include <stddef.h>

/* Integer field `key` from min to max, or `def` when absent. */
int job_opt_int(const json_t *job, const char *key, int min, int max, int def, int *out,
                char *why, size_t why_len);
/* String field `key`, or `def` when absent. */
int job_opt_str(const json_t *job, const char *key, const char *def, const char **out,
                char *why, size_t why_len);
/* Every field of `job` is in `known` (NULL-ended) or is one every job has (type, priority,
 * requirements, max_attempts, retry_failed_commands, callback_url); `what` names the
 * job ("a RENDER job") in the error. */
int job_known_fields(const json_t *job, const char *const *known, const char *what, char *why,
                     size_t why_len);
/* The toolchain requirement for program `tool` ("tool", or "tool@FP" when the job's field
 * `key` pins a fingerprint FP) into req. */
int job_tool_requirement(const json_t *job, const char *key, const char *tool, char *req,
                         size_t len, char *why, size_t why_len);
/* Append one argument, formatted, to a command line (a JSON array). */
void job_arg(json_t *argv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A relative path that does not climb out ("..") of where it is put. */
int job_safe_relative(const char *path);

#endif
