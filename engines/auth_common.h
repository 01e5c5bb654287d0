/*
 * auth_common: what every auth method shares — Vault's "token_*" fields
 * on users/roles (token_policies, token_ttl, ...), issuing the token of
 * a successful login with Vault's "auth" block, and password hashing.
 * Internal to engines/.
 */
#ifndef COFFER_ENGINES_AUTH_COMMON_H
#define COFFER_ENGINES_AUTH_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "coffer/engine.h"
#include "coffer/req.h"

/* Read the token_* fields (and the legacy "policies", "ttl", "max_ttl",
 * "period" names) from req into the stored object `into`, keeping what is
 * already there for fields not given. 400 naming the field on bad input. */
cf_err_t cf_auth_token_fields_parse(cf_req_t *req, json_t *into);

/* The token_* fields of a stored object as Vault reads them back (into
 * out, which is an object). */
void cf_auth_token_fields_describe(const json_t *stored, json_t *out);

/* Issue the token of a successful login from the stored token_* fields
 * and reply with Vault's auth block. meta: object of strings (borrowed,
 * may be NULL); display: "userpass-alice"; path: "auth/userpass/login/
 * alice". */
cf_err_t cf_auth_issue_token(cf_req_t *req, const json_t *stored,
                             const char *display, const char *path,
                             json_t *meta);

/* The same, for the login of alias_name on this mount: the alias (and a
 * new entity on first login) is found or made in the identity store and
 * the token carries the entity; the entity's and its groups' policies
 * apply on every request. A disabled entity cannot log in. */
cf_err_t cf_auth_issue_login(cf_req_t *req, const json_t *stored,
                             const char *display, const char *path,
                             json_t *meta, const char *alias_name);

/* scrypt password hash with a fresh salt, as a JSON object (owned). */
json_t *cf_auth_password_hash(const char *password);

/* Whether password matches hash (constant time). hash NULL runs the same
 * work against a dummy so unknown users cost what known ones do. */
bool cf_auth_password_check(const json_t *hash, const char *password);

/* The generic failure of a login, the same for every cause. */
cf_err_t cf_auth_login_failed(cf_req_t *req);

#endif
