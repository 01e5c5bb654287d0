/*
 * pki_ca: the CA life cycle (root and intermediate generation, signing
 * intermediates and self-issued certificates, importing a signed
 * intermediate, deleting everything), issuers and keys, config/issuers,
 * config/urls and the CA certificate endpoints. Every CA key pair is
 * generated on the token; storage keeps only its CKA_ID and public half.
 */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "coffer/log.h"
#include "coffer/storage.h"
#include "coffer/server.h"

/* ---- keys ---------------------------------------------------------------- */

static char *
cf_pki_pub_pem(EVP_PKEY *pub)
{
    BIO    *b = BIO_new(BIO_s_mem());
    char   *d, *s = NULL;
    long    n;

    if (b != NULL && PEM_write_bio_PUBKEY(b, pub) == 1
        && (n = BIO_get_mem_data(b, &d)) > 0
        && (s = malloc((size_t) n + 1)) != NULL) {
        memcpy(s, d, (size_t) n);
        s[n] = '\0';
    }
    BIO_free(b);
    return s;
}

/* key_type/key_bits of the request to a token pair type. */
static cf_err_t
cf_pki_key_params(cf_req_t *req, const char **type, int64_t *bits,
                  cf_hsm_pair_type_t *pt)
{
    bool      present;
    cf_err_t  rc;

    *bits = 0;
    if ((rc = cf_pki_param_str(req, "key_type", "rsa", type)) != CF_OK
        || (rc = cf_req_param_int(req, "key_bits", bits, &present))
           != CF_OK)
        return rc;
    if (strcmp(*type, "ec") == 0) {
        if (*bits == 0)
            *bits = 256;
        *pt = *bits == 256 ? CF_HSM_PAIR_EC_P256
              : *bits == 384 ? CF_HSM_PAIR_EC_P384
              : *bits == 521 ? CF_HSM_PAIR_EC_P521 : 0;
    } else if (strcmp(*type, "rsa") == 0) {
        if (*bits == 0)
            *bits = 2048;
        *pt = *bits == 2048 ? CF_HSM_PAIR_RSA2048
              : *bits == 3072 ? CF_HSM_PAIR_RSA3072
              : *bits == 4096 ? CF_HSM_PAIR_RSA4096 : 0;
    } else {
        return cf_req_fail(req, CF_ERR_INVALID,
                           "unknown key_type '%s': CA keys on the token "
                           "are 'ec' or 'rsa'", *type);
    }
    if (*pt == 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "unsupported key_bits %lld for key_type '%s'",
                           (long long) *bits, *type);
    return CF_OK;
}

/* A key name must be unique in the mount and not "default". */
static cf_err_t
cf_pki_name_free_check(cf_req_t *req, const char *dir, const char *field,
                       const char *name, const char *self)
{
    cf_strlist_t  *l = NULL;
    json_t        *r;
    char           key[160];
    size_t         i;
    bool           taken = false;
    cf_err_t       rc;

    if (name == NULL || *name == '\0')
        return CF_OK;
    if (strcmp(name, "default") == 0 || strlen(name) > 100)
        return cf_req_fail(req, CF_ERR_INVALID, "invalid %s", field);
    if ((rc = cf_view_list(req, dir, &l)) != CF_OK)
        return rc;
    for (i = 0; i < l->len && !taken; i++) {
        if (self != NULL && strcmp(l->items[i], self) == 0)
            continue;
        snprintf(key, sizeof(key), "%s%s", dir, l->items[i]);
        if (cf_view_get_json(req, key, &r) != CF_OK)
            continue;
        taken = json_is_string(json_object_get(r, field))
                && strcmp(json_string_value(json_object_get(r, field)),
                          name) == 0;
        json_decref(r);
    }
    cf_strlist_free(l);
    if (taken)
        return cf_req_fail(req, CF_ERR_INVALID, "%s is already in use",
                           field);
    return CF_OK;
}

/* Generate a pair on the token, store its record; *key_id (37 bytes) and
 * *hkey (signs on the token) on success. */
static cf_err_t
cf_pki_key_new(cf_req_t *req, const char *key_name, char key_id[37],
               EVP_PKEY **hkey, json_t **rec_out)
{
    cf_hsm_pair_type_t   pt;
    const char          *type;
    int64_t              bits;
    cf_hsm_id_t          hid;
    EVP_PKEY            *pub = NULL;
    json_t              *rec = NULL;
    char                 label[160], hex[2 * CF_HSM_ID_LEN + 1], key[64];
    char                *pem = NULL;
    bool                 made = false;
    cf_err_t             rc;

    *hkey = NULL;
    *rec_out = NULL;
    if ((rc = cf_pki_key_params(req, &type, &bits, &pt)) != CF_OK
        || (rc = cf_pki_name_free_check(req, "key/", "key_name", key_name,
                                        NULL)) != CF_OK)
        return rc;
    cf_uuid_new(key_id);
    snprintf(label, sizeof(label), "coffer/pki/%s/%s", req->mount->uuid,
             key_id);
    if ((rc = cf_hsm_pair_generate(req->srv->hsm, pt, CF_HSM_PAIR_SIGN,
                                   label, &hid)) != CF_OK)
        goto out;
    made = true;
    if ((rc = cf_hsm_pair_public(req->srv->hsm, &hid, &pub)) != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    cf_hsm_id_hex(&hid, hex);
    if ((pem = cf_pki_pub_pem(pub)) == NULL
        || (rec = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "key_id",
                            key_id, "key_name",
                            key_name != NULL ? key_name : "", "key_type",
                            type, "key_bits", (json_int_t) bits, "hsm_id",
                            hex, "public_key", pem)) == NULL)
        goto out;
    snprintf(key, sizeof(key), "key/%s", key_id);
    if ((rc = cf_view_put_json(req, key, rec)) != CF_OK
        || (rc = cf_pki_hsm_pkey(req->srv->hsm, &hid, pub, hkey)) != CF_OK)
        goto out;
    *rec_out = rec;
    rec = NULL;
out:
    if (rc != CF_OK && made) {
        cf_hsm_pair_destroy(req->srv->hsm, &hid);
        snprintf(key, sizeof(key), "key/%s", key_id);
        cf_view_delete(req, key);
    }
    json_decref(rec);
    EVP_PKEY_free(pub);
    free(pem);
    return rc;
}

/* Delete key key_id's record, then its pair on the token. The record goes
 * to disk first: a crash may leave an orphan on the token, never a record
 * naming a destroyed key. */
static cf_err_t
cf_pki_key_drop(cf_req_t *req, const char *key_id)
{
    json_t       *r = NULL;
    cf_hsm_id_t   hid;
    char          key[160];
    const char   *hex;
    cf_err_t      rc;

    snprintf(key, sizeof(key), "key/%s", key_id);
    if ((rc = cf_view_get_json(req, key, &r)) != CF_OK)
        return rc == CF_ERR_NOT_FOUND ? CF_OK : rc;
    if ((rc = cf_view_delete(req, key)) == CF_OK
        && (rc = cf_storage_sync(req->srv->store)) == CF_OK) {
        hex = json_string_value(json_object_get(r, "hsm_id"));
        if (hex != NULL && cf_hsm_id_parse(hex, &hid) == CF_OK) {
            rc = cf_hsm_pair_destroy(req->srv->hsm, &hid);
            if (rc == CF_ERR_NOT_FOUND)
                rc = CF_OK;
        }
    }
    json_decref(r);
    return rc;
}

/* ---- issuers -------------------------------------------------------------- */

/* Store a new issuer for cert (and key_id, may be ""), chain = [cert] +
 * rest (PEM array, may be NULL); default if there is none yet. */
static cf_err_t
cf_pki_issuer_add(cf_req_t *req, X509 *cert, const char *key_id,
                  const char *name, json_t *rest, char issuer_id[37])
{
    json_t    *rec = NULL, *chain = NULL, *cfg = NULL;
    char      *pem = NULL, *def = NULL, key[64];
    cf_err_t   rc = CF_ERR_NOMEM;

    cf_uuid_new(issuer_id);
    if ((pem = cf_pki_x509_pem(cert)) == NULL
        || (chain = json_array()) == NULL)
        goto out;
    json_array_append_new(chain, json_string(pem));
    if (rest != NULL)
        json_array_extend(chain, rest);
    rec = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:[], s:I}",
                    "issuer_id", issuer_id, "issuer_name",
                    name != NULL ? name : "", "key_id", key_id,
                    "certificate", pem, "ca_chain", chain,
                    "leaf_not_after_behavior", "err", "usage",
                    "read-only,issuing-certificates,crl-signing,"
                    "ocsp-signing", "manual_chain", "crl_number",
                    (json_int_t) 1);
    if (rec == NULL)
        goto out;
    snprintf(key, sizeof(key), "issuer/%s", issuer_id);
    if ((rc = cf_view_put_json(req, key, rec)) != CF_OK)
        goto out;
    if ((def = cf_pki_default_issuer(req)) == NULL) {
        if ((cfg = json_pack("{s:s, s:b}", "default", issuer_id,
                             "default_follows_latest_issuer", 0)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        rc = cf_view_put_json(req, "config/issuers", cfg);
    }
out:
    free(pem);
    free(def);
    json_decref(chain);
    json_decref(rec);
    json_decref(cfg);
    return rc;
}

static json_t *
cf_pki_cert_fields(X509 *x)
{
    char      ser[CF_PKI_SERIAL], *pem = cf_pki_x509_pem(x);
    json_t   *d;

    if (pem == NULL)
        return NULL;
    cf_pki_serial_str(X509_get0_serialNumber(x), ':', ser);
    d = json_pack("{s:s, s:I, s:s}", "certificate", pem, "expiration",
                  (json_int_t) cf_pki_asn1_unix(X509_get0_notAfter(x)),
                  "serial_number", ser);
    free(pem);
    return d;
}

cf_err_t
cf_pki_root_generate(cf_req_t *req)
{
    cf_pki_tmpl_t   t;
    EVP_PKEY       *hkey = NULL;
    X509           *x = NULL;
    json_t         *krec = NULL, *data = NULL;
    const char     *type = strrchr(req->rest, '/') + 1;
    const char     *iname = NULL, *kname = NULL, *kref = NULL;
    char            key_id[37], issuer_id[37], msg[CF_PKI_MSG];
    bool            existing = strcmp(type, "existing") == 0, present;
    cf_err_t        rc;

    memset(&t, 0, sizeof(t));
    if (strcmp(type, "exported") == 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "root/generate/exported is not supported: CA "
                           "keys are generated on the HSM and cannot "
                           "leave it; use root/generate/internal");
    if (strcmp(type, "internal") != 0 && !existing)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "type must be internal or existing");
    if ((rc = cf_pki_tmpl_from_req(req, &t)) != CF_OK
        || (rc = cf_pki_param_str(req, "issuer_name", NULL, &iname))
           != CF_OK
        || (rc = cf_pki_param_str(req, "key_name", NULL, &kname)) != CF_OK
        || (rc = cf_pki_param_str(req, "key_ref", NULL, &kref)) != CF_OK
        || (rc = cf_req_param_int(req, "max_path_length", &t.max_path_len,
                                  &present)) != CF_OK)
        goto out;
    if (t.cn == NULL || *t.cn == '\0') {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "the common_name field is required");
        goto out;
    }
    if ((rc = cf_pki_name_free_check(req, "issuer/", "issuer_name", iname,
                                     NULL)) != CF_OK
        || (rc = cf_pki_validity(req, cf_pki_mount_ttl(req, false),
                                 cf_pki_mount_ttl(req, true), &t)) != CF_OK)
        goto out;
    t.is_ca = true;
    if (existing) {
        if (kref == NULL || *kref == '\0') {
            rc = cf_req_fail(req, CF_ERR_INVALID, "'key_ref' is required");
            goto out;
        }
        rc = cf_pki_key_load(req, kref, &krec, &hkey);
        if (rc == CF_ERR_NOT_FOUND)
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "unable to find PKI key for reference: %s",
                             kref);
        if (rc != CF_OK)
            goto out;
        snprintf(key_id, sizeof(key_id), "%s",
                 json_string_value(json_object_get(krec, "key_id")));
    } else if ((rc = cf_pki_key_new(req, kname, key_id, &hkey, &krec))
               != CF_OK) {
        goto out;
    }
    t.pub = hkey;
    if ((rc = cf_pki_cert_build(req, &t, NULL, hkey, &x, msg, sizeof(msg)))
        != CF_OK) {
        if (rc == CF_ERR_INVALID)
            rc = cf_req_fail(req, rc, "%s", msg);
        if (!existing)
            cf_pki_key_drop(req, key_id);
        goto out;
    }
    if ((rc = cf_pki_issuer_add(req, x, key_id, iname, NULL, issuer_id))
        != CF_OK || (rc = cf_pki_cert_store(req, x, issuer_id)) != CF_OK)
        goto out;
    if ((data = cf_pki_cert_fields(x)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    json_object_set(data, "issuing_ca", json_object_get(data,
                                                        "certificate"));
    json_object_set_new(data, "issuer_id", json_string(issuer_id));
    json_object_set_new(data, "issuer_name", json_string(iname ? iname
                                                                : ""));
    json_object_set_new(data, "key_id", json_string(key_id));
    json_object_set(data, "key_name", json_object_get(krec, "key_name"));
    rc = cf_req_reply_data(req, data);
out:
    cf_pki_tmpl_cleanup(&t);
    EVP_PKEY_free(hkey);
    X509_free(x);
    json_decref(krec);
    return rc;
}

cf_err_t
cf_pki_intermediate_generate(cf_req_t *req)
{
    cf_pki_tmpl_t   t;
    EVP_PKEY       *hkey = NULL;
    X509_REQ       *csr = NULL;
    X509_NAME      *n = NULL;
    GENERAL_NAMES  *gens = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    json_t         *krec = NULL, *v;
    BIO            *b = NULL;
    const char     *type = strrchr(req->rest, '/') + 1, *kname = NULL;
    char            key_id[37], *d;
    long            len;
    size_t          i;
    cf_err_t        rc;

    memset(&t, 0, sizeof(t));
    if (strcmp(type, "exported") == 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "intermediate/generate/exported is not "
                           "supported: CA keys are generated on the HSM "
                           "and cannot leave it; use "
                           "intermediate/generate/internal");
    if (strcmp(type, "internal") != 0)
        return cf_req_fail(req, CF_ERR_INVALID, "type must be internal");
    if ((rc = cf_pki_tmpl_from_req(req, &t)) != CF_OK
        || (rc = cf_pki_param_str(req, "key_name", NULL, &kname)) != CF_OK)
        goto out;
    if ((rc = cf_pki_key_new(req, kname, key_id, &hkey, &krec)) != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    if ((csr = X509_REQ_new()) == NULL || (n = X509_NAME_new()) == NULL
        || (gens = GENERAL_NAMES_new()) == NULL
        || (exts = sk_X509_EXTENSION_new_null()) == NULL)
        goto out;
    if (t.cn != NULL && *t.cn != '\0'
        && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                      (const unsigned char *) t.cn, -1, -1,
                                      0) != 1) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "invalid common_name");
        goto out;
    }
    json_array_foreach(t.dns, i, v) {
        GENERAL_NAME  *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();

        if (gn == NULL || s == NULL
            || ASN1_STRING_set(s, json_string_value(v), -1) != 1) {
            GENERAL_NAME_free(gn);
            ASN1_IA5STRING_free(s);
            goto out;
        }
        GENERAL_NAME_set0_value(gn, GEN_DNS, s);
        sk_GENERAL_NAME_push(gens, gn);
    }
    if (sk_GENERAL_NAME_num(gens) > 0
        && X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0,
                           X509V3_ADD_DEFAULT) != 1)
        goto out;
    if (X509_REQ_set_version(csr, 0) != 1
        || X509_REQ_set_subject_name(csr, n) != 1
        || X509_REQ_set_pubkey(csr, hkey) != 1
        || (sk_X509_EXTENSION_num(exts) > 0
            && X509_REQ_add_extensions(csr, exts) != 1))
        goto out;
    if (X509_REQ_sign(csr, hkey, cf_pki_md_for(hkey)) <= 0) {
        rc = CF_ERR_HSM;
        goto out;
    }
    if ((b = BIO_new(BIO_s_mem())) == NULL
        || PEM_write_bio_X509_REQ(b, csr) != 1
        || (len = BIO_get_mem_data(b, &d)) <= 0)
        goto out;
    while (len > 0 && d[len - 1] == '\n')
        len--;
    rc = cf_req_reply_data(req, json_pack("{s:s%, s:s, s:O}", "csr", d,
                                          (size_t) len, "key_id", key_id,
                                          "key_type",
                                          json_object_get(krec,
                                                          "key_type")));
out:
    cf_pki_tmpl_cleanup(&t);
    EVP_PKEY_free(hkey);
    X509_REQ_free(csr);
    X509_NAME_free(n);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    json_decref(krec);
    BIO_free(b);
    return rc;
}

/* The key record whose public key equals x's, or NULL. key_id copied. */
static bool
cf_pki_key_match(cf_req_t *req, X509 *x, char key_id[37])
{
    cf_strlist_t  *l = NULL;
    EVP_PKEY      *xp = X509_get0_pubkey(x), *kp;
    json_t        *r;
    BIO           *b;
    char           key[160];
    size_t         i;
    bool           found = false;

    if (xp == NULL || cf_view_list(req, "key/", &l) != CF_OK)
        return false;
    for (i = 0; i < l->len && !found; i++) {
        snprintf(key, sizeof(key), "key/%s", l->items[i]);
        if (cf_view_get_json(req, key, &r) != CF_OK)
            continue;
        b = BIO_new_mem_buf(json_string_value(json_object_get(r,
                                                              "public_key")),
                            -1);
        kp = b != NULL ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        if (kp != NULL && EVP_PKEY_eq(kp, xp) == 1) {
            snprintf(key_id, 37, "%s", l->items[i]);
            found = true;
        }
        EVP_PKEY_free(kp);
        BIO_free(b);
        json_decref(r);
    }
    cf_strlist_free(l);
    return found;
}

/* Whether an issuer with this exact certificate exists; its id. */
static bool
cf_pki_issuer_exists(cf_req_t *req, X509 *x, char id[37])
{
    cf_strlist_t  *l = NULL;
    json_t        *r;
    X509          *y;
    char           key[160];
    size_t         i;
    bool           found = false;

    if (cf_view_list(req, "issuer/", &l) != CF_OK)
        return false;
    for (i = 0; i < l->len && !found; i++) {
        snprintf(key, sizeof(key), "issuer/%s", l->items[i]);
        if (cf_view_get_json(req, key, &r) != CF_OK)
            continue;
        y = cf_pki_pem_x509(json_string_value(json_object_get(r,
                                                              "certificate")));
        if (y != NULL && X509_cmp(x, y) == 0) {
            snprintf(id, 37, "%s", l->items[i]);
            found = true;
        }
        X509_free(y);
        json_decref(r);
    }
    cf_strlist_free(l);
    return found;
}

/* Parse a PEM bundle of certificates into a stack. */
static STACK_OF(X509) *
cf_pki_pem_bundle(const char *pem)
{
    STACK_OF(X509)  *sk = sk_X509_new_null();
    BIO             *b = BIO_new_mem_buf(pem, -1);
    X509            *x;

    if (sk == NULL || b == NULL) {
        sk_X509_free(sk);
        BIO_free(b);
        return NULL;
    }
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(sk, x) <= 0) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error();
    BIO_free(b);
    return sk;
}

cf_err_t
cf_pki_set_signed(cf_req_t *req)
{
    STACK_OF(X509)  *sk = NULL;
    const char      *pem = NULL;
    json_t          *imported = NULL, *existing = NULL, *mapping = NULL;
    json_t          *keys = NULL, *rest = NULL;
    char             kid[37], iid[37], *p;
    int              i, j;
    cf_err_t         rc;

    if ((rc = cf_pki_param_str(req, "certificate", NULL, &pem)) != CF_OK)
        return rc;
    if (pem == NULL || *pem == '\0')
        return cf_req_fail(req, CF_ERR_INVALID,
                           "the certificate field is required");
    if ((sk = cf_pki_pem_bundle(pem)) == NULL)
        return CF_ERR_NOMEM;
    if (sk_X509_num(sk) == 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "no certificate could be parsed from "
                         "'certificate'");
        goto out;
    }
    rc = CF_ERR_NOMEM;
    if ((imported = json_array()) == NULL || (existing = json_array())
        == NULL || (mapping = json_object()) == NULL
        || (keys = json_array()) == NULL)
        goto out;
    for (i = 0; i < sk_X509_num(sk); i++) {
        X509  *x = sk_X509_value(sk, i);

        if (X509_check_ca(x) == 0)
            continue;
        if (cf_pki_issuer_exists(req, x, iid)) {
            json_array_append_new(existing, json_string(iid));
            continue;
        }
        if (!cf_pki_key_match(req, x, kid))
            kid[0] = '\0';
        else
            json_array_append_new(keys, json_string(kid));
        json_decref(rest);
        if ((rest = json_array()) == NULL)
            goto out;
        for (j = i + 1; j < sk_X509_num(sk); j++) {
            if ((p = cf_pki_x509_pem(sk_X509_value(sk, j))) == NULL)
                goto out;
            json_array_append_new(rest, json_string(p));
            free(p);
        }
        if ((rc = cf_pki_issuer_add(req, x, kid, NULL, rest, iid))
            != CF_OK)
            goto out;
        rc = CF_ERR_NOMEM;
        json_array_append_new(imported, json_string(iid));
        json_object_set_new(mapping, iid, json_string(kid));
    }
    if (json_array_size(imported) == 0 && json_array_size(existing) == 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "the bundle holds no CA certificate");
        goto out;
    }
    rc = cf_req_reply_data(req, json_pack("{s:O, s:O, s:O, s:O}",
                                          "imported_issuers", imported,
                                          "imported_keys",
                                          json_array_size(keys) ? keys
                                          : json_null(),
                                          "existing_issuers", existing,
                                          "mapping", mapping));
out:
    sk_X509_pop_free(sk, X509_free);
    json_decref(imported);
    json_decref(existing);
    json_decref(mapping);
    json_decref(keys);
    json_decref(rest);
    return rc;
}

/* Parse the CSR in "csr" and check its signature. */
cf_err_t
cf_pki_csr_parse(cf_req_t *req, X509_REQ **out)
{
    const char  *pem = NULL;
    BIO         *b;
    X509_REQ    *csr;
    EVP_PKEY    *pk;
    cf_err_t     rc;

    *out = NULL;
    if ((rc = cf_pki_param_str(req, "csr", NULL, &pem)) != CF_OK)
        return rc;
    if (pem == NULL || *pem == '\0')
        return cf_req_fail(req, CF_ERR_INVALID,
                           "the csr field is required");
    if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
        return CF_ERR_NOMEM;
    csr = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (csr == NULL)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "certificate request could not be parsed");
    if ((pk = X509_REQ_get0_pubkey(csr)) == NULL
        || X509_REQ_verify(csr, pk) != 1) {
        ERR_clear_error();
        X509_REQ_free(csr);
        return cf_req_fail(req, CF_ERR_INVALID,
                           "request signature invalid");
    }
    *out = csr;
    return CF_OK;
}

/* Issuer ref from "issuer/<ref>/..." or the issuer_ref parameter. */
cf_err_t
cf_pki_ref_from_path(cf_req_t *req, char *buf, size_t len,
                     const char **ref)
{
    cf_err_t  rc;

    if (strncmp(req->rest, "issuer/", 7) == 0) {
        if (!cf_pki_seg(req, 1, buf, len))
            return cf_req_fail(req, CF_ERR_INVALID, "invalid issuer_ref");
        *ref = buf;
        return CF_OK;
    }
    if ((rc = cf_pki_param_str(req, "issuer_ref", "default", ref)) != CF_OK)
        return rc;
    return CF_OK;
}

cf_err_t
cf_pki_reply_issued(cf_req_t *req, X509 *x, const cf_pki_issuer_t *iss)
{
    json_t  *d = cf_pki_cert_fields(x), *chain;

    if (d == NULL)
        return CF_ERR_NOMEM;
    chain = cf_pki_issuer_chain(iss);
    json_object_set(d, "issuing_ca", json_object_get(iss->rec,
                                                     "certificate"));
    json_object_set_new(d, "ca_chain", chain);
    return cf_req_reply_data(req, d);
}

cf_err_t
cf_pki_sign_intermediate(cf_req_t *req)
{
    cf_pki_issuer_t  iss;
    cf_pki_tmpl_t    t;
    X509_REQ        *csr = NULL;
    X509            *x = NULL;
    const char      *ref;
    char             refbuf[128], msg[CF_PKI_MSG];
    bool             use_csr = false, present;
    int64_t          cap;
    cf_err_t         rc;

    memset(&iss, 0, sizeof(iss));
    memset(&t, 0, sizeof(t));
    if ((rc = cf_pki_ref_from_path(req, refbuf, sizeof(refbuf), &ref))
        != CF_OK || (rc = cf_pki_csr_parse(req, &csr)) != CF_OK
        || (rc = cf_pki_tmpl_from_req(req, &t)) != CF_OK
        || (rc = cf_req_param_bool(req, "use_csr_values", &use_csr,
                                   &present)) != CF_OK
        || (rc = cf_req_param_int(req, "max_path_length", &t.max_path_len,
                                  &present)) != CF_OK
        || (rc = cf_pki_issuer_load(req, ref, true, &iss)) != CF_OK)
        goto out;
    if (use_csr || t.cn == NULL || *t.cn == '\0')
        t.subject = X509_REQ_get_subject_name(csr);
    cap = cf_pki_asn1_unix(X509_get0_notAfter(iss.cert)) - time(NULL);
    if ((rc = cf_pki_validity(req, cf_pki_mount_ttl(req, false),
                              cf_pki_mount_ttl(req, true), &t)) != CF_OK)
        goto out;
    if (t.not_after - time(NULL) > cap) {
        t.not_after = time(NULL) + cap;     /* never outlive the issuer */
    }
    t.is_ca = true;
    t.pub = X509_REQ_get0_pubkey(csr);
    if ((rc = cf_pki_cert_build(req, &t, &iss, NULL, &x, msg, sizeof(msg)))
        != CF_OK) {
        if (rc == CF_ERR_INVALID)
            rc = cf_req_fail(req, rc, "%s", msg);
        goto out;
    }
    if ((rc = cf_pki_cert_store(req, x, iss.id)) != CF_OK)
        goto out;
    rc = cf_pki_reply_issued(req, x, &iss);
out:
    cf_pki_issuer_cleanup(&iss);
    cf_pki_tmpl_cleanup(&t);
    X509_REQ_free(csr);
    X509_free(x);
    return rc;
}

cf_err_t
cf_pki_sign_self_issued(cf_req_t *req)
{
    cf_pki_issuer_t  iss;
    const char      *pem = NULL, *ref;
    X509            *x = NULL;
    X509V3_CTX       ctx;
    X509_EXTENSION  *e = NULL;
    char             refbuf[128], *out_pem = NULL;
    int              idx;
    cf_err_t         rc;

    memset(&iss, 0, sizeof(iss));
    if ((rc = cf_pki_ref_from_path(req, refbuf, sizeof(refbuf), &ref))
        != CF_OK
        || (rc = cf_pki_param_str(req, "certificate", NULL, &pem)) != CF_OK)
        goto out;
    if (pem == NULL || (x = cf_pki_pem_x509(pem)) == NULL) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "'certificate' must be a PEM certificate");
        goto out;
    }
    if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x))
        != 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "given certificate is not self-issued");
        goto out;
    }
    if (X509_check_ca(x) == 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "given certificate is not a CA certificate");
        goto out;
    }
    if ((rc = cf_pki_issuer_load(req, ref, true, &iss)) != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    if (X509_set_issuer_name(x, X509_get_subject_name(iss.cert)) != 1)
        goto out;
    while ((idx = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1))
           >= 0)
        X509_EXTENSION_free(X509_delete_ext(x, idx));
    X509V3_set_ctx(&ctx, iss.cert, x, NULL, NULL, 0);
    if ((e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
                                 "keyid:always")) == NULL
        || X509_add_ext(x, e, -1) != 1)
        goto out;
    if (X509_sign(x, iss.key, cf_pki_md_for(iss.key)) <= 0) {
        rc = CF_ERR_HSM;
        goto out;
    }
    if ((out_pem = cf_pki_x509_pem(x)) == NULL)
        goto out;
    rc = cf_req_reply_data(req, json_pack("{s:s, s:O}", "certificate",
                                          out_pem, "issuing_ca",
                                          json_object_get(iss.rec,
                                                          "certificate")));
out:
    cf_pki_issuer_cleanup(&iss);
    X509_EXTENSION_free(e);
    X509_free(x);
    free(out_pem);
    return rc;
}

cf_err_t
cf_pki_root_delete(cf_req_t *req)
{
    cf_strlist_t  *l = NULL;
    size_t         i;
    char           key[160];
    cf_err_t       rc;

    if ((rc = cf_view_list(req, "key/", &l)) != CF_OK)
        return rc;
    for (i = 0; i < l->len && rc == CF_OK; i++)
        rc = cf_pki_key_drop(req, l->items[i]);
    cf_strlist_free(l);
    l = NULL;
    if (rc != CF_OK || (rc = cf_view_list(req, "issuer/", &l)) != CF_OK)
        return rc;
    for (i = 0; i < l->len && rc == CF_OK; i++) {
        snprintf(key, sizeof(key), "issuer/%s", l->items[i]);
        rc = cf_view_delete(req, key);
        snprintf(key, sizeof(key), "crl/%s", l->items[i]);
        if (rc == CF_OK)
            rc = cf_view_delete(req, key);
    }
    cf_strlist_free(l);
    if (rc == CF_OK)
        rc = cf_view_delete(req, "config/issuers");
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

/* ---- issuers and keys: list, read, update ------------------------------- */

static cf_err_t
cf_pki_list_info(cf_req_t *req, const char *dir, bool issuers)
{
    cf_strlist_t  *l = NULL;
    json_t        *keys = NULL, *info = NULL, *r;
    char           key[160], *def = issuers ? cf_pki_default_issuer(req)
                                            : NULL;
    size_t         i;
    cf_err_t       rc;

    if ((rc = cf_view_list(req, dir, &l)) != CF_OK)
        goto out;
    if (l->len == 0) {
        rc = cf_pki_reply_404(req);
        goto out;
    }
    rc = CF_ERR_NOMEM;
    if ((keys = json_array()) == NULL || (info = json_object()) == NULL)
        goto out;
    for (i = 0; i < l->len; i++) {
        snprintf(key, sizeof(key), "%s%s", dir, l->items[i]);
        if (cf_view_get_json(req, key, &r) != CF_OK)
            continue;
        json_array_append_new(keys, json_string(l->items[i]));
        if (issuers) {
            X509  *x = cf_pki_pem_x509(json_string_value(
                           json_object_get(r, "certificate")));
            char   ser[CF_PKI_SERIAL] = "";

            if (x != NULL)
                cf_pki_serial_str(X509_get0_serialNumber(x), ':', ser);
            X509_free(x);
            json_object_set_new(info, l->items[i], json_pack(
                "{s:O, s:b, s:O, s:s}", "issuer_name",
                json_object_get(r, "issuer_name"), "is_default",
                def != NULL && strcmp(def, l->items[i]) == 0, "key_id",
                json_object_get(r, "key_id"), "serial_number", ser));
        } else {
            json_object_set_new(info, l->items[i], json_pack(
                "{s:O, s:O}", "key_name", json_object_get(r, "key_name"),
                "key_type", json_object_get(r, "key_type")));
        }
        json_decref(r);
    }
    rc = cf_req_reply_data(req, json_pack("{s:O, s:O}", "keys", keys,
                                          "key_info", info));
out:
    cf_strlist_free(l);
    json_decref(keys);
    json_decref(info);
    free(def);
    return rc;
}

cf_err_t
cf_pki_issuers_list(cf_req_t *req)
{
    return cf_pki_list_info(req, "issuer/", true);
}

cf_err_t
cf_pki_keys_list(cf_req_t *req)
{
    return cf_pki_list_info(req, "key/", false);
}

/* A copy of u[field], or an empty array. */
static json_t *
cf_pki_url_list(json_t *u, const char *field)
{
    json_t  *v = u != NULL ? json_object_get(u, field) : NULL;

    return json_is_array(v) ? json_deep_copy(v) : json_array();
}

static json_t *
cf_pki_issuer_view(cf_req_t *req, json_t *rec)
{
    json_t  *u = NULL, *d;

    cf_view_get_json(req, "config/urls", &u);
    d = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:s, s:o, s:o, "
                  "s:o}",
                  "issuer_id", json_object_get(rec, "issuer_id"),
                  "issuer_name", json_object_get(rec, "issuer_name"),
                  "key_id", json_object_get(rec, "key_id"),
                  "certificate", json_object_get(rec, "certificate"),
                  "ca_chain", json_object_get(rec, "ca_chain"),
                  "leaf_not_after_behavior",
                  json_object_get(rec, "leaf_not_after_behavior"),
                  "usage", json_object_get(rec, "usage"),
                  "revocation_signature_algorithm", "",
                  "issuing_certificates",
                  cf_pki_url_list(u, "issuing_certificates"),
                  "crl_distribution_points",
                  cf_pki_url_list(u, "crl_distribution_points"),
                  "ocsp_servers", cf_pki_url_list(u, "ocsp_servers"));
    if (d != NULL)
        json_object_set(d, "manual_chain",
                        json_object_get(rec, "manual_chain"));
    json_decref(u);
    return d;
}

cf_err_t
cf_pki_issuer(cf_req_t *req)
{
    cf_pki_issuer_t  iss;
    char             ref[128], key[64], *def = NULL;
    const char      *s;
    bool             present;
    cf_err_t         rc;

    if (!cf_pki_seg(req, 1, ref, sizeof(ref)))
        return cf_pki_reply_404(req);
    if ((rc = cf_pki_issuer_load(req, ref, false, &iss)) != CF_OK) {
        if (rc == CF_ERR_INVALID && req->op != CF_OP_UPDATE
            && req->op != CF_OP_CREATE) {
            json_decref(req->errors);
            req->errors = NULL;
            req->status = 0;
            return cf_pki_reply_404(req);
        }
        return rc;
    }
    snprintf(key, sizeof(key), "issuer/%s", iss.id);
    if (req->op == CF_OP_DELETE) {
        def = cf_pki_default_issuer(req);
        rc = cf_view_delete(req, key);
        if (rc == CF_OK && def != NULL && strcmp(def, iss.id) == 0)
            rc = cf_view_delete(req, "config/issuers");
        if (rc == CF_OK)
            rc = cf_req_reply_none(req);
        goto out;
    }
    if (req->op != CF_OP_READ) {
        if ((rc = cf_req_param_str(req, "issuer_name", &s, &present))
            != CF_OK)
            goto out;
        if (present) {
            if ((rc = cf_pki_name_free_check(req, "issuer/", "issuer_name",
                                             s, iss.id)) != CF_OK)
                goto out;
            json_object_set_new(iss.rec, "issuer_name", json_string(s));
        }
        if ((rc = cf_req_param_str(req, "leaf_not_after_behavior", &s,
                                   &present)) != CF_OK)
            goto out;
        if (present) {
            if (strcmp(s, "err") != 0 && strcmp(s, "truncate") != 0
                && strcmp(s, "permit") != 0) {
                rc = cf_req_fail(req, CF_ERR_INVALID,
                                 "'leaf_not_after_behavior' must be err, "
                                 "truncate or permit");
                goto out;
            }
            json_object_set_new(iss.rec, "leaf_not_after_behavior",
                                json_string(s));
        }
        if ((rc = cf_req_param_str(req, "usage", &s, &present)) != CF_OK)
            goto out;
        if (present)
            json_object_set_new(iss.rec, "usage", json_string(s));
        if ((rc = cf_view_put_json(req, key, iss.rec)) != CF_OK)
            goto out;
    }
    rc = cf_req_reply_data(req, cf_pki_issuer_view(req, iss.rec));
out:
    free(def);
    cf_pki_issuer_cleanup(&iss);
    return rc;
}

cf_err_t
cf_pki_issuer_cert(cf_req_t *req)
{
    cf_pki_issuer_t  iss;
    char             ref[128];
    const char      *fmt = strrchr(req->rest, '/') + 1;
    unsigned char   *der = NULL;
    int              n;
    cf_err_t         rc;

    if (!cf_pki_seg(req, 1, ref, sizeof(ref)))
        return cf_pki_reply_404(req);
    if ((rc = cf_pki_issuer_load(req, ref, false, &iss)) != CF_OK)
        return rc;
    if (strcmp(fmt, "der") == 0) {
        if ((n = i2d_X509(iss.cert, &der)) <= 0)
            rc = CF_ERR_NOMEM;
        else
            rc = cf_req_reply_raw(req, 200, "application/pkix-cert", der,
                                  (size_t) n);
        OPENSSL_free(der);
    } else if (strcmp(fmt, "pem") == 0) {
        const char  *pem = json_string_value(json_object_get(iss.rec,
                                                             "certificate"));

        rc = cf_req_reply_raw(req, 200, "application/pem-certificate-chain",
                              pem, strlen(pem));
    } else {
        rc = cf_req_reply_data(req, json_pack(
            "{s:O, s:O, s:O, s:O}", "certificate",
            json_object_get(iss.rec, "certificate"), "ca_chain",
            json_object_get(iss.rec, "ca_chain"), "issuer_id",
            json_object_get(iss.rec, "issuer_id"), "issuer_name",
            json_object_get(iss.rec, "issuer_name")));
    }
    cf_pki_issuer_cleanup(&iss);
    return rc;
}

cf_err_t
cf_pki_key(cf_req_t *req)
{
    cf_strlist_t  *l = NULL;
    json_t        *r = NULL, *c;
    char           ref[128], key[160];
    const char    *s;
    bool           present;
    size_t         i;
    cf_err_t       rc;

    if (!cf_pki_seg(req, 1, ref, sizeof(ref)))
        return cf_pki_reply_404(req);
    snprintf(key, sizeof(key), "key/%s", ref);
    rc = cf_view_get_json(req, key, &r);
    if (rc == CF_ERR_NOT_FOUND && (rc = cf_view_list(req, "key/", &l))
                                  == CF_OK) {
        rc = CF_ERR_NOT_FOUND;
        for (i = 0; i < l->len && rc == CF_ERR_NOT_FOUND; i++) {
            snprintf(key, sizeof(key), "key/%s", l->items[i]);
            if (cf_view_get_json(req, key, &c) != CF_OK)
                continue;
            s = json_string_value(json_object_get(c, "key_name"));
            if (s != NULL && strcmp(s, ref) == 0) {
                r = c;
                rc = CF_OK;
            } else {
                json_decref(c);
            }
        }
        cf_strlist_free(l);
    }
    if (rc == CF_ERR_NOT_FOUND)
        return cf_pki_reply_404(req);
    if (rc != CF_OK)
        return rc;
    if (req->op != CF_OP_READ) {
        if ((rc = cf_req_param_str(req, "key_name", &s, &present)) != CF_OK)
            goto out;
        if (present) {
            if ((rc = cf_pki_name_free_check(req, "key/", "key_name", s,
                                             json_string_value(
                                                 json_object_get(r,
                                                                 "key_id"))))
                != CF_OK)
                goto out;
            json_object_set_new(r, "key_name", json_string(s));
            if ((rc = cf_view_put_json(req, key, r)) != CF_OK)
                goto out;
        }
    }
    rc = cf_req_reply_data(req, json_pack(
        "{s:O, s:O, s:O, s:O, s:s}", "key_id", json_object_get(r, "key_id"),
        "key_name", json_object_get(r, "key_name"), "key_type",
        json_object_get(r, "key_type"), "key_bits",
        json_object_get(r, "key_bits"), "managed_key_name", "coffer-hsm"));
out:
    json_decref(r);
    return rc;
}

/* ---- config --------------------------------------------------------------- */

cf_err_t
cf_pki_config_issuers(cf_req_t *req)
{
    cf_pki_issuer_t  iss;
    json_t          *c = NULL;
    const char      *ref = NULL;
    char            *def;
    cf_err_t         rc;

    if (req->op == CF_OP_READ) {
        def = cf_pki_default_issuer(req);
        rc = cf_req_reply_data(req, json_pack("{s:s, s:b}", "default",
                                              def != NULL ? def : "",
                                              "default_follows_latest_"
                                              "issuer", 0));
        free(def);
        return rc;
    }
    if ((rc = cf_pki_param_str(req, "default", NULL, &ref)) != CF_OK)
        return rc;
    if (ref == NULL || *ref == '\0' || strcmp(ref, "default") == 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "invalid issuer specification; must be an "
                           "issuer id or name");
    if ((rc = cf_pki_issuer_load(req, ref, false, &iss)) != CF_OK)
        return rc;
    if ((c = json_pack("{s:s, s:b}", "default", iss.id,
                       "default_follows_latest_issuer", 0)) == NULL)
        rc = CF_ERR_NOMEM;
    else if ((rc = cf_view_put_json(req, "config/issuers", c)) == CF_OK)
        rc = cf_req_reply_data(req, json_pack("{s:s, s:b}", "default",
                                              iss.id, "default_follows_"
                                              "latest_issuer", 0));
    json_decref(c);
    cf_pki_issuer_cleanup(&iss);
    return rc;
}

cf_err_t
cf_pki_config_urls(cf_req_t *req)
{
    static const char *const  f[] = { "issuing_certificates",
                                      "crl_distribution_points",
                                      "ocsp_servers" };
    json_t    *u = NULL, *l;
    size_t     i, k;
    cf_err_t   rc;

    rc = cf_view_get_json(req, "config/urls", &u);
    if (rc == CF_ERR_NOT_FOUND)
        rc = (u = json_object()) != NULL ? CF_OK : CF_ERR_NOMEM;
    if (rc != CF_OK)
        return rc;
    if (req->op != CF_OP_READ) {
        for (i = 0; i < 3; i++) {
            if (json_object_get(req->body, f[i]) == NULL
                && cf_req_query(req, f[i]) == NULL)
                continue;
            if ((rc = cf_pki_param_list(req, f[i], &l)) != CF_OK)
                goto out;
            for (k = 0; k < json_array_size(l); k++) {
                if (strstr(json_string_value(json_array_get(l, k)), "://")
                    == NULL) {
                    json_decref(l);
                    rc = cf_req_fail(req, CF_ERR_INVALID,
                                     "invalid URL in '%s'", f[i]);
                    goto out;
                }
            }
            json_object_set_new(u, f[i], l);
        }
        if ((rc = cf_view_put_json(req, "config/urls", u)) != CF_OK)
            goto out;
    }
    for (i = 0; i < 3; i++) {
        if (json_object_get(u, f[i]) == NULL)
            json_object_set_new(u, f[i], json_array());
    }
    json_object_set_new(u, "enable_templating", json_false());
    rc = cf_req_reply_data(req, json_incref(u));
out:
    json_decref(u);
    return rc;
}

/* ca, ca/pem, ca_chain, cert/ca_chain: the default issuer. */
cf_err_t
cf_pki_ca(cf_req_t *req)
{
    cf_pki_issuer_t  iss;
    unsigned char   *der = NULL;
    json_t          *v;
    char            *all = NULL;
    size_t           i, n = 0;
    int              dn;
    cf_err_t         rc;

    if ((rc = cf_pki_issuer_load(req, "default", false, &iss)) != CF_OK) {
        if (rc == CF_ERR_INVALID) {
            /* no CA yet: Vault answers 204 for the raw endpoints */
            json_decref(req->errors);
            req->errors = NULL;
            req->status = 0;
            return cf_req_reply_none(req);
        }
        return rc;
    }
    if (strcmp(req->rest, "ca") == 0) {
        if ((dn = i2d_X509(iss.cert, &der)) <= 0)
            rc = CF_ERR_NOMEM;
        else
            rc = cf_req_reply_raw(req, 200, "application/pkix-cert", der,
                                  (size_t) dn);
        OPENSSL_free(der);
        goto out;
    }
    if (strcmp(req->rest, "ca/pem") == 0) {
        const char  *pem = json_string_value(json_object_get(iss.rec,
                                                             "certificate"));

        rc = cf_req_reply_raw(req, 200, "application/pem-certificate-chain",
                              pem, strlen(pem));
        goto out;
    }
    json_array_foreach(json_object_get(iss.rec, "ca_chain"), i, v)
        n += strlen(json_string_value(v)) + 1;
    if ((all = malloc(n + 1)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    n = 0;
    json_array_foreach(json_object_get(iss.rec, "ca_chain"), i, v) {
        size_t  l = strlen(json_string_value(v));

        memcpy(all + n, json_string_value(v), l);
        n += l;
        all[n++] = '\n';
    }
    all[n] = '\0';
    if (strcmp(req->rest, "ca_chain") == 0)
        rc = cf_req_reply_raw(req, 200, "application/pem-certificate-chain",
                              all, n);
    else
        rc = cf_req_reply_data(req, json_pack("{s:s, s:O}", "certificate",
                                              all, "ca_chain",
                                              json_object_get(iss.rec,
                                                              "ca_chain")));
out:
    free(all);
    cf_pki_issuer_cleanup(&iss);
    return rc;
}
