/* hcl: strict recursive-descent parser for Vault's HCL subset and JSON. */
#include "coffer/hcl.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CF_HCL_MAX_INPUT   (1u << 20)
#define CF_HCL_MAX_DEPTH   32
#define CF_HCL_MAX_STRING  (64u << 10)
#define CF_HCL_MAX_LABELS  8

typedef enum {
    CF_HCL_T_EOF,
    CF_HCL_T_IDENT,
    CF_HCL_T_STRING,
    CF_HCL_T_NUMBER,
    CF_HCL_T_LBRACE,
    CF_HCL_T_RBRACE,
    CF_HCL_T_LBRACK,
    CF_HCL_T_RBRACK,
    CF_HCL_T_EQUALS,
    CF_HCL_T_COLON,
    CF_HCL_T_COMMA
} cf_hcl_tok_type_t;

typedef struct {
    cf_hcl_tok_type_t   type;
    int                 line;
    bool                nl_before;  /* a newline precedes it */
    bool                heredoc;    /* STRING written as a heredoc */
    char               *text;       /* owned: IDENT, STRING, NUMBER */
} cf_hcl_tok_t;

typedef struct {
    const char     *s;
    size_t          len;
    size_t          pos;
    int             line;
    bool            json;       /* strict JSON: no comments or heredocs */
    bool            failed;
    cf_hcl_tok_t    tok;        /* one token of lookahead */
    char           *err;
    size_t          errlen;
} cf_hcl_parser_t;

static void cf_hcl_str_free(char *s);

/* The first error wins; later ones are consequences of it. */
static cf_err_t
cf_hcl_fail(cf_hcl_parser_t *p, int line, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    if (p->failed)
        return CF_ERR_INVALID;
    p->failed = true;
    if (p->err == NULL || p->errlen == 0)
        return CF_ERR_INVALID;
    n = snprintf(p->err, p->errlen, "line %d: ", line);
    if (n >= 0 && (size_t) n < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return CF_ERR_INVALID;
}

static cf_err_t
cf_hcl_nomem(cf_hcl_parser_t *p)
{
    if (!p->failed && p->err != NULL && p->errlen > 0)
        snprintf(p->err, p->errlen, "out of memory");
    p->failed = true;
    return CF_ERR_NOMEM;
}

/* ---- lexer --------------------------------------------------------------- */

static bool
cf_hcl_is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
cf_hcl_is_ident(unsigned char c)
{
    return cf_hcl_is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool
cf_hcl_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if bad:
 * no overlongs, no surrogates, nothing above U+10FFFF. */
static size_t
cf_hcl_utf8_len(const unsigned char *s, size_t n)
{
    uint32_t  cp;
    size_t    need, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return need;
}

static size_t
cf_hcl_utf8_put(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char) (0xc0 | cp >> 6);
        d[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char) (0xe0 | cp >> 12);
        d[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char) (0xf0 | cp >> 18);
    d[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

static bool
cf_hcl_hex4(const char *s, size_t avail, uint32_t *out)
{
    uint32_t  v = 0;
    size_t    i;
    char      c;

    if (avail < 4)
        return false;
    for (i = 0; i < 4; i++) {
        c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t) (c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t) (c - 'A' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

/* Skip whitespace and comments; note whether a newline was crossed. */
static cf_err_t
cf_hcl_skip(cf_hcl_parser_t *p, bool *nl)
{
    const char  *s = p->s;
    int          start;

    *nl = false;
    while (p->pos < p->len) {
        char c = s[p->pos];

        if (c == '\n') {
            p->line++;
            *nl = true;
            p->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p->pos++;
        } else if (!p->json && (c == '#' || (c == '/' && p->pos + 1 < p->len
                                             && s[p->pos + 1] == '/'))) {
            while (p->pos < p->len && s[p->pos] != '\n')
                p->pos++;
        } else if (!p->json && c == '/' && p->pos + 1 < p->len
                   && s[p->pos + 1] == '*') {
            start = p->line;
            p->pos += 2;
            for (;;) {
                if (p->pos + 1 >= p->len)
                    return cf_hcl_fail(p, start, "unterminated comment");
                if (s[p->pos] == '*' && s[p->pos + 1] == '/')
                    break;
                if (s[p->pos] == '\n') {
                    p->line++;
                    *nl = true;
                }
                p->pos++;
            }
            p->pos += 2;
        } else {
            break;
        }
    }
    return CF_OK;
}

/* "..." at p->pos: validate, then decode into a new string. */
static cf_err_t
cf_hcl_lex_string(cf_hcl_parser_t *p, char **out)
{
    const char  *s = p->s;
    char        *d = NULL;
    size_t       i, end, n = 0, k;
    uint32_t     cp, lo;
    int          line = p->line;

    *out = NULL;
    /* Pass 1: find the closing quote, so the copy can be sized. */
    for (end = p->pos + 1; end < p->len && s[end] != '"'; end++) {
        if (s[end] == '\n')
            return cf_hcl_fail(p, line, "unterminated string");
        if (s[end] == '\\')
            end++;
    }
    if (end >= p->len)
        return cf_hcl_fail(p, line, "unterminated string");
    if (end - p->pos - 1 > CF_HCL_MAX_STRING)
        return cf_hcl_fail(p, line, "string longer than 64 KiB");
    /* Decoded text is never longer than the escaped text. */
    if ((d = malloc(end - p->pos)) == NULL)
        return cf_hcl_nomem(p);
    for (i = p->pos + 1; i < end;) {
        unsigned char c = (unsigned char) s[i];

        if (c < 0x20 || c == 0x7f) {
            cf_hcl_fail(p, line, "control character in string");
            goto bad;
        }
        if (c >= 0x80) {
            if ((k = cf_hcl_utf8_len((const unsigned char *) s + i,
                                     end - i)) == 0) {
                cf_hcl_fail(p, line, "invalid UTF-8 in string");
                goto bad;
            }
            memcpy(d + n, s + i, k);
            n += k;
            i += k;
            continue;
        }
        if (c != '\\') {
            d[n++] = (char) c;
            i++;
            continue;
        }
        i++;
        switch (s[i]) {
        case '"':  d[n++] = '"'; break;
        case '\\': d[n++] = '\\'; break;
        case '/':  d[n++] = '/'; break;
        case 'b':  d[n++] = '\b'; break;
        case 'f':  d[n++] = '\f'; break;
        case 'n':  d[n++] = '\n'; break;
        case 'r':  d[n++] = '\r'; break;
        case 't':  d[n++] = '\t'; break;
        case 'u':
            if (!cf_hcl_hex4(s + i + 1, end - i - 1, &cp)) {
                cf_hcl_fail(p, line, "bad \\u escape in string");
                goto bad;
            }
            i += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                cf_hcl_fail(p, line, "bad \\u escape in string");
                goto bad;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                /* A high surrogate needs its low half right after. */
                if (end - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u'
                    || !cf_hcl_hex4(s + i + 3, end - i - 3, &lo)
                    || lo < 0xdc00 || lo > 0xdfff) {
                    cf_hcl_fail(p, line, "bad \\u escape in string");
                    goto bad;
                }
                i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0) {
                cf_hcl_fail(p, line, "NUL character in string");
                goto bad;
            }
            n += cf_hcl_utf8_put(d + n, cp);
            break;
        default:
            cf_hcl_fail(p, line, "unknown escape in string");
            goto bad;
        }
        i++;
    }
    d[n] = '\0';
    p->pos = end + 1;
    *out = d;
    return CF_OK;
bad:
    OPENSSL_cleanse(d, end - p->pos);
    free(d);
    return CF_ERR_INVALID;
}

/* Is line [b, e) the heredoc anchor, give or take surrounding blanks? */
static bool
cf_hcl_is_anchor(const char *b, const char *e, const char *a, size_t alen)
{
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    return (size_t) (e - b) == alen && memcmp(b, a, alen) == 0;
}

/* <<EOT or <<-EOT at p->pos. */
static cf_err_t
cf_hcl_lex_heredoc(cf_hcl_parser_t *p, char **out)
{
    const char  *s = p->s, *anchor, *b, *e, *body, *bend = NULL, *q;
    size_t       alen, indent = SIZE_MAX, k, n = 0, i;
    char        *d;
    bool         strip = false;
    int          line = p->line, lines = 0;

    *out = NULL;
    p->pos += 2;
    if (p->pos < p->len && s[p->pos] == '-') {
        strip = true;
        p->pos++;
    }
    anchor = s + p->pos;
    if (p->pos >= p->len || !cf_hcl_is_ident_start((unsigned char) *anchor))
        return cf_hcl_fail(p, line, "expected a heredoc anchor after '<<'");
    while (p->pos < p->len && (cf_hcl_is_ident((unsigned char) s[p->pos])))
        p->pos++;
    alen = (size_t) (s + p->pos - anchor);
    while (p->pos < p->len && (s[p->pos] == ' ' || s[p->pos] == '\t'
                               || s[p->pos] == '\r'))
        p->pos++;
    if (p->pos >= p->len || s[p->pos] != '\n')
        return cf_hcl_fail(p, line, "heredoc anchor must end the line");
    body = s + p->pos + 1;
    /* Find the closing line; note the smallest indent for <<-. */
    for (b = body; b < s + p->len; b = e + 1) {
        e = memchr(b, '\n', (size_t) (s + p->len - b));
        if (e == NULL)
            e = s + p->len;
        lines++;
        if (cf_hcl_is_anchor(b, e, anchor, alen)) {
            bend = b;
            break;
        }
        for (q = b; q < e && (*q == ' ' || *q == '\t'); q++)
            ;
        if (q < e && *q != '\r' && (size_t) (q - b) < indent)
            indent = (size_t) (q - b);
        if (e == s + p->len)
            break;
    }
    if (bend == NULL)
        return cf_hcl_fail(p, line, "heredoc is not terminated");
    if ((size_t) (bend - body) > CF_HCL_MAX_STRING)
        return cf_hcl_fail(p, line, "heredoc longer than 64 KiB");
    if (!strip || indent == SIZE_MAX)
        indent = 0;
    if ((d = malloc((size_t) (bend - body) + 1)) == NULL)
        return cf_hcl_nomem(p);
    for (b = body; b < bend; b = e + 1) {
        e = memchr(b, '\n', (size_t) (bend - b));
        for (k = 0; k < indent && b + k < e && (b[k] == ' ' || b[k] == '\t');
             k++)
            ;
        for (i = k; b + i <= e;) {
            unsigned char c = (unsigned char) b[i];

            if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n')
                || c == 0x7f) {
                cf_hcl_fail(p, line, "control character in heredoc");
                goto bad;
            }
            if ((k = cf_hcl_utf8_len((const unsigned char *) b + i,
                                     (size_t) (e - b) + 1 - i)) == 0) {
                cf_hcl_fail(p, line, "invalid UTF-8 in heredoc");
                goto bad;
            }
            memcpy(d + n, b + i, k);
            n += k;
            i += k;
        }
    }
    d[n] = '\0';
    /* Leave the newline after the anchor for the caller's separator. */
    p->line += lines;
    p->pos = (size_t) (bend - s);
    while (s[p->pos] == ' ' || s[p->pos] == '\t')
        p->pos++;
    p->pos += alen;
    *out = d;
    return CF_OK;
bad:
    OPENSSL_cleanse(d, (size_t) (bend - body) + 1);
    free(d);
    return CF_ERR_INVALID;
}

/* JSON-shaped decimal number at p->pos. */
static cf_err_t
cf_hcl_lex_number(cf_hcl_parser_t *p, char **out)
{
    const char  *s = p->s;
    size_t       i = p->pos, n;

    *out = NULL;
    if (s[i] == '-')
        i++;
    if (i >= p->len || !cf_hcl_is_digit((unsigned char) s[i]))
        return cf_hcl_fail(p, p->line, "malformed number");
    if (s[i] == '0')
        i++;
    else
        while (i < p->len && cf_hcl_is_digit((unsigned char) s[i]))
            i++;
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || !cf_hcl_is_digit((unsigned char) s[i]))
            return cf_hcl_fail(p, p->line, "malformed number");
        while (i < p->len && cf_hcl_is_digit((unsigned char) s[i]))
            i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->len || !cf_hcl_is_digit((unsigned char) s[i]))
            return cf_hcl_fail(p, p->line, "malformed number");
        while (i < p->len && cf_hcl_is_digit((unsigned char) s[i]))
            i++;
    }
    /* "30s" or "0123" unquoted: refuse rather than split in two tokens. */
    if (i < p->len && (cf_hcl_is_ident((unsigned char) s[i]) || s[i] == '.'))
        return cf_hcl_fail(p, p->line, "malformed number (quote it?)");
    n = i - p->pos;
    if (n > 256)
        return cf_hcl_fail(p, p->line, "number too long");
    if ((*out = strndup(s + p->pos, n)) == NULL)
        return cf_hcl_nomem(p);
    p->pos = i;
    return CF_OK;
}

/* Replace p->tok with the next token. */
static cf_err_t
cf_hcl_next(cf_hcl_parser_t *p)
{
    const char  *s = p->s;
    size_t       start;
    cf_err_t     rc;
    bool         nl;
    char         c;

    cf_hcl_str_free(p->tok.text);
    memset(&p->tok, 0, sizeof(p->tok));
    if ((rc = cf_hcl_skip(p, &nl)) != CF_OK)
        return rc;
    p->tok.nl_before = nl;
    p->tok.line = p->line;
    if (p->pos >= p->len) {
        p->tok.type = CF_HCL_T_EOF;
        return CF_OK;
    }
    c = s[p->pos];
    switch (c) {
    case '{': p->tok.type = CF_HCL_T_LBRACE; p->pos++; return CF_OK;
    case '}': p->tok.type = CF_HCL_T_RBRACE; p->pos++; return CF_OK;
    case '[': p->tok.type = CF_HCL_T_LBRACK; p->pos++; return CF_OK;
    case ']': p->tok.type = CF_HCL_T_RBRACK; p->pos++; return CF_OK;
    case ',': p->tok.type = CF_HCL_T_COMMA; p->pos++; return CF_OK;
    case ':':
        if (!p->json)
            break;
        p->tok.type = CF_HCL_T_COLON;
        p->pos++;
        return CF_OK;
    case '=':
        if (p->json)
            break;
        p->tok.type = CF_HCL_T_EQUALS;
        p->pos++;
        return CF_OK;
    case '"':
        p->tok.type = CF_HCL_T_STRING;
        return cf_hcl_lex_string(p, &p->tok.text);
    case '<':
        if (p->json || p->pos + 1 >= p->len || s[p->pos + 1] != '<')
            break;
        p->tok.type = CF_HCL_T_STRING;
        p->tok.heredoc = true;
        return cf_hcl_lex_heredoc(p, &p->tok.text);
    default:
        break;
    }
    if (c == '-' || cf_hcl_is_digit((unsigned char) c)) {
        p->tok.type = CF_HCL_T_NUMBER;
        return cf_hcl_lex_number(p, &p->tok.text);
    }
    if (cf_hcl_is_ident_start((unsigned char) c)) {
        start = p->pos;
        while (p->pos < p->len && cf_hcl_is_ident((unsigned char) s[p->pos]))
            p->pos++;
        if (p->pos - start > CF_HCL_MAX_STRING)
            return cf_hcl_fail(p, p->line, "identifier longer than 64 KiB");
        p->tok.type = CF_HCL_T_IDENT;
        if ((p->tok.text = strndup(s + start, p->pos - start)) == NULL)
            return cf_hcl_nomem(p);
        return CF_OK;
    }
    /* Never show the character: it may be part of an unquoted secret. */
    return cf_hcl_fail(p, p->line, "unexpected character");
}

/* ---- tree ---------------------------------------------------------------- */

static void
cf_hcl_str_free(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void
cf_hcl_free(cf_hcl_node_t *n)
{
    cf_hcl_node_t  *next;
    size_t          i;

    /* Depth is bounded by the parser, so recursing on children is safe;
     * siblings are walked iteratively. */
    while (n != NULL) {
        next = n->next;
        cf_hcl_free(n->child);
        cf_hcl_str_free(n->key);
        for (i = 0; i < n->nlabels; i++)
            cf_hcl_str_free(n->labels[i]);
        free(n->labels);
        cf_hcl_str_free(n->str);
        free(n);
        n = next;
    }
}

static cf_hcl_node_t *
cf_hcl_node_new(cf_hcl_type_t type, int line)
{
    cf_hcl_node_t  *n;

    n = calloc(1, sizeof(*n));
    if (n != NULL) {
        n->type = type;
        n->line = line;
    }
    return n;
}

/* Take the current token's text. */
static char *
cf_hcl_take(cf_hcl_parser_t *p)
{
    char  *t = p->tok.text;

    p->tok.text = NULL;
    return t;
}

static cf_err_t cf_hcl_parse_value(cf_hcl_parser_t *p, int depth,
                                   cf_hcl_node_t **out);
static cf_err_t cf_hcl_parse_body(cf_hcl_parser_t *p, cf_hcl_node_t *parent,
                                  int depth, int open_line);

/* A scalar token into a node; CF_OK with *out NULL if it is no scalar. */
static cf_err_t
cf_hcl_parse_scalar(cf_hcl_parser_t *p, cf_hcl_node_t **out)
{
    cf_hcl_node_t  *n = NULL;
    cf_hcl_tok_t   *t = &p->tok;
    cf_err_t        rc;

    *out = NULL;
    switch (t->type) {
    case CF_HCL_T_STRING:
        if ((n = cf_hcl_node_new(CF_HCL_STRING, t->line)) == NULL)
            return cf_hcl_nomem(p);
        n->str = cf_hcl_take(p);
        break;
    case CF_HCL_T_NUMBER:
        if ((n = cf_hcl_node_new(CF_HCL_NUMBER, t->line)) == NULL)
            return cf_hcl_nomem(p);
        n->num = strtod(t->text, NULL);
        n->str = cf_hcl_take(p);
        if (!isfinite(n->num)) {
            cf_hcl_free(n);
            return cf_hcl_fail(p, t->line, "number out of range");
        }
        break;
    case CF_HCL_T_IDENT:
        if (strcmp(t->text, "true") != 0 && strcmp(t->text, "false") != 0) {
            if (strcmp(t->text, "null") == 0)
                return cf_hcl_fail(p, t->line, "null is not supported");
            return cf_hcl_fail(p, t->line,
                               "expected a value (strings need quotes)");
        }
        if ((n = cf_hcl_node_new(CF_HCL_BOOL, t->line)) == NULL)
            return cf_hcl_nomem(p);
        n->boolean = t->text[0] == 't';
        break;
    default:
        return CF_OK;
    }
    if ((rc = cf_hcl_next(p)) != CF_OK) {
        cf_hcl_free(n);
        return rc;
    }
    *out = n;
    return CF_OK;
}

static cf_err_t
cf_hcl_check_depth(cf_hcl_parser_t *p, int depth)
{
    if (depth > CF_HCL_MAX_DEPTH)
        return cf_hcl_fail(p, p->tok.line, "nesting deeper than %d",
                           CF_HCL_MAX_DEPTH);
    return CF_OK;
}

/* '[' at p->tok. HCL allows a trailing comma, JSON does not. */
static cf_err_t
cf_hcl_parse_list(cf_hcl_parser_t *p, int depth, cf_hcl_node_t **out)
{
    cf_hcl_node_t   *list, *v, **tail;
    int              open = p->tok.line;
    cf_err_t         rc;

    *out = NULL;
    if ((rc = cf_hcl_check_depth(p, depth)) != CF_OK)
        return rc;
    if ((list = cf_hcl_node_new(CF_HCL_LIST, open)) == NULL)
        return cf_hcl_nomem(p);
    tail = &list->child;
    if ((rc = cf_hcl_next(p)) != CF_OK)
        goto out;
    for (;;) {
        if (p->tok.type == CF_HCL_T_EOF) {
            rc = cf_hcl_fail(p, open, "unclosed '['");
            goto out;
        }
        if (p->tok.type == CF_HCL_T_RBRACK && (!p->json || !list->child))
            break;
        if ((rc = cf_hcl_parse_value(p, depth, &v)) != CF_OK)
            goto out;
        *tail = v;
        tail = &v->next;
        if (p->tok.type == CF_HCL_T_COMMA) {
            if ((rc = cf_hcl_next(p)) != CF_OK)
                goto out;
        } else if (p->tok.type == CF_HCL_T_RBRACK) {
            break;
        } else if (p->tok.type == CF_HCL_T_EOF) {
            rc = cf_hcl_fail(p, open, "unclosed '['");
            goto out;
        } else {
            rc = cf_hcl_fail(p, p->tok.line, "expected ',' or ']' in list");
            goto out;
        }
    }
    rc = cf_hcl_next(p);
out:
    if (rc != CF_OK) {
        cf_hcl_free(list);
        return rc;
    }
    *out = list;
    return CF_OK;
}

/* JSON object after its '{': "k": value members, strictly comma-separated.
 * Members are appended to obj. */
static cf_err_t
cf_hcl_parse_json_members(cf_hcl_parser_t *p, cf_hcl_node_t *obj, int depth,
                          int open)
{
    cf_hcl_node_t  **tail = &obj->child, *v;
    char            *key;
    int              line;
    cf_err_t         rc;

    if (p->tok.type == CF_HCL_T_RBRACE)
        return cf_hcl_next(p);
    for (;;) {
        if (p->tok.type == CF_HCL_T_EOF)
            return cf_hcl_fail(p, open, "unclosed '{'");
        if (p->tok.type != CF_HCL_T_STRING)
            return cf_hcl_fail(p, p->tok.line, "expected a string key");
        line = p->tok.line;
        key = cf_hcl_take(p);
        if ((rc = cf_hcl_next(p)) != CF_OK) {
            cf_hcl_str_free(key);
            return rc;
        }
        if (p->tok.type != CF_HCL_T_COLON) {
            cf_hcl_str_free(key);
            return cf_hcl_fail(p, p->tok.line, "expected ':' after key");
        }
        if ((rc = cf_hcl_next(p)) != CF_OK
            || (rc = cf_hcl_parse_value(p, depth, &v)) != CF_OK) {
            cf_hcl_str_free(key);
            return rc;
        }
        v->key = key;
        v->line = line;
        *tail = v;
        tail = &v->next;
        if (p->tok.type == CF_HCL_T_RBRACE)
            return cf_hcl_next(p);
        if (p->tok.type == CF_HCL_T_EOF)
            return cf_hcl_fail(p, open, "unclosed '{'");
        if (p->tok.type != CF_HCL_T_COMMA)
            return cf_hcl_fail(p, p->tok.line, "expected ',' or '}'");
        if ((rc = cf_hcl_next(p)) != CF_OK)
            return rc;
    }
}

/* '{' at p->tok: an object value. */
static cf_err_t
cf_hcl_parse_object(cf_hcl_parser_t *p, int depth, cf_hcl_node_t **out)
{
    cf_hcl_node_t  *obj;
    int             open = p->tok.line;
    cf_err_t        rc;

    *out = NULL;
    if ((rc = cf_hcl_check_depth(p, depth)) != CF_OK)
        return rc;
    if ((obj = cf_hcl_node_new(CF_HCL_OBJECT, open)) == NULL)
        return cf_hcl_nomem(p);
    if ((rc = cf_hcl_next(p)) == CF_OK) {
        if (p->json)
            rc = cf_hcl_parse_json_members(p, obj, depth, open);
        else
            rc = cf_hcl_parse_body(p, obj, depth, open);
    }
    if (rc != CF_OK) {
        cf_hcl_free(obj);
        return rc;
    }
    *out = obj;
    return CF_OK;
}

/* Any value; depth is that of the enclosing container. */
static cf_err_t
cf_hcl_parse_value(cf_hcl_parser_t *p, int depth, cf_hcl_node_t **out)
{
    cf_err_t  rc;

    *out = NULL;
    if (p->tok.type == CF_HCL_T_LBRACK)
        return cf_hcl_parse_list(p, depth + 1, out);
    if (p->tok.type == CF_HCL_T_LBRACE)
        return cf_hcl_parse_object(p, depth + 1, out);
    if ((rc = cf_hcl_parse_scalar(p, out)) != CF_OK)
        return rc;
    if (*out == NULL)
        return cf_hcl_fail(p, p->tok.line, "expected a value");
    return CF_OK;
}

/* After an item: a newline, a ',', the closing '}' or the end. */
static cf_err_t
cf_hcl_parse_separator(cf_hcl_parser_t *p)
{
    if (p->tok.type == CF_HCL_T_COMMA)
        return cf_hcl_next(p);
    if (p->tok.nl_before || p->tok.type == CF_HCL_T_RBRACE
        || p->tok.type == CF_HCL_T_EOF)
        return CF_OK;
    return cf_hcl_fail(p, p->tok.line,
                       "expected a newline or ',' after the value");
}

/* key label* '{' body '}' with key taken and labels at p->tok. */
static cf_err_t
cf_hcl_parse_block(cf_hcl_parser_t *p, cf_hcl_node_t *blk, int depth)
{
    int       open;
    cf_err_t  rc;

    while ((p->tok.type == CF_HCL_T_STRING || p->tok.type == CF_HCL_T_IDENT)
           && !p->tok.heredoc) {
        if (blk->nlabels == CF_HCL_MAX_LABELS)
            return cf_hcl_fail(p, p->tok.line, "too many block labels");
        if (blk->labels == NULL
            && (blk->labels = calloc(CF_HCL_MAX_LABELS, sizeof(char *)))
               == NULL)
            return cf_hcl_nomem(p);
        blk->labels[blk->nlabels++] = cf_hcl_take(p);
        if ((rc = cf_hcl_next(p)) != CF_OK)
            return rc;
    }
    if (p->tok.type != CF_HCL_T_LBRACE) {
        if (blk->nlabels == 0)
            return cf_hcl_fail(p, p->tok.line, "expected '=' after key");
        return cf_hcl_fail(p, p->tok.line,
                           "expected '{' after the block labels");
    }
    open = p->tok.line;
    if ((rc = cf_hcl_check_depth(p, depth + 1)) != CF_OK
        || (rc = cf_hcl_next(p)) != CF_OK)
        return rc;
    return cf_hcl_parse_body(p, blk, depth + 1, open);
}

/* Items until '}' (consumed) or, at the top (open_line 0), the end. */
static cf_err_t
cf_hcl_parse_body(cf_hcl_parser_t *p, cf_hcl_node_t *parent, int depth,
                  int open_line)
{
    cf_hcl_node_t  **tail = &parent->child, *n;
    char            *key;
    int              line;
    cf_err_t         rc;

    for (;;) {
        if (p->tok.type == CF_HCL_T_EOF) {
            if (open_line > 0)
                return cf_hcl_fail(p, open_line, "unclosed '{'");
            return CF_OK;
        }
        if (p->tok.type == CF_HCL_T_RBRACE) {
            if (open_line > 0)
                return cf_hcl_next(p);
            return cf_hcl_fail(p, p->tok.line, "unexpected '}'");
        }
        if ((p->tok.type != CF_HCL_T_IDENT
             && p->tok.type != CF_HCL_T_STRING) || p->tok.heredoc)
            return cf_hcl_fail(p, p->tok.line, "expected a key");
        line = p->tok.line;
        key = cf_hcl_take(p);
        if ((rc = cf_hcl_next(p)) != CF_OK) {
            cf_hcl_str_free(key);
            return rc;
        }
        if (p->tok.type == CF_HCL_T_EQUALS) {
            if ((rc = cf_hcl_next(p)) != CF_OK
                || (rc = cf_hcl_parse_value(p, depth, &n)) != CF_OK) {
                cf_hcl_str_free(key);
                return rc;
            }
            n->key = key;
            n->line = line;
            *tail = n;
            tail = &n->next;
        } else {
            if ((n = cf_hcl_node_new(CF_HCL_BLOCK, line)) == NULL) {
                cf_hcl_str_free(key);
                return cf_hcl_nomem(p);
            }
            n->key = key;
            /* Linked first, so the tree frees it on any error. */
            *tail = n;
            tail = &n->next;
            if ((rc = cf_hcl_parse_block(p, n, depth)) != CF_OK)
                return rc;
        }
        if ((rc = cf_hcl_parse_separator(p)) != CF_OK)
            return rc;
    }
}

cf_err_t
cf_hcl_parse(const char *text, size_t len, cf_hcl_node_t **out, char *err,
             size_t errlen)
{
    cf_hcl_parser_t   p;
    cf_hcl_node_t    *root = NULL;
    size_t            i;
    cf_err_t          rc;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(&p, 0, sizeof(p));
    p.s = text;
    p.len = len;
    p.line = 1;
    p.err = err;
    p.errlen = errlen;
    if (text == NULL && len > 0)
        return cf_hcl_fail(&p, 1, "no input");
    if (len > CF_HCL_MAX_INPUT)
        return cf_hcl_fail(&p, 1, "input larger than 1 MiB");
    if ((root = cf_hcl_node_new(CF_HCL_OBJECT, 1)) == NULL)
        return cf_hcl_nomem(&p);
    /* A leading '{' can only be JSON: an HCL body starts with a key. */
    for (i = 0; i < len && (text[i] == ' ' || text[i] == '\t'
                            || text[i] == '\r' || text[i] == '\n'); i++)
        ;
    p.json = i < len && text[i] == '{';
    if ((rc = cf_hcl_next(&p)) != CF_OK)
        goto out;
    if (p.json) {
        if ((rc = cf_hcl_next(&p)) != CF_OK
            || (rc = cf_hcl_parse_json_members(&p, root, 0, 1)) != CF_OK)
            goto out;
        if (p.tok.type != CF_HCL_T_EOF)
            rc = cf_hcl_fail(&p, p.tok.line,
                             "unexpected text after the JSON object");
    } else {
        rc = cf_hcl_parse_body(&p, root, 0, 0);
    }
out:
    cf_hcl_str_free(p.tok.text);
    if (rc != CF_OK) {
        cf_hcl_free(root);
        return rc;
    }
    *out = root;
    return CF_OK;
}

/* ---- walking ------------------------------------------------------------- */

/* Each OBJECT child of obj is one block labelled by its key. */
static cf_err_t
cf_hcl_blocks_object(const cf_hcl_node_t *obj, cf_hcl_block_fn fn,
                     void *arg, int *line)
{
    const cf_hcl_node_t  *c;
    cf_err_t              rc;

    for (c = obj->child; c != NULL; c = c->next) {
        *line = c->line;
        if (c->type != CF_HCL_OBJECT || c->key == NULL)
            return CF_ERR_INVALID;
        if ((rc = fn(c->key, c, arg)) != CF_OK)
            return rc;
    }
    return CF_OK;
}

cf_err_t
cf_hcl_blocks(const cf_hcl_node_t *parent, const char *name,
              cf_hcl_block_fn fn, void *arg, int *line)
{
    const cf_hcl_node_t  *n, *e;
    int                   dummy;
    cf_err_t              rc = CF_OK;

    if (line == NULL)
        line = &dummy;
    if (parent == NULL)
        return CF_OK;
    for (n = parent->child; n != NULL && rc == CF_OK; n = n->next) {
        if (n->key == NULL || strcmp(n->key, name) != 0)
            continue;
        *line = n->line;
        switch (n->type) {
        case CF_HCL_BLOCK:
            if (n->nlabels != 1)
                return CF_ERR_INVALID;
            rc = fn(n->labels[0], n, arg);
            break;
        case CF_HCL_OBJECT:
            rc = cf_hcl_blocks_object(n, fn, arg, line);
            break;
        case CF_HCL_LIST:
            for (e = n->child; e != NULL && rc == CF_OK; e = e->next) {
                *line = e->line;
                if (e->type != CF_HCL_OBJECT)
                    return CF_ERR_INVALID;
                rc = cf_hcl_blocks_object(e, fn, arg, line);
            }
            break;
        default:
            return CF_ERR_INVALID;
        }
    }
    return rc;
}
