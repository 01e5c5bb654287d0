/*
 * mem: byte buffers, secrets on OpenSSL's secure heap, string lists, and
 * the zeroing allocator jansson uses.
 *
 * cf_buf_t: an owned, growable byte buffer; cf_buf_free() zeroes it.
 * cf_secret_t: an opaque secret (PIN, share, token, data key) on the secure
 *   heap; read it only through cf_secret_data(), which is deliberate.
 * cf_strlist_t: an owned array of owned strings.
 * None of these objects is shared between threads by this module.
 */
#ifndef COFFER_MEM_H
#define COFFER_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "coffer/err.h"

/* Start the secure heap and route jansson through a zeroing allocator.
 * Call once at start, before any thread. */
cf_err_t cf_mem_init(void);

/* malloc/free that zero on free (size-prefixed). For jansson and any
 * memory that may hold plaintext. cf_mem_free(NULL) is a no-op. */
void *cf_mem_alloc(size_t len);
void cf_mem_free(void *p);

/* Zero-then-free a NUL-terminated string from malloc/strdup. */
void cf_mem_free_str(char *s);

typedef struct {
    unsigned char *data;
    size_t         len;
    size_t         cap;
} cf_buf_t;

/* New empty buffer with room for cap bytes; NULL on OOM. Free with
 * cf_buf_free. data is NUL-terminated from the start, and append keeps
 * it so (room for the NUL is part of cap). */
cf_buf_t *cf_buf_new(size_t cap);

/* New buffer holding a copy of len bytes; NULL on OOM. */
cf_buf_t *cf_buf_new_copy(const void *data, size_t len);

/* Append; grows as needed. CF_ERR_NOMEM leaves b unchanged. */
cf_err_t cf_buf_append(cf_buf_t *b, const void *data, size_t len);

/* Make sure cap >= len + extra. */
cf_err_t cf_buf_reserve(cf_buf_t *b, size_t extra);

/* Zero and free; NULL-safe. */
void cf_buf_free(cf_buf_t *b);

typedef struct cf_secret_s cf_secret_t;

/* New zeroed secret of len bytes on the secure heap; NULL on OOM. */
cf_secret_t *cf_secret_new(size_t len);

/* New secret holding a copy of len bytes; NULL on OOM. */
cf_secret_t *cf_secret_new_copy(const void *data, size_t len);

/* The bytes (len bytes, plus a NUL after them for C-string use). */
unsigned char *cf_secret_data(const cf_secret_t *s);
size_t cf_secret_len(const cf_secret_t *s);

/* Zero and free; NULL-safe. */
void cf_secret_free(cf_secret_t *s);

typedef struct {
    char   **items;
    size_t   len;
    size_t   cap;
} cf_strlist_t;

cf_strlist_t *cf_strlist_new(void);

/* Append a copy of s. */
cf_err_t cf_strlist_add(cf_strlist_t *l, const char *s);

/* Append s and take ownership of it (freed with the list). */
cf_err_t cf_strlist_add_take(cf_strlist_t *l, char *s);

/* Sort ascending (strcmp) and drop duplicates. */
void cf_strlist_sort_unique(cf_strlist_t *l);

/* NULL-safe. */
void cf_strlist_free(cf_strlist_t *l);

/* Hex and base64 helpers. Outputs are malloc'd NUL-terminated strings
 * (free with cf_mem_free_str) or buffers; NULL/CF_ERR_NOMEM on OOM. */
char *cf_hex_encode(const void *data, size_t len);
cf_err_t cf_hex_decode(const char *hex, cf_buf_t **out);     /* INVALID */
char *cf_b64_encode(const void *data, size_t len);
cf_err_t cf_b64_decode(const char *b64, cf_buf_t **out);     /* INVALID */

#endif
