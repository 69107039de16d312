/* toolchains/trace_lex.c - the tokens of the .scn format, the number reader shared with
 * the OBJ parser, and the error text both write ("FILE:LINE:COL: message"). The grammar
 * itself is trace_parse.c's. */
#include "toolchains/trace_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest number text read: more digits than a double can tell apart. */
#define TRACE_MAX_NUMBER_CHARS 64
/* Longest string, a path: PATH_MAX-sized names do not belong in a scene. */
#define TRACE_MAX_STRING_CHARS 1024
/* How much of a token a message quotes. */
#define TRACE_TOK_QUOTE_CHARS 40

int trace_err_set(struct trace_err *e, int rc, const char *file, int line, int col,
                  const char *fmt, ...)
{
    if (e->rc != 0)
        return e->rc;
    e->rc = rc;
    if (!e->why || e->len == 0)
        return rc;
    size_t used = 0;
    int n = 0;
    if (file && line > 0)
        n = snprintf(e->why, e->len, "%s:%d:%d: ", file, line, col);
    else if (file)
        n = snprintf(e->why, e->len, "%s: ", file);
    used = n > 0 && (size_t)n < e->len ? (size_t)n : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why + used, e->len - used, fmt, ap);
    va_end(ap);
    return rc;
}

int trace_grow(void **arr, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap > 0 ? (size_t)*cap : 8;
    while (n < (size_t)need)
        n *= 2;
    void *p = realloc(*arr, n * size);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = (int)n;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(char c)
{
    return is_ident_start(c) || is_digit(c);
}

size_t trace_number_scan(const char *s, size_t len, double *out)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < len && is_digit(s[i]))
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i]))
            i++, digits++;
    }
    if (digits == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < len && (s[j] == '-' || s[j] == '+'))
            j++;
        if (j < len && is_digit(s[j])) {
            while (j < len && is_digit(s[j]))
                j++;
            i = j;
        }
    }
    if (i > TRACE_MAX_NUMBER_CHARS) {
        *out = HUGE_VAL;        /* too long to be a sensible number: out of range */
        return i;
    }
    char copy[TRACE_MAX_NUMBER_CHARS + 1];
    memcpy(copy, s, i);
    copy[i] = '\0';
    *out = strtod(copy, NULL);
    return i;
}

int trace_tok_is(const struct trace_tok *t, char c)
{
    return t->kind == TRACE_TOK_PUNCT && t->text[0] == c;
}

int trace_tok_is_word(const struct trace_tok *t, const char *word)
{
    return t->kind == TRACE_TOK_IDENT && strlen(word) == t->len &&
           memcmp(t->text, word, t->len) == 0;
}

void trace_tok_describe(const struct trace_tok *t, char *out, size_t out_len)
{
    int n = t->len > TRACE_TOK_QUOTE_CHARS ? TRACE_TOK_QUOTE_CHARS : (int)t->len;
    const char *more = t->len > TRACE_TOK_QUOTE_CHARS ? "..." : "";
    switch (t->kind) {
    case TRACE_TOK_EOF:
        snprintf(out, out_len, "the end of the file");
        break;
    case TRACE_TOK_STRING:
        snprintf(out, out_len, "\"%.*s%s\"", n, t->text, more);
        break;
    default:
        snprintf(out, out_len, "'%.*s%s'", n, t->text, more);
        break;
    }
}

static void skip_space_and_comments(struct trace_lexer *lx)
{
    while (lx->pos < lx->len) {
        char c = lx->text[lx->pos];
        if (c == '\n') {
            lx->line++;
            lx->col = 1;
            lx->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            lx->col++;
            lx->pos++;
        } else if (c == '#') {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
                lx->pos++;   /* the newline itself is counted above */
        } else {
            return;
        }
    }
}

int trace_lex_next(struct trace_lexer *lx)
{
    skip_space_and_comments(lx);
    struct trace_tok *t = &lx->tok;
    memset(t, 0, sizeof(*t));
    t->line = lx->line;
    t->col = lx->col;
    t->text = lx->text + lx->pos;
    if (lx->pos >= lx->len) {
        t->kind = TRACE_TOK_EOF;
        return 0;
    }
    const char *s = lx->text + lx->pos;
    size_t left = lx->len - lx->pos, n = 0;
    char c = s[0];
    if (is_ident_start(c)) {
        while (n < left && is_ident_char(s[n]))
            n++;
        t->kind = TRACE_TOK_IDENT;
    } else if (is_digit(c) || c == '-' || c == '+' || c == '.') {
        n = trace_number_scan(s, left, &t->num);
        if (n == 0 || (n < left && (is_ident_char(s[n]) || s[n] == '.')))
            return trace_err_set(lx->e, -EINVAL, lx->file, t->line, t->col,
                                 "malformed number '%.*s'",
                                 (int)(n + 1 < 20 ? n + 1 : 20), s);
        if (!(fabs(t->num) <= TRACE_MAX_NUMBER))
            return trace_err_set(lx->e, -EINVAL, lx->file, t->line, t->col,
                                 "number '%.*s' is out of range (at most %g in magnitude)",
                                 (int)(n < 20 ? n : 20), s, TRACE_MAX_NUMBER);
        t->kind = TRACE_TOK_NUMBER;
    } else if (c == '"') {
        n = 1;
        while (n < left && s[n] != '"' && s[n] != '\n')
            n++;
        if (n >= left || s[n] != '"')
            return trace_err_set(lx->e, -EINVAL, lx->file, t->line, t->col,
                                 "string not closed on its line");
        if (n - 1 > TRACE_MAX_STRING_CHARS)
            return trace_err_set(lx->e, -EINVAL, lx->file, t->line, t->col,
                                 "string longer than %d characters", TRACE_MAX_STRING_CHARS);
        if (memchr(s + 1, '\0', n - 1))
            return trace_err_set(lx->e, -EINVAL, lx->file, t->line, t->col,
                                 "string holds a NUL byte");
        t->kind = TRACE_TOK_STRING;
        t->text = s + 1;
        t->len = n - 1;
        n++;
    } else if (strchr("{}<>,:", c) && c != '\0') {
        n = 1;
        t->kind = TRACE_TOK_PUNCT;
    } else {
        unsigned char u = (unsigned char)c;
        if (u >= 0x21 && u < 0x7f)
            return trace_err_set(lx->e, -EINVAL, lx->file, t->line, t->col,
                                 "unexpected character '%c'", c);
        return trace_err_set(lx->e, -EINVAL, lx->file, t->line, t->col,
                             "unexpected byte 0x%02x", u);
    }
    if (t->kind != TRACE_TOK_STRING)
        t->len = n;
    lx->pos += n;
    lx->col += (int)n;
    return 0;
}

int trace_lex_init(struct trace_lexer *lx, const char *file, const char *text, size_t len,
                   struct trace_err *e)
{
    memset(lx, 0, sizeof(*lx));
    lx->file = file;
    lx->text = text;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    lx->e = e;
    return trace_lex_next(lx);
}
