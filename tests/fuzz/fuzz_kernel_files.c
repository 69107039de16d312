/* tests/fuzz/fuzz_kernel_files.c - files that reach udcs from outside in kernel jobs:
 * .npy headers (kernels/npy.h, from users' files) and range patches (kernels/kernel_exec.h,
 * from agents). A header that parses describes data inside the file, and one we write
 * parses back; a patch is applied only within the buffer, and bytes it leaves alone keep
 * their initial value. The first byte chooses which. */
#include "common/err.h"
#include "kernels/kernel_exec.h"
#include "kernels/npy.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

#define FUZZ_BUFFER_BYTES 256

static void check_npy(const uint8_t *data, size_t size)
{
    struct npy_header h;
    char why[256];
    if (npy_parse_header(data, size, &h, why, sizeof(why)) < 0)
        return;
    FUZZ_CHECK(h.data_offset <= size, "data starts at %zu, past the %zu bytes", h.data_offset,
               size);
    FUZZ_CHECK(kernel_elem_size(h.elem) > 0, "no element type");
    struct udcs_buf out = UDCS_BUF_INIT(4096);
    FUZZ_CHECK(npy_write_header(h.elem, h.count, &out) == 0, "cannot write the header back");
    struct npy_header again;
    FUZZ_CHECK(npy_parse_header(out.data, out.len, &again, why, sizeof(why)) == 0,
               "a header we wrote does not parse: %s", why);
    FUZZ_CHECK(again.elem == h.elem && again.count == h.count && again.data_offset % 64 == 0,
               "a header we wrote reads back otherwise");
    udcs_buf_release(&out);
}

static void check_patch(const uint8_t *data, size_t size)
{
    uint8_t initial[FUZZ_BUFFER_BYTES], buf[FUZZ_BUFFER_BYTES], written[FUZZ_BUFFER_BYTES / 8];
    for (size_t i = 0; i < sizeof(initial); i++)
        initial[i] = (uint8_t)(i * 37);
    memcpy(buf, initial, sizeof(buf));
    memset(written, 0, sizeof(written));
    size_t at = 0;
    char why[256];
    int rc = kernel_patch_apply(buf, initial, written, sizeof(buf), data, size, &at, why,
                                sizeof(why));
    FUZZ_CHECK(rc == 0 || rc == UDCS_EUSAGE || rc == -EEXIST, "unexpected code %d", rc);
    for (size_t i = 0; i < sizeof(buf); i++)
        FUZZ_CHECK(buf[i] == initial[i] || (written[i / 8] >> (i % 8) & 1),
                   "byte %zu changed without being marked written", i);
    /* a patch made from two buffers applies back to the second */
    if (rc == 0) {
        struct udcs_buf p = UDCS_BUF_INIT(8 * FUZZ_BUFFER_BYTES);
        uint8_t again[FUZZ_BUFFER_BYTES], w2[FUZZ_BUFFER_BYTES / 8] = { 0 };
        FUZZ_CHECK(kernel_patch_make(initial, buf, sizeof(buf), &p) == 0, "patch_make failed");
        memcpy(again, initial, sizeof(again));
        FUZZ_CHECK(kernel_patch_apply(again, initial, w2, sizeof(again),
                                      (const uint8_t *)p.data, p.len, &at, why,
                                      sizeof(why)) == 0, "our own patch is refused: %s", why);
        FUZZ_CHECK(memcmp(again, buf, sizeof(buf)) == 0, "our own patch gives other bytes");
        udcs_buf_release(&p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        check_npy(data + 1, size - 1);
    else
        check_patch(data + 1, size - 1);
    return 0;
}
