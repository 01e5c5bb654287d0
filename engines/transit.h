/*
 * transit: encryption as a service with every key on the HSM (Vault's
 * "transit" engine: keys, encrypt/decrypt/rewrap, datakey, sign/verify,
 * hmac, random, hash, BYOK import).
 *
 * Owns, per mount: the key policies at "policy/<name>" in the mount's
 * barrier view (JSON: type, flags, versions -> CKA_IDs, public keys), the
 * BYOK wrapping key at "wrapping_key", the upsert switch at
 * "config/keys". Key material exists only on the token: each version is
 * one token object (a key pair for asymmetric types) labelled
 * "coffer/transit/<mount-uuid>/<name>/<version>", plus an HMAC key
 * ".../<version>/hmac" for the hmac endpoint, as Vault keeps one per
 * version.
 *
 * Thread-safety: handlers run on any thread. Parsed policies are kept in
 * one process-wide cache (keyed by mount uuid and name, checked against
 * the HSM connection generation, so a seal or reconnect reloads them);
 * cached policies are immutable and refcounted. Changes to any key
 * (create, rotate, config, trim, delete, import) are serialised by one
 * mutex, re-read the stored policy, write it, then replace the cache
 * entry.
 */
#ifndef COFFER_ENGINES_TRANSIT_H
#define COFFER_ENGINES_TRANSIT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/types.h>

#include "coffer/engine.h"
#include "coffer/hsm.h"

extern const cf_engine_t  cf_transit_engine;

#define CF_TRANSIT_NAME_MAX   128
#define CF_TRANSIT_MAX_BATCH  4096
#define CF_TRANSIT_KDF        "hmac-sha256-counter"

typedef enum {
    CF_TRANSIT_AES128 = 1,
    CF_TRANSIT_AES256,
    CF_TRANSIT_ECDSA_P256,
    CF_TRANSIT_ECDSA_P384,
    CF_TRANSIT_ECDSA_P521,
    CF_TRANSIT_ED25519,
    CF_TRANSIT_RSA2048,
    CF_TRANSIT_RSA3072,
    CF_TRANSIT_RSA4096,
    CF_TRANSIT_HMAC
} cf_transit_type_t;

typedef struct {
    const char          *name;      /* Vault's type name */
    cf_transit_type_t    type;
    bool                 aes;       /* encrypt/decrypt with AES-GCM */
    bool                 pair;      /* sign/verify */
    bool                 rsa;       /* also encrypt/decrypt: RSA-OAEP */
    cf_hsm_pair_type_t   pair_type;
    size_t               key_bytes; /* AES key size */
    const char          *curve;     /* key read "name" of the version */
} cf_transit_type_info_t;

typedef struct {
    unsigned      version;
    cf_hsm_id_t   key;          /* AES, KDF root, private key or HMAC */
    cf_hsm_id_t   hmac;         /* HMAC key of the version */
    int64_t       ctime;        /* unix seconds */
    char         *pem;          /* public key (pair types), else NULL */
    EVP_PKEY     *pub;          /* parsed pem */
} cf_transit_ver_t;

typedef struct {
    atomic_int                     refs;
    char                          *name;
    const cf_transit_type_info_t  *ti;
    bool                           derived;
    bool                           convergent;
    bool                           deletion_allowed;
    bool                           imported;
    bool                           allow_rotation;
    unsigned                       key_size;    /* hmac type: bytes */
    unsigned                       latest;
    unsigned                       min_dec;
    unsigned                       min_enc;
    unsigned                       min_avail;
    int64_t                        auto_rotate; /* seconds, 0 = off */
    unsigned                       first;       /* oldest version held */
    cf_transit_ver_t              *vers;        /* first..latest */
} cf_transit_policy_t;

/* ---- transit_policy.c --------------------------------------------------- */

/* The type named `name`, or NULL. */
const cf_transit_type_info_t *cf_transit_type_find(const char *name);

/* Version v of p, or NULL when p does not hold it (trimmed, too new). */
const cf_transit_ver_t *cf_transit_ver(const cf_transit_policy_t *p,
                                       unsigned v);

/* The policy of key `name` in the request's mount (cached).
 * CF_ERR_NOT_FOUND when there is none. *out: cf_transit_policy_put. */
cf_err_t cf_transit_policy_get(cf_req_t *req, const char *name,
                               cf_transit_policy_t **out);

void cf_transit_policy_put(cf_transit_policy_t *p);

/* Options for a new key. */
typedef struct {
    const cf_transit_type_info_t  *ti;
    bool                           derived;
    bool                           convergent;
    unsigned                       key_size;
    int64_t                        auto_rotate;
} cf_transit_new_t;

/* Create key `name` with version 1 generated on the token, unless it
 * exists (then *created = false and the existing policy is returned).
 * Failures are reported on req. *out: cf_transit_policy_put. */
cf_err_t cf_transit_policy_create(cf_req_t *req, const char *name,
                                  const cf_transit_new_t *nk,
                                  cf_transit_policy_t **out, bool *created);

/* The change a locked read-modify-write applies to the stored JSON of a
 * key; returns CF_OK or fails req. */
typedef cf_err_t (*cf_transit_edit_fn)(cf_req_t *req, json_t *pol,
                                       void *arg);

/* Run edit on key `name` under the change mutex and store the result.
 * CF_ERR_NOT_FOUND (not reported) when the key does not exist. */
cf_err_t cf_transit_policy_edit(cf_req_t *req, const char *name,
                                cf_transit_edit_fn edit, void *arg,
                                cf_transit_policy_t **out);

/* Edit helpers that create token objects for version `v` of the stored
 * policy `pol` (of type ti) and add them under "versions". */
cf_err_t cf_transit_version_generate(cf_req_t *req, json_t *pol,
                                     unsigned v);

/* PEM (SubjectPublicKeyInfo) of pkey; malloc'd, NULL when out of
 * memory. */
char *cf_transit_pem(EVP_PKEY *pkey);

/* Destroy the token objects of one stored version entry. */
void cf_transit_version_destroy(cf_server_t *srv, json_t *ver);

/* Delete key `name`: needs deletion_allowed; destroys every token object.
 * Failures are reported on req. */
cf_err_t cf_transit_policy_delete(cf_req_t *req, const char *name);

/* Vault's key read "data" object (owned). */
json_t *cf_transit_policy_describe(const cf_transit_policy_t *p);

/* The mount's token label prefix for key `name`, version v, suffix
 * (NULL or "hmac") into buf. */
void cf_transit_label(const cf_req_t *req, const char *name, unsigned v,
                      const char *suffix, char *buf, size_t len);

/* Mount hooks: forget cached policies; at unmount also destroy every
 * token object of the mount's keys. */
cf_err_t cf_transit_mount(cf_server_t *srv, cf_mount_t *m);
cf_err_t cf_transit_unmount(cf_server_t *srv, cf_mount_t *m);

/* Serialise key changes (create, edit, delete, import). */
void cf_transit_lock(void);
void cf_transit_unlock(void);

/* Stored-policy JSON helpers (under cf_transit_lock). */
cf_err_t cf_transit_policy_load_json(cf_req_t *req, const char *name,
                                     json_t **out);
cf_err_t cf_transit_policy_store_json(cf_req_t *req, const char *name,
                                      json_t *pol,
                                      cf_transit_policy_t **out);

/* ---- transit_sign.c ----------------------------------------------------- */

cf_err_t cf_transit_sign(cf_req_t *req);
cf_err_t cf_transit_verify(cf_req_t *req);

/* ---- transit_import.c --------------------------------------------------- */

cf_err_t cf_transit_wrapping_key(cf_req_t *req);
cf_err_t cf_transit_import(cf_req_t *req);
cf_err_t cf_transit_import_version(cf_req_t *req);

/* ---- shared helpers (transit.c) ----------------------------------------- */

/* Segment n (0-based) of req->rest into buf; false if absent or too
 * long. */
bool cf_transit_seg(const cf_req_t *req, unsigned n, char *buf, size_t len);

/* A batch or single operation: fn runs once per item (the body itself
 * when there is no batch_input) and fills `out`; it returns CF_OK,
 * CF_ERR_INVALID/CF_ERR_CRYPTO with msg set (the item's error), or any
 * other code to fail the whole request. */
typedef cf_err_t (*cf_transit_item_fn)(cf_req_t *req, void *ctx, json_t *in,
                                       json_t *out, char *msg, size_t mlen);

cf_err_t cf_transit_run_items(cf_req_t *req, cf_transit_item_fn fn,
                              void *ctx);

/* Item field helpers: string (absent -> *present false), int. Wrong type
 * -> CF_ERR_INVALID with msg. */
cf_err_t cf_transit_item_str(json_t *in, const char *name, const char **out,
                             bool *present, char *msg, size_t mlen);
cf_err_t cf_transit_item_int(json_t *in, const char *name, int64_t *out,
                             char *msg, size_t mlen);
cf_err_t cf_transit_item_bool(json_t *in, const char *name, bool *out,
                              char *msg, size_t mlen);

/* Parse "vault:v<N>:<rest>": N into *v, *rest points into s. */
cf_err_t cf_transit_parse_prefixed(const char *s, unsigned *v,
                                   const char **rest, char *msg,
                                   size_t mlen);

/* "vault:v<N>:" + base64 (url-safe without padding when url) of data;
 * malloc'd or NULL. */
char *cf_transit_prefixed(unsigned v, const void *data, size_t len,
                          bool url);

/* Base64 (standard, or url-safe with optional padding when url); msg
 * names `what` on failure. *out: cf_buf_free. */
cf_err_t cf_transit_b64(const char *s, bool url, const char *what,
                        cf_buf_t **out, char *msg, size_t mlen);

/* The version to encrypt, sign or HMAC with for key_version kv (0 =
 * latest); CF_ERR_INVALID with msg when policy forbids it. */
cf_err_t cf_transit_use_version(const cf_transit_policy_t *p, int64_t kv,
                                unsigned *v, char *msg, size_t mlen);

/* Rotate *p when its auto_rotate_period has passed since its latest
 * version was made (*p is then replaced by the rotated policy). Checked
 * on every use of a key: the server has no hook for an engine's own
 * background thread yet. */
cf_err_t cf_transit_auto_rotate(cf_req_t *req, cf_transit_policy_t **p);

/* HMAC (or with verify, HMAC verify) items of key `name` with digest
 * `alg` (Vault's name). */
cf_err_t cf_transit_hmac_run(cf_req_t *req, const char *name,
                             const char *alg, bool verify);

/* Digest by Vault's name ("sha2-256", "sha3-512", "sha1"), or NULL. */
const EVP_MD *cf_transit_md(const char *name);

#endif
