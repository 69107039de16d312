/* kernels/runtime_internal.h - what runtime.c shares with its back ends,
 * runtime_opencl.c and runtime_cuda.c: the device handle, the program blob's header and
 * the launch space worked out from an ndrange and a range. Private to kernels/. */
#ifndef UDCS_KERNELS_RUNTIME_INTERNAL_H
#define UDCS_KERNELS_RUNTIME_INTERNAL_H

#include "kernels/runtime.h"

#include <stddef.h>

/* "opencl NAME (PLATFORM, DRIVER, VERSION)": four driver strings of up to a few hundred
 * bytes each. Longer text is cut, which is harmless: it only has to tell classes apart. */
#define KERNEL_DEVICE_CLASS_BYTES 1024
/* How much of a compiler log goes into `why` (the whole log goes to `log`). */
#define KERNEL_WHY_LOG_LINES 3
/* An entry's name, and its name in the binary: C++ mangling (CUDA) makes the latter
 * longer than the source's name. Names are one token: no spaces or control characters. */
#define KERNEL_PROGRAM_NAME_BYTES 512

struct kernel_backend;
struct kernel_cl_device;
struct kernel_cu_device;

struct kernel_device {
    enum kernel_api api;
    const struct kernel_backend *backend;
    char device_class[KERNEL_DEVICE_CLASS_BYTES];
    struct kernel_cl_device *cl;    /* the back end's state: one of these is set */
    struct kernel_cu_device *cu;
};

/* A program blob, as read by kernel_program_parse(): pointers into the caller's blob. */
struct kernel_program {
    enum kernel_api api;
    char format[16];                /* "binary" (OpenCL), "cubin" or "ptx" (CUDA) */
    char entry[KERNEL_PROGRAM_NAME_BYTES];
    char symbol[KERNEL_PROGRAM_NAME_BYTES];   /* the entry's name in the binary */
    char device_class[KERNEL_DEVICE_CLASS_BYTES];
    const unsigned char *payload;
    size_t payload_len;
};

/* Append the blob for one compiled program to `out` (emptied first). Returns 0,
 * UDCS_ETOOBIG or -ENOMEM. */
int kernel_program_write(struct udcs_buf *out, enum kernel_api api, const char *format,
                         const char *entry, const char *symbol, const char *device_class,
                         const void *payload, size_t payload_len);

/* What a launch runs, worked out by runtime.c from the ndrange and the range:
 * work-items [offset[d], offset[d] + global[d]) of each dimension, in work-groups of
 * local[d] (has_local 0: the driver chooses, OpenCL only). Without a range offset is 0
 * and global is the ndrange's. `full_global` is the whole space (the prelude's view). */
struct kernel_space {
    unsigned dims;
    int has_local;
    int is_range;
    size_t offset[3], global[3], local[3], full_global[3];
};

/* A back end. Each function sets `why` and returns a code as runtime.h describes;
 * runtime.c has checked the arguments (non-NULL, counts, sizes, the blob's API and
 * class) and emptied `program` and `log`. */
struct kernel_backend {
    int (*open)(struct kernel_device *d, char *why, size_t why_len);
    void (*close)(struct kernel_device *d);
    int (*available)(char *why, size_t why_len);
    int (*build)(struct kernel_device *d, const char *source, size_t len, const char *options,
                 const char *entry, struct udcs_buf *program, struct udcs_buf *log,
                 char *why, size_t why_len);
    int (*launch)(struct kernel_device *d, const struct kernel_program *prog,
                  const char *entry, const struct kernel_arg *args, size_t n_args,
                  const struct kernel_space *space, char *why, size_t why_len);
};
extern const struct kernel_backend kernel_backend_opencl;   /* runtime_opencl.c */
extern const struct kernel_backend kernel_backend_cuda;     /* runtime_cuda.c */

/* Shared by the back ends. */

/* Write the message to `why` and return `rc`. */
int kernel_fail(int rc, char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for argument `index` of kernel `entry`: why starts "kernel ENTRY, argument
 * INDEX 'NAME': " and goes on with the message. */
int kernel_arg_fail(int rc, char *why, size_t why_len, const char *entry, size_t index,
                    const struct kernel_arg *arg, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Append `len` bytes of compiler log to `log`, as much as its maximum allows (a log cut
 * short is still useful; the program is what matters). */
void kernel_log_append(struct udcs_buf *log, const char *text, size_t len);

/* Write the first lines of a compiler log that matter (those with "error", else the
 * first ones) to `out`, joined with " | ", cut to `out_len`. */
void kernel_log_summary(const char *log, size_t len, char *out, size_t out_len);

/* Copy a driver's text into `out` as one clean line: control characters become spaces,
 * leading and trailing spaces go. */
void kernel_text_clean(char *out, size_t out_len, const char *text, size_t len);

#endif
