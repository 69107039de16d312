/* kernels/kernel_types.c - element types of kernel arrays and scalars: names, sizes,
 * storing checked values, and the C spellings OpenCL C and CUDA C++ give them
 * (kernel_types.h). The byte layout of parameters is kernel_sig.c's business. */
#include "kernels/kernel_types.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Elements are stored in the host's byte order; kernel_types.h promises little-endian,
 * which is what every host and device UDCS supports uses. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "element storage assumes a "
               "little-endian host");

static const struct {
    const char *name;
    size_t size;
    int is_float, is_signed;
} elems[KERNEL_ELEM_COUNT] = {
    [KERNEL_ELEM_NONE]    = { NULL, 0, 0, 0 },
    [KERNEL_ELEM_INT8]    = { "int8", 1, 0, 1 },
    [KERNEL_ELEM_UINT8]   = { "uint8", 1, 0, 0 },
    [KERNEL_ELEM_INT16]   = { "int16", 2, 0, 1 },
    [KERNEL_ELEM_UINT16]  = { "uint16", 2, 0, 0 },
    [KERNEL_ELEM_INT32]   = { "int32", 4, 0, 1 },
    [KERNEL_ELEM_UINT32]  = { "uint32", 4, 0, 0 },
    [KERNEL_ELEM_INT64]   = { "int64", 8, 0, 1 },
    [KERNEL_ELEM_UINT64]  = { "uint64", 8, 0, 0 },
    [KERNEL_ELEM_FLOAT32] = { "float32", 4, 1, 1 },
    [KERNEL_ELEM_FLOAT64] = { "float64", 8, 1, 1 },
};

static int elem_is_valid(enum kernel_elem e)
{
    return e > KERNEL_ELEM_NONE && e < KERNEL_ELEM_COUNT;
}

const char *kernel_elem_name(enum kernel_elem e)
{
    return elem_is_valid(e) ? elems[e].name : NULL;
}

enum kernel_elem kernel_elem_by_name(const char *name)
{
    for (int e = KERNEL_ELEM_NONE + 1; name && e < KERNEL_ELEM_COUNT; e++)
        if (strcmp(name, elems[e].name) == 0)
            return (enum kernel_elem)e;
    return KERNEL_ELEM_NONE;
}

size_t kernel_elem_size(enum kernel_elem e)
{
    return elem_is_valid(e) ? elems[e].size : 0;
}

int kernel_elem_is_float(enum kernel_elem e)
{
    return elem_is_valid(e) && elems[e].is_float;
}

/* Floats count as signed: they hold negative values. */
int kernel_elem_is_signed(enum kernel_elem e)
{
    return elem_is_valid(e) && elems[e].is_signed;
}

/* ---- storing and loading ------------------------------------------------------------- */

/* The smallest magnitude that rounds to infinity as a float32: halfway between FLT_MAX
 * (2^128 - 2^104) and 2^128, where round-to-nearest-even goes up because FLT_MAX's last
 * mantissa bit is odd. Anything below rounds to a finite float ("3.4028235e38", FLT_MAX
 * as printed, must be accepted). */
#define FLOAT32_OVERFLOW_AT 0x1.ffffffp127

/* Bounds of the integer types, as exact doubles. */
static void int_bounds(enum kernel_elem e, double *lo, double *hi_excl)
{
    int bits = (int)elems[e].size * 8;
    if (elems[e].is_signed) {
        *lo = -ldexp(1.0, bits - 1);
        *hi_excl = ldexp(1.0, bits - 1);
    } else {
        *lo = 0.0;
        *hi_excl = ldexp(1.0, bits);
    }
}

/* `v` fits integer type `e`: no fraction, within range. */
static int double_fits_int(enum kernel_elem e, double v)
{
    double lo, hi_excl;
    if (!isfinite(v) || v != trunc(v))
        return 0;
    int_bounds(e, &lo, &hi_excl);
    return v >= lo && v < hi_excl;
}

static int int64_fits_int(enum kernel_elem e, int64_t v)
{
    switch (e) {
    case KERNEL_ELEM_INT8:   return v >= INT8_MIN && v <= INT8_MAX;
    case KERNEL_ELEM_UINT8:  return v >= 0 && v <= UINT8_MAX;
    case KERNEL_ELEM_INT16:  return v >= INT16_MIN && v <= INT16_MAX;
    case KERNEL_ELEM_UINT16: return v >= 0 && v <= UINT16_MAX;
    case KERNEL_ELEM_INT32:  return v >= INT32_MIN && v <= INT32_MAX;
    case KERNEL_ELEM_UINT32: return v >= 0 && v <= (int64_t)UINT32_MAX;
    case KERNEL_ELEM_INT64:  return 1;
    case KERNEL_ELEM_UINT64: return v >= 0;
    default:                 return 0;
    }
}

/* Write the low elems[e].size bytes of `bits` (two's complement) to `out`. */
static void store_int_bits(enum kernel_elem e, uint64_t bits, void *out)
{
    uint8_t u8 = (uint8_t)bits;
    uint16_t u16 = (uint16_t)bits;
    uint32_t u32 = (uint32_t)bits;
    switch (elems[e].size) {
    case 1: memcpy(out, &u8, 1); break;
    case 2: memcpy(out, &u16, 2); break;
    case 4: memcpy(out, &u32, 4); break;
    default: memcpy(out, &bits, 8); break;
    }
}

int kernel_elem_store(enum kernel_elem e, int is_integer, int64_t ivalue, double value,
                      void *out)
{
    if (!elem_is_valid(e))
        return -1;
    if (e == KERNEL_ELEM_FLOAT64 || e == KERNEL_ELEM_FLOAT32) {
        double v = is_integer ? (double)ivalue : value;
        if (e == KERNEL_ELEM_FLOAT64) {
            memcpy(out, &v, sizeof(v));
            return 0;
        }
        /* Infinities and NaN are stored as they are; only a finite number that would
         * become one is refused. */
        if (isfinite(v) && fabs(v) >= FLOAT32_OVERFLOW_AT)
            return -1;
        float f = (float)v;
        memcpy(out, &f, sizeof(f));
        return 0;
    }
    uint64_t bits;
    if (is_integer) {
        if (!int64_fits_int(e, ivalue))
            return -1;
        bits = (uint64_t)ivalue;
    } else {
        if (!double_fits_int(e, value))
            return -1;
        /* In range, so the conversion is exact and defined; uint64 values at or above
         * 2^63 do not fit int64_t and take the unsigned path. */
        bits = value < 0 ? (uint64_t)(int64_t)value : (uint64_t)value;
    }
    store_int_bits(e, bits, out);
    return 0;
}

double kernel_elem_load(enum kernel_elem e, const void *in)
{
    switch (e) {
    case KERNEL_ELEM_INT8:    { int8_t v; memcpy(&v, in, sizeof(v)); return v; }
    case KERNEL_ELEM_UINT8:   { uint8_t v; memcpy(&v, in, sizeof(v)); return v; }
    case KERNEL_ELEM_INT16:   { int16_t v; memcpy(&v, in, sizeof(v)); return v; }
    case KERNEL_ELEM_UINT16:  { uint16_t v; memcpy(&v, in, sizeof(v)); return v; }
    case KERNEL_ELEM_INT32:   { int32_t v; memcpy(&v, in, sizeof(v)); return v; }
    case KERNEL_ELEM_UINT32:  { uint32_t v; memcpy(&v, in, sizeof(v)); return v; }
    case KERNEL_ELEM_INT64:   { int64_t v; memcpy(&v, in, sizeof(v)); return (double)v; }
    case KERNEL_ELEM_UINT64:  { uint64_t v; memcpy(&v, in, sizeof(v)); return (double)v; }
    case KERNEL_ELEM_FLOAT32: { float v; memcpy(&v, in, sizeof(v)); return v; }
    case KERNEL_ELEM_FLOAT64: { double v; memcpy(&v, in, sizeof(v)); return v; }
    default:                  return 0.0;
    }
}

/* ---- C spellings --------------------------------------------------------------------- */

/* Spellings that are one word and no vector: OpenCL C's short unsigned names and the fixed
 * width integers CUDA code takes from <cstdint>. Integer keyword combinations ("unsigned
 * long int") are read by int_words_type(). */
static const struct {
    const char *word;
    enum kernel_elem elem;
    unsigned apis;                  /* bit (1 << enum kernel_api) */
} single_words[] = {
#define OPENCL_ONLY (1u << KERNEL_API_OPENCL)
#define CUDA_ONLY (1u << KERNEL_API_CUDA)
#define BOTH (OPENCL_ONLY | CUDA_ONLY)
    { "float", KERNEL_ELEM_FLOAT32, BOTH },
    { "double", KERNEL_ELEM_FLOAT64, BOTH },
    { "uchar", KERNEL_ELEM_UINT8, OPENCL_ONLY },
    { "ushort", KERNEL_ELEM_UINT16, OPENCL_ONLY },
    { "uint", KERNEL_ELEM_UINT32, OPENCL_ONLY },
    { "ulong", KERNEL_ELEM_UINT64, OPENCL_ONLY },
    { "int8_t", KERNEL_ELEM_INT8, CUDA_ONLY },
    { "uint8_t", KERNEL_ELEM_UINT8, CUDA_ONLY },
    { "int16_t", KERNEL_ELEM_INT16, CUDA_ONLY },
    { "uint16_t", KERNEL_ELEM_UINT16, CUDA_ONLY },
    { "int32_t", KERNEL_ELEM_INT32, CUDA_ONLY },
    { "uint32_t", KERNEL_ELEM_UINT32, CUDA_ONLY },
    { "int64_t", KERNEL_ELEM_INT64, CUDA_ONLY },
    { "uint64_t", KERNEL_ELEM_UINT64, CUDA_ONLY },
    /* OpenCL C leaves size_t's width to the device (a 32-bit GPU has a 32-bit size_t), so
     * it is refused there; CUDA on 64-bit Linux fixes it at 64 bits. */
    { "size_t", KERNEL_ELEM_UINT64, CUDA_ONLY },
    { "ptrdiff_t", KERNEL_ELEM_INT64, CUDA_ONLY },
};

/* Vector type names: a base and a width ("float4", CUDA's "ulonglong2"). */
static const struct {
    const char *base;
    enum kernel_elem elem;
    unsigned apis;
} vector_bases[] = {
    { "char", KERNEL_ELEM_INT8, BOTH },
    { "uchar", KERNEL_ELEM_UINT8, BOTH },
    { "short", KERNEL_ELEM_INT16, BOTH },
    { "ushort", KERNEL_ELEM_UINT16, BOTH },
    { "int", KERNEL_ELEM_INT32, BOTH },
    { "uint", KERNEL_ELEM_UINT32, BOTH },
    { "long", KERNEL_ELEM_INT64, BOTH },     /* 64-bit: OpenCL C, and CUDA on Linux */
    { "ulong", KERNEL_ELEM_UINT64, BOTH },
    { "longlong", KERNEL_ELEM_INT64, CUDA_ONLY },
    { "ulonglong", KERNEL_ELEM_UINT64, CUDA_ONLY },
    { "float", KERNEL_ELEM_FLOAT32, BOTH },
    { "double", KERNEL_ELEM_FLOAT64, BOTH },
#undef OPENCL_ONLY
#undef CUDA_ONLY
#undef BOTH
};

#define C_TYPE_MAX_WORDS 4        /* "unsigned long long int" */
#define C_TYPE_WORD_MAX 32

/* A vector width the API has: OpenCL C's 2, 3, 4, 8, 16; CUDA's 1 to 4. */
static int width_is_valid(enum kernel_api api, int width)
{
    if (api == KERNEL_API_CUDA)
        return width >= 1 && width <= 4;
    return width == 2 || width == 3 || width == 4 || width == 8 || width == 16;
}

static enum kernel_elem one_word_type(enum kernel_api api, const char *word, int *width)
{
    unsigned bit = 1u << api;
    for (size_t i = 0; i < sizeof(single_words) / sizeof(single_words[0]); i++)
        if ((single_words[i].apis & bit) && strcmp(word, single_words[i].word) == 0)
            return single_words[i].elem;
    /* A vector: base name, then one or two digits without a leading zero. */
    size_t len = strlen(word), digits = 0;
    while (digits < len && digits < 3 && word[len - 1 - digits] >= '0' &&
           word[len - 1 - digits] <= '9')
        digits++;
    if (digits == 0 || digits > 2 || word[len - digits] == '0')
        return KERNEL_ELEM_NONE;
    int w = word[len - digits] - '0';
    if (digits == 2)
        w = w * 10 + (word[len - 1] - '0');
    if (!width_is_valid(api, w))
        return KERNEL_ELEM_NONE;
    for (size_t i = 0; i < sizeof(vector_bases) / sizeof(vector_bases[0]); i++)
        if ((vector_bases[i].apis & bit) && strlen(vector_bases[i].base) == len - digits &&
            strncmp(word, vector_bases[i].base, len - digits) == 0) {
            *width = w;
            return vector_bases[i].elem;
        }
    return KERNEL_ELEM_NONE;
}

/* The C integer keywords in any order: [signed|unsigned] [char|short|long|long long]
 * [int]. `char` is signed (OpenCL C says so; CUDA on x86-64 Linux follows the host ABI).
 * `long long` is CUDA's only: OpenCL C reserves it. */
static enum kernel_elem int_words_type(enum kernel_api api, char words[][C_TYPE_WORD_MAX],
                                       int n)
{
    int n_signed = 0, n_unsigned = 0, n_char = 0, n_short = 0, n_int = 0, n_long = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(words[i], "signed") == 0)
            n_signed++;
        else if (strcmp(words[i], "unsigned") == 0)
            n_unsigned++;
        else if (strcmp(words[i], "char") == 0)
            n_char++;
        else if (strcmp(words[i], "short") == 0)
            n_short++;
        else if (strcmp(words[i], "int") == 0)
            n_int++;
        else if (strcmp(words[i], "long") == 0)
            n_long++;
        else
            return KERNEL_ELEM_NONE;
    }
    if (n_signed + n_unsigned > 1 || n_int > 1 || n_char > 1 || n_short > 1 || n_long > 2 ||
        n_char + n_short + (n_long > 0) > 1 || (n_char && n_int))
        return KERNEL_ELEM_NONE;
    if (n_long == 2 && api != KERNEL_API_CUDA)
        return KERNEL_ELEM_NONE;
    int is_unsigned = n_unsigned > 0;
    if (n_char)
        return is_unsigned ? KERNEL_ELEM_UINT8 : KERNEL_ELEM_INT8;
    if (n_short)
        return is_unsigned ? KERNEL_ELEM_UINT16 : KERNEL_ELEM_INT16;
    if (n_long)
        return is_unsigned ? KERNEL_ELEM_UINT64 : KERNEL_ELEM_INT64;
    return is_unsigned ? KERNEL_ELEM_UINT32 : KERNEL_ELEM_INT32;   /* int, signed, unsigned */
}

enum kernel_elem kernel_elem_of_c_type(enum kernel_api api, const char *words, int *width)
{
    int dummy;
    if (!width)
        width = &dummy;
    *width = 1;
    if (!words || (api != KERNEL_API_OPENCL && api != KERNEL_API_CUDA))
        return KERNEL_ELEM_NONE;

    char w[C_TYPE_MAX_WORDS][C_TYPE_WORD_MAX];
    int n = 0;
    for (const char *p = words; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " \t");
        if (n == C_TYPE_MAX_WORDS || len >= C_TYPE_WORD_MAX)
            return KERNEL_ELEM_NONE;
        memcpy(w[n], p, len);
        w[n++][len] = '\0';
        p += len;
    }
    if (n == 0)
        return KERNEL_ELEM_NONE;
    if (n == 1) {
        int vec_width = 1;
        enum kernel_elem e = one_word_type(api, w[0], &vec_width);
        if (e != KERNEL_ELEM_NONE) {
            *width = vec_width;
            return e;
        }
    }
    return int_words_type(api, w, n);
}
