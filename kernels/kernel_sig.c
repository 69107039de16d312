/* kernels/kernel_sig.c - the parameter list of a kernel, read from OpenCL C or CUDA source
 * (kernel_sig.h). A tokenizer that knows comments, literals and preprocessor lines, a scan
 * for the kernel keywords, and a reader of one parameter list. */
#include "kernels/kernel_sig.h"
#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Longest identifier kept whole; longer ones are refused (no kernel parameter or type
 * needs more). */
#define TOKEN_MAX (KERNEL_NAME_MAX - 1)
/* Tokens of one parameter: "const __global float * restrict a" is 6. */
#define PARAM_TOKENS_MAX 32

enum tok_kind { TOK_END, TOK_IDENT, TOK_PUNCT, TOK_OTHER };

struct tok {
    enum tok_kind kind;
    const char *at;             /* in the source */
    size_t len;
};

struct lexer {
    const char *p, *end;
    int line_start;             /* nothing but blanks since the last newline */
};

static int tok_is(const struct tok *t, const char *text)
{
    return t->len == strlen(text) && memcmp(t->at, text, t->len) == 0;
}

/* Skip blanks, comments and preprocessor lines. */
static void skip_space(struct lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line_start = 1;
            lx->p++;
        } else if (isspace((unsigned char)c)) {
            lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            lx->p += 2;
            while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/'))
                lx->p++;
            lx->p = lx->p + 1 < lx->end ? lx->p + 2 : lx->end;
        } else if (c == '#' && lx->line_start) {
            /* a directive runs to the end of the line, continued by a backslash */
            while (lx->p < lx->end && *lx->p != '\n') {
                if (*lx->p == '\\' && lx->p + 1 < lx->end && lx->p[1] == '\n')
                    lx->p++;
                lx->p++;
            }
        } else {
            return;
        }
    }
}

static struct tok next_tok(struct lexer *lx)
{
    skip_space(lx);
    struct tok t = { TOK_END, lx->p, 0 };
    if (lx->p >= lx->end)
        return t;
    lx->line_start = 0;
    const char *s = lx->p;
    char c = *s;
    if (isalpha((unsigned char)c) || c == '_') {
        while (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '_'))
            lx->p++;
        t.kind = TOK_IDENT;
    } else if (isdigit((unsigned char)c)) {
        while (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '.' ||
                                   *lx->p == '_'))
            lx->p++;
        t.kind = TOK_OTHER;
    } else if (c == '"' || c == '\'') {
        lx->p++;
        while (lx->p < lx->end && *lx->p != c && *lx->p != '\n') {
            if (*lx->p == '\\' && lx->p + 1 < lx->end)
                lx->p++;
            lx->p++;
        }
        if (lx->p < lx->end && *lx->p == c)
            lx->p++;
        t.kind = TOK_OTHER;
    } else if (c == ':' && lx->p + 1 < lx->end && lx->p[1] == ':') {
        lx->p += 2;
        t.kind = TOK_PUNCT;
    } else {
        lx->p++;
        t.kind = TOK_PUNCT;
    }
    t.len = (size_t)(lx->p - s);
    return t;
}

/* Skip a balanced (...) group whose '(' is the next token. Returns 0, or -1 at the end of
 * the source. */
static int skip_parens(struct lexer *lx)
{
    struct tok t = next_tok(lx);
    if (!tok_is(&t, "("))
        return 0;   /* "__attribute__" without parentheses: nothing to skip */
    for (int depth = 1; depth > 0;) {
        t = next_tok(lx);
        if (t.kind == TOK_END)
            return -1;
        if (tok_is(&t, "("))
            depth++;
        else if (tok_is(&t, ")"))
            depth--;
    }
    return 0;
}

static int is_attribute_word(const struct tok *t)
{
    return tok_is(t, "__attribute__") || tok_is(t, "__launch_bounds__") ||
           tok_is(t, "__declspec") || tok_is(t, "__cluster_dims__");
}

static int is_kernel_keyword(enum kernel_api api, const struct tok *t)
{
    if (api == KERNEL_API_CUDA)
        return tok_is(t, "__global__");
    return tok_is(t, "__kernel") || tok_is(t, "kernel");
}

/* ---- one parameter ------------------------------------------------------------------------ */

static void copy_text(char *out, size_t cap, const char *at, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(out, at, len);
    out[len] = '\0';
}

static int bad(char *why, size_t why_len, const struct kernel_sig *sig, size_t index,
               const char *fmt, const char *detail)
{
    char what[256];
    snprintf(what, sizeof(what), fmt, detail);
    return udcs_why(why, why_len, "kernel %s, parameter %zu: %s", sig->entry, index + 1, what);
}

/* Read parameter `index` from its tokens. */
static int read_param(enum kernel_api api, const struct tok *toks, size_t n, size_t index,
                      struct kernel_sig *sig, char *why, size_t why_len)
{
    struct kernel_param *p = &sig->params[index];
    memset(p, 0, sizeof(*p));
    p->kind = KERNEL_PARAM_SCALAR;
    int stars = 0, const_before_star = 0, space = 0, array = 0;
    char words[KERNEL_NAME_MAX * 2] = "";
    const struct tok *name = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct tok *t = &toks[i];
        if (t->kind == TOK_PUNCT && tok_is(t, "*")) {
            stars++;
        } else if (t->kind == TOK_PUNCT && tok_is(t, "[")) {
            /* float a[] and float a[16] are pointers in a parameter list */
            array++;
            while (i + 1 < n && !tok_is(&toks[i + 1], "]"))
                i++;
            i++;
        } else if (t->kind == TOK_PUNCT && (tok_is(t, "&") || tok_is(t, "<") ||
                                            tok_is(t, "::"))) {
            return bad(why, why_len, sig, index, "'%s' (references, templates and scoped "
                       "names are not kernel parameters udcs can bind)", t->at[0] == '&' ? "&" :
                       t->at[0] == '<' ? "<" : "::");
        } else if (t->kind != TOK_IDENT) {
            char text[32];
            copy_text(text, sizeof(text), t->at, t->len);
            return bad(why, why_len, sig, index, "unexpected '%s' in the parameter list "
                       "(macros are not expanded: write the parameter out)", text);
        } else if (tok_is(t, "const")) {
            if (!stars)
                const_before_star = 1;
        } else if (tok_is(t, "volatile") || tok_is(t, "restrict") || tok_is(t, "__restrict") ||
                   tok_is(t, "__restrict__") || tok_is(t, "__private") || tok_is(t, "private") ||
                   tok_is(t, "__grid_constant__")) {
            /* no effect on binding */
        } else if (tok_is(t, "__global") || tok_is(t, "global")) {
            space = KERNEL_PARAM_GLOBAL;
        } else if (tok_is(t, "__constant") || tok_is(t, "constant")) {
            space = KERNEL_PARAM_CONSTANT;
        } else if (tok_is(t, "__local") || tok_is(t, "local")) {
            space = KERNEL_PARAM_LOCAL;
        } else if (is_attribute_word(t)) {
            return bad(why, why_len, sig, index, "%s in a parameter is not supported",
                       "an attribute");
        } else if (i + 1 == n || (i + 2 <= n && toks[i + 1].kind == TOK_PUNCT &&
                                  tok_is(&toks[i + 1], "["))) {
            name = t;
        } else {
            size_t wl = strlen(words);
            if (wl + t->len + 2 >= sizeof(words))
                return bad(why, why_len, sig, index, "%s", "type name too long");
            if (wl)
                words[wl++] = ' ';
            memcpy(words + wl, t->at, t->len);
            words[wl + t->len] = '\0';
        }
    }
    if (!name || !*words)
        return bad(why, why_len, sig, index, "%s", "a parameter needs a type and a name");
    if (name->len > TOKEN_MAX)
        return bad(why, why_len, sig, index, "%s", "name too long");
    copy_text(p->name, sizeof(p->name), name->at, name->len);
    for (size_t k = 0; k < index; k++)
        if (strcmp(sig->params[k].name, p->name) == 0)
            return bad(why, why_len, sig, index, "the name '%s' is used twice", p->name);
    stars += array;
    static const char *const space_names[] = { "", "__global ", "__constant ", "__local " };
    snprintf(p->type_text, sizeof(p->type_text), "%s%s%s%s", const_before_star ? "const " : "",
             space_names[space], words, stars == 1 ? " *" : stars > 1 ? " **" : "");
    if (stars > 1)
        return bad(why, why_len, sig, index, "'%s' is a pointer to a pointer, which no "
                   "device can be given", p->type_text);
    p->elem = kernel_elem_of_c_type(api, words, &p->width);
    if (p->elem == KERNEL_ELEM_NONE)
        return bad(why, why_len, sig, index, "its type '%s' is not one udcs can bind (arrays "
                   "and scalars of " KERNEL_ELEM_NAMES ", and their vector types; typedefs "
                   "and macros are not expanded)", words);
    if (stars == 0) {
        if (space)
            return bad(why, why_len, sig, index, "'%s': an address space on a value that is "
                       "not a pointer", p->type_text);
        if (p->width != 1)
            return bad(why, why_len, sig, index, "'%s': vectors by value are not supported; "
                       "pass them as an array", p->type_text);
        p->kind = KERNEL_PARAM_SCALAR;
        return 0;
    }
    if (api == KERNEL_API_OPENCL && !space)
        return bad(why, why_len, sig, index, "'%s' is a pointer without an address space; "
                   "OpenCL kernels take __global, __constant or __local pointers",
                   p->type_text);
    p->kind = api == KERNEL_API_CUDA ? KERNEL_PARAM_GLOBAL : (enum kernel_param_kind)space;
    p->is_const = const_before_star || p->kind == KERNEL_PARAM_CONSTANT;
    return 0;
}

/* Read the parameter list whose '(' was just read. */
static int read_params(enum kernel_api api, struct lexer *lx, struct kernel_sig *sig, char *why,
                       size_t why_len)
{
    struct tok toks[PARAM_TOKENS_MAX];
    size_t n = 0;
    sig->n_params = 0;
    for (;;) {
        struct tok t = next_tok(lx);
        if (t.kind == TOK_END)
            return udcs_why(why, why_len, "kernel %s: its parameter list does not end",
                            sig->entry);
        if (tok_is(&t, "(")) {
            return udcs_why(why, why_len, "kernel %s, parameter %zu: parentheses in a "
                            "parameter (function pointers, attributes, macros) are not "
                            "supported", sig->entry, sig->n_params + 1);
        }
        if (tok_is(&t, ",") || tok_is(&t, ")")) {
            int last = tok_is(&t, ")");
            if (n == 0 && last && sig->n_params == 0)
                return 0;   /* f() */
            if (n == 1 && last && sig->n_params == 0 && tok_is(&toks[0], "void"))
                return 0;   /* f(void) */
            if (n == 0)
                return udcs_why(why, why_len, "kernel %s, parameter %zu is empty", sig->entry,
                                sig->n_params + 1);
            if (sig->n_params == KERNEL_MAX_PARAMS)
                return udcs_why(why, why_len, "kernel %s has more than %d parameters",
                                sig->entry, KERNEL_MAX_PARAMS);
            if (read_param(api, toks, n, sig->n_params, sig, why, why_len) < 0)
                return -1;
            sig->n_params++;
            n = 0;
            if (last)
                return 0;
            continue;
        }
        if (n == PARAM_TOKENS_MAX)
            return udcs_why(why, why_len, "kernel %s, parameter %zu is too long to read",
                            sig->entry, sig->n_params + 1);
        toks[n++] = t;
    }
}

/* ---- the kernels of a source --------------------------------------------------------------- */

int kernel_sig_parse(enum kernel_api api, const char *source, size_t len, const char *entry,
                     struct kernel_sig *out, char *why, size_t why_len)
{
    struct lexer lx = { source, source + len, 1 };
    char names[KERNEL_MAX_KERNELS][KERNEL_NAME_MAX];
    size_t n_names = 0;
    const char *found_at = NULL;   /* where the chosen kernel's '(' ends */
    int found_template = 0;
    struct tok prev = { TOK_END, source, 0 }, t;
    int template_pending = 0;
    memset(out, 0, sizeof(*out));
    if (entry && !*entry)
        entry = NULL;
    if (entry && strlen(entry) > TOKEN_MAX)
        return udcs_why(why, why_len, "the entry name '%.40s...' is too long", entry);
    while ((t = next_tok(&lx)).kind != TOK_END) {
        if (tok_is(&t, "template"))
            template_pending = 1;
        else if (tok_is(&t, ";") || tok_is(&t, "}"))
            template_pending = 0;
        if (!is_kernel_keyword(api, &t) || (prev.kind == TOK_PUNCT && tok_is(&prev, "."))) {
            prev = t;
            continue;
        }
        /* the name: the identifier just before the first '(' that is not an attribute's */
        struct tok last = { TOK_END, t.at, 0 }, u;
        int ok = 0;
        while ((u = next_tok(&lx)).kind != TOK_END) {
            if (is_attribute_word(&u)) {
                if (skip_parens(&lx) < 0)
                    break;
                continue;
            }
            if (tok_is(&u, "(")) {
                ok = last.kind == TOK_IDENT;
                break;
            }
            if (u.kind != TOK_IDENT && !tok_is(&u, "*"))
                break;   /* not a function: "kernel" used as an ordinary word */
            last = u;
        }
        int is_template = template_pending;
        template_pending = 0;
        prev = u;
        if (!ok || last.len > TOKEN_MAX)
            continue;
        char name[KERNEL_NAME_MAX];
        copy_text(name, sizeof(name), last.at, last.len);
        size_t k;
        for (k = 0; k < n_names && strcmp(names[k], name) != 0; k++)
            ;
        if (k == n_names && n_names < KERNEL_MAX_KERNELS)
            strcpy(names[n_names++], name);
        /* the last declaration of the entry: prototypes may leave names out, and the
         * definition comes after them */
        if (entry ? strcmp(name, entry) == 0 : n_names == 1 && strcmp(name, names[0]) == 0) {
            found_at = lx.p;
            found_template = is_template;
            strcpy(out->entry, name);
        }
    }
    char list[1024] = "";
    for (size_t k = 0, used = 0; k < n_names && used + 4 < sizeof(list); k++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "", names[k]);
        used += w > 0 ? (size_t)w : 0;
    }
    if (n_names == 0)
        return udcs_why(why, why_len, "no %s kernel in the source (a function declared %s)",
                        api == KERNEL_API_CUDA ? "CUDA" : "OpenCL",
                        api == KERNEL_API_CUDA ? "__global__ void NAME(...)"
                                               : "__kernel void NAME(...)");
    if (!entry && n_names > 1)
        return udcs_why(why, why_len, "the source has %zu kernels (%s); name the one to run "
                        "(\"entry\" in a job, --entry on the command line)", n_names, list);
    if (!found_at)
        return udcs_why(why, why_len, "no kernel named '%s' in the source; it has: %s", entry,
                        list);
    if (found_template)
        return udcs_why(why, why_len, "kernel %s is a template; udcs launches kernels by a "
                        "plain name: write an extern \"C\" __global__ wrapper that calls the "
                        "instance you need", out->entry);
    struct lexer at = { found_at, source + len, 0 };
    return read_params(api, &at, out, why, why_len);
}

size_t kernel_param_elem_bytes(enum kernel_api api, const struct kernel_param *p)
{
    size_t width = (size_t)p->width;
    if (api == KERNEL_API_OPENCL && width == 3)
        width = 4;   /* OpenCL C: a 3-component vector takes the room of 4 */
    return kernel_elem_size(p->elem) * width;
}
