/* kernels/kernel_job.h - CUDA_KERNEL and OPENCL_KERNEL jobs as units (docs/KERNELS.md):
 * the job's "data" bound to the kernel's parameters by name, its arrays stored as blobs,
 * and the units: "compile" (the source built for the device class, a cached program),
 * then "kernel" (the whole index space) or "range K" units and a "merge" unit. Every unit
 * runs udcs-kernel on an agent offering the API ("opencl" or "cuda" toolchain), pinned to
 * one device class. Plain C over jansson and the store: the master links it.
 *
 * The job (the seed's CUDA_KERNEL shape, and its OpenCL twin):
 *   {"type": "CUDA_KERNEL", "kernel_code": "__global__ void vector_add(...) {...}",
 *    "entry": "vector_add",                      (optional with one kernel in the source)
 *    "data": {"a": [1.0, 2.0, 3.0],              (array: JSON numbers, at most
 *                                                 KERNEL_JSON_ARRAY_MAX of them)
 *             "b": {"digest": "HEX/SIZE", "type": "float32"},   (array: a blob)
 *             "n": 3,                            (scalar)
 *             "scratch": {"local": 256}},        (OpenCL __local: elements)
 *    "outputs": {"c": 3},                        (pointer parameters not in data: element
 *                                                 count, or {"count": N})
 *    "grid_size": [1, 1, 1], "block_size": [256, 1, 1],   (CUDA's words: blocks and
 *                                                 threads per block)
 *    "global_size": [256], "local_size": [64],   (or OpenCL's: work-items and group size)
 *    "split": 4,                                 (ranges of work-groups over agents)
 *    "build_options": "-cl-fast-relaxed-math",
 *    "device_fingerprint": "HEX"}                (set by the master: the device class) */
#ifndef UDCS_KERNEL_JOB_H
#define UDCS_KERNEL_JOB_H

#include "kernels/kernel_types.h"

#include <jansson.h>
#include <stddef.h>

struct cas_store;

/* The program every kernel unit runs. */
#define KERNEL_TOOL "udcs-kernel"
/* The toolchain names agents offer for the APIs (udcs-kernel --opencl-device and
 * --cuda-device tell whether there is a device, and which). */
#define KERNEL_TOOLCHAIN_OPENCL "opencl"
#define KERNEL_TOOLCHAIN_CUDA "cuda"
/* The environment variable in which the master gives a unit its pinned toolchain,
 * "NAME@FINGERPRINT" (farm/spec.c, farm_pin_spec), so that it is in the action's key. */
#define KERNEL_PINNED_ENV "UDCS_PINNED_TOOLCHAIN"
/* Arrays larger than this travel as blobs, never as JSON numbers. */
#define KERNEL_JSON_ARRAY_MAX 65536
#define KERNEL_SOURCE_MAX_BYTES (1u << 20)
#define KERNEL_MAX_SPLIT 1024
/* The most bytes one buffer may have (the devices' own limits are checked on the agent). */
#define KERNEL_BUFFER_MAX_BYTES (64ull << 30)
/* Where units find things: the source, the compiled program, the launch description. */
#define KERNEL_PROGRAM_FILE "program.bin"
#define KERNEL_LAUNCH_FILE "launch.json"
#define KERNEL_MERGE_FILE "merge.json"

/* The API of job type `type` ("CUDA_KERNEL", "OPENCL_KERNEL"); -1 for other types. */
int kernel_job_api(const char *type);
/* The toolchain name of an API: "opencl" or "cuda". */
const char *kernel_api_toolchain(enum kernel_api api);
/* "OpenCL" or "CUDA". */
const char *kernel_api_name(enum kernel_api api);

/* Check a kernel job and split it into unit specs. Arrays given as JSON numbers are
 * stored in `cs` and replaced in `job` by {"digest", "type"}; `job` also gets
 * "kernel_outputs": [{"name", "type", "width", "count", "elem_bytes", "path"}], the outputs of its last
 * unit, for the job's view. Every unit requires the toolchain kernel_api_toolchain(api),
 * pinned to the job's "device_fingerprint" when it has one, else marked "pin_toolchain"
 * for the master to pin when an agent takes it. Returns the units, or NULL with why. */
json_t *kernel_split(json_t *job, struct cas_store *cs, char *why, size_t why_len);

/* `count` elements of `e` (vector width `width`, `elem_bytes` apart: an OpenCL 3-vector
 * takes the room of 4) at `data` as a flat JSON array of numbers, `width` per element.
 * NULL when out of memory. */
json_t *kernel_values_json(enum kernel_elem e, const void *data, size_t count, int width,
                           size_t elem_bytes);

#endif
