/*
 * seal: initialise, unseal and seal; the unauthenticated endpoints that
 * report and drive it. See include/coffer/seal.h for the design.
 */
#include "coffer/seal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/barrier.h"
#include "coffer/audit.h"
#include "coffer/identity.h"
#include "coffer/lease.h"
#include "coffer/log.h"
#include "coffer/policy_store.h"
#include "coffer/token_cache.h"
#include "coffer/router.h"
#include "coffer/shamir.h"
#include "coffer/storage.h"
#include "coffer/token.h"

#define CF_SEAL_CONFIG_PATH    "core/seal-config"
#define CF_SEAL_HMAC_PATH      "core/token-hmac"
#define CF_SEAL_CLUSTER_PATH   "core/cluster"
#define CF_SEAL_RECOVERY_PATH  "core/recovery-key"
#define CF_SEAL_KEY_BYTES      32
/* Vault-compatible version string: clients that compare versions see a
 * modern Vault; the build metadata names us. */
#define CF_SEAL_VERSION        "1.15.0+coffer." COFFER_VERSION

typedef struct {
    int       shares;         /* unseal shares (shamir) or recovery shares */
    int       threshold;
    bool      present;
} cf_seal_cfg_t;

/* ---- stored seal configuration (plaintext, no secrets) ---------------- */

static cf_err_t
cf_seal_cfg_read(cf_server_t *srv, cf_seal_cfg_t *out)
{
    cf_buf_t      *raw = NULL;
    json_t        *doc;
    json_error_t   jerr;
    const char    *type = NULL;
    cf_err_t       rc;

    memset(out, 0, sizeof(*out));
    rc = cf_storage_get(srv->store, CF_SEAL_CONFIG_PATH, &raw);
    if (rc == CF_ERR_NOT_FOUND)
        return CF_OK;
    if (rc != CF_OK)
        return rc;
    doc = json_loadb((const char *) raw->data, raw->len, 0, &jerr);
    cf_buf_free(raw);
    if (doc == NULL || json_unpack(doc, "{s:s, s:i, s:i}", "type", &type,
                                   "shares", &out->shares, "threshold",
                                   &out->threshold) != 0) {
        json_decref(doc);
        cf_log_error("seal", "%s does not parse", CF_SEAL_CONFIG_PATH);
        return CF_ERR_INTEGRITY;
    }
    if ((strcmp(type, "shamir") == 0) != (srv->cfg->seal_type
                                          == CF_SEAL_SHAMIR)) {
        cf_log_error("seal", "storage was initialised with seal '%s' but "
                     "the config names another; seal migration is not "
                     "supported", type);
        json_decref(doc);
        return CF_ERR_CONFIG;
    }
    json_decref(doc);
    out->present = true;
    return CF_OK;
}

static cf_err_t
cf_seal_cfg_write(cf_server_t *srv, int shares, int threshold)
{
    json_t    *doc;
    char      *s;
    cf_err_t   rc;

    doc = json_pack("{s:s, s:i, s:i}", "type",
                    srv->cfg->seal_type == CF_SEAL_SHAMIR ? "shamir"
                                                          : "pkcs11",
                    "shares", shares, "threshold", threshold);
    if (doc == NULL || (s = json_dumps(doc, JSON_COMPACT)) == NULL) {
        json_decref(doc);
        return CF_ERR_NOMEM;
    }
    rc = cf_storage_put(srv->store, CF_SEAL_CONFIG_PATH, s, strlen(s));
    cf_mem_free(s);
    json_decref(doc);
    return rc;
}

/* ---- small barrier JSON helpers ----------------------------------------- */

/* Store take (consumed; NULL = out of memory) behind the barrier. */
static cf_err_t
cf_seal_put_json(cf_server_t *srv, const char *path, json_t *take)
{
    cf_err_t  rc = cf_barrier_put_json(srv->barrier, path, take);

    json_decref(take);
    return rc;
}

static cf_err_t
cf_seal_get_json(cf_server_t *srv, const char *path, json_t **out)
{
    return cf_barrier_get_json(srv->barrier, path, out);
}

/* ---- state changes (caller holds seal_lock for writing) ---------------- */

static void
cf_seal_set_reason_locked(cf_server_t *srv, const char *reason)
{
    free(srv->seal_reason);
    srv->seal_reason = reason != NULL ? strdup(reason) : NULL;
}

static void
cf_seal_seal_locked(cf_server_t *srv)
{
    cf_lease_clear(srv);
    cf_audit_unload(srv);
    cf_router_unload(srv);
    cf_policy_store_flush(srv);
    cf_token_cache_clear(srv->tokens);
    cf_identity_cache_clear(srv->identities);
    cf_barrier_seal(srv->barrier);
    cf_hsm_logout(srv->hsm);
    memset(&srv->token_hmac_key, 0, sizeof(srv->token_hmac_key));
    free(srv->cluster_name);
    srv->cluster_name = NULL;
    atomic_store(&srv->sealed, true);
}

/* HSM already logged in: open the barrier and load what requests need. */
static cf_err_t
cf_seal_unseal_locked(cf_server_t *srv)
{
    json_t       *doc = NULL;
    const char   *hex, *id, *name;
    cf_err_t      rc;

    if ((rc = cf_barrier_unseal(srv->barrier)) != CF_OK) {
        cf_log_error("seal", "barrier unseal failed: %s", cf_err_name(rc));
        goto fail;
    }
    if ((rc = cf_seal_get_json(srv, CF_SEAL_HMAC_PATH, &doc)) != CF_OK)
        goto fail;
    if ((hex = json_string_value(json_object_get(doc, "key_id"))) == NULL
        || cf_hsm_id_parse(hex, &srv->token_hmac_key) != CF_OK) {
        rc = CF_ERR_INTEGRITY;
        goto fail;
    }
    json_decref(doc);
    if ((rc = cf_seal_get_json(srv, CF_SEAL_CLUSTER_PATH, &doc)) != CF_OK)
        goto fail;
    id = json_string_value(json_object_get(doc, "id"));
    name = json_string_value(json_object_get(doc, "name"));
    if (id == NULL || name == NULL || strlen(id) != 36) {
        rc = CF_ERR_INTEGRITY;
        goto fail;
    }
    memcpy(srv->cluster_id, id, 37);
    free(srv->cluster_name);
    srv->cluster_name = strdup(name);
    json_decref(doc);
    doc = NULL;
    if ((rc = cf_router_load(srv)) != CF_OK
        || (rc = cf_lease_restore(srv)) != CF_OK
        || (rc = cf_audit_load(srv)) != CF_OK)
        goto fail;
    srv->active_since = time(NULL);
    cf_seal_set_reason_locked(srv, NULL);
    atomic_store(&srv->sealed, false);
    cf_log_info("seal", "unsealed (cluster %s)", srv->cluster_id);
    return CF_OK;
fail:
    json_decref(doc);
    cf_seal_seal_locked(srv);
    return rc;
}

/* Everything init does on an HSM that is logged in, up to the root token.
 * Leaves the server unsealed on success. req may be NULL (dev mode). */
static cf_err_t
cf_seal_init_core_locked(cf_req_t *req, cf_server_t *srv,
                         const char *root_id, char **root_out)
{
    char          label[300], hex[2 * CF_HSM_ID_LEN + 1], uuid[37];
    char          cname[64];
    cf_hsm_id_t   id;
    bool          gen = srv->cfg->generate_key;
    cf_err_t      rc;

    /* A previous init that failed half-way may have left term 1 on the
     * token; reuse it rather than create a second key with that label. */
    snprintf(label, sizeof(label), "%s/1", srv->cfg->key_label);
    if (gen && cf_hsm_key_find(srv->hsm, label, &id) == CF_OK)
        gen = false;
    if ((rc = cf_barrier_initialize(srv->barrier, gen)) != CF_OK) {
        cf_log_error("seal", "barrier initialise failed: %s",
                     cf_err_name(rc));
        /* A missing key here is a configuration fault, not a missing
         * resource: say which setting creates it. */
        if (rc == CF_ERR_NOT_FOUND && req != NULL)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "no barrier key labelled '%s' on the token; "
                               "set generate_key = true in the seal block "
                               "to create it at init", label);
        return rc;
    }
    rc = cf_hsm_key_find(srv->hsm, CF_TOKEN_HMAC_LABEL, &id);
    if (rc == CF_ERR_NOT_FOUND)
        rc = cf_hsm_key_generate(srv->hsm, CF_HSM_KEY_HMAC256,
                                 CF_TOKEN_HMAC_LABEL, &id);
    if (rc != CF_OK)
        return rc;
    cf_hsm_id_hex(&id, hex);
    if ((rc = cf_seal_put_json(srv, CF_SEAL_HMAC_PATH,
                               json_pack("{s:s, s:s}", "key_id", hex,
                                         "label", CF_TOKEN_HMAC_LABEL)))
        != CF_OK)
        return rc;
    cf_uuid_new(uuid);
    if (srv->cfg->cluster_name != NULL)
        snprintf(cname, sizeof(cname), "%s", srv->cfg->cluster_name);
    else
        snprintf(cname, sizeof(cname), "coffer-cluster-%.8s", uuid);
    if ((rc = cf_seal_put_json(srv, CF_SEAL_CLUSTER_PATH,
                               json_pack("{s:s, s:s}", "id", uuid,
                                         "name", cname))) != CF_OK)
        return rc;
    if ((rc = cf_seal_unseal_locked(srv)) != CF_OK)
        return rc;
    return cf_token_create_root(srv, root_id, root_out);
}

/* Split a fresh random key into shares; hex and base64 lists returned. */
static cf_err_t
cf_seal_make_shares(cf_secret_t *key, int n, int t, json_t *hex_list,
                    json_t *b64_list)
{
    cf_secret_t  *shares[CF_SEAL_MAX_SHARES];
    char         *h, *b;
    int           i;
    cf_err_t      rc;

    rc = cf_shamir_split(cf_secret_data(key), cf_secret_len(key),
                         (unsigned) n, (unsigned) t, shares);
    if (rc != CF_OK)
        return rc;
    for (i = 0; i < n; i++) {
        h = cf_hex_encode(cf_secret_data(shares[i]),
                          cf_secret_len(shares[i]));
        b = cf_b64_encode(cf_secret_data(shares[i]),
                          cf_secret_len(shares[i]));
        if (h == NULL || b == NULL)
            rc = CF_ERR_NOMEM;
        else {
            json_array_append_new(hex_list, json_string(h));
            json_array_append_new(b64_list, json_string(b));
        }
        cf_mem_free_str(h);
        cf_mem_free_str(b);
        cf_secret_free(shares[i]);
    }
    return rc;
}

static cf_err_t
cf_seal_check_shares(cf_req_t *req, int n, int t, const char *what)
{
    if (n < 1 || n > CF_SEAL_MAX_SHARES)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "%s_shares must be between 1 and %d", what,
                           CF_SEAL_MAX_SHARES);
    if (t < 1 || t > n)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "%s_threshold must be between 1 and %s_shares",
                           what, what);
    if (n > 1 && t < 2)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "%s_threshold must be greater than one for "
                           "multiple shares", what);
    return CF_OK;
}

/* pkcs11 init: the HSM is logged in since start. */
static cf_err_t
cf_seal_init_pkcs11_locked(cf_req_t *req, cf_server_t *srv, int n, int t,
                           const char *root_id, json_t *resp)
{
    cf_secret_t  *rk = NULL;
    json_t       *hex = json_array(), *b64 = json_array();
    char         *root = NULL, *rk64 = NULL;
    cf_err_t      rc;

    if ((rc = cf_seal_init_core_locked(req, srv, root_id, &root)) != CF_OK)
        goto out;
    if ((rk = cf_secret_new(CF_SEAL_KEY_BYTES)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_hsm_random(srv->hsm, cf_secret_data(rk),
                            CF_SEAL_KEY_BYTES)) != CF_OK
        || (rc = cf_seal_make_shares(rk, n, t, hex, b64)) != CF_OK)
        goto out;
    if ((rk64 = cf_b64_encode(cf_secret_data(rk), CF_SEAL_KEY_BYTES))
        == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_seal_put_json(srv, CF_SEAL_RECOVERY_PATH,
                               json_pack("{s:s}", "key", rk64))) != CF_OK
        || (rc = cf_seal_cfg_write(srv, n, t)) != CF_OK)
        goto out;
    atomic_store(&srv->initialized, true);
    json_object_set_new(resp, "keys", json_array());
    json_object_set_new(resp, "keys_base64", json_array());
    json_object_set(resp, "recovery_keys", hex);
    json_object_set(resp, "recovery_keys_base64", b64);
    json_object_set_new(resp, "root_token", json_string(root));
out:
    if (rc != CF_OK && !atomic_load(&srv->initialized)) {
        /* keep the HSM logged in: the operator may retry init */
        cf_router_unload(srv);
        cf_barrier_seal(srv->barrier);
        atomic_store(&srv->sealed, true);
    }
    json_decref(hex);
    json_decref(b64);
    cf_secret_free(rk);
    cf_mem_free_str(root);
    cf_mem_free_str(rk64);
    return rc;
}

/* The PIN string for raw unseal-key bytes: hex, so it is printable. */
static cf_secret_t *
cf_seal_pin_from_key(const cf_secret_t *key)
{
    char         *hex;
    cf_secret_t  *pin;

    if ((hex = cf_hex_encode(cf_secret_data(key), cf_secret_len(key)))
        == NULL)
        return NULL;
    pin = cf_secret_new_copy(hex, strlen(hex));
    cf_mem_free_str(hex);
    return pin;
}

/* shamir init: log in with the initial PIN, set up, then replace the PIN
 * by a random one that only the shares reconstruct, and seal. */
static cf_err_t
cf_seal_init_shamir_locked(cf_req_t *req, int n, int t, json_t *resp)
{
    cf_server_t  *srv = req->srv;
    cf_secret_t  *key = NULL, *pin = NULL;
    json_t       *hex = json_array(), *b64 = json_array();
    char         *root = NULL;
    cf_err_t      rc;

    if (srv->cfg->hsm_pin == NULL) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "the HSM's initial PIN is "
                         "not configured (hsm { pin } or "
                         "COFFER_HSM_PIN); it is needed once, for init");
        goto out;
    }
    if ((rc = cf_hsm_login(srv->hsm, srv->cfg->hsm_pin)) != CF_OK) {
        cf_req_fail(req, rc, "the HSM refused the configured initial PIN");
        goto out;
    }
    if ((rc = cf_seal_init_core_locked(req, srv, NULL, &root)) != CF_OK)
        goto out;
    if ((key = cf_secret_new(CF_SEAL_KEY_BYTES)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_hsm_random(srv->hsm, cf_secret_data(key),
                            CF_SEAL_KEY_BYTES)) != CF_OK
        || (rc = cf_seal_make_shares(key, n, t, hex, b64)) != CF_OK)
        goto out;
    if ((pin = cf_seal_pin_from_key(key)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    /* Point of no return: after this only the shares open the token. */
    if ((rc = cf_hsm_set_pin(srv->hsm, srv->cfg->hsm_pin, pin)) != CF_OK) {
        cf_log_error("seal", "changing the HSM PIN failed: %s",
                     cf_err_name(rc));
        goto out;
    }
    if ((rc = cf_seal_cfg_write(srv, n, t)) != CF_OK) {
        cf_log_error("seal", "PIN changed but the seal config could not "
                     "be written; the returned shares are the only way "
                     "back into the token");
        goto out;
    }
    atomic_store(&srv->initialized, true);
    json_object_set(resp, "keys", hex);
    json_object_set(resp, "keys_base64", b64);
    json_object_set_new(resp, "root_token", json_string(root));
out:
    if (rc == CF_OK || !atomic_load(&srv->initialized))
        cf_seal_seal_locked(srv);   /* Vault leaves shamir inits sealed */
    json_decref(hex);
    json_decref(b64);
    cf_secret_free(key);
    cf_secret_free(pin);
    cf_mem_free_str(root);
    return rc;
}

/* ---- start-up ------------------------------------------------------------ */

cf_err_t
cf_seal_start(cf_server_t *srv)
{
    cf_seal_cfg_t  sc;
    cf_err_t       rc;

    if ((rc = cf_seal_cfg_read(srv, &sc)) != CF_OK)
        return rc;
    atomic_store(&srv->initialized, sc.present);
    atomic_store(&srv->sealed, true);
    if (srv->cfg->seal_type == CF_SEAL_SHAMIR) {
        cf_log_info("seal", sc.present ? "sealed; waiting for %d unseal "
                    "key shares" : "not initialised%.0d", sc.threshold);
        return CF_OK;
    }
    if (srv->cfg->hsm_pin == NULL) {
        cf_log_error("seal", "seal \"pkcs11\" needs a PIN: set pin in the "
                     "seal stanza or VAULT_HSM_PIN / COFFER_HSM_PIN");
        return CF_ERR_CONFIG;
    }
    if ((rc = cf_hsm_login(srv->hsm, srv->cfg->hsm_pin)) != CF_OK) {
        cf_log_error("seal", "HSM login failed: %s",
                     rc == CF_ERR_PIN ? "wrong PIN" : cf_err_name(rc));
        return rc;
    }
    if (!sc.present) {
        cf_log_info("seal", "not initialised; waiting for sys/init");
        return CF_OK;
    }
    pthread_rwlock_wrlock(&srv->seal_lock);
    rc = cf_seal_unseal_locked(srv);
    if (rc != CF_OK)
        cf_seal_set_reason_locked(srv, "auto-unseal through the HSM "
                                  "failed; see the server log");
    pthread_rwlock_unlock(&srv->seal_lock);
    return rc;
}

cf_err_t
cf_seal_dev_init(cf_server_t *srv, const char *root_id, char **root_out)
{
    json_t    *resp = json_object(), *rk;
    cf_err_t   rc;

    *root_out = NULL;
    pthread_rwlock_wrlock(&srv->seal_lock);
    rc = cf_seal_init_pkcs11_locked(NULL, srv, 1, 1, root_id, resp);
    pthread_rwlock_unlock(&srv->seal_lock);
    if (rc == CF_OK) {
        *root_out = strdup(json_string_value(json_object_get(resp,
                                                             "root_token")));
        rk = json_array_get(json_object_get(resp, "recovery_keys_base64"),
                            0);
        printf("Recovery Key: %s\n", json_string_value(rk));
    }
    json_decref(resp);
    return rc;
}

cf_err_t
cf_seal_seal(cf_server_t *srv)
{
    unsigned  i;

    pthread_rwlock_wrlock(&srv->seal_lock);
    cf_seal_seal_locked(srv);
    pthread_rwlock_unlock(&srv->seal_lock);
    pthread_mutex_lock(&srv->unseal_mu);
    for (i = 0; i < srv->nshares; i++) {
        cf_secret_free(srv->shares[i]);
        srv->shares[i] = NULL;
    }
    srv->nshares = 0;
    pthread_mutex_unlock(&srv->unseal_mu);
    cf_log_info("seal", "sealed");
    return CF_OK;
}

/* ---- endpoints ------------------------------------------------------------ */

static json_t *
cf_seal_status_json(cf_server_t *srv)
{
    cf_seal_cfg_t  sc;
    json_t        *o;
    bool           sealed = atomic_load(&srv->sealed);
    bool           shamir = srv->cfg->seal_type == CF_SEAL_SHAMIR;
    unsigned       progress;
    char          *hsm;

    if (cf_seal_cfg_read(srv, &sc) != CF_OK)
        memset(&sc, 0, sizeof(sc));
    pthread_mutex_lock(&srv->unseal_mu);
    progress = srv->nshares;
    o = json_pack("{s:s, s:b, s:b, s:i, s:i, s:i, s:s, s:s, s:s, s:b, "
                  "s:b, s:s}",
                  "type", shamir ? "shamir" : "pkcs11",
                  "initialized", atomic_load(&srv->initialized),
                  "sealed", sealed, "t", sc.threshold, "n", sc.shares,
                  "progress", (int) progress,
                  "nonce", progress ? srv->unseal_nonce : "",
                  "version", CF_SEAL_VERSION, "build_date",
                  "2026-11-23T00:00:00Z", "migration", 0,
                  "recovery_seal", !shamir, "storage_type",
                  srv->cfg->storage_type ? srv->cfg->storage_type
                                         : "sqlite");
    pthread_mutex_unlock(&srv->unseal_mu);
    if (o == NULL)
        return NULL;
    if (!shamir)
        json_object_set_new(o, "recovery_seal_type",
                            json_string("shamir"));
    json_object_set_new(o, "removed_from_cluster", json_false());
    if (!sealed && srv->cluster_name != NULL) {
        json_object_set_new(o, "cluster_name",
                            json_string(srv->cluster_name));
        json_object_set_new(o, "cluster_id", json_string(srv->cluster_id));
    }
    hsm = cf_hsm_status(srv->hsm);
    if (hsm != NULL || srv->seal_reason != NULL) {
        json_t *w = json_array();
        if (srv->seal_reason != NULL)
            json_array_append_new(w, json_string(srv->seal_reason));
        if (hsm != NULL)
            json_array_append_new(w, json_string(hsm));
        json_object_set_new(o, "warnings", w);
    }
    free(hsm);
    return o;
}

cf_err_t
cf_seal_handle_seal_status(cf_req_t *req)
{
    json_t  *o;

    pthread_rwlock_rdlock(&req->srv->seal_lock);
    o = cf_seal_status_json(req->srv);
    pthread_rwlock_unlock(&req->srv->seal_lock);
    return cf_req_reply_bare(req, 200, o);
}

cf_err_t
cf_seal_handle_init(cf_req_t *req)
{
    cf_server_t  *srv = req->srv;
    int64_t       n = 0, t = 0, rn = 5, rt = 3;
    bool          have_n, have_t, have_rn, have_rt, shamir;
    json_t       *resp;
    cf_err_t      rc;

    if (req->op == CF_OP_READ)
        return cf_req_reply_bare(req, 200, json_pack("{s:b}", "initialized",
                                 atomic_load(&srv->initialized)));
    if ((rc = cf_req_param_int(req, "secret_shares", &n, &have_n)) != CF_OK
        || (rc = cf_req_param_int(req, "secret_threshold", &t, &have_t))
           != CF_OK
        || (rc = cf_req_param_int(req, "recovery_shares", &rn, &have_rn))
           != CF_OK
        || (rc = cf_req_param_int(req, "recovery_threshold", &rt, &have_rt))
           != CF_OK)
        return rc;
    if (json_object_get(req->body, "pgp_keys") != NULL
        && !json_is_null(json_object_get(req->body, "pgp_keys")))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "pgp_keys are not supported");
    shamir = srv->cfg->seal_type == CF_SEAL_SHAMIR;
    if (shamir) {
        if (!have_n || !have_t)
            return cf_req_fail(req, CF_ERR_INVALID, "secret_shares and "
                               "secret_threshold are required");
        if ((rc = cf_seal_check_shares(req, (int) (n > 999 ? 999 : n),
                                       (int) (t > 999 ? 999 : t),
                                       "secret")) != CF_OK)
            return rc;
    } else if ((rc = cf_seal_check_shares(req, (int) (rn > 999 ? 999 : rn),
                                          (int) (rt > 999 ? 999 : rt),
                                          "recovery")) != CF_OK) {
        return rc;
    }
    if ((resp = json_object()) == NULL)
        return CF_ERR_NOMEM;
    pthread_rwlock_wrlock(&srv->seal_lock);
    if (atomic_load(&srv->initialized)) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "Vault is already "
                         "initialized");
    } else if (shamir) {
        rc = cf_seal_init_shamir_locked(req, (int) n, (int) t, resp);
    } else if (!cf_hsm_logged_in(srv->hsm)) {
        rc = cf_req_fail(req, CF_ERR_UNAVAILABLE,
                         "the HSM is not logged in");
    } else {
        rc = cf_seal_init_pkcs11_locked(req, srv, (int) rn, (int) rt, NULL,
                                        resp);
    }
    pthread_rwlock_unlock(&srv->seal_lock);
    if (rc != CF_OK) {
        json_decref(resp);
        if (req->errors == NULL)
            cf_req_fail(req, rc, "initialization failed: %s",
                        cf_err_message(rc));
        return rc;
    }
    cf_log_info("seal", "initialized");
    return cf_req_reply_bare(req, 200, resp);
}

/* Decode a share given as hex or base64 (Vault accepts both). */
static cf_secret_t *
cf_seal_decode_share(const char *s)
{
    cf_buf_t     *b = NULL;
    cf_secret_t  *out = NULL;

    if (cf_hex_decode(s, &b) != CF_OK && cf_b64_decode(s, &b) != CF_OK)
        return NULL;
    if (b->len >= 2 && b->len <= 1025)
        out = cf_secret_new_copy(b->data, b->len);
    cf_buf_free(b);
    return out;
}

static void
cf_seal_reset_progress_locked(cf_server_t *srv)
{
    unsigned  i;

    for (i = 0; i < srv->nshares; i++) {
        cf_secret_free(srv->shares[i]);
        srv->shares[i] = NULL;
    }
    srv->nshares = 0;
}

/* Enough shares are in: turn them into an open token. */
static cf_err_t
cf_seal_unseal_with(cf_req_t *req, cf_secret_t *key)
{
    cf_server_t  *srv = req->srv;
    cf_secret_t  *pin = NULL;
    json_t       *doc = NULL;
    cf_buf_t     *stored = NULL;
    const char   *b64;
    bool          ok;
    cf_err_t      rc;

    pthread_rwlock_wrlock(&srv->seal_lock);
    if (!atomic_load(&srv->sealed)) {
        rc = CF_OK;
        goto out;
    }
    if (srv->cfg->seal_type == CF_SEAL_SHAMIR) {
        if ((pin = cf_seal_pin_from_key(key)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        if ((rc = cf_hsm_login(srv->hsm, pin)) != CF_OK) {
            cf_req_fail(req, rc, rc == CF_ERR_PIN
                        ? "failed to unseal: the combined key was "
                          "rejected by the HSM (wrong key share?)"
                        : "failed to unseal: HSM login failed");
            goto out;
        }
        rc = cf_seal_unseal_locked(srv);
        goto out;
    }
    /* pkcs11 after sys/seal: the recovery shares authorise logging in
     * again with the configured PIN. */
    if ((rc = cf_hsm_login(srv->hsm, srv->cfg->hsm_pin)) != CF_OK
        || (rc = cf_barrier_unseal(srv->barrier)) != CF_OK
        || (rc = cf_seal_get_json(srv, CF_SEAL_RECOVERY_PATH, &doc))
           != CF_OK) {
        cf_seal_seal_locked(srv);
        goto out;
    }
    b64 = json_string_value(json_object_get(doc, "key"));
    ok = b64 != NULL && cf_b64_decode(b64, &stored) == CF_OK
         && stored->len == cf_secret_len(key)
         && CRYPTO_memcmp(stored->data, cf_secret_data(key),
                          stored->len) == 0;
    if (!ok) {
        cf_seal_seal_locked(srv);
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "failed to unseal: invalid recovery key");
        goto out;
    }
    rc = cf_seal_unseal_locked(srv);
out:
    pthread_rwlock_unlock(&srv->seal_lock);
    json_decref(doc);
    cf_buf_free(stored);
    cf_secret_free(pin);
    return rc;
}

cf_err_t
cf_seal_handle_unseal(cf_req_t *req)
{
    cf_server_t    *srv = req->srv;
    cf_seal_cfg_t   sc;
    const char     *key = NULL;
    bool            have_key, reset = false, have_reset;
    cf_secret_t    *share = NULL, *combined = NULL;
    size_t          len;
    unsigned        i;
    cf_err_t        rc;

    if ((rc = cf_req_param_str(req, "key", &key, &have_key)) != CF_OK
        || (rc = cf_req_param_bool(req, "reset", &reset, &have_reset))
           != CF_OK)
        return rc;
    if (!atomic_load(&srv->initialized))
        return cf_req_fail(req, CF_ERR_INVALID, "Vault is not initialized");
    if ((rc = cf_seal_cfg_read(srv, &sc)) != CF_OK)
        return rc;
    if (reset) {
        pthread_mutex_lock(&srv->unseal_mu);
        cf_seal_reset_progress_locked(srv);
        pthread_mutex_unlock(&srv->unseal_mu);
        return cf_seal_handle_seal_status(req);
    }
    if (!atomic_load(&srv->sealed))
        return cf_seal_handle_seal_status(req);
    if (!have_key)
        return cf_req_fail(req, CF_ERR_INVALID, "'key' must be specified "
                           "in request body as JSON, or 'reset' set to "
                           "true");
    if ((share = cf_seal_decode_share(key)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'key' must be a valid hex or base64 string");
    pthread_mutex_lock(&srv->unseal_mu);
    len = cf_secret_len(share);
    for (i = 0; i < srv->nshares; i++) {
        if (cf_secret_len(srv->shares[i]) != len) {
            pthread_mutex_unlock(&srv->unseal_mu);
            cf_secret_free(share);
            return cf_req_fail(req, CF_ERR_INVALID, "key share has the "
                               "wrong length for this progress; reset");
        }
        if (cf_secret_data(srv->shares[i])[len - 1]
            == cf_secret_data(share)[len - 1])
            break;              /* same share again: no progress */
    }
    if (i == srv->nshares && srv->nshares < CF_SEAL_MAX_SHARES) {
        if (srv->nshares == 0)
            cf_uuid_new(srv->unseal_nonce);
        srv->shares[srv->nshares++] = share;
        share = NULL;
    }
    if (srv->nshares >= (unsigned) sc.threshold) {
        rc = cf_shamir_combine(srv->shares, srv->nshares, &combined);
        cf_seal_reset_progress_locked(srv);
    }
    pthread_mutex_unlock(&srv->unseal_mu);
    cf_secret_free(share);
    if (rc != CF_OK)
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key shares");
    if (combined != NULL) {
        if (cf_secret_len(combined) != CF_SEAL_KEY_BYTES) {
            cf_secret_free(combined);
            return cf_req_fail(req, CF_ERR_INVALID, "invalid key shares");
        }
        rc = cf_seal_unseal_with(req, combined);
        cf_secret_free(combined);
        if (rc != CF_OK) {
            if (req->errors == NULL)
                cf_req_fail(req, rc, "failed to unseal: %s",
                            cf_err_message(rc));
            return rc;
        }
    }
    return cf_seal_handle_seal_status(req);
}

static cf_err_t
cf_seal_code_param(cf_req_t *req, const char *name, int *code)
{
    const char  *v = cf_req_query(req, name);
    char        *end;
    long         n;

    if (v == NULL)
        return CF_OK;
    n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > 999)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must be an HTTP status code", name);
    *code = (int) n;
    return CF_OK;
}

cf_err_t
cf_seal_handle_health(cf_req_t *req)
{
    static const char *const  unused[] = {
        "standbycode", "performancestandbycode", "drsecondarycode",
        "haunhealthycode", "removedcode"
    };
    cf_server_t  *srv = req->srv;
    int           active = 200, sealedc = 503, uninit = 501, dummy = 0;
    int           status;
    bool          b, have, init, sealed;
    char         *hsm;
    json_t       *o;
    size_t        i;
    cf_err_t      rc;

    if ((rc = cf_seal_code_param(req, "activecode", &active)) != CF_OK
        || (rc = cf_seal_code_param(req, "sealedcode", &sealedc)) != CF_OK
        || (rc = cf_seal_code_param(req, "uninitcode", &uninit)) != CF_OK
        || (rc = cf_req_param_bool(req, "standbyok", &b, &have)) != CF_OK
        || (rc = cf_req_param_bool(req, "perfstandbyok", &b, &have))
           != CF_OK)
        return rc;
    /* We are never a standby, DR secondary or removed node: these codes
     * are validated and otherwise have nothing to apply to. */
    for (i = 0; i < sizeof(unused) / sizeof(unused[0]); i++) {
        if ((rc = cf_seal_code_param(req, unused[i], &dummy)) != CF_OK)
            return rc;
    }
    pthread_rwlock_rdlock(&srv->seal_lock);
    init = atomic_load(&srv->initialized);
    sealed = atomic_load(&srv->sealed);
    hsm = cf_hsm_status(srv->hsm);
    status = !init ? uninit : sealed || hsm != NULL ? sealedc : active;
    o = json_pack("{s:b, s:b, s:b, s:b, s:s, s:s, s:I, s:s, s:b, s:b, "
                  "s:i, s:i, s:i}",
                  "initialized", init, "sealed", sealed, "standby", 0,
                  "performance_standby", 0,
                  "replication_performance_mode", "disabled",
                  "replication_dr_mode", "disabled",
                  "server_time_utc", (json_int_t) time(NULL),
                  "version", CF_SEAL_VERSION, "enterprise", 0,
                  "removed_from_cluster", 0, "echo_duration_ms", 0,
                  "clock_skew_ms", 0, "replication_primary_canary_age_ms",
                  0);
    if (o != NULL && !sealed && srv->cluster_name != NULL) {
        json_object_set_new(o, "cluster_name",
                            json_string(srv->cluster_name));
        json_object_set_new(o, "cluster_id", json_string(srv->cluster_id));
    }
    if (o != NULL && hsm != NULL)
        json_object_set_new(o, "hsm_status", json_string(hsm));
    pthread_rwlock_unlock(&srv->seal_lock);
    free(hsm);
    return cf_req_reply_bare(req, status, o);
}

cf_err_t
cf_seal_handle_leader(cf_req_t *req)
{
    cf_server_t      *srv = req->srv;
    char              when[40] = "0001-01-01T00:00:00Z";
    struct timespec   ts = { 0, 0 };
    bool              sealed = atomic_load(&srv->sealed);

    if (!sealed) {
        ts.tv_sec = srv->active_since;
        cf_time_rfc3339(&ts, when);
    }
    return cf_req_reply_bare(req, 200, json_pack(
        "{s:b, s:b, s:s, s:s, s:s, s:b, s:i}", "ha_enabled", 0,
        "is_self", !sealed, "active_time", when,
        "leader_address", srv->cfg->api_addr ? srv->cfg->api_addr : "",
        "leader_cluster_address", "", "performance_standby", 0,
        "performance_standby_last_remote_wal", 0));
}
