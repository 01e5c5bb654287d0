/*
 * token: the token store's core: create, look up, renew, revoke and
 * describe tokens.
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
#include <stdint.h>

#include "coffer/engine.h"
#include "coffer/err.h"
#include "coffer/req.h"
#include "coffer/server.h"

struct cf_token_s {
    char    *id_hmac;       /* hex HMAC of the token */
    json_t  *entry;         /* the stored entry (owned) */
    bool     root;          /* has the root policy */
    bool     used_up;       /* this request was its last use: it is
                               revoked already, and so are the leases
                               the request makes (core.c) */
};

/* Label of the token HMAC key on the HSM. */
#define CF_TOKEN_HMAC_LABEL  "coffer/token-hmac"

/* Non-periodic tokens never live longer than this from their creation
 * (Vault's system max_lease_ttl, 768h). */
#define CF_TOKEN_SYSTEM_MAX_TTL  (768L * 3600)

/* What a new token is made of. Borrowed for the call. */
typedef struct {
    const char  *id;            /* exact token string, or NULL = random */
    json_t      *policies;      /* array of strings */
    json_t      *meta;          /* object of strings, or NULL */
    const char  *display_name;
    const char  *path;          /* creation path, "auth/token/create" */
    const char  *entity_id;
    const char  *parent_hmac;   /* NULL makes an orphan */
    int64_t      ttl;           /* seconds; 0 = never expires (root) */
    int64_t      explicit_max_ttl;
    int64_t      period;
    int64_t      num_uses;      /* 0 = unlimited */
    bool         renewable;
    const json_t *bound_cidrs;  /* normalised CIDR list (cidr.h): the
                                   token is refused from elsewhere;
                                   NULL or empty = anywhere */
} cf_token_params_t;

/* Create a token. *token_out (cf_mem_free_str), *id_hmac_out (free) and
 * *entry_out (json_decref) are owned by the caller; the last two may be
 * NULL when not wanted. */
cf_err_t cf_token_create(cf_server_t *srv, const cf_token_params_t *p,
                         char **token_out, char **id_hmac_out,
                         json_t **entry_out);

/* Create the root token; `id` NULL means random, else that exact string
 * (dev mode's -dev-root-token-id). *token_out is malloc'd (free with
 * cf_mem_free_str). */
cf_err_t cf_token_create_root(cf_server_t *srv, const char *id,
                              char **token_out);

/* Resolve a client token: CF_ERR_PERMISSION when unknown or expired (an
 * expired token is revoked on the way). A use of a num_uses token is
 * counted here, atomically; the last use revokes it after this request.
 * *out owned by the caller (cf_token_free). */
cf_err_t cf_token_lookup(cf_server_t *srv, const char *token,
                         cf_token_t **out);

void cf_token_free(cf_token_t *t);

/* The stored entry of the token with this HMAC (owned); no checks. */
cf_err_t cf_token_load(cf_server_t *srv, const char *id_hmac,
                       json_t **entry);

/* The id HMAC of a token string / of the token with this accessor
 * (malloc'd). CF_ERR_NOT_FOUND for junk or an unknown accessor. */
cf_err_t cf_token_hmac_of(cf_server_t *srv, const char *token,
                          char **id_hmac);
cf_err_t cf_token_by_accessor(cf_server_t *srv, const char *accessor,
                              char **id_hmac);

/* Vault's "auth" block for a token just made or renewed (owned). */
json_t *cf_token_auth_block(const json_t *entry, const char *client_token);

/* names (array of strings, may be NULL) sorted and de-duplicated, with
 * "default" added unless no_default. Owned; NULL on OOM. */
json_t *cf_token_policies_normalise(const json_t *names, bool no_default);

/* auth/token/tidy: revoke expired tokens, drop accessor and child
 * indexes whose tokens are gone. *removed: tokens revoked. */
cf_err_t cf_token_tidy(cf_server_t *srv, unsigned *removed);

/* The id HMACs of every stored token (owned). */
cf_err_t cf_token_list_ids(cf_server_t *srv, cf_strlist_t **out);

/* Extend a renewable token by increment seconds (0 = its own TTL; a
 * periodic token gets its period), capped by explicit_max_ttl and the
 * system max. CF_ERR_INVALID if not renewable, CF_ERR_PERMISSION if no
 * time is left. *entry_out: the updated entry (owned). */
cf_err_t cf_token_renew(cf_server_t *srv, const char *id_hmac,
                        int64_t increment, json_t **entry_out);

/* Revoke a token and (tree) all its descendants, or (!tree) orphan its
 * children. Its cubbyhole goes with it. Idempotent. */
cf_err_t cf_token_revoke(cf_server_t *srv, const char *id_hmac, bool tree);

/* The auth/token/lookup "data" object for an entry (owned); client_token
 * may be NULL (lookup by accessor). */
json_t *cf_token_describe(const json_t *entry, const char *client_token);

/* Engine for auth/token/ (token_api.c). */
extern const cf_engine_t  cf_token_engine;

#endif
