/* kernels/kernel_types.h - the element types of kernel arrays and scalars (docs/KERNELS.md):
 * their names in jobs ("float32", "int32", ...), their sizes, and the C spellings OpenCL C
 * and CUDA C++ give them in a kernel's parameter list. Plain C: the master, the agent's
 * runner, the tests and the fuzzer share it. */
#ifndef UDCS_KERNEL_TYPES_H
#define UDCS_KERNEL_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum kernel_elem {
    KERNEL_ELEM_NONE = 0,
    KERNEL_ELEM_INT8, KERNEL_ELEM_UINT8, KERNEL_ELEM_INT16, KERNEL_ELEM_UINT16,
    KERNEL_ELEM_INT32, KERNEL_ELEM_UINT32, KERNEL_ELEM_INT64, KERNEL_ELEM_UINT64,
    KERNEL_ELEM_FLOAT32, KERNEL_ELEM_FLOAT64,
    KERNEL_ELEM_COUNT
};

/* The APIs a kernel is written for. */
enum kernel_api { KERNEL_API_OPENCL = 0, KERNEL_API_CUDA = 1 };

/* "float32", ... for a type; NULL for KERNEL_ELEM_NONE or out of range. */
const char *kernel_elem_name(enum kernel_elem e);
/* The type named `name` (one of KERNEL_ELEM_NAMES); KERNEL_ELEM_NONE when unknown. */
enum kernel_elem kernel_elem_by_name(const char *name);
/* Size in bytes of one element; 0 for KERNEL_ELEM_NONE. */
size_t kernel_elem_size(enum kernel_elem e);
int kernel_elem_is_float(enum kernel_elem e);
int kernel_elem_is_signed(enum kernel_elem e);
/* "float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64": for errors. */
#define KERNEL_ELEM_NAMES "float32, float64, int8, uint8, int16, uint16, int32, uint32, " \
                          "int64, uint64"

/* Store `value` as one element of type `e` at `out` (little-endian, as every supported
 * device is). Returns 0, or -1 when the value does not fit the type: a fraction or a
 * number out of range for an integer type, or a finite value out of range for float32.
 * Integers are given in `ivalue` when `is_integer` (exact beyond 2^53), else `value`. */
int kernel_elem_store(enum kernel_elem e, int is_integer, int64_t ivalue, double value,
                      void *out);
/* One element of type `e` at `in` as a double (int64/uint64 beyond 2^53 lose digits). */
double kernel_elem_load(enum kernel_elem e, const void *in);

/* The type a C spelling of a kernel parameter's base type names, for `api`: "float",
 * "unsigned int", "uint", "uchar", "long long", "int32_t", ... Vector types ("float4")
 * give their element type and *width (2, 3, 4, 8, 16; 3 is stored as 4 in OpenCL);
 * *width is 1 otherwise. KERNEL_ELEM_NONE when the spelling is not a supported type (a
 * struct, half, bool, size_t in OpenCL, ...). `words` is the base type's words, space
 * separated, without qualifiers ("unsigned int"). */
enum kernel_elem kernel_elem_of_c_type(enum kernel_api api, const char *words, int *width);

#endif
