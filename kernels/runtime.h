/* kernels/runtime.h - running a kernel on one device: OpenCL through the ICD loader
 * (libOpenCL.so.1) and CUDA through the driver API (libcuda.so.1) with NVRTC
 * (libnvrtc.so*), every library dlopen()ed on first use so that the programs run on
 * machines without them. docs/KERNELS.md describes the behaviour; this is the C interface
 * udcs-kernel (kernels/kernel_main.c), the library tests and the renderer's GPU path use.
 *
 * Three steps, each usable alone:
 *   kernel_device_open()   pick and open a device of an API;
 *   kernel_build()         compile source for that device into a program (an OpenCL
 *                          program binary, or a CUDA cubin/PTX) with the build log;
 *   kernel_launch()        load a program, copy the arguments in, run the entry over an
 *                          index space (or a range of its work-groups), copy back what the
 *                          kernel may write.
 * kernel_run_source() does the last two at once, for tests and the renderer.
 *
 * Errors: every function returns 0 or a negative code (common/err.h) with a sentence in
 * `why` that names what failed and how to go on: -ENOTSUP when the API's libraries or
 * devices are missing ("no OpenCL platform: install pocl-opencl-icd or a GPU driver"),
 * UDCS_EUSAGE for a kernel that does not compile (why holds the first error lines of the
 * compiler's log, cut to fit) or arguments the kernel refuses (why names the kernel, the
 * argument's index and name and the API's error: "kernel vector_add, argument 2 'c':
 * CL_INVALID_ARG_SIZE"), -EIO for a failure while running ("kernel vector_add failed
 * while running: CUDA_ERROR_ILLEGAL_ADDRESS ..."), -ENOMEM. (errno values: common/err.h
 * has no codes of its own for these, and udcs_strerror() names them.)
 *
 * Threads: one device handle per thread. The loaded libraries are process-wide. */
#ifndef UDCS_KERNEL_RUNTIME_H
#define UDCS_KERNEL_RUNTIME_H

#include "common/buf.h"
#include "kernels/kernel_types.h"

#include <stddef.h>
#include <stdint.h>

struct kernel_device;

/* Open a device of `api`. OpenCL: the first GPU of any platform, else the first device;
 * UDCS_OPENCL_DEVICE="P:D" (platform and device index, as `udcs-kernel devices` lists
 * them) chooses. CUDA: ordinal 0, or UDCS_CUDA_DEVICE=N. */
int kernel_device_open(enum kernel_api api, struct kernel_device **out, char *why,
                       size_t why_len);
void kernel_device_close(struct kernel_device *d);

/* The device class: what a result of a kernel may depend on besides the kernel and its
 * arguments. One line, e.g. "opencl cpu-haswell-Intel(R) Xeon(R) ... (Portable Computing
 * Language, PoCL 3.1, OpenCL 3.0)" or "cuda NVIDIA H100 80GB HBM3 sm_90 (driver 12.4,
 * NVRTC 12.4)". Valid until the device is closed. */
const char *kernel_device_class(const struct kernel_device *d);
enum kernel_api kernel_device_api(const struct kernel_device *d);

/* Compile `source` (`len` bytes) with `options` (OpenCL build options, or NVRTC options;
 * NULL: none) and check that it holds kernel `entry`. The program goes to `program` (a
 * self-describing blob: kernel_launch() takes it back on the same device class) and the
 * compiler's log to `log` (may be empty; also on success: warnings); both are emptied
 * first. A source that does not compile: UDCS_EUSAGE, `log` holds the log and why its
 * first lines; a missing entry: UDCS_EUSAGE naming the kernels the source has (OpenCL).
 * CUDA: NVRTC gets --gpu-architecture=sm_XY of the device (or compute_XY, as PTX the
 * driver compiles, when NVRTC is older than the GPU) and -default-device, unless
 * `options` name them; `entry` may be a C++ name expression ("ns::kern") and is looked up
 * with nvrtcGetLoweredName.
 *
 * The blob: "udcs-kernel-program 1 API FORMAT ENTRY SYMBOL BYTES\n", the device class
 * and "\n", then BYTES bytes of program (FORMAT "binary" for OpenCL, "cubin" or "ptx"). */
int kernel_build(struct kernel_device *d, const char *source, size_t len, const char *options,
                 const char *entry, struct udcs_buf *program, struct udcs_buf *log,
                 char *why, size_t why_len);

enum kernel_arg_kind {
    KERNEL_ARG_BUFFER,          /* device memory: `data` is copied in, and back if writable */
    KERNEL_ARG_SCALAR,          /* by value: `data` holds `bytes` bytes */
    KERNEL_ARG_LOCAL,           /* OpenCL __local: `bytes` of work-group memory, no data */
};

struct kernel_arg {
    enum kernel_arg_kind kind;
    const char *name;           /* for messages */
    void *data;                 /* BUFFER: host copy (read back into it when writable) */
    size_t bytes;
    int writable;               /* BUFFER: copy back after the run */
};

/* The index space of a launch, in the terms of OpenCL: `global[d]` work-items in
 * dimension d, in work-groups of `local[d]` (CUDA: blocks of local[d] threads, a grid of
 * global[d] / local[d] blocks). Unused dimensions are 1. local[0] == 0 lets an OpenCL
 * driver choose (CUDA requires a local size). `dims` is 1, 2 or 3. */
struct kernel_ndrange {
    unsigned dims;
    size_t global[3];
    size_t local[3];
};

/* A part of the index space: work-groups [first, first + count) of dimension `dim`, with
 * the kernel still seeing the whole space (its group ids, group counts and global sizes are
 * those of the full launch). Programs meant for ranges are built with the prelude of
 * kernel_range_prelude(). count == 0: the whole space. */
struct kernel_range {
    unsigned dim;
    size_t first, count;
};

/* Load `program` (from kernel_build() on this device class), set `args` (in the kernel's
 * parameter order; `n_args` must be its parameter count) and run `entry` over `nd`
 * (restricted to `range` when it is not NULL and its count is not 0). Writable buffers are
 * copied back into their `data`. `entry` NULL or "": the one the program was built for.
 * Refused with UDCS_EUSAGE: a program of another API or device class, or not a program
 * at all; UDCS_EFORMAT: a program of a newer format; UDCS_ECORRUPT: one cut short. A
 * range needs a local size and must start inside the space. Buffers of 0 bytes are
 * allowed (data may then be NULL). CUDA: the parameter count and sizes are checked where
 * the driver can say (12.4 and later), each global[d] must be a multiple of local[d],
 * KERNEL_ARG_LOCAL is refused (CUDA kernels declare __shared__ arrays), and a range
 * needs a program built with kernel_range_prelude(). */
int kernel_launch(struct kernel_device *d, const void *program, size_t program_len,
                  const char *entry, const struct kernel_arg *args, size_t n_args,
                  const struct kernel_ndrange *nd, const struct kernel_range *range,
                  char *why, size_t why_len);

/* kernel_build() then kernel_launch() over the whole space. */
int kernel_run_source(struct kernel_device *d, const char *source, size_t len,
                      const char *options, const char *entry, const struct kernel_arg *args,
                      size_t n_args, const struct kernel_ndrange *nd, char *why,
                      size_t why_len);

/* Source text to put before a kernel that runs in ranges, so that it sees the full index
 * space: OpenCL's get_group_id(), get_num_groups() and get_global_size(), CUDA's blockIdx
 * and gridDim (get_global_id() in OpenCL is right by itself: ranges use the global work
 * offset). Depends on the full space only; appended to `out` (after any #include of a
 * header that uses blockIdx: the prelude redefines it as a macro). Returns 0, UDCS_EUSAGE
 * for an `nd` of no 1 to 3 dimensions or a CUDA space without a local size, or what
 * udcs_buf_append returns. */
int kernel_range_prelude(enum kernel_api api, const struct kernel_ndrange *nd,
                         struct udcs_buf *out);

/* Whether the libraries of `api` load and a device is there, without opening one for
 * use; for detection. Returns 1 or 0, with why saying what is missing when 0. */
int kernel_api_available(enum kernel_api api, char *why, size_t why_len);

#endif
