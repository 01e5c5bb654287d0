/* transit_import: BYOK. wrapping_key is an RSA-4096 pair generated on the
 * token (private half: decrypt only) whose public half is returned;
 * keys/<name>/import and import_version take Vault's payload (RSA-OAEP of
 * an ephemeral AES-256 key with hash_function, SHA256 by default, then
 * AES-KWP of the target key: raw bytes for AES and HMAC keys, PKCS#8 DER
 * for RSA keys); hsm/ unwraps it on the token straight into a sensitive,
 * non-extractable object (see cf_hsm_import_secret, cf_hsm_import_rsa).
 * An imported RSA version is a pair like a generated one: its public key
 * is stored as PEM in the version entry. EC and Ed25519 keys cannot be
 * imported: SoftHSM's unwrapped EC/EdDSA private key has no public
 * point. */
#include "transit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "coffer/log.h"
#include "coffer/server.h"

#define CF_TRANSIT_WRAP_PATH  "wrapping_key"

/* The mount's wrapping key, generated on first use; *out (JSON with
 * key_id, public_key) owned by the caller. Under cf_transit_lock. */
static cf_err_t
cf_transit_wrapping_locked(cf_req_t *req, bool create, json_t **out)
{
    cf_hsm_id_t   id;
    EVP_PKEY     *pub = NULL;
    BIO          *bio = NULL;
    char          label[256], hex[2 * CF_HSM_ID_LEN + 1], *data;
    long          n;
    json_t       *j = NULL;
    cf_err_t      rc;

    *out = NULL;
    rc = cf_view_get_json(req, CF_TRANSIT_WRAP_PATH, &j);
    if (rc != CF_ERR_NOT_FOUND || !create) {
        if (rc == CF_OK)
            *out = j;
        return rc;
    }
    snprintf(label, sizeof(label), "coffer/transit/%s/wrapping-key",
             req->mount->uuid);
    if ((rc = cf_hsm_pair_generate(req->srv->hsm, CF_HSM_PAIR_RSA4096,
                                   CF_HSM_PAIR_DECRYPT, label, &id))
        != CF_OK)
        return rc;
    if ((rc = cf_hsm_pair_public(req->srv->hsm, &id, &pub)) != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    if ((bio = BIO_new(BIO_s_mem())) == NULL
        || PEM_write_bio_PUBKEY(bio, pub) != 1
        || (n = BIO_get_mem_data(bio, &data)) <= 0)
        goto out;
    cf_hsm_id_hex(&id, hex);
    j = json_pack("{s:s, s:s%}", "key_id", hex, "public_key", data,
                  (size_t) n);
    if (j == NULL)
        goto out;
    if ((rc = cf_view_put_json(req, CF_TRANSIT_WRAP_PATH, j)) != CF_OK)
        goto out;
    cf_log_info("transit", "generated the BYOK wrapping key (RSA-4096) on "
                "the HSM");
    *out = j;
    j = NULL;
out:
    if (rc != CF_OK)
        cf_hsm_pair_destroy(req->srv->hsm, &id);
    json_decref(j);
    BIO_free(bio);
    EVP_PKEY_free(pub);
    return rc;
}

cf_err_t
cf_transit_wrapping_key(cf_req_t *req)
{
    json_t    *j = NULL;
    cf_err_t   rc;

    cf_transit_lock();
    rc = cf_transit_wrapping_locked(req, true, &j);
    cf_transit_unlock();
    if (rc != CF_OK)
        return rc;
    rc = cf_req_reply_data(req, json_pack("{s:O}", "public_key",
                                          json_object_get(j,
                                                          "public_key")));
    json_decref(j);
    return rc;
}

typedef struct {
    const cf_transit_type_info_t  *ti;
    const EVP_MD                  *md;
    cf_buf_t                      *blob;
    bool                           allow_rotation;
    int64_t                        auto_rotate;
    bool                           version;     /* import_version */
} cf_transit_imp_t;

static const EVP_MD *
cf_transit_oaep_md(const char *name)
{
    static const struct { const char *vault, *ossl; } map[] = {
        { "SHA1", "SHA1" }, { "SHA-1", "SHA1" },
        { "SHA224", "SHA224" }, { "SHA-224", "SHA224" },
        { "SHA256", "SHA256" }, { "SHA-256", "SHA256" },
        { "SHA384", "SHA384" }, { "SHA-384", "SHA384" },
        { "SHA512", "SHA512" }, { "SHA-512", "SHA512" },
    };
    size_t  i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(name, map[i].vault) == 0)
            return EVP_get_digestbyname(map[i].ossl);
    }
    return NULL;
}

/* Modulus bits of an RSA type. */
static size_t
cf_transit_rsa_bits(const cf_transit_type_info_t *ti)
{
    switch (ti->type) {
    case CF_TRANSIT_RSA2048:
        return 2048;
    case CF_TRANSIT_RSA3072:
        return 3072;
    default:
        return 4096;
    }
}

/* Unwrap the payload into version v of the stored policy pol and add the
 * version (with a fresh HMAC key) to it. An imported RSA version is a
 * pair like a generated one, with its public key as PEM in the entry. */
static cf_err_t
cf_transit_import_into(cf_req_t *req, json_t *pol, unsigned v,
                       const cf_transit_imp_t *im)
{
    const char   *name = json_string_value(json_object_get(pol, "name"));
    cf_hsm_id_t   wk, key, mac;
    json_t       *wj = NULL, *ve = NULL;
    char          label[512], kh[2 * CF_HSM_ID_LEN + 1];
    char          mh[2 * CF_HSM_ID_LEN + 1], vk[16];
    bool          hmac = im->ti->type == CF_TRANSIT_HMAC;
    bool          have_key = false, have_mac = false;
    size_t        bytes, bits = 0;
    EVP_PKEY     *pub = NULL;
    char         *pem = NULL;
    cf_err_t      rc;

    rc = cf_transit_wrapping_locked(req, false, &wj);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "no wrapping key yet: read "
                           "wrapping_key and wrap the key with it");
    if (rc != CF_OK)
        return rc;
    rc = cf_hsm_id_parse(json_string_value(json_object_get(wj, "key_id")),
                         &wk);
    json_decref(wj);
    if (rc != CF_OK)
        return CF_ERR_INTEGRITY;
    /* 512 bytes of RSA-4096 OAEP, then the KWP blob (key padded to 8
     * bytes, plus 8). */
    if (im->blob->len < 512 + 24)
        return cf_req_fail(req, CF_ERR_INVALID, "ciphertext is too short "
                           "for a wrapped key");
    bytes = hmac ? im->blob->len - 512 - 8 : im->ti->key_bytes;
    if (hmac && (bytes < 32 || bytes > 512))
        return cf_req_fail(req, CF_ERR_INVALID, "an imported hmac key must "
                           "have 32 to 512 bytes");
    cf_transit_label(req, name, v, NULL, label, sizeof(label));
    if (im->ti->rsa)
        rc = cf_hsm_import_rsa(req->srv->hsm, &wk, im->md, im->blob->data,
                               im->blob->len, label, &key, &bits);
    else
        rc = cf_hsm_import_secret(req->srv->hsm, &wk, im->md,
                                  im->blob->data, im->blob->len, hmac,
                                  bytes, label, &key);
    /* One message whatever failed (RSA-OAEP part, KWP part, size): no
     * padding oracle. */
    if (rc == CF_ERR_CRYPTO || rc == CF_ERR_INVALID)
        return cf_req_fail(req, CF_ERR_INVALID, "the HSM could not unwrap "
                           "the key: the ciphertext is not an RSA-OAEP "
                           "(hash_function) wrapped AES-256 key followed "
                           "by an AES-KWP-wrapped %s key of the right size",
                           im->ti->name);
    /* Only an authentic payload gets further, so naming the size of the
     * key in it tells nobody anything they did not wrap themselves. */
    if (rc == CF_ERR_TOO_LARGE)
        return cf_req_fail(req, CF_ERR_INVALID, "the imported RSA key is "
                           "larger than 4096 bits, not %s", im->ti->name);
    if (rc != CF_OK)
        return rc;
    have_key = true;
    if (im->ti->rsa) {
        if (bits != cf_transit_rsa_bits(im->ti)) {
            rc = cf_req_fail(req, CF_ERR_INVALID, "the imported key is "
                             "RSA-%zu, not %s", bits, im->ti->name);
            goto out;
        }
        if ((rc = cf_hsm_pair_public(req->srv->hsm, &key, &pub)) != CF_OK)
            goto out;
        rc = CF_ERR_NOMEM;
        if ((pem = cf_transit_pem(pub)) == NULL)
            goto out;
    }
    if (hmac) {
        mac = key;
    } else {
        cf_transit_label(req, name, v, "hmac", label, sizeof(label));
        if ((rc = cf_hsm_secret_generate(req->srv->hsm, true, 64, label,
                                         &mac)) != CF_OK)
            goto out;
        have_mac = true;
    }
    cf_hsm_id_hex(&key, kh);
    cf_hsm_id_hex(&mac, mh);
    snprintf(vk, sizeof(vk), "%u", v);
    rc = CF_ERR_NOMEM;
    ve = json_pack("{s:s, s:s, s:I}", "key_id", kh, "hmac_id", mh,
                   "creation_time", (json_int_t) time(NULL));
    /* "public_key" also tells cf_transit_version_destroy it is a pair. */
    if (ve == NULL
        || (pem != NULL
            && json_object_set_new(ve, "public_key", json_string(pem))
               != 0)
        || json_object_set(json_object_get(pol, "versions"), vk, ve) != 0)
        goto out;
    if (hmac && v == 1)
        json_object_set_new(pol, "key_size", json_integer((json_int_t)
                                                          bytes));
    rc = CF_OK;
out:
    if (rc != CF_OK && have_key) {
        if (im->ti->rsa)
            cf_hsm_pair_destroy(req->srv->hsm, &key);
        else
            cf_hsm_key_destroy(req->srv->hsm, &key);
    }
    if (rc != CF_OK && have_mac)
        cf_hsm_key_destroy(req->srv->hsm, &mac);
    json_decref(ve);
    EVP_PKEY_free(pub);
    free(pem);
    return rc;
}

/* Shared parameter parsing; fails req. */
static cf_err_t
cf_transit_import_params(cf_req_t *req, cf_transit_imp_t *im,
                         const char *tname)
{
    const char  *ct = NULL, *hf = "SHA256";
    char         msg[256];
    bool         have, derived = false;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "ciphertext", &ct, &have)) != CF_OK
        || (rc = cf_req_param_str(req, "hash_function", &hf, &have))
           != CF_OK
        || (rc = cf_req_param_bool(req, "allow_rotation",
                                   &im->allow_rotation, &have)) != CF_OK
        || (rc = cf_req_param_bool(req, "derived", &derived, &have))
           != CF_OK
        || (rc = cf_req_param_duration(req, "auto_rotate_period",
                                       &im->auto_rotate, &have)) != CF_OK)
        return rc;
    if (ct == NULL || *ct == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "missing ciphertext");
    if ((im->md = cf_transit_oaep_md(hf)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "unsupported hash_function "
                           "%.16s", hf);
    if (im->auto_rotate != 0 && im->auto_rotate < 3600)
        return cf_req_fail(req, CF_ERR_INVALID, "auto rotate period must "
                           "be 0 to disable or at least an hour");
    if (derived)
        return cf_req_fail(req, CF_ERR_INVALID, "derived imported keys are "
                           "not supported on the HSM");
    if (strcmp(tname, "chacha20-poly1305") == 0)
        return cf_req_fail(req, CF_ERR_INVALID, "key type "
                           "chacha20-poly1305 is not supported: the HSM has "
                           "no ChaCha20-Poly1305 mechanism");
    if ((im->ti = cf_transit_type_find(tname)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "unknown key type %.64s",
                           tname);
    if (im->ti->pair && !im->ti->rsa)
        return cf_req_fail(req, CF_ERR_INVALID, "importing %s keys is not "
                           "supported: SoftHSM unwraps an EC or Ed25519 "
                           "private key without its public point, so "
                           "there would be no public key to publish or "
                           "verify with; aes128-gcm96, aes256-gcm96, hmac "
                           "and rsa-2048/3072/4096 keys can be imported",
                           tname);
    if (cf_transit_b64(ct, false, "ciphertext", &im->blob, msg, sizeof(msg))
        != CF_OK)
        return cf_req_fail(req, CF_ERR_INVALID, "%s", msg);
    return CF_OK;
}

cf_err_t
cf_transit_import(cf_req_t *req)
{
    char                  name[CF_TRANSIT_NAME_MAX + 1];
    const char           *tname = "aes256-gcm96";
    cf_transit_imp_t      im;
    cf_transit_policy_t  *p = NULL;
    json_t               *pol = NULL;
    bool                  have;
    cf_err_t              rc;

    memset(&im, 0, sizeof(im));
    if (!cf_transit_seg(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if ((rc = cf_req_param_str(req, "type", &tname, &have)) != CF_OK
        || (rc = cf_transit_import_params(req, &im, tname)) != CF_OK)
        goto out_nolock;
    cf_transit_lock();
    rc = cf_transit_policy_load_json(req, name, &pol);
    if (rc == CF_OK) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "the key %s already exists; "
                         "use import_version to add a version", name);
        goto out;
    }
    if (rc != CF_ERR_NOT_FOUND)
        goto out;
    pol = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:I, "
                    "s:I, s:I, s:I, s:{}}",
                    "name", name, "type", im.ti->name, "derived", 0,
                    "convergent_encryption", 0, "deletion_allowed", 0,
                    "imported", 1, "allow_rotation", im.allow_rotation,
                    "key_size", (json_int_t) 0,
                    "latest_version", (json_int_t) 1,
                    "min_decryption_version", (json_int_t) 1,
                    "min_encryption_version", (json_int_t) 0,
                    "min_available_version", (json_int_t) 0,
                    "auto_rotate_period", (json_int_t) im.auto_rotate,
                    "versions");
    if (pol == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_transit_import_into(req, pol, 1, &im)) != CF_OK)
        goto out;
    if ((rc = cf_transit_policy_store_json(req, name, pol, &p)) != CF_OK) {
        cf_transit_version_destroy(req->srv,
            json_object_get(json_object_get(pol, "versions"), "1"));
        goto out;
    }
    cf_log_info("transit", "imported key '%s' (%s) into the HSM", name,
                im.ti->name);
out:
    cf_transit_unlock();
out_nolock:
    if (rc == CF_OK)
        rc = cf_req_reply_data(req, cf_transit_policy_describe(p));
    cf_transit_policy_put(p);
    json_decref(pol);
    cf_buf_free(im.blob);
    return rc;
}

static cf_err_t
cf_transit_import_version_edit(cf_req_t *req, json_t *pol, void *arg)
{
    cf_transit_imp_t  *im = arg;
    json_int_t         latest;
    cf_err_t           rc;

    if (!json_is_true(json_object_get(pol, "imported")))
        return cf_req_fail(req, CF_ERR_INVALID, "the key was generated on "
                           "the HSM, not imported: import_version is only "
                           "for imported keys");
    if (json_is_true(json_object_get(pol, "rotated_on_hsm")))
        return cf_req_fail(req, CF_ERR_INVALID, "the imported key has been "
                           "rotated on the HSM and takes no more imports");
    im->ti = cf_transit_type_find(json_string_value(json_object_get(pol,
                                                                    "type")));
    if (im->ti == NULL)
        return CF_ERR_INTEGRITY;
    latest = json_integer_value(json_object_get(pol, "latest_version"));
    if ((rc = cf_transit_import_into(req, pol, (unsigned) latest + 1, im))
        != CF_OK)
        return rc;
    json_object_set_new(pol, "latest_version", json_integer(latest + 1));
    return CF_OK;
}

cf_err_t
cf_transit_import_version(cf_req_t *req)
{
    char                  name[CF_TRANSIT_NAME_MAX + 1];
    cf_transit_imp_t      im;
    cf_transit_policy_t  *p = NULL;
    cf_err_t              rc;

    memset(&im, 0, sizeof(im));
    if (!cf_transit_seg(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    /* The type comes from the key; "aes256-gcm96" only passes the checks
     * of the shared parser. */
    if ((rc = cf_transit_import_params(req, &im, "aes256-gcm96")) != CF_OK)
        goto out;
    im.version = true;
    rc = cf_transit_policy_edit(req, name, cf_transit_import_version_edit,
                                &im, &p);
    if (rc == CF_ERR_NOT_FOUND)
        rc = cf_req_fail(req, CF_ERR_INVALID, "no such key to import a "
                         "version into");
    if (rc == CF_OK)
        rc = cf_req_reply_data(req, cf_transit_policy_describe(p));
out:
    cf_transit_policy_put(p);
    cf_buf_free(im.blob);
    return rc;
}
