/* kernels/kernel_sig.h - the parameter list of a kernel, read from its source: which
 * parameters are arrays (pointers), which are scalars, their element types and whether the
 * kernel may write them. The master binds a job's "data" to parameters by these names
 * without compiling anything (docs/KERNELS.md, "Binding").
 *
 * The reader is a small tokenizer over OpenCL C / CUDA C++, not a compiler: it skips
 * comments, string and character literals and preprocessor lines, finds the kernel
 * functions (`__kernel`/`kernel` in OpenCL C; `__global__` in CUDA, also after
 * `extern "C"`), and reads the parameter list of the one asked for. Macros are not
 * expanded: a parameter list written with macros is refused with that reason. */
#ifndef UDCS_KERNEL_SIG_H
#define UDCS_KERNEL_SIG_H

#include "kernels/kernel_types.h"

#include <stddef.h>

#define KERNEL_MAX_PARAMS 64
#define KERNEL_NAME_MAX 128
#define KERNEL_MAX_KERNELS 256

enum kernel_param_kind {
    KERNEL_PARAM_SCALAR,        /* passed by value: int n, float alpha */
    KERNEL_PARAM_GLOBAL,        /* device memory: __global float *a, float *a (CUDA) */
    KERNEL_PARAM_CONSTANT,      /* __constant float *lut (OpenCL): read-only device memory */
    KERNEL_PARAM_LOCAL,         /* __local float *scratch (OpenCL): per-work-group memory */
};

struct kernel_param {
    char name[KERNEL_NAME_MAX];
    enum kernel_param_kind kind;
    enum kernel_elem elem;      /* element type (of the pointee for pointers) */
    int width;                  /* vector width: 1, or 2, 3, 4, 8, 16 for float4 & co. */
    int is_const;               /* const pointee: the kernel does not write it */
    char type_text[96];         /* the type as written, for messages: "const float *" */
};

struct kernel_sig {
    char entry[KERNEL_NAME_MAX];
    size_t n_params;
    struct kernel_param params[KERNEL_MAX_PARAMS];
};

/* Read the signature of kernel `entry` from `source` (`len` bytes, need not end in NUL),
 * written for `api`. `entry` NULL or empty: the source must hold exactly one kernel, which
 * is taken. Returns 0, or -1 with why: no kernel of that name (the names found are listed),
 * several kernels and no entry named, a parameter whose type is not supported (by value
 * structs, half, bool, pointers to pointers, ...), a template kernel, more than
 * KERNEL_MAX_PARAMS parameters. */
int kernel_sig_parse(enum kernel_api api, const char *source, size_t len, const char *entry,
                     struct kernel_sig *out, char *why, size_t why_len);

/* Bytes one element of parameter `p` takes in a buffer (vector width included; a 3-wide
 * vector is padded to 4 in OpenCL, as OpenCL C lays it out). */
size_t kernel_param_elem_bytes(enum kernel_api api, const struct kernel_param *p);

#endif
