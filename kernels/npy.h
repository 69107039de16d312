/* kernels/npy.h - NumPy's .npy files (format versions 1.0, 2.0 and 3.0), for kernel
 * inputs and outputs on the command line (udcs kernel): the header read into an element
 * type and a shape, and a header written for an array we produce. Only what a kernel
 * array can be: little-endian (or single-byte) numbers of one KERNEL_ELEM type, in C
 * order. */
#ifndef UDCS_KERNEL_NPY_H
#define UDCS_KERNEL_NPY_H

#include "common/buf.h"
#include "kernels/kernel_types.h"

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8

struct npy_header {
    enum kernel_elem elem;
    size_t n_dims;
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t count;             /* elements: the product of the shape (1 for shape ()) */
    size_t data_offset;         /* where the array's bytes start in the file */
};

/* Read the header at the start of `data` (`len` bytes: at least the whole header). Returns
 * 0, or UDCS_EUSAGE with why: not a .npy file, a version we do not read, Fortran order,
 * big-endian or another dtype than KERNEL_ELEM_NAMES, a shape whose size overflows. */
int npy_parse_header(const void *data, size_t len, struct npy_header *out, char *why,
                     size_t why_len);

/* Append a version 1.0 header for a 1-D array of `count` elements of `e` to `out`. */
int npy_write_header(enum kernel_elem e, uint64_t count, struct udcs_buf *out);

#endif
