/* agents/detect.h - what an agent can offer the farm: host facts, CUDA GPUs, OpenCL
 * devices and toolchains, as one JSON object the master serves from GET /api/devices.
 * Knows nothing about registration, leases or how the master schedules; the agent's main
 * loop calls agent_detect() once at start and agent_detect_refresh() for each heartbeat.
 *
 * The object (every key is always present; "target" only when known):
 *
 *   { "hostname": str, "architecture": str (uname machine: "x86_64", "aarch64", ...),
 *     "os": "linux", "os_version": str (PRETTY_NAME of /etc/os-release), "kernel": str,
 *     "cpu_model": str, "cpu_cores": int (online logical CPUs),
 *     "ram_gb": number (MemTotal), "ram_free_gb": number (MemAvailable, at most ram_gb),
 *     "disk_free_gb": number (free to unprivileged users, in the current directory),
 *     "load": [1 min, 5 min, 15 min],
 *     "gpus": [ { "index": int (CUDA ordinal), "api": "cuda", "name": str,
 *                 "memory_gb": number, "memory_free_gb": number or null,
 *                 "compute_capability": "9.0" or null, "utilization": int % or null,
 *                 "driver_version": str ("12.4": the CUDA version the driver supports,
 *                                         from cuDriverGetVersion) or null } ],
 *     "opencl_devices": [ { "platform": str, "name": str,
 *                           "type": "cpu" | "gpu" | "accelerator", "compute_units": int,
 *                           "memory_gb": number, "version": str } ],
 *     "toolchains": [ { "name": str, "version": str, "path": str (absolute, symlinks
 *                       resolved), "target": str (when known), "fingerprint": 32 hex } ],
 *     "overrides": [ names of the overrides applied: "cpu_cores", "ram_gb", "gpu_cuda",
 *                    "gpu_memory_gb" ] }
 *
 * Sizes are in GiB (2^30 bytes), rounded to 0.01. Values that cannot be read degrade to
 * "unknown", 0 or null (a GPU's utilization and free memory need NVML); a missing file,
 * library or device never makes detection fail. Nothing here links CUDA, NVML, OpenCL or
 * FFmpeg: each is dlopen()ed at run time, so the binaries run on machines without them.
 * Programs are run only through common/proc.h, and only when found on PATH.
 *
 * Functions return 0 or a negative code (common/err.h). They may be called from several
 * threads; loaded libraries and the toolchain fingerprint cache are shared by the whole
 * process, everything else belongs to the call. */
#ifndef UDCS_AGENTS_DETECT_H
#define UDCS_AGENTS_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- the whole machine ---------------------------------------------------------------- */

/* The manual capability flags of the original design. A zero field (NULL for the whole
 * struct) means "detect". */
struct agent_overrides {
    int cpu_cores;            /* --cpu-cores 16: replaces "cpu_cores" */
    double ram_gb;            /* --ram 32GB: replaces "ram_gb" (and caps "ram_free_gb") */
    int gpu_cuda;             /* --gpu-cuda: claim one CUDA GPU even if none is detected */
    double gpu_memory_gb;     /* --gpu-memory 8GB: memory of that claimed GPU; with GPUs
                               * detected, replaces the "memory_gb" of each of them */
};

/* Detect this machine. Returns 0 and a new object in *out (the caller json_decref()s
 * it), UDCS_EUSAGE when an override is negative or not a number (*out is then NULL), or
 * -ENOMEM.
 *
 * Overrides replace the detected values and are named in "overrides". --gpu-cuda with
 * no GPU detected adds {"index": 0, "api": "cuda", "name": "manually declared CUDA GPU",
 * "memory_gb": gpu_memory_gb or 0, "memory_free_gb": null, "compute_capability": null,
 * "utilization": null, "driver_version": null}; with a GPU detected it changes nothing
 * and is not listed. gpu_memory_gb with no GPU detected or claimed is ignored (a WARN
 * says so). */
int agent_detect(const struct agent_overrides *ov, json_t **out);

/* Update, in an object made by agent_detect(), only what changes from one heartbeat to
 * the next: "load", "disk_free_gb", "ram_free_gb", and each CUDA GPU's "utilization" and
 * "memory_free_gb". Everything else, overridden values included, is left as it is; a
 * free amount is capped by the object's own total, so an overridden total stays
 * consistent. A manually declared GPU is left alone. Returns 0, -EINVAL when `info` is
 * not an object, or -ENOMEM. */
int agent_detect_refresh(json_t *info);

/* ---- the parts, each usable alone ------------------------------------------------------- */

/* Set the host keys of the object above in `info` (an object): everything except
 * "gpus", "opencl_devices", "toolchains" and "overrides". Returns 0, -EINVAL (not an
 * object) or -ENOMEM. */
int agent_detect_host(json_t *info);

/* The CUDA GPUs, through libcuda.so.1 and (for utilization and free memory)
 * libnvidia-ml.so.1; GPUs are matched between the two by PCI bus id, as CUDA and NVML may
 * number them differently. A new array in *out, empty when CUDA is absent or sees no
 * GPU. Returns 0 or -ENOMEM. */
int agent_detect_cuda(json_t **out);

/* Refresh "utilization" and "memory_free_gb" of each entry of `gpus` (an array as made
 * by agent_detect_cuda) whose CUDA ordinal still names a GPU. Entries CUDA cannot find,
 * such as a manually declared GPU, are left alone. Returns 0, -EINVAL (not an array) or
 * -ENOMEM. */
int agent_detect_cuda_refresh(json_t *gpus);

/* The OpenCL devices of every platform the ICD loader (libOpenCL.so.1) knows. A new
 * array in *out, empty when there is no loader or no platform. Returns 0 or -ENOMEM. */
int agent_detect_opencl(json_t **out);

/* The toolchains found on `search_path` (a PATH-style list; NULL: $PATH): gcc, g++,
 * clang, clang++, cc, c++, povray, blender, ffmpeg, then the FFmpeg libraries libavcodec
 * and libavformat (soname .59) when they load. Only absolute directories of the list are
 * searched (an empty or relative entry would make the result depend on the current
 * directory). Each tool found is run with a timeout to learn its version (and, for
 * compilers, its target); one that gives none is listed with version "unknown" and a
 * WARN. The fingerprint is the XXH3-128 of the resolved file, cached for the process by
 * (path, size, mtime); a file that cannot be read is left out with a WARN. A new array
 * in *out, in the order above. Returns 0 or -ENOMEM. */
int agent_detect_toolchains(const char *search_path, json_t **out);

/* ---- load, for heartbeats -------------------------------------------------------------- */

/* Busy and total CPU time of all cores since boot, in clock ticks, from the first line
 * of /proc/stat (`text`, `len` bytes): busy is everything but idle and iowait. The busy
 * fraction over an interval is the ratio of the two deltas. Returns 0 or -EINVAL when
 * the text does not start with a "cpu" line of at least four numbers. */
int agent_cpu_times_parse(const char *text, size_t len, uint64_t *busy, uint64_t *total);
/* The same, read from /proc/stat now. Returns 0, -EINVAL or -errno. */
int agent_cpu_times(uint64_t *busy, uint64_t *total);

/* ---- helpers the parts share ---------------------------------------------------------- */

/* `bytes` in GiB, rounded to 0.01, as every size in the object is written. */
double agent_detect_gib(uint64_t bytes);

/* A JSON string of `text` without its leading and trailing white space. Names and
 * versions come from drivers and programs, and jansson refuses text that is not UTF-8:
 * such text has each non-ASCII byte replaced by '?'. NULL or empty `text` gives
 * "unknown". Returns NULL only when out of memory. */
json_t *agent_detect_text(const char *text);

#endif
