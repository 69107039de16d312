/* ci/ci_internal.h - what the files of ci/ share: the step definition and its JSON form,
 * the key, the outputs archive, the step log and the cache file. Not for other folders. */
#ifndef UDCS_CI_INTERNAL_H
#define UDCS_CI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>
#include <jansson.h>

#include "cas/cas.h"

/* Largest step log or steps file read, and largest step record. */
#define CI_LOG_MAX_BYTES (64u * 1024 * 1024)
#define CI_STEP_MAX_BYTES (1024u * 1024)
/* Largest stdout or stderr replayed through memory is not bounded: both go through files. */

/* The name of the one output the action result of a step holds: the outputs archive. */
#define CI_OUTPUTS_NAME "outputs.tar"

/* A step as the user declared it. Every string is owned by the step. */
struct ci_step {
    char *name;
    char **inputs;        /* paths relative to the repository's top, "" the whole tree */
    size_t n_inputs;
    char **outputs;       /* paths relative to the directory the step runs in */
    size_t n_outputs;
    char **env;           /* variable names whose values are part of the key */
    size_t n_env;
    char **toolchains;    /* toolchain names (as agents detect them) */
    size_t n_toolchains;
    char **argv;          /* NULL-terminated */
    size_t argc;
};

/* Parse {"name":..,"inputs":[..],"outputs":[..],"env":[..],"toolchains":[..],"argv":[..]}
 * ("name" and "inputs" required, the rest optional). Names must be 1..128 characters of
 * [A-Za-z0-9._-]; input paths "" or contained (udcs_path_is_contained); outputs
 * contained. Returns 0, or UDCS_EPROTO with the reason in `why`; on failure `s` holds
 * nothing to release. */
int ci_step_from_json(const json_t *j, struct ci_step *s, char *why, size_t why_len);
/* The step as a new JSON object (NULL when out of memory). */
json_t *ci_step_to_json(const struct ci_step *s);
/* Whether `name` is a valid step name. */
int ci_step_name_ok(const char *name);
void ci_step_release(struct ci_step *s);

/* Parse a steps file (.udcs-ci.json): {"steps":[STEP...]}, names unique. Returns the
 * count (>= 0) with the steps in a new array in *out (free each with ci_step_release,
 * then the array), or UDCS_EPROTO with the reason in `why`. */
int ci_steps_parse(const void *data, size_t len, struct ci_step **out, char *why,
                   size_t why_len);

/* ---- the key (ci_key.c) ---------------------------------------------------------------- */

/* Open the repository holding the current directory; *prefix receives the current
 * directory relative to the top ("" or "sub/dir/", malloc()ed). Logs and returns
 * UDCS_EUSAGE when there is none. */
int ci_repo_open(git_repository **repo, char **prefix);

/* The last libgit2 error's message (never NULL). */
const char *ci_git_error(void);

/* The step's inputs as a pathspec in `ps` (borrowed from `s`), empty when one input is
 * the whole tree. Inputs are paths, never patterns: callers pass the flag that turns
 * pattern matching off, so "src" does not match "src2/x". Returns 1 when limited. */
int ci_step_pathspec(const struct ci_step *s, git_strarray *ps);

/* The git id of what `tree` holds at `path` ("" the tree itself) into `out` as
 * "tree:HEX", "blob:HEX" (with the mode when executable or a link) or "absent".
 * Returns 0 or a negative libgit2 code (logged). */
int ci_tree_entry_text(git_tree *tree, const char *path, char *out, size_t out_len);

/* The key of `s` at HEAD of `repo` plus the working tree's changes under its inputs:
 * into `key`, with the described key (JSON) in *desc when not NULL. Returns 0,
 * UDCS_EUSAGE (no commit, unknown toolchain; logged) or another error (logged). */
int ci_key_compute(git_repository *repo, const struct ci_step *s, struct cas_digest *key,
                   json_t **desc);

/* ---- the outputs archive (ci_archive.c) ---------------------------------------------- */

/* Write the files and directories named by `paths` (relative to the current directory;
 * ones that do not exist are left out with a WARN) as an uncompressed tar to `fd`.
 * Returns 0 or a negative code (logged). */
int ci_archive_write(char *const *paths, size_t n, int fd);
/* Extract the tar at `path` into the current directory with libarchive's secure flags
 * (no absolute paths, no "..", nothing through a symlink). Returns 0 or UDCS_ECORRUPT
 * (logged). */
int ci_archive_extract(const char *path);

/* ---- the step log (ci_log.c) --------------------------------------------------------- */

/* The log's path under the cache directory (malloc()ed). */
char *ci_log_path(const char *cache_dir);
/* Append one record (a JSON object) as one line. Returns 0 or -errno (logged). */
int ci_log_append(const char *cache_dir, json_t *record);
/* Read every record, oldest first, into a new array *out. A missing log is empty; a line
 * that does not parse is skipped with a WARN. Returns 0 or -errno/UDCS_ETOOBIG (logged). */
int ci_log_read(const char *cache_dir, json_t **out);

/* ---- cache files (ci_bundle.c) -------------------------------------------------------- */

/* Import the cache file at `file` into `cs` (whose directory is `cache_dir`): refused as
 * a whole, with nothing written to the store, when an entry is absolute, climbs out, is a
 * link, a device or not of the store's layout, or fails its check (logged with the entry
 * and why). *count receives the number of files the cache file holds. Returns 0,
 * UDCS_ECORRUPT, or -errno (an error while storing, after the checks passed). */
int ci_bundle_import(struct cas_store *cs, const char *cache_dir, const char *file,
                     size_t *count);

/* ---- subcommands ------------------------------------------------------------------------ */

struct cas;
/* `farm_env`: "NAME=VALUE" settings (NULL-terminated) for the `udcs run` that --remote
 * starts, added to its environment only. */
int ci_cmd_step(const char *cache_dir, char *const *farm_env, int argc, char **argv);
int ci_cmd_affected(const char *cache_dir, int argc, char **argv);
int ci_cmd_cache(const char *cache_dir, int argc, char **argv);
int ci_cmd_report(const char *cache_dir, int argc, char **argv);

#endif
