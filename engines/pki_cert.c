/*
 * pki_cert: building a certificate from a template (subject, names,
 * validity, CA or leaf extensions, config/urls), signing it with the
 * issuer's key on the token, and storing it.
 */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "coffer/log.h"

static cf_err_t
cf_pki_name_add(X509_NAME *n, const char *field, json_t *vals)
{
    json_t  *v;
    size_t   i;

    json_array_foreach(vals, i, v) {
        if (X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8,
                                       (const unsigned char *)
                                       json_string_value(v), -1, -1, 0)
            != 1)
            return CF_ERR_INVALID;
    }
    return CF_OK;
}

static cf_err_t
cf_pki_subject(const cf_pki_tmpl_t *t, X509_NAME **out)
{
    X509_NAME  *n;
    cf_err_t    rc = CF_OK;

    *out = NULL;
    if (t->subject != NULL)
        return (*out = X509_NAME_dup(t->subject)) != NULL ? CF_OK
                                                         : CF_ERR_NOMEM;
    if ((n = X509_NAME_new()) == NULL)
        return CF_ERR_NOMEM;
    /* Go's (and so Vault's) RDN order */
    if ((rc = cf_pki_name_add(n, "C", t->country)) != CF_OK
        || (rc = cf_pki_name_add(n, "ST", t->province)) != CF_OK
        || (rc = cf_pki_name_add(n, "L", t->locality)) != CF_OK
        || (rc = cf_pki_name_add(n, "street", t->street)) != CF_OK
        || (rc = cf_pki_name_add(n, "postalCode", t->postal)) != CF_OK
        || (rc = cf_pki_name_add(n, "O", t->org)) != CF_OK
        || (rc = cf_pki_name_add(n, "OU", t->ou)) != CF_OK)
        goto out;
    if (t->subject_serial != NULL && *t->subject_serial != '\0'
        && X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_UTF8,
                                      (const unsigned char *)
                                      t->subject_serial, -1, -1, 0) != 1) {
        rc = CF_ERR_INVALID;
        goto out;
    }
    if ((rc = cf_pki_name_add(n, "UID", t->user_ids)) != CF_OK)
        goto out;
    if (t->cn != NULL && *t->cn != '\0'
        && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                      (const unsigned char *) t->cn, -1, -1,
                                      0) != 1)
        rc = CF_ERR_INVALID;
out:
    if (rc != CF_OK)
        X509_NAME_free(n);
    else
        *out = n;
    return rc;
}

static GENERAL_NAME *
cf_pki_gn_str(int type, const char *s)
{
    GENERAL_NAME     *gn = GENERAL_NAME_new();
    ASN1_IA5STRING   *v = ASN1_IA5STRING_new();

    if (gn == NULL || v == NULL || ASN1_STRING_set(v, s, -1) != 1) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(v);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, type, v);
    return gn;
}

static cf_err_t
cf_pki_gn_add(GENERAL_NAMES *gens, int type, json_t *vals, char *msg,
              size_t mlen)
{
    GENERAL_NAME       *gn;
    ASN1_OCTET_STRING  *ip;
    json_t             *v;
    size_t              i;

    json_array_foreach(vals, i, v) {
        const char  *s = json_string_value(v);

        if (type == GEN_IPADD) {
            if ((ip = a2i_IPADDRESS(s)) == NULL) {
                snprintf(msg, mlen, "the value '%s' is not a valid IP "
                         "address", s);
                return CF_ERR_INVALID;
            }
            if ((gn = GENERAL_NAME_new()) == NULL) {
                ASN1_OCTET_STRING_free(ip);
                return CF_ERR_NOMEM;
            }
            GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
        } else if ((gn = cf_pki_gn_str(type, s)) == NULL) {
            return CF_ERR_NOMEM;
        }
        if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
            GENERAL_NAME_free(gn);
            return CF_ERR_NOMEM;
        }
    }
    return CF_OK;
}

static cf_err_t
cf_pki_ext_conf(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION  *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int              ok;

    if (e == NULL)
        return CF_ERR_INVALID;
    ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1 ? CF_OK : CF_ERR_NOMEM;
}

/* otherName SANs from "<oid>;UTF8:<value>" (checked by the role). */
static cf_err_t
cf_pki_gn_other(GENERAL_NAMES *gens, const json_t *list, char *msg,
                size_t mlen)
{
    const json_t    *v;
    const char      *s, *semi;
    char             oid[128];
    ASN1_OBJECT     *obj = NULL;
    ASN1_TYPE       *val = NULL;
    ASN1_UTF8STRING *u = NULL;
    GENERAL_NAME    *gn = NULL;
    size_t           i;

    json_array_foreach(list, i, v) {
        s = json_string_value(v);
        if ((semi = strchr(s, ';')) == NULL
            || (size_t) (semi - s) >= sizeof(oid)
            || strncasecmp(semi + 1, "UTF8:", 5) != 0) {
            snprintf(msg, mlen, "other_sans entry '%.100s' is not "
                     "<oid>;UTF8:<value>", s);
            return CF_ERR_INVALID;
        }
        memcpy(oid, s, (size_t) (semi - s));
        oid[semi - s] = '\0';
        if ((obj = OBJ_txt2obj(oid, 1)) == NULL) {
            ERR_clear_error();
            snprintf(msg, mlen, "other_sans entry '%.100s' has an invalid "
                     "OID", s);
            return CF_ERR_INVALID;
        }
        if ((u = ASN1_UTF8STRING_new()) == NULL
            || ASN1_STRING_set(u, semi + 6, -1) != 1
            || (val = ASN1_TYPE_new()) == NULL
            || (gn = GENERAL_NAME_new()) == NULL)
            goto nomem;
        ASN1_TYPE_set(val, V_ASN1_UTF8STRING, u);
        u = NULL;
        if (GENERAL_NAME_set0_othername(gn, obj, val) != 1)
            goto nomem;
        obj = NULL;
        val = NULL;
        if (sk_GENERAL_NAME_push(gens, gn) <= 0)
            goto nomem;
        gn = NULL;
    }
    return CF_OK;
nomem:
    ASN1_OBJECT_free(obj);
    ASN1_TYPE_free(val);
    ASN1_UTF8STRING_free(u);
    GENERAL_NAME_free(gn);
    return CF_ERR_NOMEM;
}

/* certificatePolicies from OIDs. Built by hand: the extension's config
 * syntax needs a config database we do not have. */
static cf_err_t
cf_pki_policies_add(X509 *x, const json_t *oids, char *msg, size_t mlen)
{
    CERTIFICATEPOLICIES  *pols;
    POLICYINFO           *pi;
    const json_t         *v;
    size_t                i;
    cf_err_t              rc = CF_ERR_NOMEM;

    if (json_array_size(oids) == 0)
        return CF_OK;
    if ((pols = sk_POLICYINFO_new_null()) == NULL)
        return CF_ERR_NOMEM;
    json_array_foreach(oids, i, v) {
        if ((pi = POLICYINFO_new()) == NULL)
            goto out;
        ASN1_OBJECT_free(pi->policyid);
        if ((pi->policyid = OBJ_txt2obj(json_string_value(v), 1)) == NULL) {
            ERR_clear_error();
            POLICYINFO_free(pi);
            snprintf(msg, mlen, "policy identifier '%.100s' is not an OID",
                     json_string_value(v));
            rc = CF_ERR_INVALID;
            goto out;
        }
        if (sk_POLICYINFO_push(pols, pi) <= 0) {
            POLICYINFO_free(pi);
            goto out;
        }
    }
    if (X509_add1_ext_i2d(x, NID_certificate_policies, pols, 0,
                          X509V3_ADD_DEFAULT) == 1)
        rc = CF_OK;
out:
    sk_POLICYINFO_pop_free(pols, POLICYINFO_free);
    return rc;
}

/* Append the OIDs of list to buf (a comma-separated conf value). */
static cf_err_t
cf_pki_oid_conf(const json_t *list, char *buf, size_t len)
{
    const json_t  *v;
    size_t         i, n = strlen(buf);
    int            w;

    json_array_foreach(list, i, v) {
        w = snprintf(buf + n, len - n, "%s%s", n > 0 ? "," : "",
                     json_string_value(v));
        if (w < 0 || (size_t) w >= len - n)
            return CF_ERR_INVALID;
        n += (size_t) w;
    }
    return CF_OK;
}

/* Vault's key usage / ext key usage names to OpenSSL's. */
static const char *
cf_pki_ku_name(const char *v, bool ext)
{
    static const struct { const char *vault, *ossl; } ku[] = {
        { "digitalsignature", "digitalSignature" },
        { "contentcommitment", "nonRepudiation" },
        { "keyencipherment", "keyEncipherment" },
        { "dataencipherment", "dataEncipherment" },
        { "keyagreement", "keyAgreement" },
        { "certsign", "keyCertSign" },
        { "crlsign", "cRLSign" },
        { "encipheronly", "encipherOnly" },
        { "decipheronly", "decipherOnly" },
    }, eku[] = {
        { "serverauth", "serverAuth" }, { "clientauth", "clientAuth" },
        { "codesigning", "codeSigning" },
        { "emailprotection", "emailProtection" },
        { "timestamping", "timeStamping" },
        { "ocspsigning", "OCSPSigning" },
        { "any", "anyExtendedKeyUsage" },
        { "ipsecenduser", "ipsecEndSystem" },
        { "ipsectunnel", "ipsecTunnel" }, { "ipsecuser", "ipsecUser" },
    };
    size_t  i, n = ext ? sizeof(eku) / sizeof(eku[0])
                       : sizeof(ku) / sizeof(ku[0]);

    for (i = 0; i < n; i++) {
        if (strcasecmp(v, ext ? eku[i].vault : ku[i].vault) == 0)
            return ext ? eku[i].ossl : ku[i].ossl;
    }
    return NULL;
}

/* "critical,a,b" from a list of Vault names (+ extras); CF_ERR_INVALID
 * naming an unknown one. */
static cf_err_t
cf_pki_ku_string(json_t *vals, bool ext, const char *extra[], char *buf,
                 size_t len, char *msg, size_t mlen)
{
    const char  *o;
    json_t      *v;
    size_t       i, n = 0;

    n += (size_t) snprintf(buf, len, ext ? "" : "critical");
    json_array_foreach(vals, i, v) {
        if ((o = cf_pki_ku_name(json_string_value(v), ext)) == NULL) {
            snprintf(msg, mlen, "unknown %s '%s'", ext ? "ext_key_usage"
                     : "key_usage", json_string_value(v));
            return CF_ERR_INVALID;
        }
        if (strstr(buf, o) == NULL && n < len)
            n += (size_t) snprintf(buf + n, len - n, "%s%s",
                                   n > 0 ? "," : "", o);
    }
    for (i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (strstr(buf, extra[i]) == NULL && n < len)
            n += (size_t) snprintf(buf + n, len - n, "%s%s",
                                   n > 0 ? "," : "", extra[i]);
    }
    return n < len ? CF_OK : CF_ERR_INVALID;
}

/* config/urls into AIA and CRL distribution points. */
static cf_err_t
cf_pki_urls_add(cf_req_t *req, X509 *x)
{
    json_t                 *u = NULL, *v;
    AUTHORITY_INFO_ACCESS  *aia = NULL;
    CRL_DIST_POINTS        *cdp = NULL;
    size_t                  i;
    int                     k;
    cf_err_t                rc;
    static const struct { const char *field; int nid; } aia_f[] = {
        { "ocsp_servers", NID_ad_OCSP },
        { "issuing_certificates", NID_ad_ca_issuers },
    };

    rc = cf_view_get_json(req, "config/urls", &u);
    if (rc == CF_ERR_NOT_FOUND)
        return CF_OK;
    if (rc != CF_OK)
        return rc;
    rc = CF_ERR_NOMEM;
    if ((aia = sk_ACCESS_DESCRIPTION_new_null()) == NULL
        || (cdp = sk_DIST_POINT_new_null()) == NULL)
        goto out;
    for (k = 0; k < 2; k++) {
        json_array_foreach(json_object_get(u, aia_f[k].field), i, v) {
            ACCESS_DESCRIPTION  *ad = ACCESS_DESCRIPTION_new();
            GENERAL_NAME        *gn = cf_pki_gn_str(GEN_URI,
                                                    json_string_value(v));

            if (ad == NULL || gn == NULL) {
                ACCESS_DESCRIPTION_free(ad);
                GENERAL_NAME_free(gn);
                goto out;
            }
            ASN1_OBJECT_free(ad->method);
            ad->method = OBJ_nid2obj(aia_f[k].nid);
            GENERAL_NAME_free(ad->location);
            ad->location = gn;
            if (sk_ACCESS_DESCRIPTION_push(aia, ad) <= 0) {
                ACCESS_DESCRIPTION_free(ad);
                goto out;
            }
        }
    }
    json_array_foreach(json_object_get(u, "crl_distribution_points"), i,
                       v) {
        DIST_POINT     *dp = DIST_POINT_new();
        GENERAL_NAMES  *names = GENERAL_NAMES_new();
        GENERAL_NAME   *gn = cf_pki_gn_str(GEN_URI, json_string_value(v));

        if (dp == NULL || names == NULL || gn == NULL
            || (dp->distpoint = DIST_POINT_NAME_new()) == NULL
            || sk_GENERAL_NAME_push(names, gn) <= 0) {
            DIST_POINT_free(dp);
            GENERAL_NAMES_free(names);
            GENERAL_NAME_free(gn);
            goto out;
        }
        dp->distpoint->type = 0;
        dp->distpoint->name.fullname = names;
        if (sk_DIST_POINT_push(cdp, dp) <= 0) {
            DIST_POINT_free(dp);
            goto out;
        }
    }
    if ((sk_ACCESS_DESCRIPTION_num(aia) > 0
         && X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_DEFAULT)
            != 1)
        || (sk_DIST_POINT_num(cdp) > 0
            && X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0,
                             X509V3_ADD_DEFAULT) != 1))
        goto out;
    rc = CF_OK;
out:
    AUTHORITY_INFO_ACCESS_free(aia);
    CRL_DIST_POINTS_free(cdp);
    json_decref(u);
    return rc;
}

static cf_err_t
cf_pki_serial_new(X509 *x)
{
    unsigned char   b[20];
    BIGNUM         *bn = NULL;
    cf_err_t        rc = CF_ERR_INTERNAL;

    if (RAND_bytes(b, sizeof(b)) != 1)
        return rc;
    b[0] &= 0x7f;                   /* positive */
    if (b[0] == 0)
        b[0] = 0x01;                /* and a full 20 bytes */
    if ((bn = BN_bin2bn(b, sizeof(b), NULL)) != NULL
        && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
        rc = CF_OK;
    BN_free(bn);
    return rc;
}

/* X509_set_pubkey, without OpenSSL 3.0's decoder round trip for EC keys
 * (X509_PUBKEY_set re-decodes the key it was given, building a decoder
 * chain under global locks: a third of an issue request). For an EC key
 * the SubjectPublicKeyInfo is written directly: id-ecPublicKey, the named
 * curve, the encoded point. Other keys take the ordinary path. */
static int
cf_pki_set_pubkey(X509 *x, EVP_PKEY *pub)
{
    unsigned char  point[256];
    unsigned char *bits;
    char           curve[64];
    size_t         plen = 0;
    int            nid;

    if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC
        || EVP_PKEY_get_utf8_string_param(pub, "group", curve,
                                          sizeof(curve), NULL) != 1
        || (nid = OBJ_sn2nid(curve)) == NID_undef
        || EVP_PKEY_get_octet_string_param(pub, "encoded-pub-key", point,
                                           sizeof(point), &plen) != 1
        || (bits = OPENSSL_memdup(point, plen)) == NULL)
        return X509_set_pubkey(x, pub);
    if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),
                               OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                               V_ASN1_OBJECT, OBJ_nid2obj(nid), bits,
                               (int) plen) != 1) {
        OPENSSL_free(bits);
        return X509_set_pubkey(x, pub);
    }
    return 1;
}

cf_err_t
cf_pki_cert_build(cf_req_t *req, const cf_pki_tmpl_t *t,
                  cf_pki_issuer_t *iss, EVP_PKEY *self_key, X509 **out,
                  char *msg, size_t mlen)
{
    X509           *x = NULL;
    X509_NAME      *subj = NULL;
    GENERAL_NAMES  *gens = NULL;
    EVP_PKEY       *skey = iss != NULL ? iss->key : self_key;
    X509V3_CTX      ctx;
    char            bc[64], ku[256];
    cf_err_t        rc = CF_ERR_NOMEM;

    *out = NULL;
    msg[0] = '\0';
    if (skey == NULL)
        return CF_ERR_INTERNAL;
    if ((x = X509_new()) == NULL || (gens = GENERAL_NAMES_new()) == NULL)
        goto out;
    if ((rc = cf_pki_subject(t, &subj)) != CF_OK) {
        snprintf(msg, mlen, "invalid subject name");
        goto out;
    }
    rc = CF_ERR_NOMEM;
    if (X509_set_version(x, 2) != 1 || cf_pki_serial_new(x) != CF_OK
        || X509_set_subject_name(x, subj) != 1
        || X509_set_issuer_name(x, iss != NULL
                                   ? X509_get_subject_name(iss->cert)
                                   : subj) != 1
        || ASN1_TIME_set(X509_getm_notBefore(x), (time_t) t->not_before)
           == NULL
        || ASN1_TIME_set(X509_getm_notAfter(x), (time_t) t->not_after)
           == NULL
        || cf_pki_set_pubkey(x, t->pub) != 1)
        goto out;

    /* Subject alternative names: the CN too, unless it was excluded by
     * the caller (who then passes cn only in the subject). */
    if ((rc = cf_pki_gn_add(gens, GEN_DNS, t->dns, msg, mlen)) != CF_OK
        || (rc = cf_pki_gn_add(gens, GEN_EMAIL, t->emails, msg, mlen))
           != CF_OK
        || (rc = cf_pki_gn_add(gens, GEN_IPADD, t->ips, msg, mlen))
           != CF_OK
        || (rc = cf_pki_gn_add(gens, GEN_URI, t->uris, msg, mlen))
           != CF_OK
        || (rc = cf_pki_gn_other(gens, t->other_sans, msg, mlen)) != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    if (sk_GENERAL_NAME_num(gens) > 0
        && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
                         X509V3_ADD_DEFAULT) != 1)
        goto out;

    X509V3_set_ctx(&ctx, iss != NULL ? iss->cert : x, x, NULL, NULL, 0);
    if (t->is_ca) {
        if (t->max_path_len >= 0)
            snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%lld",
                     (long long) t->max_path_len);
        else
            snprintf(bc, sizeof(bc), "critical,CA:TRUE");
        if ((rc = cf_pki_ext_conf(x, &ctx, NID_basic_constraints, bc))
            != CF_OK
            || (rc = cf_pki_ext_conf(x, &ctx, NID_key_usage,
                                     "critical,digitalSignature,"
                                     "keyCertSign,cRLSign")) != CF_OK)
            goto out;
    } else {
        const char  *ext[5] = { NULL };
        size_t       ne = 0;

        if (t->bc_non_ca
            && (rc = cf_pki_ext_conf(x, &ctx, NID_basic_constraints,
                                     "critical,CA:FALSE")) != CF_OK)
            goto out;
        if (json_array_size(t->key_usage) > 0) {
            if ((rc = cf_pki_ku_string(t->key_usage, false, NULL, ku,
                                       sizeof(ku), msg, mlen)) != CF_OK
                || (rc = cf_pki_ext_conf(x, &ctx, NID_key_usage, ku))
                   != CF_OK)
                goto out;
        }
        if (t->server_flag)
            ext[ne++] = "serverAuth";
        if (t->client_flag)
            ext[ne++] = "clientAuth";
        if (t->code_signing_flag)
            ext[ne++] = "codeSigning";
        if (t->email_protection_flag)
            ext[ne++] = "emailProtection";
        if ((rc = cf_pki_ku_string(t->ext_key_usage, true, ext, ku,
                                   sizeof(ku), msg, mlen)) != CF_OK)
            goto out;
        if (cf_pki_oid_conf(t->eku_oids, ku, sizeof(ku)) != CF_OK) {
            snprintf(msg, mlen, "too many ext_key_usage_oids");
            rc = CF_ERR_INVALID;
            goto out;
        }
        if (ku[0] != '\0'
            && (rc = cf_pki_ext_conf(x, &ctx, NID_ext_key_usage, ku))
               != CF_OK)
            goto out;
    }
    if ((rc = cf_pki_ext_conf(x, &ctx, NID_subject_key_identifier, "hash"))
        != CF_OK
        || (rc = cf_pki_ext_conf(x, &ctx, NID_authority_key_identifier,
                                 "keyid:always")) != CF_OK)
        goto out;
    if ((rc = cf_pki_policies_add(x, t->policy_ids, msg, mlen)) != CF_OK)
        goto out;
    if (iss != NULL && (rc = cf_pki_urls_add(req, x)) != CF_OK)
        goto out;
    if (X509_sign(x, skey, t->md != NULL ? t->md : cf_pki_md_for(skey))
        <= 0) {
        cf_log_error("pki", "signing a certificate on the token failed");
        rc = CF_ERR_HSM;
        goto out;
    }
    *out = x;
    x = NULL;
    rc = CF_OK;
out:
    if (rc == CF_ERR_INVALID && msg[0] == '\0')
        snprintf(msg, mlen, "invalid certificate template");
    X509_free(x);
    X509_NAME_free(subj);
    GENERAL_NAMES_free(gens);
    return rc;
}

cf_err_t
cf_pki_cert_store(cf_req_t *req, X509 *x, const char *issuer_id)
{
    char      ser[CF_PKI_SERIAL], key[CF_PKI_SERIAL + 8], *pem;
    json_t   *rec;
    cf_err_t  rc;

    cf_pki_serial_str(X509_get0_serialNumber(x), '-', ser);
    snprintf(key, sizeof(key), "certs/%s", ser);
    if ((pem = cf_pki_x509_pem(x)) == NULL)
        return CF_ERR_NOMEM;
    rec = json_pack("{s:s, s:s, s:I}", "certificate", pem, "issuer_id",
                    issuer_id != NULL ? issuer_id : "", "not_after",
                    (json_int_t) cf_pki_asn1_unix(X509_get0_notAfter(x)));
    free(pem);
    if (rec == NULL)
        return CF_ERR_NOMEM;
    rc = cf_view_put_json(req, key, rec);
    json_decref(rec);
    return rc;
}

json_t *
cf_pki_issuer_chain(const cf_pki_issuer_t *is)
{
    json_t  *c = json_object_get(is->rec, "ca_chain");

    return json_is_array(c) ? json_deep_copy(c) : json_array();
}

bool
cf_pki_is_hostname(const char *s)
{
    size_t  lab = 0, n = strlen(s);

    if (n == 0 || n > 253 + 1)
        return false;
    if (s[n - 1] == '.')
        n--;
    for (size_t i = 0; i < n; i++) {
        char  c = s[i];

        if (c == '.') {
            if (lab == 0 || s[i - 1] == '-')
                return false;
            lab = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-'))
            return false;
        if (c == '-' && lab == 0)
            return false;
        if (++lab > 63)
            return false;
    }
    return lab > 0 && s[n - 1] != '-';
}

static bool
cf_pki_has(json_t *arr, const char *s)
{
    json_t  *v;
    size_t   i;

    json_array_foreach(arr, i, v) {
        if (strcasecmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

cf_err_t
cf_pki_tmpl_from_req(cf_req_t *req, cf_pki_tmpl_t *t)
{
    json_t      *alt = NULL, *v;
    bool         excl = false, present;
    size_t       i;
    cf_err_t     rc;

    memset(t, 0, sizeof(*t));
    t->max_path_len = -1;
    if ((rc = cf_pki_param_str(req, "common_name", NULL, &t->cn)) != CF_OK
        || (rc = cf_req_param_bool(req, "exclude_cn_from_sans", &excl,
                                   &present)) != CF_OK
        || (rc = cf_pki_param_list(req, "alt_names", &alt)) != CF_OK
        || (rc = cf_pki_param_list(req, "ip_sans", &t->ips)) != CF_OK
        || (rc = cf_pki_param_list(req, "uri_sans", &t->uris)) != CF_OK
        || (rc = cf_pki_param_list(req, "ou", &t->ou)) != CF_OK
        || (rc = cf_pki_param_list(req, "organization", &t->org)) != CF_OK
        || (rc = cf_pki_param_list(req, "country", &t->country)) != CF_OK
        || (rc = cf_pki_param_list(req, "locality", &t->locality)) != CF_OK
        || (rc = cf_pki_param_list(req, "province", &t->province)) != CF_OK
        || (rc = cf_pki_param_list(req, "street_address", &t->street))
           != CF_OK
        || (rc = cf_pki_param_list(req, "postal_code", &t->postal))
           != CF_OK
        || (rc = cf_pki_param_list(req, "key_usage", &t->key_usage))
           != CF_OK
        || (rc = cf_pki_param_list(req, "other_sans", &t->other_sans))
           != CF_OK
        || (rc = cf_pki_param_list(req, "user_ids", &t->user_ids))
           != CF_OK
        || (rc = cf_pki_param_str(req, "serial_number", NULL,
                                  &t->subject_serial)) != CF_OK
        || (rc = cf_pki_param_list(req, "ext_key_usage", &t->ext_key_usage))
           != CF_OK)
        goto out;
    rc = CF_ERR_NOMEM;
    if ((t->dns = json_array()) == NULL || (t->emails = json_array())
                                           == NULL)
        goto out;
    if (t->cn != NULL && *t->cn != '\0' && !excl) {
        if (strchr(t->cn, '@') != NULL)
            json_array_append_new(t->emails, json_string(t->cn));
        else if (cf_pki_is_hostname(t->cn)
                 || (strncmp(t->cn, "*.", 2) == 0
                     && cf_pki_is_hostname(t->cn + 2)))
            json_array_append_new(t->dns, json_string(t->cn));
    }
    json_array_foreach(alt, i, v) {
        const char  *s = json_string_value(v);
        json_t      *to = strchr(s, '@') != NULL ? t->emails : t->dns;

        if (!cf_pki_has(to, s))
            json_array_append(to, v);
    }
    rc = CF_OK;
out:
    json_decref(alt);
    return rc;
}

void
cf_pki_tmpl_cleanup(cf_pki_tmpl_t *t)
{
    json_t  **a[] = { &t->dns, &t->emails, &t->ips, &t->uris, &t->ou,
                      &t->org, &t->country, &t->locality, &t->province,
                      &t->street, &t->postal, &t->key_usage,
                      &t->ext_key_usage, &t->eku_oids, &t->policy_ids,
                      &t->other_sans, &t->user_ids };
    size_t    i;

    for (i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
        json_decref(*a[i]);
        *a[i] = NULL;
    }
}

cf_err_t
cf_pki_validity(cf_req_t *req, int64_t def_ttl, int64_t max_ttl,
                cf_pki_tmpl_t *t)
{
    int64_t      ttl = def_ttl, nbd = 30, now = (int64_t) time(NULL);
    const char  *na = NULL;
    bool         present;
    struct tm    tm;
    cf_err_t     rc;

    if ((rc = cf_req_param_duration(req, "ttl", &ttl, &present)) != CF_OK)
        return rc;
    if (!present || ttl <= 0)
        ttl = def_ttl;
    if ((rc = cf_req_param_duration(req, "not_before_duration", &nbd,
                                    &present)) != CF_OK)
        return rc;
    if ((rc = cf_pki_param_str(req, "not_after", NULL, &na)) != CF_OK)
        return rc;
    if (na != NULL && *na != '\0') {
        memset(&tm, 0, sizeof(tm));
        if (strptime(na, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'not_after' must be an RFC 3339 UTC time "
                               "(YYYY-MM-ddTHH:MM:SSZ)");
        ttl = (int64_t) timegm(&tm) - now;
        if (ttl <= 0)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'not_after' is in the past");
    }
    if (max_ttl > 0 && ttl > max_ttl) {
        cf_req_warn(req, "TTL \"%llds\" is longer than permitted maxTTL "
                    "\"%llds\", so maxTTL is being used",
                    (long long) ttl, (long long) max_ttl);
        ttl = max_ttl;
    }
    t->not_before = now - (nbd > 0 ? nbd : 0);
    t->not_after = now + ttl;
    return CF_OK;
}
