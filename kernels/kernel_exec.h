/* kernels/kernel_exec.h - what udcs-kernel does in a unit's directory (docs/KERNELS.md):
 * run a launch description (launch.json, written by kernels/kernel_job.c) and merge the
 * patches of range units. Also the patch format, which the tests and the fuzzer read.
 *
 * A patch holds the bytes a range unit changed in one writable buffer, against what the
 * buffer held before the launch (the input, or zeros):
 *   "UDCSKP01", then records of (u64 offset, u64 length, length bytes), little-endian,
 *   in increasing offset order, not overlapping.
 * Merging applies the patches of every range to the initial buffer. A byte two ranges both
 * change is a conflict, whatever the values: the kernel combines results across
 * work-groups (atomics, a shared counter), which ranges cannot reproduce (two ranges
 * counting to the same partial total would merge into a wrong one), and the merge
 * refuses. */
#ifndef UDCS_KERNEL_EXEC_H
#define UDCS_KERNEL_EXEC_H

#include "common/buf.h"
#include "kernels/kernel_job.h"

#include <stddef.h>
#include <stdint.h>

#define KERNEL_PATCH_MAGIC "UDCSKP01"
#define KERNEL_PATCH_MAGIC_BYTES 8

struct kernel_device;
/* When the unit is pinned to a device class of d's API (KERNEL_PINNED_ENV), check that this
 * program and device `d` are that class, fingerprinted as agents do (the digest of this
 * program's file and the device class: cas_fingerprint_with_version): a unit must not
 * compute, and cache under the pinned key, on another device than the agent advertised.
 * Returns 0, or UDCS_EUSAGE (another device) or an error code, with why. */
int kernel_check_pinned_device(const struct kernel_device *d, char *why, size_t why_len);

/* Run launch description `launch_path` (relative paths in it are relative to the current
 * directory: the unit's). Returns 0, or a negative code with why. */
int kernel_exec_run(const char *launch_path, char *why, size_t why_len);

/* Merge as merge description `merge_path` says. Returns 0, or a negative code with why. */
int kernel_exec_merge(const char *merge_path, char *why, size_t why_len);

/* The patch of `after` against `before` (`len` bytes each) into `out`. Runs of changed
 * bytes less than a record header apart are written as one. Returns 0 or -ENOMEM
 * (UDCS_ETOOBIG when out's limit is reached). */
int kernel_patch_make(const uint8_t *before, const uint8_t *after, size_t len,
                      struct udcs_buf *out);

/* Apply `patch` to `buf` (`len` bytes, which held `initial` before the first patch).
 * `written` is a bitmap of (len + 7) / 8 bytes, zero at first, of the bytes patches set;
 * bytes equal to the initial ones are no change and are skipped. Returns 0, UDCS_EUSAGE
 * for a malformed patch or one reaching past the buffer (why says which), or -EEXIST with
 * *conflict_at set when the patch changes a byte an earlier patch changed. */
int kernel_patch_apply(uint8_t *buf, const uint8_t *initial, uint8_t *written, size_t len,
                       const uint8_t *patch, size_t patch_len, size_t *conflict_at,
                       char *why, size_t why_len);

#endif
