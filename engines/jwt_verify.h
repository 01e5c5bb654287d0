/*
 * jwt_verify: the JOSE and HTTP pieces the jwt and kubernetes auth
 * methods share. Parses a compact JWS, verifies its signature with
 * OpenSSL EVP against PEM keys or a JWKS (RS256/384/512, PS256/384/512,
 * ES256/384/512, EdDSA; never "none" or HMAC), checks its time claims,
 * reads claims by name or JSON pointer, matches Vault's globs, and
 * fetches JSON documents over HTTP(S) with libcurl (jwt_http.c); and
 * keeps the roles both methods store (jwt_role.c). Internal to engines/.
 *
 * Thread-safety: no shared state; libcurl's global init runs once.
 * Failures carry a short static reason (*why) for a debug log line; it
 * never holds token bytes.
 */
#ifndef COFFER_ENGINES_JWT_VERIFY_H
#define COFFER_ENGINES_JWT_VERIFY_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "coffer/err.h"
#include "coffer/mem.h"
#include "coffer/req.h"

/* Largest compact JWT accepted, in bytes. */
#define CF_JWT_MAX_LEN  (64 * 1024)

/* A parsed, not yet verified, compact JWS. */
typedef struct {
    json_t      *header;        /* owned */
    json_t      *claims;        /* owned */
    const char  *alg;           /* in header */
    const char  *kid;           /* in header, or NULL */
    char        *signed_part;   /* "<header>.<payload>", owned */
    size_t       signed_len;
    cf_buf_t    *sig;           /* owned */
} cf_jwt_t;

/* Parse compact; CF_ERR_INVALID (with *why) when it is not a JWS with
 * JSON header and claims objects. *out: free with cf_jwt_free. */
cf_err_t cf_jwt_parse(const char *compact, cf_jwt_t **out,
                      const char **why);

/* NULL-safe. */
void cf_jwt_free(cf_jwt_t *t);

/* Whether alg names a signature algorithm this module verifies. */
bool cf_jwt_alg_known(const char *alg);

/* The public key of a PEM public key or certificate; NULL if it is
 * neither. Owned: EVP_PKEY_free. */
EVP_PKEY *cf_jwt_pem_key(const char *pem);

/* Whether pem holds one or more certificates and nothing else usable as
 * a CA bundle. */
bool cf_jwt_pem_certs_ok(const char *pem);

/* CF_OK when jwks is a JWK Set ({"keys": [...]}) holding at least one
 * key this module can use; CF_ERR_INVALID with *why otherwise. */
cf_err_t cf_jwt_jwks_check(const json_t *jwks, const char **why);

/*
 * Verify t's signature. algs: allowed algorithm names (array of strings;
 * NULL or empty = all known). With PEM keys (array of strings) every key
 * is tried. With a JWKS the token's "kid" selects the keys (all keys of
 * a fitting type when it has none).
 * Returns CF_OK, CF_ERR_NOT_FOUND (JWKS only: no key with that kid or of
 * a fitting type: the caller may fetch the set again) or CF_ERR_CRYPTO.
 */
cf_err_t cf_jwt_verify_pems(const cf_jwt_t *t, const json_t *pems,
                            const json_t *algs, const char **why);
cf_err_t cf_jwt_verify_jwks(const cf_jwt_t *t, const json_t *jwks,
                            const json_t *algs, const char **why);

/* Leeways in seconds for the time claims. */
typedef struct {
    int64_t  skew;          /* added to every time check */
    int64_t  exp;           /* more for "exp" */
    int64_t  nbf;           /* more for "nbf" */
    bool     require_exp;   /* "exp" or "nbf" must be present */
} cf_jwt_times_t;

/* Check exp, nbf and iat against now. CF_ERR_CRYPTO with *why when the
 * token is expired, not yet valid, issued in the future, or a time claim
 * is not a number. */
cf_err_t cf_jwt_check_times(const json_t *claims, time_t now,
                            const cf_jwt_times_t *lw, const char **why);

/* The claim called name ("a.b" is a plain name), or, when name starts
 * with '/', the value at that JSON pointer (RFC 6901). Borrowed; NULL
 * when absent. */
json_t *cf_jwt_claim(const json_t *claims, const char *name);

/* Whether the "aud" claim (string or array) holds one of bound (array
 * of strings). */
bool cf_jwt_aud_has(const json_t *claims, const json_t *bound);

/* A scalar claim as text: strings as they are, integers, reals and
 * booleans printed. NULL for other types or OOM. Owned: free. */
char *cf_jwt_scalar_str(const json_t *v);

/* Whether v is a string, number or boolean. */
bool cf_jwt_scalar_ok(const json_t *v);

/* Vault's glob: '*' matches any run of characters, anything else itself. */
bool cf_jwt_glob(const char *pattern, const char *s);

/* Fail a login with the one generic message of the jwt and kubernetes
 * methods, whatever the cause; the cause (why, never token bytes) goes to
 * the debug log under module. */
cf_err_t cf_jwt_login_failed(cf_req_t *req, const char *module,
                             const char *why);

/* ---- roles (jwt_role.c) ---- */

#define CF_JWT_ROLE_NAME_MAX  128

/* Apply a request's method-specific role fields to role (create or
 * update); 400 naming the field. The token_* fields are done after. */
typedef cf_err_t (*cf_jwt_role_parse_t)(cf_req_t *req, json_t *role);
/* A stored role as Vault reads it back, without the token_* fields
 * (added after). Owned; NULL on OOM. */
typedef json_t *(*cf_jwt_role_describe_t)(const json_t *role);

/* role/<name>: read, create/update, delete. */
cf_err_t cf_jwt_role_crud(cf_req_t *req, cf_jwt_role_parse_t parse,
                          cf_jwt_role_describe_t describe);

/* LIST role/. */
cf_err_t cf_jwt_role_list(cf_req_t *req);

/* The role called name (case-insensitive) for a login: *role owned,
 * rname its stored name. CF_ERR_NOT_FOUND for no such role or a name no
 * role can have. */
cf_err_t cf_jwt_role_load(cf_req_t *req, const char *name,
                          char rname[CF_JWT_ROLE_NAME_MAX + 1],
                          json_t **role);

/* Issue the login token from role's token_* fields: display name
 * "<mount type>-<who>", metadata meta (borrowed; NULL is CF_ERR_NOMEM,
 * so a failed json_pack can be passed straight in), entity alias alias
 * on this mount (found or made with its entity; the alias metadata is
 * meta too). */
cf_err_t cf_jwt_role_issue(cf_req_t *req, const json_t *role,
                           const char *who, json_t *meta,
                           const char *alias);

/* One HTTP exchange of a JSON document. */
typedef struct {
    const char  *url;       /* http:// or https:// */
    const char  *ca_pem;    /* CA bundle for https, or NULL: system CAs */
    const char  *bearer;    /* "Authorization: Bearer" value, or NULL */
    const char  *body;      /* POST this JSON body; NULL: GET */
} cf_jwt_http_t;

/* Run r; *status gets the HTTP status and *out the parsed JSON body
 * (owned; NULL when the body is not JSON). CF_ERR_UNAVAILABLE (with a
 * libcurl reason in *why) when no response arrived, CF_ERR_TOO_LARGE for
 * a body over 1 MiB. No redirects are followed. */
cf_err_t cf_jwt_http(const cf_jwt_http_t *r, long *status, json_t **out,
                     const char **why);

#endif
