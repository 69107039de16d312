/* kernels/npy.c - .npy headers read and written (npy.h). The header is a Python dict
 * literal; we read the three keys NumPy writes ('descr', 'fortran_order', 'shape') with a
 * small scanner, not a Python parser. */
#include "kernels/npy.h"
#include "common/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_BYTES 6
/* NumPy pads the header so that the data starts on a multiple of this. */
#define NPY_ALIGN 64

static const struct { const char *descr; enum kernel_elem elem; } npy_types[] = {
    { "<f4", KERNEL_ELEM_FLOAT32 }, { "<f8", KERNEL_ELEM_FLOAT64 },
    { "|i1", KERNEL_ELEM_INT8 },    { "|u1", KERNEL_ELEM_UINT8 },
    { "<i2", KERNEL_ELEM_INT16 },   { "<u2", KERNEL_ELEM_UINT16 },
    { "<i4", KERNEL_ELEM_INT32 },   { "<u4", KERNEL_ELEM_UINT32 },
    { "<i8", KERNEL_ELEM_INT64 },   { "<u8", KERNEL_ELEM_UINT64 },
};
#define N_NPY_TYPES (sizeof(npy_types) / sizeof(npy_types[0]))

/* The value text after key 'key': in the dict `h` (NUL-terminated), or NULL. */
static const char *value_of(const char *h, const char *key)
{
    char quoted[32];
    for (int q = 0; q < 2; q++) {
        snprintf(quoted, sizeof(quoted), q ? "\"%s\"" : "'%s'", key);
        const char *at = strstr(h, quoted);
        if (!at)
            continue;
        at += strlen(quoted);
        while (*at == ' ')
            at++;
        if (*at != ':')
            return NULL;
        at++;
        while (*at == ' ')
            at++;
        return at;
    }
    return NULL;
}

int npy_parse_header(const void *data, size_t len, struct npy_header *out, char *why,
                     size_t why_len)
{
    const unsigned char *p = data;
    memset(out, 0, sizeof(*out));
    if (len < NPY_MAGIC_BYTES + 4 || memcmp(p, NPY_MAGIC, NPY_MAGIC_BYTES) != 0) {
        udcs_why(why, why_len, "not a .npy file (it does not start with \\x93NUMPY)");
        return UDCS_EUSAGE;
    }
    unsigned major = p[6];
    size_t header_len, start;
    if (major == 1) {
        header_len = (size_t)p[8] | (size_t)p[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) {
            udcs_why(why, why_len, "the .npy header is cut short");
            return UDCS_EUSAGE;
        }
        header_len = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 |
                     (size_t)p[11] << 24;
        start = 12;
    } else {
        udcs_why(why, why_len, ".npy format version %u is not one udcs reads (1, 2, 3)", major);
        return UDCS_EUSAGE;
    }
    if (header_len > len - start || header_len > 65536) {
        udcs_why(why, why_len, "the .npy header (%zu bytes) is cut short or too long",
                 header_len);
        return UDCS_EUSAGE;
    }
    char h[65537];
    memcpy(h, p + start, header_len);
    h[header_len] = '\0';
    if (strlen(h) != header_len) {
        udcs_why(why, why_len, "the .npy header holds a NUL byte");
        return UDCS_EUSAGE;
    }
    const char *descr = value_of(h, "descr"), *order = value_of(h, "fortran_order"),
               *shape = value_of(h, "shape");
    if (!descr || !order || !shape || (*descr != '\'' && *descr != '"') || *shape != '(') {
        udcs_why(why, why_len, "the .npy header lacks 'descr', 'fortran_order' or 'shape'");
        return UDCS_EUSAGE;
    }
    char d[8] = "";
    size_t dl = strcspn(descr + 1, "'\"");
    if (dl < sizeof(d))
        memcpy(d, descr + 1, dl);
    /* one-byte types may be written with any byte order mark */
    if (dl == 3 && (d[0] == '<' || d[0] == '=') && (d[1] == 'i' || d[1] == 'u') && d[2] == '1')
        d[0] = '|';
    for (size_t i = 0; i < N_NPY_TYPES && !out->elem; i++)
        if (strcmp(d, npy_types[i].descr) == 0)
            out->elem = npy_types[i].elem;
    if (!out->elem) {
        udcs_why(why, why_len, ".npy dtype '%.*s' is not one udcs reads: little-endian "
                 KERNEL_ELEM_NAMES " (descr <f4, <f8, |i1, |u1, <i2, <u2, <i4, <u4, <i8, <u8)",
                 (int)(dl < 16 ? dl : 16), descr + 1);
        return UDCS_EUSAGE;
    }
    if (strncmp(order, "False", 5) != 0) {
        udcs_why(why, why_len, "the .npy array is in Fortran order; save it in C order "
                 "(numpy.ascontiguousarray)");
        return UDCS_EUSAGE;
    }
    out->count = 1;
    const char *s = shape + 1;
    for (;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        if (!isdigit((unsigned char)*s) || out->n_dims == NPY_MAX_DIMS) {
            udcs_why(why, why_len, "the .npy shape is not a tuple of at most %d sizes",
                     NPY_MAX_DIMS);
            return UDCS_EUSAGE;
        }
        uint64_t v = 0;
        while (isdigit((unsigned char)*s)) {
            if (__builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v)) {
                udcs_why(why, why_len, "a .npy shape size overflows");
                return UDCS_EUSAGE;
            }
            s++;
        }
        out->shape[out->n_dims++] = v;
        if (__builtin_mul_overflow(out->count, v, &out->count) ||
            out->count > UINT64_MAX / 8) {
            udcs_why(why, why_len, "the .npy shape's size overflows");
            return UDCS_EUSAGE;
        }
    }
    out->data_offset = start + header_len;
    return 0;
}

int npy_write_header(enum kernel_elem e, uint64_t count, struct udcs_buf *out)
{
    const char *descr = NULL;
    for (size_t i = 0; i < N_NPY_TYPES; i++)
        if (npy_types[i].elem == e)
            descr = npy_types[i].descr;
    if (!descr)
        return -EINVAL;
    char dict[128];
    int n = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, "
                     "'shape': (%llu,), }", descr, (unsigned long long)count);
    size_t total = 10 + (size_t)n + 1;            /* magic, version, length, dict, '\n' */
    size_t pad = (NPY_ALIGN - total % NPY_ALIGN) % NPY_ALIGN;
    size_t header_len = (size_t)n + pad + 1;
    unsigned char head[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                               (unsigned char)(header_len & 0xff),
                               (unsigned char)(header_len >> 8) };
    int rc = udcs_buf_append(out, head, sizeof(head));
    if (rc == 0)
        rc = udcs_buf_append(out, dict, (size_t)n);
    for (size_t i = 0; rc == 0 && i < pad; i++)
        rc = udcs_buf_append(out, " ", 1);
    if (rc == 0)
        rc = udcs_buf_append(out, "\n", 1);
    return rc;
}
