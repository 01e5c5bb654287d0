/* mem: buffers, secure-heap secrets, string lists, zeroing allocator. */
#include "coffer/mem.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/log.h"

/* Size prefix keeps the block length so free can zero it. 16 bytes keep
 * the user pointer aligned for any type. */
#define CF_MEM_PREFIX  16

cf_err_t
cf_mem_init(void)
{
    /* 1 MiB of secure heap is plenty: PINs, shares, tokens, data keys. */
    if (CRYPTO_secure_malloc_initialized() == 0
        && CRYPTO_secure_malloc_init(1 << 20, 32) == 0)
        cf_log_warn("mem", "secure heap unavailable, using normal heap");
    json_set_alloc_funcs(cf_mem_alloc, cf_mem_free);
    return CF_OK;
}

void *
cf_mem_alloc(size_t len)
{
    unsigned char  *p;

    if (len > SIZE_MAX - CF_MEM_PREFIX)
        return NULL;
    p = malloc(len + CF_MEM_PREFIX);
    if (p == NULL)
        return NULL;
    memcpy(p, &len, sizeof(len));
    return p + CF_MEM_PREFIX;
}

void
cf_mem_free(void *ptr)
{
    unsigned char  *p;
    size_t          len;

    if (ptr == NULL)
        return;
    p = (unsigned char *) ptr - CF_MEM_PREFIX;
    memcpy(&len, p, sizeof(len));
    OPENSSL_cleanse(p, len + CF_MEM_PREFIX);
    free(p);
}

void
cf_mem_free_str(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

cf_buf_t *
cf_buf_new(size_t cap)
{
    cf_buf_t  *b;

    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    if (cap == 0)
        cap = 16;
    b->data = malloc(cap);
    if (b->data == NULL) {
        free(b);
        return NULL;
    }
    b->data[0] = '\0';         /* an empty buffer is an empty string too */
    b->cap = cap;
    return b;
}

cf_buf_t *
cf_buf_new_copy(const void *data, size_t len)
{
    cf_buf_t  *b;

    b = cf_buf_new(len + 1);
    if (b == NULL)
        return NULL;
    if (len > 0)
        memcpy(b->data, data, len);
    b->len = len;
    b->data[len] = '\0';    /* convenient for text; not counted */
    return b;
}

cf_err_t
cf_buf_reserve(cf_buf_t *b, size_t extra)
{
    unsigned char  *n;
    size_t          want;

    if (extra > SIZE_MAX - b->len - 1)
        return CF_ERR_NOMEM;
    want = b->len + extra + 1;
    if (want <= b->cap)
        return CF_OK;
    if (want < b->cap * 2)
        want = b->cap * 2;
    /* Not realloc: the old block may hold secrets and must be zeroed. */
    n = malloc(want);
    if (n == NULL)
        return CF_ERR_NOMEM;
    memcpy(n, b->data, b->len);
    OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
    b->data = n;
    b->cap = want;
    return CF_OK;
}

cf_err_t
cf_buf_append(cf_buf_t *b, const void *data, size_t len)
{
    cf_err_t  rc;

    if ((rc = cf_buf_reserve(b, len)) != CF_OK)
        return rc;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return CF_OK;
}

void
cf_buf_free(cf_buf_t *b)
{
    if (b == NULL)
        return;
    if (b->data != NULL) {
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    free(b);
}

struct cf_secret_s {
    size_t          len;
    unsigned char  *data;   /* secure heap, len + 1 bytes */
};

cf_secret_t *
cf_secret_new(size_t len)
{
    cf_secret_t  *s;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->data = OPENSSL_secure_zalloc(len + 1);
    if (s->data == NULL) {
        free(s);
        return NULL;
    }
    s->len = len;
    return s;
}

cf_secret_t *
cf_secret_new_copy(const void *data, size_t len)
{
    cf_secret_t  *s;

    s = cf_secret_new(len);
    if (s != NULL && len > 0)
        memcpy(s->data, data, len);
    return s;
}

unsigned char *
cf_secret_data(const cf_secret_t *s)
{
    return s->data;
}

size_t
cf_secret_len(const cf_secret_t *s)
{
    return s->len;
}

void
cf_secret_free(cf_secret_t *s)
{
    if (s == NULL)
        return;
    OPENSSL_secure_clear_free(s->data, s->len + 1);
    free(s);
}

cf_strlist_t *
cf_strlist_new(void)
{
    return calloc(1, sizeof(cf_strlist_t));
}

cf_err_t
cf_strlist_add_take(cf_strlist_t *l, char *s)
{
    char   **n;
    size_t   cap;

    if (s == NULL)
        return CF_ERR_NOMEM;
    if (l->len == l->cap) {
        cap = l->cap ? l->cap * 2 : 8;
        n = realloc(l->items, cap * sizeof(*n));
        if (n == NULL) {
            free(s);
            return CF_ERR_NOMEM;
        }
        l->items = n;
        l->cap = cap;
    }
    l->items[l->len++] = s;
    return CF_OK;
}

cf_err_t
cf_strlist_add(cf_strlist_t *l, const char *s)
{
    return cf_strlist_add_take(l, strdup(s));
}

static int
cf_strlist_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

void
cf_strlist_sort_unique(cf_strlist_t *l)
{
    size_t  i, j;

    if (l->len < 2)
        return;
    qsort(l->items, l->len, sizeof(char *), cf_strlist_cmp);
    for (i = 1, j = 1; i < l->len; i++) {
        if (strcmp(l->items[i], l->items[j - 1]) == 0)
            free(l->items[i]);
        else
            l->items[j++] = l->items[i];
    }
    l->len = j;
}

void
cf_strlist_free(cf_strlist_t *l)
{
    size_t  i;

    if (l == NULL)
        return;
    for (i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    free(l);
}

char *
cf_hex_encode(const void *data, size_t len)
{
    static const char     digits[] = "0123456789abcdef";
    const unsigned char  *p = data;
    char                 *s;
    size_t                i;

    s = malloc(len * 2 + 1);
    if (s == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 0xf];
    }
    s[len * 2] = '\0';
    return s;
}

static int
cf_hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

cf_err_t
cf_hex_decode(const char *hex, cf_buf_t **out)
{
    cf_buf_t  *b;
    size_t     n, i;
    int        hi, lo;

    *out = NULL;
    n = strlen(hex);
    if (n % 2 != 0)
        return CF_ERR_INVALID;
    if ((b = cf_buf_new(n / 2 + 1)) == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; i < n; i += 2) {
        hi = cf_hex_nibble(hex[i]);
        lo = cf_hex_nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            cf_buf_free(b);
            return CF_ERR_INVALID;
        }
        b->data[b->len++] = (unsigned char) (hi << 4 | lo);
    }
    b->data[b->len] = '\0';
    *out = b;
    return CF_OK;
}

char *
cf_b64_encode(const void *data, size_t len)
{
    char  *s;

    if (len > (SIZE_MAX / 4) * 3 - 3)
        return NULL;
    s = malloc(4 * ((len + 2) / 3) + 1);
    if (s == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *) s, data, (int) len);
    return s;
}

cf_err_t
cf_b64_decode(const char *b64, cf_buf_t **out)
{
    cf_buf_t  *b;
    size_t     n, pad = 0, i;
    int        got;

    *out = NULL;
    n = strlen(b64);
    if (n % 4 != 0 || n > (size_t) INT32_MAX)
        return CF_ERR_INVALID;
    for (i = 0; i < n; i++) {
        char c = b64[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '+' || c == '/'
              || (c == '=' && i >= n - 2)))
            return CF_ERR_INVALID;
    }
    if (n >= 1 && b64[n - 1] == '=')
        pad++;
    if (n >= 2 && b64[n - 2] == '=')
        pad++;
    if (pad == 1 && b64[n - 2] == '=')
        return CF_ERR_INVALID;
    if ((b = cf_buf_new(n / 4 * 3 + 1)) == NULL)
        return CF_ERR_NOMEM;
    got = n ? EVP_DecodeBlock(b->data, (const unsigned char *) b64, (int) n)
            : 0;
    if (got < 0) {
        cf_buf_free(b);
        return CF_ERR_INVALID;
    }
    b->len = (size_t) got - pad;
    b->data[b->len] = '\0';
    *out = b;
    return CF_OK;
}
