/*
 * pki_crl: revocation (revoke, revoke-with-key), CRLs (crl, crl/pem,
 * crl/rotate, config/crl), certs/revoked, OCSP and tidy. CRLs and OCSP
 * responses are signed by the issuer's key on the token. Revocation state
 * changes hold cf_pki_lock (engines/pki.h).
 */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "coffer/log.h"

#define CF_PKI_CRL_EXPIRY  (72 * 3600)

static int64_t
cf_pki_crl_expiry(cf_req_t *req, bool *disabled)
{
    json_t      *c = NULL;
    int64_t      e = CF_PKI_CRL_EXPIRY;

    *disabled = false;
    if (cf_view_get_json(req, "config/crl", &c) == CF_OK) {
        if (json_integer_value(json_object_get(c, "expiry_seconds")) > 0)
            e = json_integer_value(json_object_get(c, "expiry_seconds"));
        *disabled = json_is_true(json_object_get(c, "disable"));
    }
    json_decref(c);
    return e;
}

cf_err_t
cf_pki_crl_build_locked(cf_req_t *req, const char *issuer_id, bool bump)
{
    cf_pki_issuer_t  iss;
    cf_strlist_t    *l = NULL;
    X509_CRL        *crl = NULL;
    ASN1_TIME       *t = NULL;
    ASN1_INTEGER    *num = NULL;
    json_t          *old = NULL, *r, *rec = NULL;
    X509V3_CTX       ctx;
    X509_EXTENSION  *e = NULL;
    unsigned char   *der = NULL;
    char             key[160], *b64 = NULL;
    int64_t          n = 1, now = (int64_t) time(NULL), exp;
    bool             disabled;
    size_t           i;
    int              dn;
    cf_err_t         rc;

    if ((rc = cf_pki_issuer_load(req, issuer_id, true, &iss)) != CF_OK)
        return rc;
    snprintf(key, sizeof(key), "crl/%s", iss.id);
    if (cf_view_get_json(req, key, &old) == CF_OK)
        n = json_integer_value(json_object_get(old, "number"))
            + (bump ? 1 : 0);
    exp = cf_pki_crl_expiry(req, &disabled);
    rc = CF_ERR_NOMEM;
    if ((crl = X509_CRL_new()) == NULL || (t = ASN1_TIME_new()) == NULL
        || X509_CRL_set_version(crl, 1) != 1
        || X509_CRL_set_issuer_name(crl, X509_get_subject_name(iss.cert))
           != 1
        || ASN1_TIME_set(t, (time_t) now) == NULL
        || X509_CRL_set1_lastUpdate(crl, t) != 1
        || ASN1_TIME_set(t, (time_t) (now + exp)) == NULL
        || X509_CRL_set1_nextUpdate(crl, t) != 1)
        goto out;
    if (!disabled && (rc = cf_view_list(req, "revoked/", &l)) != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    for (i = 0; l != NULL && i < l->len; i++) {
        X509_REVOKED  *rv;
        BIGNUM        *bn = NULL;
        char           hex[CF_PKI_SERIAL], *p, *q;
        const char    *iid;

        snprintf(key, sizeof(key), "revoked/%s", l->items[i]);
        if (cf_view_get_json(req, key, &r) != CF_OK)
            continue;
        iid = json_string_value(json_object_get(r, "issuer_id"));
        if (iid == NULL || strcmp(iid, iss.id) != 0) {
            json_decref(r);
            continue;
        }
        for (p = l->items[i], q = hex; *p != '\0'; p++) {
            if (*p != '-')
                *q++ = *p;
        }
        *q = '\0';
        if ((rv = X509_REVOKED_new()) == NULL || BN_hex2bn(&bn, hex) == 0
            || BN_to_ASN1_INTEGER(bn, (ASN1_INTEGER *)
                                  X509_REVOKED_get0_serialNumber(rv))
               == NULL
            || ASN1_TIME_set(t, (time_t) json_integer_value(
                                 json_object_get(r, "revocation_time")))
               == NULL
            || X509_REVOKED_set_revocationDate(rv, t) != 1
            || X509_CRL_add0_revoked(crl, rv) != 1) {
            X509_REVOKED_free(rv);
            BN_free(bn);
            json_decref(r);
            goto out;
        }
        BN_free(bn);
        json_decref(r);
    }
    X509_CRL_sort(crl);
    if ((num = ASN1_INTEGER_new()) == NULL || ASN1_INTEGER_set_int64(num, n)
                                              != 1
        || X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
        goto out;
    X509V3_set_ctx(&ctx, iss.cert, NULL, NULL, crl, 0);
    if ((e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
                                 "keyid:always")) == NULL
        || X509_CRL_add_ext(crl, e, -1) != 1)
        goto out;
    if (X509_CRL_sign(crl, iss.key, cf_pki_md_for(iss.key)) <= 0) {
        cf_log_error("pki", "signing a CRL on the token failed");
        rc = CF_ERR_HSM;
        goto out;
    }
    if ((dn = i2d_X509_CRL(crl, &der)) <= 0
        || (b64 = cf_b64_encode(der, (size_t) dn)) == NULL
        || (rec = json_pack("{s:s, s:I}", "der", b64, "number",
                            (json_int_t) n)) == NULL)
        goto out;
    snprintf(key, sizeof(key), "crl/%s", iss.id);
    rc = cf_view_put_json(req, key, rec);
out:
    ERR_clear_error();
    cf_pki_issuer_cleanup(&iss);
    cf_strlist_free(l);
    X509_CRL_free(crl);
    ASN1_TIME_free(t);
    ASN1_INTEGER_free(num);
    X509_EXTENSION_free(e);
    OPENSSL_free(der);
    if (b64 != NULL)
        cf_mem_free_str(b64);
    json_decref(old);
    json_decref(rec);
    return rc;
}

/* The stored CRL DER of an issuer, building it first when absent. */
static cf_err_t
cf_pki_crl_get(cf_req_t *req, const char *issuer_id, cf_buf_t **out)
{
    json_t    *rec = NULL;
    char       key[160];
    cf_err_t   rc;

    *out = NULL;
    snprintf(key, sizeof(key), "crl/%s", issuer_id);
    rc = cf_view_get_json(req, key, &rec);
    if (rc == CF_ERR_NOT_FOUND) {
        cf_pki_lock();
        rc = cf_pki_crl_build_locked(req, issuer_id, false);
        cf_pki_unlock();
        if (rc == CF_OK)
            rc = cf_view_get_json(req, key, &rec);
    }
    if (rc == CF_OK) {
        rc = cf_b64_decode(json_string_value(json_object_get(rec, "der")),
                           out);
        if (rc == CF_ERR_INVALID)
            rc = CF_ERR_INTEGRITY;
    }
    json_decref(rec);
    return rc;
}

cf_err_t
cf_pki_crl(cf_req_t *req)
{
    cf_pki_issuer_t       iss;
    cf_buf_t             *der = NULL;
    X509_CRL             *crl = NULL;
    BIO                  *b = NULL;
    const unsigned char  *p;
    const char           *ref = "default";
    char                  refbuf[128], *d;
    bool                  pem, json;
    long                  n;
    cf_err_t              rc;

    if (strncmp(req->rest, "issuer/", 7) == 0) {
        if (!cf_pki_seg(req, 1, refbuf, sizeof(refbuf)))
            return cf_pki_reply_404(req);
        ref = refbuf;
        pem = strstr(req->rest, "/crl/pem") != NULL;
        json = strstr(req->rest, "/crl/") == NULL;
    } else {
        pem = strcmp(req->rest, "crl/pem") == 0;
        json = strcmp(req->rest, "cert/crl") == 0;
    }
    if ((rc = cf_pki_issuer_load(req, ref, false, &iss)) != CF_OK)
        return rc;
    if ((rc = cf_pki_crl_get(req, iss.id, &der)) != CF_OK)
        goto out;
    if (!pem && !json) {
        rc = cf_req_reply_raw(req, 200, "application/pkix-crl", der->data,
                              der->len);
        goto out;
    }
    p = der->data;
    rc = CF_ERR_NOMEM;
    if ((crl = d2i_X509_CRL(NULL, &p, (long) der->len)) == NULL
        || (b = BIO_new(BIO_s_mem())) == NULL
        || PEM_write_bio_X509_CRL(b, crl) != 1
        || (n = BIO_get_mem_data(b, &d)) <= 0)
        goto out;
    if (pem)
        rc = cf_req_reply_raw(req, 200, "application/x-pem-file", d,
                              (size_t) n);
    else
        rc = cf_req_reply_data(req, json_pack(
            strcmp(req->rest, "cert/crl") == 0 ? "{s:s%, s:i}"
                                               : "{s:s%}",
            strcmp(req->rest, "cert/crl") == 0 ? "certificate" : "crl", d,
            (size_t) n, "revocation_time", 0));
out:
    cf_pki_issuer_cleanup(&iss);
    cf_buf_free(der);
    X509_CRL_free(crl);
    BIO_free(b);
    return rc;
}

/* Rebuild every issuer's CRL (bumping its number). */
static cf_err_t
cf_pki_crl_rebuild_all(cf_req_t *req)
{
    cf_strlist_t  *l = NULL;
    json_t        *r;
    char           key[160];
    size_t         i;
    cf_err_t       rc;

    if ((rc = cf_view_list(req, "issuer/", &l)) != CF_OK)
        return rc;
    cf_pki_lock();
    for (i = 0; i < l->len && rc == CF_OK; i++) {
        snprintf(key, sizeof(key), "issuer/%s", l->items[i]);
        if (cf_view_get_json(req, key, &r) != CF_OK)
            continue;
        if (*json_string_value(json_object_get(r, "key_id")) != '\0')
            rc = cf_pki_crl_build_locked(req, l->items[i], true);
        json_decref(r);
    }
    cf_pki_unlock();
    cf_strlist_free(l);
    return rc;
}

cf_err_t
cf_pki_crl_rotate(cf_req_t *req)
{
    cf_err_t  rc;

    if ((rc = cf_pki_crl_rebuild_all(req)) != CF_OK)
        return rc;
    return cf_req_reply_data(req, json_pack("{s:b}", "success", 1));
}

cf_err_t
cf_pki_config_crl(cf_req_t *req)
{
    json_t      *c = NULL;
    const char  *expiry;
    int64_t      secs;
    bool         b, present;
    cf_err_t     rc;

    rc = cf_view_get_json(req, "config/crl", &c);
    if (rc == CF_ERR_NOT_FOUND)
        rc = (c = json_pack("{s:s, s:I, s:b, s:b, s:b, s:s}", "expiry",
                            "72h", "expiry_seconds",
                            (json_int_t) CF_PKI_CRL_EXPIRY, "disable", 0,
                            "ocsp_disable", 0, "auto_rebuild", 0,
                            "ocsp_expiry", "12h")) != NULL
             ? CF_OK : CF_ERR_NOMEM;
    if (rc != CF_OK)
        return rc;
    if (req->op != CF_OP_READ) {
        if ((rc = cf_req_param_str(req, "expiry", &expiry, &present))
            != CF_OK)
            goto out;
        if (present) {
            if ((rc = cf_req_param_duration(req, "expiry", &secs, &present))
                != CF_OK)
                goto out;
            if (secs <= 0) {
                rc = cf_req_fail(req, CF_ERR_INVALID,
                                 "'expiry' must be a positive duration");
                goto out;
            }
            json_object_set_new(c, "expiry", json_string(expiry));
            json_object_set_new(c, "expiry_seconds", json_integer(secs));
        }
        if ((rc = cf_req_param_bool(req, "disable", &b, &present))
            != CF_OK)
            goto out;
        if (present)
            json_object_set_new(c, "disable", json_boolean(b));
        if ((rc = cf_req_param_bool(req, "ocsp_disable", &b, &present))
            != CF_OK)
            goto out;
        if (present)
            json_object_set_new(c, "ocsp_disable", json_boolean(b));
        if ((rc = cf_view_put_json(req, "config/crl", c)) != CF_OK
            || (rc = cf_pki_crl_rebuild_all(req)) != CF_OK)
            goto out;
    }
    json_object_del(c, "expiry_seconds");
    rc = cf_req_reply_data(req, json_incref(c));
out:
    json_decref(c);
    return rc;
}

cf_err_t
cf_pki_revoked_list(cf_req_t *req)
{
    return cf_pki_reply_list(req, "revoked/", true);
}

cf_err_t
cf_pki_revoke(cf_req_t *req)
{
    json_t       *rec = NULL, *rev = NULL;
    X509         *x = NULL, *given = NULL;
    EVP_PKEY     *pk = NULL;
    BIO          *b = NULL;
    const char   *serial = NULL, *cert = NULL, *key_pem = NULL, *iid;
    char          ser[CF_PKI_SERIAL], key[CF_PKI_SERIAL + 16], t[32];
    bool          with_key = strcmp(req->rest, "revoke-with-key") == 0;
    int64_t       now = (int64_t) time(NULL), rt;
    cf_err_t      rc;

    if ((rc = cf_pki_param_str(req, "serial_number", NULL, &serial))
        != CF_OK
        || (rc = cf_pki_param_str(req, "certificate", NULL, &cert))
           != CF_OK
        || (rc = cf_pki_param_str(req, "private_key", NULL, &key_pem))
           != CF_OK)
        return rc;
    if ((serial == NULL || *serial == '\0') && cert != NULL && *cert) {
        if ((given = cf_pki_pem_x509(cert)) == NULL)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'certificate' must be a PEM certificate");
        cf_pki_serial_str(X509_get0_serialNumber(given), '-', ser);
    } else if (serial == NULL || *serial == '\0') {
        return cf_req_fail(req, CF_ERR_INVALID,
                           "the serial_number field is required");
    } else if (!cf_pki_serial_norm(serial, ser)) {
        return cf_req_fail(req, CF_ERR_INVALID, "invalid serial number");
    }
    snprintf(key, sizeof(key), "certs/%s", ser);
    cf_pki_lock();
    rc = cf_view_get_json(req, key, &rec);
    if (rc == CF_ERR_NOT_FOUND) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "certificate with serial %s not found", serial
                         ? serial : ser);
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    x = cf_pki_pem_x509(json_string_value(json_object_get(rec,
                                                          "certificate")));
    if (x == NULL) {
        rc = CF_ERR_INTEGRITY;
        goto out;
    }
    if (given != NULL && X509_cmp(given, x) != 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "certificate does not match the stored one");
        goto out;
    }
    if (with_key) {
        if (key_pem == NULL || *key_pem == '\0'
            || (b = BIO_new_mem_buf(key_pem, -1)) == NULL
            || (pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL
            || X509_check_private_key(x, pk) != 1) {
            ERR_clear_error();
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "failed to validate private key match");
            goto out;
        }
    }
    if (X509_check_ca(x) != 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "revoking a CA certificate is not allowed here; "
                         "delete the issuer instead");
        goto out;
    }
    iid = json_string_value(json_object_get(rec, "issuer_id"));
    rt = json_integer_value(json_object_get(rec, "revocation_time"));
    if (rt == 0) {
        rt = now;
        json_object_set_new(rec, "revocation_time", json_integer(rt));
        snprintf(key, sizeof(key), "revoked/%s", ser);
        if ((rev = json_pack("{s:I, s:s}", "revocation_time",
                             (json_int_t) rt, "issuer_id",
                             iid != NULL ? iid : "")) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        if ((rc = cf_view_put_json(req, key, rev)) != CF_OK)
            goto out;
        snprintf(key, sizeof(key), "certs/%s", ser);
        if ((rc = cf_view_put_json(req, key, rec)) != CF_OK)
            goto out;
        if (iid != NULL && *iid != '\0'
            && (rc = cf_pki_crl_build_locked(req, iid, true)) != CF_OK)
            goto out;
    }
    cf_pki_rfc3339(rt, t);
    rc = cf_req_reply_data(req, json_pack("{s:I, s:s, s:s}",
                                          "revocation_time", (json_int_t) rt,
                                          "revocation_time_rfc3339", t,
                                          "state", "revoked"));
out:
    cf_pki_unlock();
    json_decref(rec);
    json_decref(rev);
    X509_free(x);
    X509_free(given);
    EVP_PKEY_free(pk);
    BIO_free(b);
    return rc;
}

/* The engine's revoke_secret hook (leases of generate_lease roles): revoke
 * the certificate, unless it has expired meanwhile (an expired
 * certificate needs no CRL entry; Vault skips it too). */
cf_err_t
cf_pki_revoke_secret(cf_req_t *req, const json_t *internal)
{
    const char  *ser = json_string_value(json_object_get(internal,
                                                         "serial_number"));
    json_int_t   end = json_integer_value(json_object_get(internal,
                                                          "expiration"));

    if (ser == NULL)
        return CF_ERR_INTEGRITY;
    if (end <= (json_int_t) time(NULL))
        return CF_OK;
    json_object_set_new(req->body, "serial_number", json_string(ser));
    req->rest = "revoke";
    return cf_pki_revoke(req);
}

/* ---- OCSP ------------------------------------------------------------------ */

static cf_err_t
cf_pki_ocsp_reply(cf_req_t *req, int status, OCSP_RESPONSE *resp)
{
    unsigned char  *der = NULL;
    int             n;
    cf_err_t        rc;

    if ((n = i2d_OCSP_RESPONSE(resp, &der)) <= 0)
        return CF_ERR_NOMEM;
    rc = cf_req_reply_raw(req, status, "application/ocsp-response", der,
                          (size_t) n);
    OPENSSL_free(der);
    return rc;
}

static cf_err_t
cf_pki_ocsp_error(cf_req_t *req, int http, int ostatus)
{
    OCSP_RESPONSE  *r = OCSP_response_create(ostatus, NULL);
    cf_err_t        rc;

    if (r == NULL)
        return CF_ERR_NOMEM;
    rc = cf_pki_ocsp_reply(req, http, r);
    OCSP_RESPONSE_free(r);
    return rc;
}

/* The issuer whose name and key hash match cid. */
static bool
cf_pki_ocsp_issuer(cf_req_t *req, OCSP_CERTID *cid, cf_pki_issuer_t *out)
{
    cf_strlist_t  *l = NULL;
    ASN1_OBJECT   *mdo = NULL;
    const EVP_MD  *md;
    OCSP_CERTID   *mine;
    size_t         i;
    bool           found = false;

    if (OCSP_id_get0_info(NULL, &mdo, NULL, NULL, cid) != 1
        || (md = EVP_get_digestbyobj(mdo)) == NULL
        || cf_view_list(req, "issuer/", &l) != CF_OK)
        return false;
    for (i = 0; i < l->len && !found; i++) {
        if (cf_pki_issuer_load(req, l->items[i], false, out) != CF_OK)
            continue;
        mine = OCSP_cert_to_id(md, NULL, out->cert);
        found = mine != NULL && OCSP_id_issuer_cmp(cid, mine) == 0;
        OCSP_CERTID_free(mine);
        if (!found)
            cf_pki_issuer_cleanup(out);
    }
    cf_strlist_free(l);
    return found;
}

cf_err_t
cf_pki_ocsp(cf_req_t *req)
{
    cf_pki_issuer_t       iss;
    cf_buf_t             *raw = NULL;
    OCSP_REQUEST         *oreq = NULL;
    OCSP_BASICRESP       *bs = NULL;
    OCSP_RESPONSE        *resp = NULL;
    ASN1_TIME            *now = NULL, *next = NULL, *rtime = NULL;
    const unsigned char  *p;
    char                 *b64 = NULL, *q;
    int                   i, n;
    cf_err_t              rc;

    memset(&iss, 0, sizeof(iss));
    if (req->op != CF_OP_READ) {
        /* POST: the DER request is the body (application/ocsp-request). */
        if (req->body_raw == NULL)
            return cf_pki_ocsp_error(req, 400,
                                     OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
        if ((raw = cf_buf_new_copy(req->body_raw, req->body_raw_len))
            == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
    } else if ((b64 = strdup(req->rest + 5)) == NULL) {
        return CF_ERR_NOMEM;
    } else {
        for (q = b64; *q != '\0'; q++) {
            if (*q == ' ')
                *q = '+';       /* a '+' decoded as a space on the way */
        }
    }
    if (raw == NULL && cf_b64_decode(b64, &raw) != CF_OK) {
        rc = cf_pki_ocsp_error(req, 400,
                               OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
        goto out;
    }
    p = raw->data;
    if ((oreq = d2i_OCSP_REQUEST(NULL, &p, (long) raw->len)) == NULL
        || (n = OCSP_request_onereq_count(oreq)) <= 0) {
        ERR_clear_error();
        rc = cf_pki_ocsp_error(req, 400,
                               OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
        goto out;
    }
    if (!cf_pki_ocsp_issuer(req, OCSP_onereq_get0_id(
                                OCSP_request_onereq_get0(oreq, 0)), &iss)) {
        rc = cf_pki_ocsp_error(req, 401, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
        goto out;
    }
    EVP_PKEY_free(iss.key);
    iss.key = NULL;
    rc = cf_pki_key_load(req, json_string_value(json_object_get(iss.rec,
                                                                "key_id")),
                         NULL, &iss.key);
    if (rc != CF_OK) {
        rc = cf_pki_ocsp_error(req, 401, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
        goto out;
    }
    rc = CF_ERR_NOMEM;
    if ((bs = OCSP_BASICRESP_new()) == NULL
        || (now = X509_gmtime_adj(NULL, 0)) == NULL
        || (next = X509_gmtime_adj(NULL, 12 * 3600)) == NULL
        || (rtime = ASN1_TIME_new()) == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        OCSP_CERTID   *cid = OCSP_onereq_get0_id(
                              OCSP_request_onereq_get0(oreq, i));
        ASN1_INTEGER  *sn = NULL;
        json_t        *rec = NULL;
        const char    *iid;
        char           ser[CF_PKI_SERIAL], key[CF_PKI_SERIAL + 16];
        int            st = V_OCSP_CERTSTATUS_UNKNOWN;
        int64_t        rt = 0;
        OCSP_CERTID   *mine = OCSP_cert_to_id(NULL, NULL, iss.cert);

        OCSP_id_get0_info(NULL, NULL, NULL, &sn, cid);
        OCSP_CERTID_free(mine);
        if (sn != NULL) {
            cf_pki_serial_str(sn, '-', ser);
            snprintf(key, sizeof(key), "certs/%s", ser);
            if (cf_view_get_json(req, key, &rec) == CF_OK) {
                iid = json_string_value(json_object_get(rec, "issuer_id"));
                if (iid != NULL && strcmp(iid, iss.id) == 0) {
                    rt = json_integer_value(json_object_get(
                             rec, "revocation_time"));
                    st = rt > 0 ? V_OCSP_CERTSTATUS_REVOKED
                                : V_OCSP_CERTSTATUS_GOOD;
                }
            }
            json_decref(rec);
        }
        if (rt > 0)
            ASN1_TIME_set(rtime, (time_t) rt);
        if (OCSP_basic_add1_status(bs, cid, st,
                                   rt > 0 ? OCSP_REVOKED_STATUS_UNSPECIFIED
                                          : 0,
                                   rt > 0 ? rtime : NULL, now, next)
            == NULL)
            goto out;
    }
    OCSP_copy_nonce(bs, oreq);
    if (OCSP_basic_sign(bs, iss.cert, iss.key, cf_pki_md_for(iss.key),
                        NULL, 0) != 1) {
        cf_log_error("pki", "signing an OCSP response on the token failed");
        ERR_clear_error();
        rc = CF_ERR_HSM;
        goto out;
    }
    if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs))
        == NULL)
        goto out;
    rc = cf_pki_ocsp_reply(req, 200, resp);
out:
    free(b64);
    cf_buf_free(raw);
    cf_pki_issuer_cleanup(&iss);
    OCSP_REQUEST_free(oreq);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    ASN1_TIME_free(now);
    ASN1_TIME_free(next);
    ASN1_TIME_free(rtime);
    return rc;
}

/* ---- tidy -------------------------------------------------------------------- */

cf_err_t
cf_pki_tidy(cf_req_t *req)
{
    cf_strlist_t  *l = NULL;
    json_t        *r, *st;
    bool           store = false, revoked = false, present;
    int64_t        buffer = 72 * 3600, now = (int64_t) time(NULL), start;
    size_t         i, nc = 0, nr = 0;
    char           key[160], ts[32], tf[32];
    cf_err_t       rc;

    if ((rc = cf_req_param_bool(req, "tidy_cert_store", &store, &present))
        != CF_OK
        || (rc = cf_req_param_bool(req, "tidy_revoked_certs", &revoked,
                                   &present)) != CF_OK
        || (rc = cf_req_param_duration(req, "safety_buffer", &buffer,
                                       &present)) != CF_OK)
        return rc;
    start = now;
    if (store && (rc = cf_view_list(req, "certs/", &l)) == CF_OK) {
        for (i = 0; i < l->len && rc == CF_OK; i++) {
            snprintf(key, sizeof(key), "certs/%s", l->items[i]);
            if (cf_view_get_json(req, key, &r) != CF_OK)
                continue;
            if (json_integer_value(json_object_get(r, "not_after")) + buffer
                < now) {
                rc = cf_view_delete(req, key);
                nc++;
            }
            json_decref(r);
        }
        cf_strlist_free(l);
        l = NULL;
    }
    if (rc == CF_OK && revoked
        && (rc = cf_view_list(req, "revoked/", &l)) == CF_OK) {
        cf_pki_lock();
        for (i = 0; i < l->len && rc == CF_OK; i++) {
            json_t  *c = NULL;

            snprintf(key, sizeof(key), "certs/%s", l->items[i]);
            if (cf_view_get_json(req, key, &c) == CF_OK
                && json_integer_value(json_object_get(c, "not_after"))
                   + buffer >= now) {
                json_decref(c);
                continue;
            }
            json_decref(c);
            snprintf(key, sizeof(key), "revoked/%s", l->items[i]);
            rc = cf_view_delete(req, key);
            nr++;
        }
        cf_pki_unlock();
        cf_strlist_free(l);
        if (rc == CF_OK && nr > 0)
            rc = cf_pki_crl_rebuild_all(req);
    }
    if (rc != CF_OK)
        return rc;
    cf_pki_rfc3339(start, ts);
    cf_pki_rfc3339((int64_t) time(NULL), tf);
    st = json_pack("{s:I, s:b, s:b, s:s, s:n, s:s, s:s, s:I, s:I, s:I}",
                   "safety_buffer", (json_int_t) buffer, "tidy_cert_store",
                   store, "tidy_revoked_certs", revoked, "state",
                   "Finished", "error", "time_started", ts, "time_finished",
                   tf, "cert_store_deleted_count", (json_int_t) nc,
                   "revoked_cert_deleted_count", (json_int_t) nr,
                   "current_cert_store_count", (json_int_t) 0);
    if (st == NULL)
        return CF_ERR_NOMEM;
    rc = cf_view_put_json(req, "tidy-status", st);
    json_decref(st);
    if (rc != CF_OK)
        return rc;
    cf_req_warn(req, "Tidy operation successfully started. Any information "
                "from the operation will be printed to Vault's server "
                "logs.");
    rc = cf_req_reply_data(req, NULL);
    req->status = 202;
    return rc;
}

cf_err_t
cf_pki_tidy_status(cf_req_t *req)
{
    json_t    *st = NULL;
    cf_err_t   rc = cf_view_get_json(req, "tidy-status", &st);

    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_reply_data(req, json_pack("{s:s}", "state",
                                                "Inactive"));
    if (rc != CF_OK)
        return rc;
    return cf_req_reply_data(req, st);
}
