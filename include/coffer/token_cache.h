/*
 * token_cache: resolved tokens kept in memory so a request does not pay
 * two HSM operations (HMAC of the token, barrier decrypt of its entry)
 * before it starts. Keyed by SHA-256 of the token string (computed in
 * software; the token itself is never kept), direct-mapped and bounded.
 * The token store invalidates an entry on every change of the token
 * (renew, use count, revoke, orphaning); tokens with num_uses are never
 * cached. Cleared at seal. Thread-safe.
 */
#ifndef COFFER_TOKEN_CACHE_H
#define COFFER_TOKEN_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "coffer/err.h"

typedef struct cf_token_cache_s  cf_token_cache_t;

cf_err_t cf_token_cache_new(cf_token_cache_t **out);
void cf_token_cache_free(cf_token_cache_t *c);          /* NULL-safe */

/* On a hit: *id_hmac (malloc'd) and *entry (a deep copy) owned by the
 * caller, true. */
bool cf_token_cache_get(cf_token_cache_t *c, const char *token,
                        char **id_hmac, json_t **entry);

/* The cache's generation: read it before loading a token from storage
 * and hand it to put, which then stores nothing if any forget or clear
 * happened in between (so a revoke racing a lookup cannot leave the
 * revoked token cached). */
uint64_t cf_token_cache_gen(cf_token_cache_t *c);

/* Remember token -> (id_hmac, copy of entry), unless the generation has
 * moved past gen. */
void cf_token_cache_put(cf_token_cache_t *c, const char *token,
                        const char *id_hmac, const json_t *entry,
                        uint64_t gen);

/* Forget the token with this id HMAC (after any change to it). */
void cf_token_cache_forget(cf_token_cache_t *c, const char *id_hmac);

/* Forget everything (seal). */
void cf_token_cache_clear(cf_token_cache_t *c);

#endif
