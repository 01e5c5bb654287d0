/*
 * pki_issue: issuing certificates (issue/<role> with a leaf key made in
 * software and returned once, sign/<role> and sign-verbatim from a CSR)
 * and reading them back (cert/<serial>, certs LIST).
 *
 * The leaf key of issue/ is the caller's: it is generated with OpenSSL,
 * written once into the response and freed; its PEM passes only through
 * the secure heap (BIO_s_secmem) and jansson's zeroing allocator.
 */
#include "pki.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "coffer/lease.h"
#include "coffer/log.h"

/* Role named by the last path segment; 400 "unknown role" if absent. */
static cf_err_t
cf_pki_role_load(cf_req_t *req, bool required, json_t **out)
{
    const char  *name = strrchr(req->rest, '/');
    char         key[160];
    cf_err_t     rc;

    *out = NULL;
    if (name == NULL || strncmp(name + 1, "sign-verbatim", 13) == 0) {
        if (!required)
            return CF_OK;
        return cf_req_fail(req, CF_ERR_INVALID, "missing role name");
    }
    name++;
    if (strlen(name) > 128)
        return cf_req_fail(req, CF_ERR_INVALID, "unknown role");
    snprintf(key, sizeof(key), "role/%s", name);
    rc = cf_view_get_json(req, key, out);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "unknown role: %s", name);
    return rc;
}

static json_t *
cf_pki_role_list(json_t *role, const char *name)
{
    json_t  *v = json_object_get(role, name);

    return json_is_array(v) ? json_incref(v) : json_array();
}

/* Subject fields, flags and usages the role dictates. */
static void
cf_pki_tmpl_from_role(cf_pki_tmpl_t *t, json_t *role)
{
    static const struct { const char *name; size_t off; } f[] = {
        { "ou", offsetof(cf_pki_tmpl_t, ou) },
        { "organization", offsetof(cf_pki_tmpl_t, org) },
        { "country", offsetof(cf_pki_tmpl_t, country) },
        { "locality", offsetof(cf_pki_tmpl_t, locality) },
        { "province", offsetof(cf_pki_tmpl_t, province) },
        { "street_address", offsetof(cf_pki_tmpl_t, street) },
        { "postal_code", offsetof(cf_pki_tmpl_t, postal) },
        { "key_usage", offsetof(cf_pki_tmpl_t, key_usage) },
        { "ext_key_usage", offsetof(cf_pki_tmpl_t, ext_key_usage) },
        { "ext_key_usage_oids", offsetof(cf_pki_tmpl_t, eku_oids) },
        { "policy_identifiers", offsetof(cf_pki_tmpl_t, policy_ids) },
    };
    int64_t  bits = json_integer_value(json_object_get(role,
                                                       "signature_bits"));
    size_t  i;

    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        json_t  **slot = (json_t **) (void *) ((char *) t + f[i].off);

        json_decref(*slot);
        *slot = cf_pki_role_list(role, f[i].name);
    }
    t->bc_non_ca = json_is_true(json_object_get(
                       role, "basic_constraints_valid_for_non_ca"));
    t->server_flag = json_is_true(json_object_get(role, "server_flag"));
    t->client_flag = json_is_true(json_object_get(role, "client_flag"));
    t->code_signing_flag = json_is_true(json_object_get(role,
                                                        "code_signing_flag"));
    t->email_protection_flag =
        json_is_true(json_object_get(role, "email_protection_flag"));
    t->md = bits == 384 ? EVP_sha384() : bits == 512 ? EVP_sha512()
            : bits == 256 ? EVP_sha256() : NULL;
}

/* TTL capping by role, mount and the issuer's own expiry. */
static cf_err_t
cf_pki_leaf_validity(cf_req_t *req, json_t *role, cf_pki_issuer_t *iss,
                     cf_pki_tmpl_t *t)
{
    int64_t      rttl = 0, rmax = 0, ca_end;
    const char  *beh;
    char         a[32], b[32];
    cf_err_t     rc;

    if (role != NULL) {
        rttl = json_integer_value(json_object_get(role, "ttl"));
        rmax = json_integer_value(json_object_get(role, "max_ttl"));
    }
    if (rmax <= 0)
        rmax = cf_pki_mount_ttl(req, true);
    if (rttl <= 0)
        rttl = cf_pki_mount_ttl(req, false);
    if (rttl > rmax)
        rttl = rmax;
    if ((rc = cf_pki_validity(req, rttl, rmax, t)) != CF_OK)
        return rc;
    if (role != NULL && json_integer_value(json_object_get(
                            role, "not_before_duration")) > 0
        && json_object_get(req->body, "not_before_duration") == NULL)
        t->not_before = (int64_t) time(NULL)
                        - json_integer_value(json_object_get(
                              role, "not_before_duration"));
    ca_end = cf_pki_asn1_unix(X509_get0_notAfter(iss->cert));
    if (t->not_after > ca_end) {
        beh = json_string_value(json_object_get(iss->rec,
                                                "leaf_not_after_behavior"));
        if (beh != NULL && strcmp(beh, "permit") == 0)
            return CF_OK;
        if (beh != NULL && strcmp(beh, "truncate") == 0) {
            t->not_after = ca_end;
            return CF_OK;
        }
        cf_pki_rfc3339(t->not_after, a);
        cf_pki_rfc3339(ca_end, b);
        return cf_req_fail(req, CF_ERR_INVALID,
                           "cannot satisfy request, as TTL would result in "
                           "notAfter of %s that is beyond the expiration "
                           "of the CA certificate at %s", a, b);
    }
    return CF_OK;
}

/* A leaf key of the role's type, made in software. */
static cf_err_t
cf_pki_leaf_key(cf_req_t *req, json_t *role, EVP_PKEY **out,
                const char **type)
{
    const char  *kt = json_string_value(json_object_get(role, "key_type"));
    int64_t      bits = json_integer_value(json_object_get(role,
                                                           "key_bits"));
    const char  *curve;

    *out = NULL;
    *type = kt;
    if (kt == NULL || strcmp(kt, "any") == 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "role key type \"any\" not allowed for issuing "
                           "certificates, only signing");
    if (strcmp(kt, "rsa") == 0) {
        *out = EVP_RSA_gen((unsigned) (bits > 0 ? bits : 2048));
    } else if (strcmp(kt, "ec") == 0) {
        curve = bits == 224 ? "P-224" : bits == 384 ? "P-384"
                : bits == 521 ? "P-521" : "P-256";
        *out = EVP_EC_gen(curve);
    } else if (strcmp(kt, "ed25519") == 0) {
        *out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        return cf_req_fail(req, CF_ERR_INVALID, "unknown key type '%s'",
                           kt);
    }
    return *out != NULL ? CF_OK : CF_ERR_INTERNAL;
}

/* An EC key in SEC1 form (what PEM_write_bio_PrivateKey_traditional and
 * i2d_PrivateKey give), without OpenSSL's encoder setup (pki_sec1.c):
 * base64 DER, or PEM through b. */
static json_t *
cf_pki_ec_key_out(EVP_PKEY *k, bool der, BIO *b)
{
    unsigned char  *d = NULL;
    size_t          dn = 0;
    char           *p, *s;
    json_t         *j = NULL;
    long            n;

    if (cf_pki_sec1_der(k, &d, &dn) != CF_OK)
        return NULL;
    if (der) {
        if ((s = cf_b64_encode(d, dn)) != NULL) {
            j = json_string(s);
            cf_mem_free_str(s);
        }
    } else if (PEM_write_bio(b, "EC PRIVATE KEY", "", d, (long) dn) > 0
               && (n = BIO_get_mem_data(b, &p)) > 0) {
        while (n > 0 && p[n - 1] == '\n')
            n--;
        j = json_stringn(p, (size_t) n);
    }
    OPENSSL_secure_clear_free(d, dn);
    return j;
}

/* The private key as PEM (traditional or PKCS#8) or base64 DER, into a
 * JSON string; the intermediate buffers are on the secure heap. */
static json_t *
cf_pki_key_out(EVP_PKEY *k, bool der, bool pkcs8)
{
    BIO            *b = BIO_new(BIO_s_secmem());
    char           *p, *s = NULL;
    json_t         *j = NULL;
    long            n;
    int             dn;

    if (b == NULL)
        return NULL;
    if (!pkcs8 && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
        j = cf_pki_ec_key_out(k, der, b);
        BIO_free(b);
        return j;
    }
    if (der) {
        dn = pkcs8 ? i2d_PKCS8PrivateKey_bio(b, k, NULL, NULL, 0, NULL, NULL)
                   : i2d_PrivateKey_bio(b, k);
        if (dn == 1 && (n = BIO_get_mem_data(b, &p)) > 0) {
            s = cf_b64_encode(p, (size_t) n);
            if (s != NULL) {
                j = json_string(s);
                cf_mem_free_str(s);
            }
        }
    } else {
        dn = pkcs8 ? PEM_write_bio_PKCS8PrivateKey(b, k, NULL, NULL, 0,
                                                   NULL, NULL)
                   : PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL,
                                                          0, NULL, NULL);
        if (dn == 1 && (n = BIO_get_mem_data(b, &p)) > 0) {
            while (n > 0 && p[n - 1] == '\n')
                n--;
            j = json_stringn(p, (size_t) n);
        }
    }
    BIO_free(b);
    return j;
}

static const char *
cf_pki_key_type_name(EVP_PKEY *k)
{
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA:
        return "rsa";
    case EVP_PKEY_EC:
        return "ec";
    case EVP_PKEY_ED25519:
        return "ed25519";
    default:
        return "unknown";
    }
}

/* Reply shape of issue/sign: format pem|der|pem_bundle. */
static cf_err_t
cf_pki_reply_leaf(cf_req_t *req, X509 *x, cf_pki_issuer_t *iss,
                  EVP_PKEY *leaf_key)
{
    const char     *fmt = "pem", *pkf = "";
    json_t         *d = NULL, *chain, *pk = NULL, *v;
    unsigned char  *der = NULL;
    char           *b64, ser[CF_PKI_SERIAL], *pem = NULL;
    int             dn;
    size_t          i;
    cf_err_t        rc;

    if ((rc = cf_pki_param_str(req, "format", "pem", &fmt)) != CF_OK
        || (rc = cf_pki_param_str(req, "private_key_format", "der", &pkf))
           != CF_OK)
        return rc;
    if (strcmp(fmt, "pem") != 0 && strcmp(fmt, "der") != 0
        && strcmp(fmt, "pem_bundle") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'format' must be pem, der or pem_bundle");
    if (*pkf != '\0' && strcmp(pkf, "der") != 0 && strcmp(pkf, "pkcs8") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'private_key_format' must be der or pkcs8");
    cf_pki_serial_str(X509_get0_serialNumber(x), ':', ser);
    chain = cf_pki_issuer_chain(iss);
    d = json_pack("{s:s, s:I, s:o}", "serial_number", ser, "expiration",
                  (json_int_t) cf_pki_asn1_unix(X509_get0_notAfter(x)),
                  "ca_chain", chain);
    if (d == NULL)
        return CF_ERR_NOMEM;
    rc = CF_ERR_NOMEM;
    if (strcmp(fmt, "der") == 0) {
        if ((dn = i2d_X509(x, &der)) <= 0
            || (b64 = cf_b64_encode(der, (size_t) dn)) == NULL)
            goto out;
        json_object_set_new(d, "certificate", json_string(b64));
        cf_mem_free_str(b64);
        OPENSSL_free(der);
        der = NULL;
        if ((dn = i2d_X509(iss->cert, &der)) <= 0
            || (b64 = cf_b64_encode(der, (size_t) dn)) == NULL)
            goto out;
        json_object_set_new(d, "issuing_ca", json_string(b64));
        cf_mem_free_str(b64);
    } else {
        if ((pem = cf_pki_x509_pem(x)) == NULL)
            goto out;
        json_object_set_new(d, "certificate", json_string(pem));
        json_object_set(d, "issuing_ca", json_object_get(iss->rec,
                                                         "certificate"));
    }
    if (leaf_key != NULL) {
        if ((pk = cf_pki_key_out(leaf_key, strcmp(fmt, "der") == 0,
                                 strcmp(pkf, "pkcs8") == 0)) == NULL)
            goto out;
        json_object_set_new(d, "private_key_type",
                            json_string(cf_pki_key_type_name(leaf_key)));
    }
    if (strcmp(fmt, "pem_bundle") == 0) {
        /* certificate = cert + key + chain, as Vault's pem_bundle */
        char    *all;
        size_t   n = strlen(pem) + 2;

        if (pk != NULL)
            n += strlen(json_string_value(pk)) + 1;
        json_array_foreach(json_object_get(d, "ca_chain"), i, v)
            n += strlen(json_string_value(v)) + 1;
        if ((all = malloc(n)) == NULL)
            goto out;
        snprintf(all, n, "%s", pem);
        if (pk != NULL) {
            strcat(all, "\n");
            strcat(all, json_string_value(pk));
        }
        json_array_foreach(json_object_get(d, "ca_chain"), i, v) {
            strcat(all, "\n");
            strcat(all, json_string_value(v));
        }
        json_object_set_new(d, "certificate", json_string(all));
        OPENSSL_cleanse(all, n);
        free(all);
    }
    if (pk != NULL) {
        json_object_set_new(d, "private_key", pk);
        pk = NULL;
    }
    rc = cf_req_reply_data(req, d);
    d = NULL;
out:
    OPENSSL_free(der);
    free(pem);
    json_decref(pk);
    json_decref(d);
    return rc;
}

/* SANs of a CSR into t->dns/emails/ips/uris. */
static cf_err_t
cf_pki_csr_sans(X509_REQ *csr, cf_pki_tmpl_t *t)
{
    STACK_OF(X509_EXTENSION)  *exts = X509_REQ_get_extensions(csr);
    GENERAL_NAMES             *gens = NULL;
    int                        i;
    char                       ip[INET6_ADDRSTRLEN];

    if (exts != NULL)
        gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME    *gn = sk_GENERAL_NAME_value(gens, i);
        ASN1_STRING     *s;
        const char      *str;

        switch (gn->type) {
        case GEN_DNS:
        case GEN_EMAIL:
        case GEN_URI:
            s = gn->d.ia5;
            str = (const char *) ASN1_STRING_get0_data(s);
            json_array_append_new(gn->type == GEN_DNS ? t->dns
                                  : gn->type == GEN_EMAIL ? t->emails
                                  : t->uris,
                                  json_stringn(str, (size_t)
                                               ASN1_STRING_length(s)));
            break;
        case GEN_IPADD:
            s = gn->d.ip;
            if ((ASN1_STRING_length(s) == 4
                 && inet_ntop(AF_INET, ASN1_STRING_get0_data(s), ip,
                              sizeof(ip)) != NULL)
                || (ASN1_STRING_length(s) == 16
                    && inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), ip,
                                 sizeof(ip)) != NULL))
                json_array_append_new(t->ips, json_string(ip));
            break;
        default:
            break;
        }
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return CF_OK;
}

/* The CN of a CSR, malloc'd, or NULL. */
static char *
cf_pki_csr_cn(X509_REQ *csr)
{
    X509_NAME  *n = X509_REQ_get_subject_name(csr);
    int         i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    ASN1_STRING *s;
    unsigned char *u = NULL;
    char       *r = NULL;
    int         len;

    if (i < 0)
        return NULL;
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
    if ((len = ASN1_STRING_to_UTF8(&u, s)) < 0)
        return NULL;
    if ((r = malloc((size_t) len + 1)) != NULL) {
        memcpy(r, u, (size_t) len);
        r[len] = '\0';
    }
    OPENSSL_free(u);
    return r;
}

/* The CSR's key must be of the role's type (unless "any"). */
static cf_err_t
cf_pki_csr_key_check(cf_req_t *req, json_t *role, EVP_PKEY *pub)
{
    const char  *kt = json_string_value(json_object_get(role, "key_type"));
    int64_t      bits = json_integer_value(json_object_get(role,
                                                           "key_bits"));
    const char  *have = cf_pki_key_type_name(pub);

    if (kt == NULL || strcmp(kt, "any") == 0)
        return CF_OK;
    if (strcmp(kt, have) != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "role requires keys of type %s", kt);
    if (strcmp(kt, "rsa") == 0 && bits > 0 && EVP_PKEY_get_bits(pub) < bits)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "role requires a minimum of a %lld-bit key, but "
                           "CSR's key is %d bits", (long long) bits,
                           EVP_PKEY_get_bits(pub));
    if (strcmp(kt, "ec") == 0 && bits > 0 && EVP_PKEY_get_bits(pub) != bits)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "role requires a %lld-bit EC key, but CSR's key "
                           "is %d bits", (long long) bits,
                           EVP_PKEY_get_bits(pub));
    return CF_OK;
}

typedef enum { CF_PKI_ISSUE, CF_PKI_SIGN, CF_PKI_VERBATIM } cf_pki_mode_t;

/* generate_lease: the response carries a lease that revokes the
 * certificate when revoked, and ends when the certificate does. */
static cf_err_t
cf_pki_leaf_lease(cf_req_t *req, X509 *x)
{
    char     ser[CF_PKI_SERIAL];
    int64_t  end = cf_pki_asn1_unix(X509_get0_notAfter(x));
    int64_t  ttl = end - (int64_t) time(NULL);

    cf_pki_serial_str(X509_get0_serialNumber(x), ':', ser);
    return cf_req_set_lease(req, ttl > 0 ? ttl : 1,
                            json_pack("{s:s, s:I}", "serial_number", ser,
                                      "expiration", (json_int_t) end));
}

static cf_err_t
cf_pki_issue_common(cf_req_t *req, cf_pki_mode_t mode)
{
    cf_pki_issuer_t  iss;
    cf_pki_tmpl_t    t;
    json_t          *role = NULL;
    X509_REQ        *csr = NULL;
    X509            *x = NULL;
    EVP_PKEY        *leaf = NULL;
    const char      *ref = NULL, *kt;
    char             refbuf[128], msg[CF_PKI_MSG], *csr_cn = NULL;
    bool             no_store = false;
    cf_err_t         rc;

    memset(&iss, 0, sizeof(iss));
    memset(&t, 0, sizeof(t));
    if ((rc = cf_pki_role_load(req, mode != CF_PKI_VERBATIM, &role))
        != CF_OK || (rc = cf_pki_tmpl_from_req(req, &t)) != CF_OK)
        goto out;
    if (mode != CF_PKI_ISSUE && (rc = cf_pki_csr_parse(req, &csr)) != CF_OK)
        goto out;
    if (mode == CF_PKI_VERBATIM) {
        /* subject and SANs exactly as in the CSR */
        json_array_clear(t.dns);
        json_array_clear(t.emails);
        json_array_clear(t.ips);
        json_array_clear(t.uris);
        json_array_clear(t.other_sans);
        t.subject = X509_REQ_get_subject_name(csr);
        cf_pki_csr_sans(csr, &t);
        if (json_array_size(t.key_usage) == 0) {
            json_decref(t.key_usage);
            t.key_usage = json_pack("[sss]", "DigitalSignature",
                                    "KeyAgreement", "KeyEncipherment");
        }
        if (role != NULL) {
            t.server_flag = json_is_true(json_object_get(role,
                                                         "server_flag"));
            t.client_flag = json_is_true(json_object_get(role,
                                                         "client_flag"));
        }
    } else {
        json_t  *sans_role = role;

        cf_pki_tmpl_from_role(&t, role);
        if (mode == CF_PKI_SIGN) {
            if (json_is_true(json_object_get(role, "use_csr_common_name"))
                && (csr_cn = cf_pki_csr_cn(csr)) != NULL)
                t.cn = csr_cn;
            if (json_is_true(json_object_get(role, "use_csr_sans"))) {
                json_array_clear(t.dns);
                json_array_clear(t.emails);
                json_array_clear(t.ips);
                json_array_clear(t.uris);
                cf_pki_csr_sans(csr, &t);
            }
            if ((rc = cf_pki_csr_key_check(req, role,
                                           X509_REQ_get0_pubkey(csr)))
                != CF_OK)
                goto out;
        }
        if ((t.cn == NULL || *t.cn == '\0')
            && json_is_true(json_object_get(role, "require_cn"))) {
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "the common_name field is required, or must "
                             "be provided in a CSR with "
                             "\"use_csr_common_name\" set to true, unless "
                             "\"require_cn\" is set to false");
            goto out;
        }
        /* A CN taken into the SANs is checked once, as a SAN too. */
        if ((rc = cf_pki_role_check(sans_role, &t, msg, sizeof(msg)))
            != CF_OK) {
            rc = cf_req_fail(req, rc, "%s", msg);
            goto out;
        }
    }
    if ((rc = cf_pki_ref_from_path(req, refbuf, sizeof(refbuf), &ref))
        != CF_OK)
        goto out;
    if (strncmp(req->rest, "issuer/", 7) != 0 && role != NULL) {
        ref = json_string_value(json_object_get(role, "issuer_ref"));
    }
    if ((rc = cf_pki_issuer_load(req, ref, true, &iss)) != CF_OK
        || (rc = cf_pki_leaf_validity(req, role, &iss, &t)) != CF_OK)
        goto out;
    if (mode == CF_PKI_ISSUE) {
        if ((rc = cf_pki_leaf_key(req, role, &leaf, &kt)) != CF_OK)
            goto out;
        t.pub = leaf;
    } else {
        t.pub = X509_REQ_get0_pubkey(csr);
    }
    if ((rc = cf_pki_cert_build(req, &t, &iss, NULL, &x, msg, sizeof(msg)))
        != CF_OK) {
        if (rc == CF_ERR_INVALID)
            rc = cf_req_fail(req, rc, "%s", msg);
        goto out;
    }
    if (role != NULL)
        no_store = json_is_true(json_object_get(role, "no_store"));
    if (!no_store && (rc = cf_pki_cert_store(req, x, iss.id)) != CF_OK)
        goto out;
    if ((rc = cf_pki_reply_leaf(req, x, &iss, leaf)) == CF_OK && role != NULL
        && json_is_true(json_object_get(role, "generate_lease")))
        rc = cf_pki_leaf_lease(req, x);
out:
    EVP_PKEY_free(leaf);            /* clears the private key */
    cf_pki_issuer_cleanup(&iss);
    cf_pki_tmpl_cleanup(&t);
    json_decref(role);
    X509_REQ_free(csr);
    X509_free(x);
    free(csr_cn);
    return rc;
}

cf_err_t
cf_pki_issue(cf_req_t *req)
{
    return cf_pki_issue_common(req, CF_PKI_ISSUE);
}

cf_err_t
cf_pki_sign(cf_req_t *req)
{
    return cf_pki_issue_common(req, CF_PKI_SIGN);
}

cf_err_t
cf_pki_sign_verbatim(cf_req_t *req)
{
    return cf_pki_issue_common(req, CF_PKI_VERBATIM);
}

cf_err_t
cf_pki_cert_read(cf_req_t *req)
{
    json_t         *rec = NULL, *rev = NULL, *d;
    X509           *x = NULL;
    unsigned char  *der = NULL;
    char            arg[128], ser[CF_PKI_SERIAL], key[CF_PKI_SERIAL + 16];
    const char     *pem;
    bool            raw = strstr(req->rest, "/raw") != NULL;
    int64_t         rt = 0;
    int             n;
    cf_err_t        rc;

    if (!cf_pki_seg(req, 1, arg, sizeof(arg)))
        return cf_pki_reply_404(req);
    if (strcmp(arg, "ca") == 0) {
        cf_pki_issuer_t  iss;

        if ((rc = cf_pki_issuer_load(req, "default", false, &iss)) != CF_OK)
            return rc;
        rc = cf_req_reply_data(req, json_pack(
            "{s:O, s:I, s:s, s:n}", "certificate",
            json_object_get(iss.rec, "certificate"), "revocation_time",
            (json_int_t) 0, "issuer_id", iss.id, "revocation_time_rfc3339"));
        cf_pki_issuer_cleanup(&iss);
        return rc;
    }
    if (!cf_pki_serial_norm(arg, ser))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid serial number");
    snprintf(key, sizeof(key), "certs/%s", ser);
    rc = cf_view_get_json(req, key, &rec);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_pki_reply_404(req);
    if (rc != CF_OK)
        return rc;
    pem = json_string_value(json_object_get(rec, "certificate"));
    if (raw) {
        if (strstr(req->rest, "/raw/pem") != NULL) {
            rc = cf_req_reply_raw(req, 200, "application/pem-certificate-"
                                  "chain", pem, strlen(pem));
        } else if ((x = cf_pki_pem_x509(pem)) == NULL
                   || (n = i2d_X509(x, &der)) <= 0) {
            rc = CF_ERR_INTEGRITY;
        } else {
            rc = cf_req_reply_raw(req, 200, "application/pkix-cert", der,
                                  (size_t) n);
        }
        goto out;
    }
    snprintf(key, sizeof(key), "revoked/%s", ser);
    if (cf_view_get_json(req, key, &rev) == CF_OK)
        rt = json_integer_value(json_object_get(rev, "revocation_time"));
    d = json_pack("{s:s, s:I, s:O}", "certificate", pem, "revocation_time",
                  (json_int_t) rt, "issuer_id",
                  json_object_get(rec, "issuer_id"));
    if (d != NULL) {
        char  t[32];

        if (rt > 0) {
            cf_pki_rfc3339(rt, t);
            json_object_set_new(d, "revocation_time_rfc3339",
                                json_string(t));
        } else {
            json_object_set_new(d, "revocation_time_rfc3339", json_null());
        }
    }
    rc = cf_req_reply_data(req, d);
out:
    OPENSSL_free(der);
    X509_free(x);
    json_decref(rec);
    json_decref(rev);
    return rc;
}

cf_err_t
cf_pki_certs_list(cf_req_t *req)
{
    return cf_pki_reply_list(req, "certs/", true);
}
