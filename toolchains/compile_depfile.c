/* toolchains/compile_depfile.c - the include list of a compile, read from what the
 * compiler itself wrote: a make-style dependency file (-MD) or the line markers of
 * preprocessed output. Both are outside input (a compiler of any version wrote them), so
 * both parsers are fuzzed. */
#include "toolchains/compile.h"
#include "common/buf.h"
#include "common/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct list {
    char **v;
    size_t n, cap;
};

static int list_add(struct list *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    char *copy = strndup(s, len);
    if (!copy)
        return -ENOMEM;
    l->v[l->n++] = copy;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, drop duplicates, hand over. */
static void list_finish(struct list *l, char ***out, size_t *n)
{
    if (l->n)
        qsort(l->v, l->n, sizeof(*l->v), cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (k && strcmp(l->v[k - 1], l->v[i]) == 0)
            free(l->v[i]);
        else
            l->v[k++] = l->v[i];
    }
    *out = l->v;
    *n = k;
}

void cc_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- make rules ------------------------------------------------------------------------ */

/* Read one word of a rule at *p (leading blanks and escaped newlines skipped). The word is
 * unescaped into `w`. Returns 1 when a word was read, 0 at the end of the rule's logical
 * line (*p left after the newline), -ENOMEM. `colon` is set when the word ended at the
 * rule's ':' separator. */
static int next_word(const char **p, const char *end, struct udcs_buf *w, int *colon)
{
    const char *s = *p;
    *colon = 0;
    udcs_buf_reset(w);
    for (;;) {
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s + 1 < end && s[0] == '\\' && s[1] == '\n') {
            s += 2;
            continue;
        }
        if (s + 2 < end && s[0] == '\\' && s[1] == '\r' && s[2] == '\n') {
            s += 3;
            continue;
        }
        break;
    }
    if (s >= end || *s == '\n' || *s == '\r') {
        while (s < end && (*s == '\n' || *s == '\r'))
            s++;
        *p = s;
        return 0;
    }
    int rc = 0;
    while (s < end && rc == 0) {
        char c = *s;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            break;
        if (c == '\\' && s + 1 < end && (s[1] == ' ' || s[1] == '#')) {
            rc = udcs_buf_append(w, s + 1, 1);
            s += 2;
            continue;
        }
        if (c == '\\' && s + 1 < end &&
            (s[1] == '\n' || (s[1] == '\r' && s + 2 < end && s[2] == '\n')))
            break;   /* a continuation: the next call skips it */
        if (c == '$' && s + 1 < end && s[1] == '$') {
            rc = udcs_buf_append(w, "$", 1);
            s += 2;
            continue;
        }
        if (c == ':' && (s + 1 >= end || s[1] == ' ' || s[1] == '\t' || s[1] == '\n' ||
                         s[1] == '\r' || s[1] == '\\')) {
            *colon = 1;
            s++;
            break;
        }
        rc = udcs_buf_append(w, s, 1);
        s++;
    }
    *p = s;
    return rc < 0 ? rc : 1;
}

int cc_depfile_parse(const char *text, size_t len, char ***deps, size_t *n)
{
    struct list l = { 0 };
    struct udcs_buf w = UDCS_BUF_INIT(1 << 20);
    const char *p = text, *end = text + len;
    int rc = 0, seen_colon = 0, any_rule = 0;
    *deps = NULL;
    *n = 0;
    if (memchr(text, '\0', len)) {
        udcs_buf_release(&w);
        return UDCS_EPROTO;   /* not text: no compiler writes this */
    }
    /* the first rule is the object's; -MP adds "header:" rules with no prerequisites */
    while (p < end && rc >= 0) {
        int colon = 0;
        rc = next_word(&p, end, &w, &colon);
        if (rc < 0)
            break;
        if (rc == 0) {
            if (seen_colon) {
                any_rule = 1;
                break;
            }
            continue;
        }
        if (seen_colon && w.len) {
            rc = list_add(&l, w.data, w.len);
        } else if (colon) {
            seen_colon = 1;
            rc = 0;
        } else {
            rc = 0;   /* a target */
        }
    }
    any_rule |= seen_colon;
    udcs_buf_release(&w);
    if (rc >= 0 && !any_rule)
        rc = UDCS_EPROTO;
    if (rc < 0) {
        cc_strv_free(l.v, l.n);
        return rc;
    }
    list_finish(&l, deps, n);
    return 0;
}

/* ---- line markers --------------------------------------------------------------------- */

int cc_linemarker_files(const char *text, size_t len, char ***files, size_t *n)
{
    struct list l = { 0 };
    struct udcs_buf name = UDCS_BUF_INIT(1 << 16);
    const char *p = text, *end = text + len;
    const char *last = NULL;
    size_t last_len = 0;
    int rc = 0;
    while (p < end && rc >= 0) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *s = p;
        p = eol ? eol + 1 : end;
        if (s >= line_end || *s != '#')
            continue;
        s++;
        if (s + 5 <= line_end && strncmp(s, "line", 4) == 0)
            s += 4;
        if (s >= line_end || *s != ' ')
            continue;
        while (s < line_end && *s == ' ')
            s++;
        if (s >= line_end || !isdigit((unsigned char)*s))
            continue;
        while (s < line_end && isdigit((unsigned char)*s))
            s++;
        if (s + 1 >= line_end || s[0] != ' ' || s[1] != '"')
            continue;
        s += 2;
        udcs_buf_reset(&name);
        int closed = 0;
        while (s < line_end && rc >= 0) {
            if (*s == '\\' && s + 1 < line_end) {
                rc = udcs_buf_append(&name, s + 1, 1);
                s += 2;
            } else if (*s == '"') {
                closed = 1;
                break;
            } else {
                rc = udcs_buf_append(&name, s++, 1);
            }
        }
        if (rc < 0 || !closed || name.len == 0 || memchr(name.data, '\0', name.len))
            continue;
        if (name.data[0] == '<')            /* <built-in>, <command-line> */
            continue;
        if (name.len >= 2 && name.data[name.len - 1] == '/' && name.data[name.len - 2] == '/')
            continue;                        /* the working directory marker */
        if (last && last_len == name.len && memcmp(last, name.data, name.len) == 0)
            continue;                        /* consecutive markers of one file */
        rc = list_add(&l, name.data, name.len);
        if (rc == 0) {
            last = l.v[l.n - 1];
            last_len = name.len;
        }
    }
    udcs_buf_release(&name);
    if (rc < 0) {
        cc_strv_free(l.v, l.n);
        return rc;
    }
    list_finish(&l, files, n);
    return 0;
}
