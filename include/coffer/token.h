/*
 * token: the token store's core: create, look up and describe tokens.
 *
 * Tokens are "hvs." + 24 random bytes in base62, from the HSM. They are
 * stored only by their HMAC (token HMAC key on the token):
 * "sys/token/id/<hex hmac>" holds the entry, "sys/token/accessor/<hex
 * hmac of accessor>" the id HMAC. Thread-safe.
 */
#ifndef COFFER_TOKEN_H
#define COFFER_TOKEN_H

#include <jansson.h>
#include <stdbool.h>

#include "coffer/engine.h"
#include "coffer/err.h"
#include "coffer/req.h"
#include "coffer/server.h"

struct cf_token_s {
    char    *id_hmac;       /* hex HMAC of the token */
    json_t  *entry;         /* the stored entry (owned) */
    bool     root;          /* has the root policy */
};

/* Label of the token HMAC key on the HSM. */
#define CF_TOKEN_HMAC_LABEL  "coffer/token-hmac"

/* Create the root token; `id` NULL means random, else that exact string
 * (dev mode's -dev-root-token-id). *token_out is malloc'd (free with
 * cf_mem_free_str). */
cf_err_t cf_token_create_root(cf_server_t *srv, const char *id,
                              char **token_out);

/* Resolve a client token. CF_ERR_PERMISSION when unknown or expired.
 * *out owned by the caller (cf_token_free). */
cf_err_t cf_token_lookup(cf_server_t *srv, const char *token,
                         cf_token_t **out);

void cf_token_free(cf_token_t *t);

/* The auth/token/lookup-self "data" object for t (owned). */
json_t *cf_token_describe(const cf_token_t *t, const char *client_token);

/* Engine for auth/token/ (lookup-self for now). */
extern const cf_engine_t  cf_token_engine;

#endif
