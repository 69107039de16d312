/* tests/fuzz/fuzz_compile_depfile.c - what compilers write that udcs-compile reads back:
 * make-style dependency files (cc_depfile_parse) and the line markers of preprocessed
 * output (cc_linemarker_files). Both must end on any input; their lists are sorted,
 * without duplicates or empty names; and a dependency file written back from a parsed
 * list (escaped as gcc escapes) reads as the same list. */
#include "toolchains/compile.h"
#include "common/buf.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

static void check_sorted(char **v, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(v[i] && v[i][0], "%s: an empty name at %zu", what, i);
        FUZZ_CHECK(i == 0 || strcmp(v[i - 1], v[i]) < 0, "%s: not sorted or duplicated at %zu",
                   what, i);
    }
}

/* gcc's escaping: a space as "\ ", '#' as "\#", '$' as "$$". */
static void write_rule(char **deps, size_t n, struct udcs_buf *out)
{
    udcs_buf_append_str(out, "out.o:");
    for (size_t i = 0; i < n; i++) {
        udcs_buf_append_str(out, " \\\n ");
        for (const char *p = deps[i]; *p; p++) {
            if (*p == ' ' || *p == '#')
                udcs_buf_append(out, "\\", 1);
            if (*p == '$')
                udcs_buf_append(out, "$", 1);
            udcs_buf_append(out, p, 1);
        }
    }
    udcs_buf_append_str(out, "\n");
}

/* Names the writer above can express: no white space other than spaces, no backslash
 * before a space, no ':' that would end a target. */
static int expressible(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (const char *p = v[i]; *p; p++)
            if (strchr("\t\r\n\\:", *p))
                return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **deps = NULL, **files = NULL;
    size_t n = 0, nf = 0;
    if (cc_depfile_parse((const char *)data, size, &deps, &n) == 0) {
        check_sorted(deps, n, "depfile");
        if (expressible(deps, n)) {
            struct udcs_buf text = UDCS_BUF_INIT(1u << 24);
            char **again = NULL;
            size_t n2 = 0;
            write_rule(deps, n, &text);
            FUZZ_CHECK(cc_depfile_parse(text.data, text.len, &again, &n2) == 0,
                       "a written rule does not parse");
            FUZZ_CHECK(n2 == n, "a written rule reads as %zu names, not %zu", n2, n);
            for (size_t i = 0; i < n && i < n2; i++)
                FUZZ_CHECK(strcmp(deps[i], again[i]) == 0, "'%s' reads back as '%s'",
                           deps[i], again[i]);
            cc_strv_free(again, n2);
            udcs_buf_release(&text);
        }
        cc_strv_free(deps, n);
    }
    if (cc_linemarker_files((const char *)data, size, &files, &nf) == 0) {
        check_sorted(files, nf, "line markers");
        for (size_t i = 0; i < nf; i++)
            FUZZ_CHECK(files[i][0] != '<', "a pseudo-file '%s' listed", files[i]);
        cc_strv_free(files, nf);
    }
    return 0;
}
