/* tests/fuzz/fuzz_kernel_sig.c - the kernel parameter-list reader (kernels/kernel_sig.h)
 * over any source text, for both APIs: it never reads past the text, and what it accepts
 * is well-formed: a named entry, at most KERNEL_MAX_PARAMS parameters with distinct
 * non-empty names and a supported element type, pointers never vectors of width 0.
 * The first byte chooses the API and whether an entry is named ("k"). */
#include "kernels/kernel_sig.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum kernel_api api = data[0] & 1 ? KERNEL_API_CUDA : KERNEL_API_OPENCL;
    const char *entry = data[0] & 2 ? "k" : NULL;
    struct kernel_sig sig;
    char why[512];
    /* the text is not NUL-terminated: the reader must keep to its length */
    if (kernel_sig_parse(api, (const char *)data + 1, size - 1, entry, &sig, why,
                         sizeof(why)) < 0) {
        FUZZ_CHECK(why[0] != '\0', "refused without a reason");
        return 0;
    }
    FUZZ_CHECK(sig.entry[0] != '\0', "accepted without an entry name");
    FUZZ_CHECK(!entry || strcmp(sig.entry, entry) == 0, "took '%s', not the entry asked for",
               sig.entry);
    FUZZ_CHECK(sig.n_params <= KERNEL_MAX_PARAMS, "%zu parameters", sig.n_params);
    for (size_t i = 0; i < sig.n_params; i++) {
        const struct kernel_param *p = &sig.params[i];
        FUZZ_CHECK(p->name[0] != '\0', "parameter %zu has no name", i);
        FUZZ_CHECK(kernel_elem_size(p->elem) > 0, "parameter %s has no element type", p->name);
        FUZZ_CHECK(p->width >= 1 && p->width <= 16, "parameter %s has width %d", p->name,
                   p->width);
        FUZZ_CHECK(p->kind != KERNEL_PARAM_SCALAR || p->width == 1,
                   "scalar %s is a vector", p->name);
        FUZZ_CHECK(kernel_param_elem_bytes(api, p) >= kernel_elem_size(p->elem),
                   "parameter %s: element bytes", p->name);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(sig.params[k].name, p->name) != 0, "name %s twice", p->name);
    }
    return 0;
}
