/* transit: the engine's path table and handlers for keys, encryption,
 * data keys, HMAC, random bytes and hashing. Signing is in
 * transit_sign.c, BYOK import in transit_import.c, policies and their
 * cache in transit_policy.c. */
#include "transit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "coffer/log.h"
#include "coffer/tools.h"
#include "coffer/server.h"

#define CF_TRANSIT_MSG         512

/* ---- small helpers ------------------------------------------------------ */

bool
cf_transit_seg(const cf_req_t *req, unsigned n, char *buf, size_t len)
{
    const char  *p = req->rest, *e;
    size_t       l;

    while (n-- > 0) {
        if ((p = strchr(p, '/')) == NULL)
            return false;
        p++;
    }
    e = strchr(p, '/');
    l = e != NULL ? (size_t) (e - p) : strlen(p);
    if (l == 0 || l >= len)
        return false;
    memcpy(buf, p, l);
    buf[l] = '\0';
    return true;
}

const EVP_MD *
cf_transit_md(const char *name)
{
    static const struct { const char *vault, *ossl; } map[] = {
        { "sha1", "SHA1" },
        { "sha2-224", "SHA224" }, { "sha2-256", "SHA256" },
        { "sha2-384", "SHA384" }, { "sha2-512", "SHA512" },
        { "sha3-224", "SHA3-224" }, { "sha3-256", "SHA3-256" },
        { "sha3-384", "SHA3-384" }, { "sha3-512", "SHA3-512" },
    };
    size_t  i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(name, map[i].vault) == 0)
            return EVP_get_digestbyname(map[i].ossl);
    }
    return NULL;
}

cf_err_t
cf_transit_item_str(json_t *in, const char *name, const char **out,
                    bool *present, char *msg, size_t mlen)
{
    json_t  *v = json_object_get(in, name);

    *present = false;
    if (v == NULL || json_is_null(v))
        return CF_OK;
    if (!json_is_string(v)) {
        snprintf(msg, mlen, "'%s' must be a string", name);
        return CF_ERR_INVALID;
    }
    *out = json_string_value(v);
    *present = true;
    return CF_OK;
}

cf_err_t
cf_transit_item_int(json_t *in, const char *name, int64_t *out, char *msg,
                    size_t mlen)
{
    json_t  *v = json_object_get(in, name);
    char    *end;

    if (v == NULL || json_is_null(v))
        return CF_OK;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return CF_OK;
    }
    if (json_is_string(v) && *json_string_value(v) != '\0') {
        *out = strtoll(json_string_value(v), &end, 10);
        if (*end == '\0')
            return CF_OK;
    }
    snprintf(msg, mlen, "'%s' must be an integer", name);
    return CF_ERR_INVALID;
}

cf_err_t
cf_transit_item_bool(json_t *in, const char *name, bool *out, char *msg,
                     size_t mlen)
{
    json_t      *v = json_object_get(in, name);
    const char  *s;

    if (v == NULL || json_is_null(v))
        return CF_OK;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return CF_OK;
    }
    if (json_is_string(v)) {
        s = json_string_value(v);
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
            *out = true;
            return CF_OK;
        }
        if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || *s == '\0') {
            *out = false;
            return CF_OK;
        }
    }
    snprintf(msg, mlen, "'%s' must be a boolean", name);
    return CF_ERR_INVALID;
}

cf_err_t
cf_transit_run_items(cf_req_t *req, cf_transit_item_fn fn, void *ctx)
{
    json_t    *batch = json_object_get(req->body, "batch_input");
    json_t    *results = NULL, *out = NULL, *item, *ref;
    char       msg[CF_TRANSIT_MSG];
    size_t     i, n, nfail = 0;
    int64_t    pfrc = 0;
    bool       have_pfrc;
    cf_err_t   rc;

    if (batch == NULL || json_is_null(batch)) {
        if ((out = json_object()) == NULL)
            return CF_ERR_NOMEM;
        msg[0] = '\0';
        rc = fn(req, ctx, req->body, out, msg, sizeof(msg));
        if (rc == CF_OK)
            return cf_req_reply_data(req, out);
        json_decref(out);
        if ((rc == CF_ERR_INVALID || rc == CF_ERR_CRYPTO) && msg[0] != '\0')
            return cf_req_fail(req, rc, "%s", msg);
        return rc;
    }
    if (!json_is_array(batch))
        return cf_req_fail(req, CF_ERR_INVALID, "'batch_input' must be an "
                           "array of objects");
    if ((n = json_array_size(batch)) == 0)
        return cf_req_fail(req, CF_ERR_INVALID, "missing batch input to "
                           "process");
    if (n > CF_TRANSIT_MAX_BATCH)
        return cf_req_fail(req, CF_ERR_INVALID, "'batch_input' has %zu "
                           "items; at most %d are allowed", n,
                           CF_TRANSIT_MAX_BATCH);
    if ((rc = cf_req_param_int(req, "partial_failure_response_code", &pfrc,
                               &have_pfrc)) != CF_OK)
        return rc;
    if (have_pfrc && (pfrc < 200 || pfrc > 599))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'partial_failure_response_code' must be an "
                           "HTTP status code");
    if ((results = json_array()) == NULL)
        return CF_ERR_NOMEM;
    json_array_foreach(batch, i, item) {
        if ((out = json_object()) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        msg[0] = '\0';
        if (!json_is_object(item)) {
            snprintf(msg, sizeof(msg), "batch item must be an object");
            rc = CF_ERR_INVALID;
        } else {
            rc = fn(req, ctx, item, out, msg, sizeof(msg));
        }
        if (rc == CF_ERR_INVALID || rc == CF_ERR_CRYPTO) {
            json_object_clear(out);
            json_object_set_new(out, "error",
                                json_string(msg[0] != '\0'
                                            ? msg : cf_err_message(rc)));
            nfail++;
        } else if (rc != CF_OK) {
            goto out;
        }
        ref = json_object_get(item, "reference");
        if (json_is_string(ref))
            json_object_set(out, "reference", ref);
        json_array_append_new(results, out);
        out = NULL;
    }
    rc = cf_req_reply_data(req, json_pack("{s:O}", "batch_results",
                                          results));
    /* Vault: any failed item makes it 400 unless the caller asked for
     * another code for a partial failure; all failed is always 400. */
    if (rc == CF_OK && nfail > 0)
        req->status = nfail < n && have_pfrc ? (int) pfrc : 400;
out:
    json_decref(out);
    json_decref(results);
    return rc;
}

/* The key named by segment n, checked for shape. */
static bool
cf_transit_name(cf_req_t *req, unsigned n, char *buf, size_t len)
{
    size_t  i;

    if (!cf_transit_seg(req, n, buf, len))
        return false;
    for (i = 0; buf[i] != '\0'; i++) {
        if ((unsigned char) buf[i] < 0x20)
            return false;
    }
    return true;
}

/* ---- keys --------------------------------------------------------------- */

static cf_err_t
cf_transit_keys_list(cf_req_t *req)
{
    cf_strlist_t  *names = NULL;
    json_t        *arr;
    size_t         i;
    cf_err_t       rc;

    rc = cf_view_list(req, "policy/", &names);
    if (rc == CF_ERR_NOT_FOUND || (rc == CF_OK && names->len == 0)) {
        cf_strlist_free(names);
        return cf_req_fail(req, CF_ERR_NOT_FOUND, "no keys");
    }
    if (rc != CF_OK)
        return rc;
    arr = json_array();
    for (i = 0; i < names->len; i++)
        json_array_append_new(arr, json_string(names->items[i]));
    cf_strlist_free(names);
    return cf_req_reply_data(req, json_pack("{s:o}", "keys", arr));
}

/* Parameters a key create or config may not set on the HSM. */
static cf_err_t
cf_transit_refuse_export(cf_req_t *req)
{
    bool      b = false, have;
    cf_err_t  rc;

    if ((rc = cf_req_param_bool(req, "exportable", &b, &have)) != CF_OK)
        return rc;
    if (b)
        return cf_req_fail(req, CF_ERR_INVALID, "exportable keys are not "
                           "supported: transit keys are generated on the "
                           "HSM as non-extractable objects and cannot "
                           "leave it");
    b = false;
    if ((rc = cf_req_param_bool(req, "allow_plaintext_backup", &b, &have))
        != CF_OK)
        return rc;
    if (b)
        return cf_req_fail(req, CF_ERR_INVALID, "plaintext backups are not "
                           "supported: transit keys are non-extractable "
                           "objects on the HSM");
    return CF_OK;
}

static cf_err_t
cf_transit_auto_rotate_param(cf_req_t *req, int64_t *out, bool *have)
{
    cf_err_t  rc;

    rc = cf_req_param_duration(req, "auto_rotate_period", out, have);
    if (rc != CF_OK)
        return rc;
    if (*have && *out != 0 && *out < 3600)
        return cf_req_fail(req, CF_ERR_INVALID, "auto rotate period must "
                           "be 0 to disable or at least an hour");
    return CF_OK;
}

/* Type check for a new key; fails req. */
static cf_err_t
cf_transit_new_key_params(cf_req_t *req, const char *tname,
                          cf_transit_new_t *nk)
{
    int64_t   ks = 0;
    bool      have;
    cf_err_t  rc;

    if (strcmp(tname, "chacha20-poly1305") == 0)
        return cf_req_fail(req, CF_ERR_INVALID, "key type "
                           "chacha20-poly1305 is not supported: the HSM has "
                           "no ChaCha20-Poly1305 mechanism; use "
                           "aes256-gcm96");
    if ((nk->ti = cf_transit_type_find(tname)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "unknown key type %.64s",
                           tname);
    if ((rc = cf_req_param_bool(req, "derived", &nk->derived, &have))
        != CF_OK
        || (rc = cf_req_param_bool(req, "convergent_encryption",
                                   &nk->convergent, &have)) != CF_OK
        || (rc = cf_req_param_int(req, "key_size", &ks, &have)) != CF_OK
        || (rc = cf_transit_auto_rotate_param(req, &nk->auto_rotate,
                                              &have)) != CF_OK
        || (rc = cf_transit_refuse_export(req)) != CF_OK)
        return rc;
    if (nk->convergent && !nk->derived)
        return cf_req_fail(req, CF_ERR_INVALID, "convergent encryption "
                           "requires derivation to be enabled, so context "
                           "is required");
    if (nk->derived && !nk->ti->aes)
        return cf_req_fail(req, CF_ERR_INVALID, "key derivation is only "
                           "supported for aes128-gcm96 and aes256-gcm96 "
                           "keys on the HSM");
    if (nk->ti->type == CF_TRANSIT_HMAC) {
        if (ks == 0)
            ks = 32;
        if (ks < 32 || ks > 512)
            return cf_req_fail(req, CF_ERR_INVALID, "invalid key_size: "
                               "must be between 32 and 512 bytes");
        nk->key_size = (unsigned) ks;
    } else if (have && ks != 0) {
        return cf_req_fail(req, CF_ERR_INVALID, "key_size is only valid "
                           "for hmac keys");
    }
    return CF_OK;
}

static cf_err_t
cf_transit_key_write(cf_req_t *req)
{
    char                  name[CF_TRANSIT_NAME_MAX + 1];
    const char           *tname = "aes256-gcm96";
    cf_transit_new_t      nk;
    cf_transit_policy_t  *p = NULL;
    bool                  have, created;
    cf_err_t              rc;

    if (!cf_transit_name(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    memset(&nk, 0, sizeof(nk));
    if ((rc = cf_req_param_str(req, "type", &tname, &have)) != CF_OK
        || (rc = cf_transit_new_key_params(req, tname, &nk)) != CF_OK)
        return rc;
    rc = cf_transit_policy_create(req, name, &nk, &p, &created);
    if (rc != CF_OK)
        return rc;
    rc = cf_req_reply_data(req, cf_transit_policy_describe(p));
    cf_transit_policy_put(p);
    return rc;
}

static cf_err_t
cf_transit_key_read(cf_req_t *req)
{
    char                  name[CF_TRANSIT_NAME_MAX + 1];
    cf_transit_policy_t  *p = NULL;
    cf_err_t              rc;

    if (!cf_transit_name(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_NOT_FOUND, "no such key");
    rc = cf_transit_policy_get(req, name, &p);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, rc, "no such key");
    if (rc != CF_OK)
        return rc;
    rc = cf_req_reply_data(req, cf_transit_policy_describe(p));
    cf_transit_policy_put(p);
    return rc;
}

static cf_err_t
cf_transit_key(cf_req_t *req)
{
    char      name[CF_TRANSIT_NAME_MAX + 1];
    cf_err_t  rc;

    if (req->op == CF_OP_READ)
        return cf_transit_key_read(req);
    if (req->op != CF_OP_DELETE)
        return cf_transit_key_write(req);
    if (!cf_transit_name(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if ((rc = cf_transit_policy_delete(req, name)) != CF_OK)
        return rc;
    return cf_req_reply_none(req);
}

/* Reply with the key read of p (taken) or fail for rc. */
static cf_err_t
cf_transit_reply_policy(cf_req_t *req, cf_err_t rc, cf_transit_policy_t *p)
{
    if (rc == CF_ERR_NOT_FOUND && req->errors == NULL)
        rc = cf_req_fail(req, CF_ERR_NOT_FOUND, "no such key");
    if (rc == CF_OK)
        rc = cf_req_reply_data(req, cf_transit_policy_describe(p));
    cf_transit_policy_put(p);
    return rc;
}

typedef struct {
    bool     have_dec, have_enc, have_del, have_rot;
    int64_t  min_dec, min_enc, rotate;
    bool     del;
} cf_transit_cfg_arg_t;

static cf_err_t
cf_transit_config_edit(cf_req_t *req, json_t *pol, void *arg)
{
    cf_transit_cfg_arg_t  *a = arg;
    json_int_t             latest, dec, enc, avail;

    latest = json_integer_value(json_object_get(pol, "latest_version"));
    dec = json_integer_value(json_object_get(pol, "min_decryption_version"));
    enc = json_integer_value(json_object_get(pol, "min_encryption_version"));
    avail = json_integer_value(json_object_get(pol,
                                               "min_available_version"));
    if (a->have_dec) {
        if (a->min_dec <= 0)
            a->min_dec = 1;     /* Vault: 0 means "no minimum" = 1 */
        if (a->min_dec > latest)
            return cf_req_fail(req, CF_ERR_INVALID, "cannot set "
                               "min_decryption_version higher than "
                               "latest_version");
        if (a->min_dec < avail)
            return cf_req_fail(req, CF_ERR_INVALID, "cannot set "
                               "min_decryption_version below "
                               "min_available_version");
        dec = a->min_dec;
    }
    if (a->have_enc) {
        if (a->min_enc < 0)
            return cf_req_fail(req, CF_ERR_INVALID, "min_encryption_version "
                               "cannot be negative");
        if (a->min_enc > latest)
            return cf_req_fail(req, CF_ERR_INVALID, "cannot set "
                               "min_encryption_version higher than "
                               "latest_version");
        enc = a->min_enc;
    }
    if (enc != 0 && enc < dec)
        return cf_req_fail(req, CF_ERR_INVALID, "min_encryption_version "
                           "must be 0 or at least min_decryption_version");
    json_object_set_new(pol, "min_decryption_version", json_integer(dec));
    json_object_set_new(pol, "min_encryption_version", json_integer(enc));
    if (a->have_del)
        json_object_set_new(pol, "deletion_allowed", json_boolean(a->del));
    if (a->have_rot)
        json_object_set_new(pol, "auto_rotate_period",
                            json_integer(a->rotate));
    return CF_OK;
}

static cf_err_t
cf_transit_key_config(cf_req_t *req)
{
    char                   name[CF_TRANSIT_NAME_MAX + 1];
    cf_transit_cfg_arg_t   a;
    cf_transit_policy_t   *p = NULL;
    cf_err_t               rc;

    memset(&a, 0, sizeof(a));
    if (!cf_transit_name(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if ((rc = cf_req_param_int(req, "min_decryption_version", &a.min_dec,
                               &a.have_dec)) != CF_OK
        || (rc = cf_req_param_int(req, "min_encryption_version", &a.min_enc,
                                  &a.have_enc)) != CF_OK
        || (rc = cf_req_param_bool(req, "deletion_allowed", &a.del,
                                   &a.have_del)) != CF_OK
        || (rc = cf_transit_auto_rotate_param(req, &a.rotate, &a.have_rot))
           != CF_OK
        || (rc = cf_transit_refuse_export(req)) != CF_OK)
        return rc;
    rc = cf_transit_policy_edit(req, name, cf_transit_config_edit, &a, &p);
    return cf_transit_reply_policy(req, rc, p);
}

static cf_err_t
cf_transit_rotate_edit(cf_req_t *req, json_t *pol, void *arg)
{
    json_int_t  latest;
    cf_err_t    rc;

    (void) arg;
    if (json_is_true(json_object_get(pol, "imported"))
        && !json_is_true(json_object_get(pol, "allow_rotation")))
        return cf_req_fail(req, CF_ERR_INVALID, "imported key cannot be "
                           "rotated: it was imported without "
                           "allow_rotation");
    latest = json_integer_value(json_object_get(pol, "latest_version"));
    if ((rc = cf_transit_version_generate(req, pol, (unsigned) latest + 1))
        != CF_OK)
        return rc;
    json_object_set_new(pol, "latest_version", json_integer(latest + 1));
    if (json_is_true(json_object_get(pol, "imported")))
        json_object_set_new(pol, "rotated_on_hsm", json_true());
    return CF_OK;
}

static cf_err_t
cf_transit_key_rotate(cf_req_t *req)
{
    char                  name[CF_TRANSIT_NAME_MAX + 1];
    cf_transit_policy_t  *p = NULL;
    cf_err_t              rc;

    if (!cf_transit_name(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    rc = cf_transit_policy_edit(req, name, cf_transit_rotate_edit, NULL, &p);
    if (rc == CF_OK)
        cf_log_info("transit", "rotated key '%s' to version %u", name,
                    p->latest);
    return cf_transit_reply_policy(req, rc, p);
}

static cf_err_t
cf_transit_trim_edit(cf_req_t *req, json_t *pol, void *arg)
{
    int64_t      want = *(int64_t *) arg;
    json_int_t   dec, enc, avail, v;
    json_t      *vers = json_object_get(pol, "versions"), *ve;
    char         vk[24];

    dec = json_integer_value(json_object_get(pol, "min_decryption_version"));
    enc = json_integer_value(json_object_get(pol, "min_encryption_version"));
    avail = json_integer_value(json_object_get(pol,
                                               "min_available_version"));
    if (want <= 0)
        return cf_req_fail(req, CF_ERR_INVALID, "minimum available version "
                           "should be positive");
    if (want < avail)
        return cf_req_fail(req, CF_ERR_INVALID, "minimum available version "
                           "cannot be decremented");
    if (enc == 0)
        return cf_req_fail(req, CF_ERR_INVALID, "minimum available version "
                           "cannot be set when minimum encryption version "
                           "is not set");
    if (want > enc)
        return cf_req_fail(req, CF_ERR_INVALID, "minimum available version "
                           "cannot be greater than minimum encryption "
                           "version");
    if (want > dec)
        return cf_req_fail(req, CF_ERR_INVALID, "minimum available version "
                           "cannot be greater than minimum decryption "
                           "version");
    json_object_set_new(pol, "min_available_version", json_integer(want));
    /* The trimmed versions' token objects go with them (and their cached
     * handles and session copies): nothing can use them afterwards. */
    for (v = avail > 1 ? avail : 1; v < want; v++) {
        snprintf(vk, sizeof(vk), "%lld", (long long) v);
        if ((ve = json_object_get(vers, vk)) != NULL) {
            cf_transit_version_destroy(req->srv, ve);
            json_object_del(vers, vk);
        }
    }
    return CF_OK;
}

static cf_err_t
cf_transit_key_trim(cf_req_t *req)
{
    char                  name[CF_TRANSIT_NAME_MAX + 1];
    cf_transit_policy_t  *p = NULL;
    int64_t               want = 0;
    bool                  have;
    cf_err_t              rc;

    if (!cf_transit_name(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if ((rc = cf_req_param_int(req, "min_available_version", &want, &have))
        != CF_OK)
        return rc;
    if (!have)
        return cf_req_fail(req, CF_ERR_INVALID, "missing "
                           "min_available_version");
    rc = cf_transit_policy_edit(req, name, cf_transit_trim_edit, &want, &p);
    return cf_transit_reply_policy(req, rc, p);
}

cf_err_t
cf_transit_auto_rotate(cf_req_t *req, cf_transit_policy_t **p)
{
    const cf_transit_ver_t  *x;
    cf_transit_policy_t     *np = NULL;
    cf_err_t                 rc;

    if ((*p)->auto_rotate <= 0 || ((*p)->imported && !(*p)->allow_rotation))
        return CF_OK;
    x = cf_transit_ver(*p, (*p)->latest);
    if (x == NULL || time(NULL) - x->ctime < (*p)->auto_rotate)
        return CF_OK;
    rc = cf_transit_policy_edit(req, (*p)->name, cf_transit_rotate_edit,
                                NULL, &np);
    if (rc != CF_OK)
        return rc;
    cf_log_info("transit", "auto-rotated key '%s' to version %u",
                np->name, np->latest);
    cf_transit_policy_put(*p);
    *p = np;
    return CF_OK;
}

/* ---- encrypt / decrypt / rewrap / datakey ------------------------------- */

typedef struct {
    cf_transit_policy_t  *p;
    int                   mode;         /* CF_TRANSIT_M_* */
    size_t                dk_bytes;     /* datakey size */
    bool                  dk_plain;     /* datakey/plaintext */
} cf_transit_enc_t;

enum {
    CF_TRANSIT_M_ENCRYPT = 1,
    CF_TRANSIT_M_DECRYPT,
    CF_TRANSIT_M_REWRAP,
    CF_TRANSIT_M_DATAKEY
};

/* hmac-sha256-counter (NIST SP 800-108 counter mode, one block):
 * HMAC(root, u32be(1) || context || u32be(bits)) with the version's root
 * key on the token. The derived key is in memory for one operation. */
static cf_err_t
cf_transit_kdf(cf_req_t *req, const cf_transit_ver_t *x,
               const cf_buf_t *context, size_t bytes, unsigned char out[32])
{
    unsigned char  *buf;
    size_t          n = context->len + 8;
    uint32_t        bits = (uint32_t) (bytes * 8);
    cf_err_t        rc;

    if ((buf = malloc(n)) == NULL)
        return CF_ERR_NOMEM;
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 0;
    buf[3] = 1;
    memcpy(buf + 4, context->data, context->len);
    buf[n - 4] = (unsigned char) (bits >> 24);
    buf[n - 3] = (unsigned char) (bits >> 16);
    buf[n - 2] = (unsigned char) (bits >> 8);
    buf[n - 1] = (unsigned char) bits;
    rc = cf_hsm_hmac_sha256(req->srv->hsm, &x->key, buf, n, out);
    OPENSSL_cleanse(buf, n);
    free(buf);
    return rc;
}

/* In-process AES-GCM with a derived key (encrypt when enc). */
static cf_err_t
cf_transit_gcm_soft(bool enc, const unsigned char *key, size_t klen,
                    const unsigned char *iv, const cf_buf_t *aad,
                    const unsigned char *in, size_t in_len,
                    unsigned char *out, size_t *out_len)
{
    EVP_CIPHER_CTX  *c = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *ci = klen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    int              n = 0, m = 0;
    cf_err_t         rc = CF_ERR_INTERNAL;

    if (c == NULL)
        return CF_ERR_NOMEM;
    if (!enc) {
        if (in_len < CF_HSM_GCM_TAG) {
            rc = CF_ERR_CRYPTO;
            goto out;
        }
        in_len -= CF_HSM_GCM_TAG;
    }
    if (EVP_CipherInit_ex(c, ci, NULL, key, iv, enc ? 1 : 0) != 1)
        goto out;
    if (aad != NULL && aad->len > 0
        && EVP_CipherUpdate(c, NULL, &n, aad->data, (int) aad->len) != 1)
        goto out;
    if (EVP_CipherUpdate(c, out, &n, in, (int) in_len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CF_HSM_GCM_TAG,
                                    (void *) (in + in_len)) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + n, &m) != 1) {
        rc = enc ? CF_ERR_INTERNAL : CF_ERR_CRYPTO;
        OPENSSL_cleanse(out, (size_t) n);
        goto out;
    }
    n += m;
    if (enc) {
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CF_HSM_GCM_TAG,
                                out + n) != 1)
            goto out;
        n += CF_HSM_GCM_TAG;
    }
    *out_len = (size_t) n;
    rc = CF_OK;
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

/* The item's context/nonce/associated_data, decoded. */
typedef struct {
    cf_buf_t  *context;
    cf_buf_t  *nonce;
    cf_buf_t  *aad;
} cf_transit_inputs_t;

static void
cf_transit_inputs_free(cf_transit_inputs_t *in)
{
    cf_buf_free(in->context);
    cf_buf_free(in->nonce);
    cf_buf_free(in->aad);
}

static cf_err_t
cf_transit_inputs(const cf_transit_policy_t *p, json_t *item,
                  cf_transit_inputs_t *in, char *msg, size_t mlen)
{
    const char  *s;
    bool         have;
    cf_err_t     rc;

    memset(in, 0, sizeof(*in));
    if ((rc = cf_transit_item_str(item, "context", &s, &have, msg, mlen))
        != CF_OK)
        return rc;
    if (have && *s != '\0'
        && (rc = cf_transit_b64(s, false, "context", &in->context, msg,
                                mlen)) != CF_OK)
        return rc;
    if (p->derived && (in->context == NULL || in->context->len == 0)) {
        snprintf(msg, mlen, "missing 'context' for key derivation; the key "
                 "was created using a derived key, which means additional, "
                 "per-request information must be included in order to "
                 "perform operations with the key");
        return CF_ERR_INVALID;
    }
    if ((rc = cf_transit_item_str(item, "nonce", &s, &have, msg, mlen))
        != CF_OK)
        return rc;
    if (have && *s != '\0') {
        if (!p->convergent) {
            snprintf(msg, mlen, "provided nonce but the key does not use "
                     "convergent encryption: nonces are generated here");
            return CF_ERR_INVALID;
        }
        if ((rc = cf_transit_b64(s, false, "nonce", &in->nonce, msg, mlen))
            != CF_OK)
            return rc;
    }
    if ((rc = cf_transit_item_str(item, "associated_data", &s, &have, msg,
                                  mlen)) != CF_OK)
        return rc;
    if (have && *s != '\0' && !p->ti->aes) {
        snprintf(msg, mlen, "'associated_data' provided for non-AEAD "
                 "cipher suite %s", p->ti->name);
        return CF_ERR_INVALID;
    }
    if (have && *s != '\0'
        && (rc = cf_transit_b64(s, false, "associated_data", &in->aad, msg,
                                mlen)) != CF_OK)
        return rc;
    return CF_OK;
}

/* Vault's padding_scheme (or for rewrap {de,en}crypt_padding_scheme):
 * RSA keys only. OAEP is the default and the only one offered: PKCS#1
 * v1.5 decryption is a padding oracle waiting to happen. */
static cf_err_t
cf_transit_padding(const cf_transit_policy_t *p, json_t *item,
                   const char *field, char *msg, size_t mlen)
{
    const char  *s = NULL;
    bool         have;
    cf_err_t     rc;

    if ((rc = cf_transit_item_str(item, field, &s, &have, msg, mlen))
        != CF_OK || !have || *s == '\0')
        return rc;
    if (!p->ti->rsa)
        snprintf(msg, mlen, "'%s' invalid: unsupported key type %s for "
                 "padding scheme", field, p->ti->name);
    else if (strcmp(s, "oaep") == 0)
        return CF_OK;
    else if (strcmp(s, "pkcs1v15") == 0)
        snprintf(msg, mlen, "'%s' invalid: pkcs1v15 is not supported; RSA "
                 "keys encrypt with oaep (SHA-256) only", field);
    else
        snprintf(msg, mlen, "'%s' invalid: unsupported padding scheme "
                 "%.32s", field, s);
    return CF_ERR_INVALID;
}

/* The largest plaintext RSA-OAEP with SHA-256 takes under key `pub`. */
static size_t
cf_transit_rsa_max(EVP_PKEY *pub)
{
    int  k = EVP_PKEY_get_size(pub);

    return k > 2 * 32 + 2 ? (size_t) k - 2 * 32 - 2 : 0;
}

/* RSA-OAEP, SHA-256 for OAEP and MGF1, no label, as Vault (Go's
 * rsa.EncryptOAEP with sha256): a public-key operation, so it runs here
 * with the version's public key. out has EVP_PKEY_get_size(pub) bytes. */
static cf_err_t
cf_transit_rsa_seal(EVP_PKEY *pub, const unsigned char *pt, size_t pt_len,
                    unsigned char *out, size_t *out_len)
{
    EVP_PKEY_CTX  *pc;
    size_t         n = (size_t) EVP_PKEY_get_size(pub);
    cf_err_t       rc = CF_ERR_INTERNAL;

    if ((pc = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL)
        return CF_ERR_NOMEM;
    if (EVP_PKEY_encrypt_init(pc) == 1
        && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) == 1
        && EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()) == 1
        && EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) == 1
        && EVP_PKEY_encrypt(pc, out, &n, pt, pt_len) == 1) {
        *out_len = n;
        rc = CF_OK;
    }
    EVP_PKEY_CTX_free(pc);
    return rc;
}

/* Encrypt pt under version v of p: "vault:v<N>:" base64(iv || ct || tag),
 * or for RSA keys base64 of the RSA-OAEP ciphertext. *out malloc'd. */
static cf_err_t
cf_transit_seal(cf_req_t *req, const cf_transit_policy_t *p, unsigned v,
                const cf_transit_inputs_t *in, const unsigned char *pt,
                size_t pt_len, char **out, char *msg, size_t mlen)
{
    const cf_transit_ver_t  *x = cf_transit_ver(p, v);
    unsigned char           *blob = NULL, dk[32], mac[32];
    size_t                   ct_len = 0, blen = CF_HSM_GCM_IV + pt_len
                                                + CF_HSM_GCM_TAG;
    cf_err_t                 rc;

    *out = NULL;
    if (x == NULL)
        return CF_ERR_INTERNAL;
    if (p->ti->rsa) {
        if (pt_len > cf_transit_rsa_max(x->pub)) {
            snprintf(msg, mlen, "plaintext is too long for RSA-OAEP with "
                     "an %s key: at most %zu bytes", p->ti->name,
                     cf_transit_rsa_max(x->pub));
            return CF_ERR_INVALID;
        }
        blen = (size_t) EVP_PKEY_get_size(x->pub);
    }
    if ((blob = malloc(blen)) == NULL)
        return CF_ERR_NOMEM;
    if (p->ti->rsa) {
        if ((rc = cf_transit_rsa_seal(x->pub, pt, pt_len, blob, &ct_len))
            == CF_OK && (*out = cf_transit_prefixed(v, blob, ct_len, false))
                        == NULL)
            rc = CF_ERR_NOMEM;
        goto out;
    }
    if (!p->derived) {
        if ((rc = cf_nonce_new(blob, CF_HSM_GCM_IV)) != CF_OK)
            goto out;
        rc = cf_hsm_gcm_encrypt(req->srv->hsm, &x->key, blob,
                                in->aad ? in->aad->data : NULL,
                                in->aad ? in->aad->len : 0, pt, pt_len,
                                blob + CF_HSM_GCM_IV, &ct_len);
    } else {
        if ((rc = cf_transit_kdf(req, x, in->context, p->ti->key_bytes, dk))
            != CF_OK)
            goto out;
        if (p->convergent) {
            /* Same context and plaintext -> same nonce: HMAC of both (the
             * context length-prefixed) with the version's HMAC key. */
            cf_buf_t  *m = cf_buf_new(in->context->len + pt_len + 4);
            unsigned char  l[4] = {
                (unsigned char) (in->context->len >> 24),
                (unsigned char) (in->context->len >> 16),
                (unsigned char) (in->context->len >> 8),
                (unsigned char) in->context->len };

            if (m == NULL || cf_buf_append(m, l, 4) != CF_OK
                || cf_buf_append(m, in->context->data, in->context->len)
                   != CF_OK
                || cf_buf_append(m, pt, pt_len) != CF_OK) {
                cf_buf_free(m);
                rc = CF_ERR_NOMEM;
                goto out;
            }
            rc = cf_hsm_hmac_sha256(req->srv->hsm, &x->hmac, m->data,
                                    m->len, mac);
            cf_buf_free(m);
            if (rc != CF_OK)
                goto out;
            memcpy(blob, mac, CF_HSM_GCM_IV);
        } else if ((rc = cf_nonce_new(blob, CF_HSM_GCM_IV)) != CF_OK) {
            goto out;
        }
        rc = cf_transit_gcm_soft(true, dk, p->ti->key_bytes, blob, in->aad,
                                 pt, pt_len, blob + CF_HSM_GCM_IV, &ct_len);
    }
    if (rc != CF_OK)
        goto out;
    if ((*out = cf_transit_prefixed(v, blob, CF_HSM_GCM_IV + ct_len, false))
        == NULL)
        rc = CF_ERR_NOMEM;
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    OPENSSL_cleanse(mac, sizeof(mac));
    free(blob);
    return rc;
}

/* RSA-OAEP-SHA256 decryption of raw with version x: the private
 * operation on the token, the padding check in hsm/. Any failure (wrong
 * key or version, length, padding): one message. *out: cf_buf_free. */
static cf_err_t
cf_transit_rsa_open(cf_req_t *req, const cf_transit_ver_t *x,
                    const cf_buf_t *raw, cf_buf_t **out, size_t *n,
                    char *msg, size_t mlen)
{
    cf_err_t  rc;

    if ((*out = cf_buf_new(CF_HSM_RSA_MAX)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_hsm_rsa_oaep_decrypt(req->srv->hsm, &x->key, EVP_sha256(),
                                 raw->data, raw->len, (*out)->data, n);
    if (rc == CF_ERR_CRYPTO)
        snprintf(msg, mlen, "invalid ciphertext: unable to decrypt");
    else if (rc == CF_ERR_INVALID)
        snprintf(msg, mlen, "the HSM refuses to decrypt with this key");
    return rc;
}

/* AES-GCM decryption of raw (iv || ct || tag) with version x, on the
 * token or, for derived keys, with the derived key here. *out:
 * cf_buf_free. */
static cf_err_t
cf_transit_aes_open(cf_req_t *req, const cf_transit_policy_t *p,
                    const cf_transit_ver_t *x, const cf_transit_inputs_t *in,
                    const cf_buf_t *raw, cf_buf_t **out, size_t *n,
                    char *msg, size_t mlen)
{
    unsigned char  dk[32];
    cf_err_t       rc;

    if (raw->len < CF_HSM_GCM_IV + CF_HSM_GCM_TAG) {
        snprintf(msg, mlen, "invalid ciphertext: too short");
        return CF_ERR_INVALID;
    }
    if ((*out = cf_buf_new(raw->len)) == NULL)
        return CF_ERR_NOMEM;
    if (!p->derived) {
        rc = cf_hsm_gcm_decrypt(req->srv->hsm, &x->key, raw->data,
                                in->aad ? in->aad->data : NULL,
                                in->aad ? in->aad->len : 0,
                                raw->data + CF_HSM_GCM_IV,
                                raw->len - CF_HSM_GCM_IV, (*out)->data, n);
    } else if ((rc = cf_transit_kdf(req, x, in->context, p->ti->key_bytes,
                                    dk)) == CF_OK) {
        rc = cf_transit_gcm_soft(false, dk, p->ti->key_bytes, raw->data,
                                 in->aad, raw->data + CF_HSM_GCM_IV,
                                 raw->len - CF_HSM_GCM_IV, (*out)->data, n);
    }
    OPENSSL_cleanse(dk, sizeof(dk));
    if (rc == CF_ERR_CRYPTO)
        snprintf(msg, mlen, "cipher: message authentication failed");
    return rc;
}

/* Decrypt a "vault:v<N>:..." ciphertext of p. *out (cf_buf_free) gets
 * the plaintext; *ver its version. */
static cf_err_t
cf_transit_open(cf_req_t *req, const cf_transit_policy_t *p,
                const char *ct, const cf_transit_inputs_t *in,
                cf_buf_t **out, unsigned *ver, char *msg, size_t mlen)
{
    const cf_transit_ver_t  *x;
    const char              *rest;
    cf_buf_t                *raw = NULL, *pt = NULL;
    unsigned                 v;
    size_t                   n = 0;
    cf_err_t                 rc;

    *out = NULL;
    if ((rc = cf_transit_parse_prefixed(ct, &v, &rest, msg, mlen)) != CF_OK)
        return rc;
    if (v > p->latest) {
        snprintf(msg, mlen, "invalid ciphertext: version is too new");
        return CF_ERR_INVALID;
    }
    if (v < p->min_dec || (x = cf_transit_ver(p, v)) == NULL) {
        snprintf(msg, mlen, "ciphertext or signature version is "
                 "disallowed by policy (too old)");
        return CF_ERR_INVALID;
    }
    if ((rc = cf_transit_b64(rest, false, "ciphertext", &raw, msg, mlen))
        != CF_OK)
        return rc;
    if (p->ti->rsa)
        rc = cf_transit_rsa_open(req, x, raw, &pt, &n, msg, mlen);
    else
        rc = cf_transit_aes_open(req, p, x, in, raw, &pt, &n, msg, mlen);
    if (rc != CF_OK)
        goto out;
    pt->len = n;
    *out = pt;
    *ver = v;
    pt = NULL;
out:
    cf_buf_free(raw);
    cf_buf_free(pt);
    return rc;
}

cf_err_t
cf_transit_use_version(const cf_transit_policy_t *p, int64_t kv,
                       unsigned *v, char *msg, size_t mlen)
{
    if (kv < 0) {
        snprintf(msg, mlen, "invalid key version");
        return CF_ERR_INVALID;
    }
    if (kv == 0) {
        *v = p->latest;
        return CF_OK;
    }
    if (kv > p->latest) {
        snprintf(msg, mlen, "requested version for encryption is higher "
                 "than the latest key version");
        return CF_ERR_INVALID;
    }
    if ((p->min_enc > 0 && kv < p->min_enc) || kv < p->first) {
        snprintf(msg, mlen, "requested version for encryption is less "
                 "than the minimum encryption key version");
        return CF_ERR_INVALID;
    }
    *v = (unsigned) kv;
    return CF_OK;
}

static cf_err_t
cf_transit_enc_item(cf_req_t *req, void *ctx, json_t *item, json_t *out,
                    char *msg, size_t mlen)
{
    cf_transit_enc_t      *e = ctx;
    cf_transit_policy_t   *p = e->p;
    cf_transit_inputs_t    in;
    const char            *s = NULL;
    cf_buf_t              *pt = NULL;
    char                  *ct = NULL, *b = NULL;
    int64_t                kv = 0;
    unsigned               v = 0, old = 0;
    bool                   have;
    cf_err_t               rc;

    if ((rc = cf_transit_inputs(p, item, &in, msg, mlen)) != CF_OK)
        goto out;
    if ((rc = cf_transit_item_int(item, "key_version", &kv, msg, mlen))
        != CF_OK)
        goto out;
    if (e->mode == CF_TRANSIT_M_REWRAP) {
        if ((rc = cf_transit_padding(p, item, "decrypt_padding_scheme", msg,
                                     mlen)) != CF_OK
            || (rc = cf_transit_padding(p, item, "encrypt_padding_scheme",
                                        msg, mlen)) != CF_OK)
            goto out;
    } else if ((rc = cf_transit_padding(p, item, "padding_scheme", msg,
                                        mlen)) != CF_OK) {
        goto out;
    }
    if (e->mode == CF_TRANSIT_M_ENCRYPT) {
        if ((rc = cf_transit_item_str(item, "plaintext", &s, &have, msg,
                                      mlen)) != CF_OK)
            goto out;
        if (!have) {
            snprintf(msg, mlen, "missing plaintext to encrypt");
            rc = CF_ERR_INVALID;
            goto out;
        }
        if ((rc = cf_transit_b64(s, false, "plaintext", &pt, msg, mlen))
            != CF_OK)
            goto out;
    } else if (e->mode == CF_TRANSIT_M_DATAKEY) {
        if ((pt = cf_buf_new(e->dk_bytes)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        if ((rc = cf_hsm_random(req->srv->hsm, pt->data, e->dk_bytes))
            != CF_OK)
            goto out;
        pt->len = e->dk_bytes;
    } else {
        if ((rc = cf_transit_item_str(item, "ciphertext", &s, &have, msg,
                                      mlen)) != CF_OK)
            goto out;
        if (!have || *s == '\0') {
            snprintf(msg, mlen, "missing ciphertext to %s",
                     e->mode == CF_TRANSIT_M_DECRYPT ? "decrypt" : "rewrap");
            rc = CF_ERR_INVALID;
            goto out;
        }
        if ((rc = cf_transit_open(req, p, s, &in, &pt, &old, msg, mlen))
            != CF_OK)
            goto out;
        if (e->mode == CF_TRANSIT_M_DECRYPT) {
            if ((b = cf_b64_encode(pt->data, pt->len)) == NULL) {
                rc = CF_ERR_NOMEM;
                goto out;
            }
            json_object_set_new(out, "plaintext", json_string(b));
            goto out;
        }
    }
    if ((rc = cf_transit_use_version(p, kv, &v, msg, mlen)) != CF_OK)
        goto out;
    if ((rc = cf_transit_seal(req, p, v, &in, pt->data, pt->len, &ct, msg,
                              mlen)) != CF_OK)
        goto out;
    json_object_set_new(out, "ciphertext", json_string(ct));
    json_object_set_new(out, "key_version", json_integer(v));
    if (e->mode == CF_TRANSIT_M_DATAKEY && e->dk_plain) {
        if ((b = cf_b64_encode(pt->data, pt->len)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        json_object_set_new(out, "plaintext", json_string(b));
    }
out:
    cf_transit_inputs_free(&in);
    cf_buf_free(pt);
    free(ct);
    cf_mem_free_str(b);
    return rc;
}

/* Encrypt on a missing key creates it (Vault's upsert with the create
 * capability), unless config/keys says disable_upsert. */
static cf_err_t
cf_transit_upsert(cf_req_t *req, const char *name, cf_transit_policy_t **p)
{
    const char        *tname = "aes256-gcm96", *ctx = NULL;
    json_t            *cfg = NULL, *b0;
    cf_transit_new_t   nk;
    bool               have, created;
    cf_err_t           rc;

    if (cf_view_get_json(req, "config/keys", &cfg) == CF_OK
        && json_is_true(json_object_get(cfg, "disable_upsert"))) {
        json_decref(cfg);
        return cf_req_fail(req, CF_ERR_INVALID, "encryption key not found "
                           "and upsert is disabled");
    }
    json_decref(cfg);
    memset(&nk, 0, sizeof(nk));
    if ((rc = cf_req_param_str(req, "type", &tname, &have)) != CF_OK)
        return rc;
    if ((nk.ti = cf_transit_type_find(tname)) == NULL
        || (!nk.ti->aes && !nk.ti->rsa)) {
        if (strcmp(tname, "chacha20-poly1305") == 0)
            return cf_transit_new_key_params(req, tname, &nk);
        return cf_req_fail(req, CF_ERR_INVALID, "key type %.64s not "
                           "supported for encryption upsert", tname);
    }
    if ((rc = cf_req_param_bool(req, "convergent_encryption",
                                &nk.convergent, &have)) != CF_OK)
        return rc;
    /* Derived when the request carries a context, as in Vault. */
    b0 = json_array_get(json_object_get(req->body, "batch_input"), 0);
    ctx = json_string_value(json_object_get(b0 != NULL ? b0 : req->body,
                                            "context"));
    nk.derived = ctx != NULL && *ctx != '\0';
    if (nk.derived && !nk.ti->aes)
        return cf_req_fail(req, CF_ERR_INVALID, "key derivation is only "
                           "supported for aes128-gcm96 and aes256-gcm96 "
                           "keys on the HSM");
    if (nk.convergent && !nk.derived)
        return cf_req_fail(req, CF_ERR_INVALID, "convergent encryption "
                           "requires derivation to be enabled, so context "
                           "is required");
    return cf_transit_policy_create(req, name, &nk, p, &created);
}

static cf_err_t
cf_transit_crypt(cf_req_t *req, int mode)
{
    char                  name[CF_TRANSIT_NAME_MAX + 1], kind[16];
    unsigned              name_seg = mode == CF_TRANSIT_M_DATAKEY ? 2 : 1;
    cf_transit_enc_t      e;
    int64_t               bits = 256;
    bool                  have;
    cf_err_t              rc;

    memset(&e, 0, sizeof(e));
    e.mode = mode;
    if (!cf_transit_name(req, name_seg, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if (mode == CF_TRANSIT_M_DATAKEY) {
        if (!cf_transit_seg(req, 1, kind, sizeof(kind))
            || (strcmp(kind, "plaintext") != 0
                && strcmp(kind, "wrapped") != 0))
            return cf_req_fail(req, CF_ERR_INVALID, "invalid type; must be "
                               "\"plaintext\" or \"wrapped\"");
        e.dk_plain = strcmp(kind, "plaintext") == 0;
        if ((rc = cf_req_param_int(req, "bits", &bits, &have)) != CF_OK)
            return rc;
        if (bits != 128 && bits != 256 && bits != 512)
            return cf_req_fail(req, CF_ERR_INVALID, "invalid bits; must be "
                               "128, 256 or 512");
        e.dk_bytes = (size_t) bits / 8;
    }
    rc = cf_transit_policy_get(req, name, &e.p);
    if (rc == CF_ERR_NOT_FOUND && mode == CF_TRANSIT_M_ENCRYPT)
        rc = cf_transit_upsert(req, name, &e.p);
    else if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "encryption key not found");
    if (rc != CF_OK)
        return rc;
    if (!e.p->ti->aes && !e.p->ti->rsa) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "key type %s does not support "
                         "encryption on the HSM", e.p->ti->name);
        goto out;
    }
    if (mode != CF_TRANSIT_M_DECRYPT
        && (rc = cf_transit_auto_rotate(req, &e.p)) != CF_OK)
        goto out;
    rc = cf_transit_run_items(req, cf_transit_enc_item, &e);
out:
    cf_transit_policy_put(e.p);
    return rc;
}

static cf_err_t
cf_transit_encrypt(cf_req_t *req)
{
    return cf_transit_crypt(req, CF_TRANSIT_M_ENCRYPT);
}

static cf_err_t
cf_transit_decrypt(cf_req_t *req)
{
    return cf_transit_crypt(req, CF_TRANSIT_M_DECRYPT);
}

static cf_err_t
cf_transit_rewrap(cf_req_t *req)
{
    return cf_transit_crypt(req, CF_TRANSIT_M_REWRAP);
}

static cf_err_t
cf_transit_datakey(cf_req_t *req)
{
    return cf_transit_crypt(req, CF_TRANSIT_M_DATAKEY);
}

/* ---- HMAC --------------------------------------------------------------- */

typedef struct {
    cf_transit_policy_t  *p;
    const EVP_MD         *md;
    bool                  verify;
} cf_transit_mac_t;

static cf_err_t
cf_transit_mac_item(cf_req_t *req, void *ctx, json_t *item, json_t *out,
                    char *msg, size_t mlen)
{
    cf_transit_mac_t         *m = ctx;
    const cf_transit_ver_t   *x;
    const char               *s = NULL, *want = NULL, *rest;
    cf_buf_t                 *in = NULL, *got = NULL;
    unsigned char             mac[EVP_MAX_MD_SIZE];
    size_t                    ml = 0;
    int64_t                   kv = 0;
    unsigned                  v;
    char                     *str = NULL;
    bool                      have;
    cf_err_t                  rc;

    if ((rc = cf_transit_item_str(item, "input", &s, &have, msg, mlen))
        != CF_OK)
        return rc;
    if (!have) {
        snprintf(msg, mlen, "missing input for HMAC");
        return CF_ERR_INVALID;
    }
    if ((rc = cf_transit_b64(s, false, "input", &in, msg, mlen)) != CF_OK)
        return rc;
    if (m->verify) {
        if ((rc = cf_transit_item_str(item, "hmac", &want, &have, msg,
                                      mlen)) != CF_OK)
            goto out;
        if (!have || (rc = cf_transit_parse_prefixed(want, &v, &rest, msg,
                                                     mlen)) != CF_OK) {
            if (!have)
                snprintf(msg, mlen, "missing hmac");
            rc = CF_ERR_INVALID;
            goto out;
        }
        if (v > m->p->latest) {
            snprintf(msg, mlen, "invalid HMAC: version is too new");
            rc = CF_ERR_INVALID;
            goto out;
        }
        if (v < m->p->min_dec || cf_transit_ver(m->p, v) == NULL) {
            snprintf(msg, mlen, "HMAC version is disallowed by policy (too "
                     "old)");
            rc = CF_ERR_INVALID;
            goto out;
        }
        if ((rc = cf_transit_b64(rest, false, "hmac", &got, msg, mlen))
            != CF_OK)
            goto out;
    } else {
        if ((rc = cf_transit_item_int(item, "key_version", &kv, msg, mlen))
            != CF_OK
            || (rc = cf_transit_use_version(m->p, kv, &v, msg, mlen))
               != CF_OK)
            goto out;
    }
    x = cf_transit_ver(m->p, v);
    rc = cf_hsm_hmac(req->srv->hsm, &x->hmac, m->md, in->data, in->len, mac,
                     &ml);
    if (rc == CF_ERR_INVALID) {
        snprintf(msg, mlen, "unsupported algorithm for this key: the HSM "
                 "has no HMAC mechanism for it, or the key is shorter than "
                 "the digest");
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    if (m->verify) {
        json_object_set_new(out, "valid",
                            json_boolean(got->len == ml
                                         && CRYPTO_memcmp(got->data, mac,
                                                          ml) == 0));
    } else {
        if ((str = cf_transit_prefixed(v, mac, ml, false)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        json_object_set_new(out, "hmac", json_string(str));
        json_object_set_new(out, "key_version", json_integer(v));
    }
out:
    OPENSSL_cleanse(mac, sizeof(mac));
    cf_buf_free(in);
    cf_buf_free(got);
    free(str);
    return rc;
}

cf_err_t
cf_transit_hmac_run(cf_req_t *req, const char *name, const char *alg,
                    bool verify)
{
    cf_transit_mac_t  m;
    cf_err_t          rc;

    memset(&m, 0, sizeof(m));
    m.verify = verify;
    if ((m.md = cf_transit_md(alg)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "unsupported algorithm "
                           "%.32s", alg);
    rc = cf_transit_policy_get(req, name, &m.p);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "encryption key not found");
    if (rc != CF_OK)
        return rc;
    if (!verify && (rc = cf_transit_auto_rotate(req, &m.p)) != CF_OK)
        goto out;
    rc = cf_transit_run_items(req, cf_transit_mac_item, &m);
out:
    cf_transit_policy_put(m.p);
    return rc;
}

static cf_err_t
cf_transit_hmac(cf_req_t *req)
{
    char         name[CF_TRANSIT_NAME_MAX + 1], seg[32];
    const char  *alg = "sha2-256";
    bool         have;
    cf_err_t     rc;

    if (!cf_transit_name(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if ((rc = cf_req_param_str(req, "algorithm", &alg, &have)) != CF_OK)
        return rc;
    if (cf_transit_seg(req, 2, seg, sizeof(seg)))
        alg = seg;
    return cf_transit_hmac_run(req, name, alg, false);
}

/* ---- random, hash ------------------------------------------------------- */

static cf_err_t
cf_transit_random(cf_req_t *req)
{
    return cf_tools_random(req, "random");
}

static cf_err_t
cf_transit_hash(cf_req_t *req)
{
    return cf_tools_hash(req, "hash");
}

/* ---- what an HSM cannot do, and small config paths ---------------------- */

static cf_err_t
cf_transit_no_export(cf_req_t *req)
{
    return cf_req_fail(req, CF_ERR_INVALID, "transit keys live on the HSM "
                       "as non-extractable objects: export, backup and "
                       "restore of key material are not possible");
}

static cf_err_t
cf_transit_config_keys(cf_req_t *req)
{
    json_t    *cfg = NULL;
    bool       dis = false, have;
    cf_err_t   rc;

    if (req->op == CF_OP_READ) {
        if (cf_view_get_json(req, "config/keys", &cfg) == CF_OK)
            dis = json_is_true(json_object_get(cfg, "disable_upsert"));
        json_decref(cfg);
        return cf_req_reply_data(req, json_pack("{s:b}", "disable_upsert",
                                                dis));
    }
    if ((rc = cf_req_param_bool(req, "disable_upsert", &dis, &have))
        != CF_OK)
        return rc;
    cfg = json_pack("{s:b}", "disable_upsert", dis);
    rc = cfg != NULL ? cf_view_put_json(req, "config/keys", cfg)
                     : CF_ERR_NOMEM;
    json_decref(cfg);
    if (rc != CF_OK)
        return rc;
    return cf_req_reply_data(req, json_pack("{s:b}", "disable_upsert", dis));
}

static cf_err_t
cf_transit_cache_config(cf_req_t *req)
{
    int64_t   size = 0;
    bool      have;
    cf_err_t  rc;

    if (req->op != CF_OP_READ) {
        if ((rc = cf_req_param_int(req, "size", &size, &have)) != CF_OK)
            return rc;
        if (size != 0 && size < 10)
            return cf_req_fail(req, CF_ERR_INVALID, "size must be 0 or a "
                               "value greater or equal to 10");
        return cf_req_reply_none(req);
    }
    return cf_req_reply_data(req, json_pack("{s:i}", "size", 0));
}

static const cf_path_t  cf_transit_paths[] = {
    { "keys",
      CF_OP_LIST, cf_transit_keys_list },
    { "keys/",
      CF_OP_LIST, cf_transit_keys_list },
    { "keys/+",
      CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE, cf_transit_key },
    { "keys/+/config",
      CF_OP_WRITE, cf_transit_key_config },
    { "keys/+/rotate",
      CF_OP_WRITE, cf_transit_key_rotate },
    { "keys/+/trim",
      CF_OP_WRITE, cf_transit_key_trim },
    { "keys/+/import",
      CF_OP_WRITE, cf_transit_import },
    { "keys/+/import_version",
      CF_OP_WRITE, cf_transit_import_version },
    { "wrapping_key",
      CF_OP_READ, cf_transit_wrapping_key },
    { "encrypt/+",
      CF_OP_WRITE, cf_transit_encrypt },
    { "decrypt/+",
      CF_OP_WRITE, cf_transit_decrypt },
    { "rewrap/+",
      CF_OP_WRITE, cf_transit_rewrap },
    { "datakey/+/+",
      CF_OP_WRITE, cf_transit_datakey },
    { "hmac/+",
      CF_OP_WRITE, cf_transit_hmac },
    { "hmac/+/+",
      CF_OP_WRITE, cf_transit_hmac },
    { "sign/+",
      CF_OP_WRITE, cf_transit_sign },
    { "sign/+/+",
      CF_OP_WRITE, cf_transit_sign },
    { "verify/+",
      CF_OP_WRITE, cf_transit_verify },
    { "verify/+/+",
      CF_OP_WRITE, cf_transit_verify },
    { "random",
      CF_OP_WRITE, cf_transit_random },
    { "random/*",
      CF_OP_WRITE, cf_transit_random },
    { "hash",
      CF_OP_WRITE, cf_transit_hash },
    { "hash/+",
      CF_OP_WRITE, cf_transit_hash },
    { "export/*",
      CF_OP_READ, cf_transit_no_export },
    { "backup/+",
      CF_OP_READ, cf_transit_no_export },
    { "restore",
      CF_OP_WRITE, cf_transit_no_export },
    { "restore/+",
      CF_OP_WRITE, cf_transit_no_export },
    { "config/keys",
      CF_OP_READ | CF_OP_WRITE, cf_transit_config_keys },
    { "cache-config",
      CF_OP_READ | CF_OP_WRITE, cf_transit_cache_config },
    CF_PATH_END
};

/* keys/<name> and encrypt/<name> (upsert) exist when the key does: a
 * missing key needs "create". */
static int
cf_transit_exists(cf_req_t *req)
{
    const char  *name = NULL;
    char         key[300];

    if (strncmp(req->rest, "keys/", 5) == 0)
        name = req->rest + 5;
    else if (strncmp(req->rest, "encrypt/", 8) == 0)
        name = req->rest + 8;
    if (name == NULL || *name == '\0' || strchr(name, '/') != NULL
        || strlen(name) > 200)
        return -1;
    snprintf(key, sizeof(key), "policy/%s", name);
    return cf_view_exists(req, key);
}

/* Background auto-rotation (ticker.c): every key whose latest version
 * is older than its auto_rotate_period gets a new version, used or not. */
static void
cf_transit_tick(cf_req_t *req)
{
    cf_strlist_t         *names = NULL;
    cf_transit_policy_t  *p = NULL;
    size_t                i;

    if (cf_view_list(req, "policy/", &names) != CF_OK)
        return;
    for (i = 0; i < names->len; i++) {
        if (cf_transit_policy_get(req, names->items[i], &p) != CF_OK)
            continue;
        (void) cf_transit_auto_rotate(req, &p);
        cf_transit_policy_put(p);
        p = NULL;
    }
    cf_strlist_free(names);
}

const cf_engine_t  cf_transit_engine = {
    .name = "transit", .paths = cf_transit_paths,
    .mount = cf_transit_mount, .unmount = cf_transit_unmount,
    .tick = cf_transit_tick, .exists = cf_transit_exists,
};
