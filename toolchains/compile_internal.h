/* toolchains/compile_internal.h - what the compile_*.c files share and nothing else uses. */
#ifndef UDCS_TOOLCHAINS_COMPILE_INTERNAL_H
#define UDCS_TOOLCHAINS_COMPILE_INTERNAL_H

#include "toolchains/compile.h"

/* One input of a compile, by the path the compiler used and its content. */
struct cc_file_digest {
    char *path;
    struct cas_digest digest;
};

void cc_file_digests_free(struct cc_file_digest *f, size_t n);

enum {
    CC_FILE_TIME_MACROS = 1 << 0,   /* mentions __DATE__, __TIME__ or __TIMESTAMP__ */
    CC_FILE_TOO_NEW = 1 << 1,       /* modified (or its inode changed) after the call began */
};

/* Digest of a regular file, optionally scanning it for time macros and noting whether it
 * changed at or after `newer_than_ns` (0: do not check); bits go into *flags. Returns 0 or
 * -errno. */
int cc_file_digest(const char *path, int scan_time_macros, uint64_t newer_than_ns,
                   struct cas_digest *out, unsigned *flags);

void cc_key_direct(const struct cc_call *call, const struct cas_digest *source,
                   struct cas_digest *out);
void cc_key_depend(const struct cc_call *call, const struct cc_file_digest *files, size_t n,
                   struct cas_digest *out);
void cc_key_cpp(const struct cc_call *call, const struct udcs_buf *preprocessed,
                struct cas_digest *out);

/* Direct mode. Find the result key the manifest under call->direct_key gives for the files
 * as they are now: 1 found (in *result), 0 not. `manifest` is the manifest's blob, read
 * by the caller from its action-cache record. */
int cc_manifest_lookup(const struct udcs_buf *manifest,
                       struct cas_digest *result);
/* The manifest with one more entry (files -> result) in front, older entries kept up to a
 * bound, into `out`. `old` may be empty. Returns 0 or -ENOMEM. */
int cc_manifest_add(const struct udcs_buf *old, const struct cc_file_digest *files, size_t n,
                    const struct cas_digest *result, struct udcs_buf *out);

/* Captured compiler output, as compile_cache.c hands it to the store. */
struct run_out_view {
    const struct udcs_buf *out, *err;
};

void cc_count(struct cc_call *call, int stat);
/* Count a local fallback and its reason (CC_STAT_FALLBACK_*). */
void cc_count_fallback(struct cc_call *call, int reason);

/* The farm-down marker (compile_farm_down.c). A farm that did not answer is left alone
 * for this long: the calls in between compile here at once. */
#define CC_FARM_DOWN_HOLD_S 60
/* Note that the farm `farm` (the setting as given) failed, and why. 0 or -errno. */
int cc_farm_down_mark(const char *cache_dir, const char *farm, const char *why);
/* 1 when `farm` was marked down less than CC_FARM_DOWN_HOLD_S seconds ago, else 0. */
int cc_farm_down_check(const char *cache_dir, const char *farm);
/* `path` relative to `cwd` when it is absolute and lies under `basedir` (malloc()ed);
 * NULL when that does not apply. */
char *cc_relative_to_cwd(const char *path, const char *cwd, const char *basedir);
int cc_write_stream(int fd, const struct udcs_buf *b);

/* Preprocess the source to `out` (with_depfile: also write the dependency file the user
 * asked for, exactly as the compile would). 0, -ECHILD when the preprocessor failed. */
int cc_preprocess(struct cc_call *call, int with_depfile, struct udcs_buf *out);
/* Write a stored result out (object, depfile, stdout, stderr); its exit status or < 0. */
int cc_replay(struct cc_call *call, const struct cas_action_result *res);
int cc_store_result(struct cc_call *call, const struct cas_digest *key,
                    const struct run_out_view *rv, const struct cc_farm_ops *farm,
                    const char *executor, uint64_t duration_ms);
int cc_remember(struct cc_call *call, const struct cc_file_digest *files, size_t n,
                const struct cas_digest *result, const struct cc_farm_ops *farm);
int cc_digest_inputs(struct cc_call *call, char **names, size_t n_names,
                     struct cc_file_digest **out, size_t *n_out);
/* Compile here and store (under call->cpp_key in preprocessor mode, or under the depend key with a
 * manifest entry). Returns the compiler's exit status or < 0 when it could not run. */
int cc_compile_here(struct cc_call *call, char **argv, int argc, const struct cc_farm_ops *farm);
/* A local compile slot (one of settings.local_slots lock files): its descriptor, or
 * -EAGAIN when all are taken and `wait` is 0. Close it to give it back. */
int cc_slot_acquire(struct cc_call *call, int wait);

/* Run argv (stdin and stderr /dev/null, a bounded time) and keep its stdout in `out`.
 * 0 when it exited 0, -ECHILD otherwise, or -errno. */
int cc_run_output(char *const *argv, struct udcs_buf *out);
/* The programs a gcc driver runs to compile (cc1, cc1plus, as), as absolute paths
 * (malloc()ed) into `out` and, when `names` is not NULL, their names ("cc1", static) into
 * `names`; their number. None for clang, which is one binary. */
size_t cc_compiler_programs(const char *driver, enum cc_family family, char **out,
                            const char **names, size_t max);

/* udcs-compile-farm: the archive of this compiler for agents without it, built once per
 * compiler identity and put into `cas` (both levels). 0 or an error (logged). */
int cc_toolchain_package(struct cc_call *call, struct cas *cas, struct cas_digest *out);

/* The action-cache record that holds a manifest blob: one output named "manifest". */
#define CC_MANIFEST_OUTPUT "manifest"
#define CC_OBJECT_OUTPUT "object"
#define CC_DEPFILE_OUTPUT "depfile"

#endif
