/*
 * pki: the PKI secrets engine (Vault's PKI API) with every CA key on the
 * token. This file holds the path table and the helpers the other pki
 * files share; layout and locking are described in engines/pki.h.
 */
#include "pki.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "coffer/log.h"
#include "coffer/server.h"

/* The revocation lock (engines/pki.h): serialises CRL rebuilds. */
static pthread_mutex_t  cf_pki_mu = PTHREAD_MUTEX_INITIALIZER;

void
cf_pki_lock(void)
{
    pthread_mutex_lock(&cf_pki_mu);
}

void
cf_pki_unlock(void)
{
    pthread_mutex_unlock(&cf_pki_mu);
}

bool
cf_pki_seg(const cf_req_t *req, unsigned n, char *buf, size_t len)
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

/* Append the comma-separated items of s, trimmed, to arr. */
static void
cf_pki_split(json_t *arr, const char *s)
{
    const char  *e;
    size_t       n;

    while (*s != '\0') {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == '\0')
            break;
        e = strchr(s, ',');
        n = e != NULL ? (size_t) (e - s) : strlen(s);
        while (n > 0 && s[n - 1] == ' ')
            n--;
        if (n > 0)
            json_array_append_new(arr, json_stringn(s, n));
        s += n;
    }
}

cf_err_t
cf_pki_param_list(cf_req_t *req, const char *name, json_t **out)
{
    json_t       *v = json_object_get(req->body, name), *arr, *it;
    const char   *q;
    size_t        i;

    *out = NULL;
    if ((arr = json_array()) == NULL)
        return CF_ERR_NOMEM;
    if (v == NULL && (q = cf_req_query(req, name)) != NULL) {
        cf_pki_split(arr, q);
    } else if (json_is_string(v)) {
        cf_pki_split(arr, json_string_value(v));
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, it) {
            if (!json_is_string(it)) {
                json_decref(arr);
                return cf_req_fail(req, CF_ERR_INVALID,
                                   "'%s' must be a list of strings", name);
            }
            if (*json_string_value(it) != '\0')
                json_array_append(arr, it);
        }
    } else if (v != NULL && !json_is_null(v)) {
        json_decref(arr);
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must be a list of strings", name);
    }
    *out = arr;
    return CF_OK;
}

cf_err_t
cf_pki_param_str(cf_req_t *req, const char *name, const char *def,
                 const char **out)
{
    bool      present = false;
    cf_err_t  rc;

    *out = def;
    if ((rc = cf_req_param_str(req, name, out, &present)) != CF_OK)
        return rc;
    if (!present)
        *out = def;
    return CF_OK;
}

char *
cf_pki_x509_pem(X509 *x)
{
    BIO    *b = BIO_new(BIO_s_mem());
    char   *d, *s = NULL;
    long    n;

    if (b == NULL)
        return NULL;
    if (PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &d)) > 0
        && (s = malloc((size_t) n + 1)) != NULL) {
        memcpy(s, d, (size_t) n);
        /* Vault's PEM fields carry no trailing newline */
        while (n > 0 && s[n - 1] == '\n')
            n--;
        s[n] = '\0';
    }
    BIO_free(b);
    return s;
}

X509 *
cf_pki_pem_x509(const char *pem)
{
    BIO   *b = BIO_new_mem_buf(pem, -1);
    X509  *x;

    if (b == NULL)
        return NULL;
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

void
cf_pki_serial_str(const ASN1_INTEGER *s, char sep, char buf[CF_PKI_SERIAL])
{
    BIGNUM          *bn = ASN1_INTEGER_to_BN(s, NULL);
    unsigned char    b[CF_PKI_SERIAL / 3];
    int              n, i;
    size_t           o = 0;

    buf[0] = '\0';
    if (bn == NULL)
        return;
    n = BN_num_bytes(bn);
    if (n > 0 && n <= (int) sizeof(b)) {
        BN_bn2bin(bn, b);
        for (i = 0; i < n; i++) {
            snprintf(buf + o, CF_PKI_SERIAL - o, i == 0 ? "%02x" : "%c%02x",
                     i == 0 ? b[i] : sep, b[i]);
            o += i == 0 ? 2 : 3;
        }
    } else if (n == 0) {
        snprintf(buf, CF_PKI_SERIAL, "00");
    }
    BN_free(bn);
}

bool
cf_pki_serial_norm(const char *in, char out[CF_PKI_SERIAL])
{
    size_t  o = 0, digits = 0;

    for (; *in != '\0'; in++) {
        if (*in == ':' || *in == '-') {
            if (digits != 2)
                return false;
            digits = 0;
            if (o + 1 >= CF_PKI_SERIAL)
                return false;
            out[o++] = '-';
            continue;
        }
        if (!isxdigit((unsigned char) *in) || digits == 2
            || o + 1 >= CF_PKI_SERIAL)
            return false;
        out[o++] = (char) tolower((unsigned char) *in);
        digits++;
    }
    out[o] = '\0';
    return digits == 2;
}

int64_t
cf_pki_mount_ttl(const cf_req_t *req, bool max)
{
    json_t  *v = json_object_get(req->mount->config, max ? "max_lease_ttl"
                                                        : "default_lease_ttl");
    int64_t  t = json_is_integer(v) ? (int64_t) json_integer_value(v) : 0;

    if (t <= 0) {
        const cf_config_t  *cfg = req->srv->cfg;

        t = max ? (int64_t) cfg->max_lease_ttl
                : (int64_t) cfg->default_lease_ttl;
    }
    return t > 0 ? t : CF_PKI_DEFAULT_TTL;
}

void
cf_pki_rfc3339(int64_t t, char buf[32])
{
    time_t     tt = (time_t) t;
    struct tm  tm;

    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t
cf_pki_asn1_unix(const ASN1_TIME *t)
{
    struct tm  tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t) timegm(&tm);
}

char *
cf_pki_default_issuer(cf_req_t *req)
{
    json_t  *c = NULL;
    char    *id = NULL;
    const char *s;

    if (cf_view_get_json(req, "config/issuers", &c) == CF_OK
        && (s = json_string_value(json_object_get(c, "default"))) != NULL
        && *s != '\0')
        id = strdup(s);
    json_decref(c);
    return id;
}

/* Issuer id for a ref: default, id or name. *out malloc'd. */
static cf_err_t
cf_pki_issuer_resolve(cf_req_t *req, const char *ref, char **out)
{
    cf_strlist_t  *l = NULL;
    json_t        *rec;
    char           key[128];
    size_t         i;
    cf_err_t       rc;

    *out = NULL;
    if (ref == NULL || *ref == '\0' || strcmp(ref, "default") == 0) {
        if ((*out = cf_pki_default_issuer(req)) == NULL)
            return CF_ERR_NOT_FOUND;
        return CF_OK;
    }
    if (strlen(ref) < 100) {
        snprintf(key, sizeof(key), "issuer/%s", ref);
        if (cf_view_get_json(req, key, &rec) == CF_OK) {
            json_decref(rec);
            return (*out = strdup(ref)) != NULL ? CF_OK : CF_ERR_NOMEM;
        }
    }
    if ((rc = cf_view_list(req, "issuer/", &l)) != CF_OK)
        return rc;
    rc = CF_ERR_NOT_FOUND;
    for (i = 0; i < l->len && rc == CF_ERR_NOT_FOUND; i++) {
        const char  *name;

        snprintf(key, sizeof(key), "issuer/%s", l->items[i]);
        if (cf_view_get_json(req, key, &rec) != CF_OK)
            continue;
        name = json_string_value(json_object_get(rec, "issuer_name"));
        if (name != NULL && strcmp(name, ref) == 0)
            rc = (*out = strdup(l->items[i])) != NULL ? CF_OK
                                                      : CF_ERR_NOMEM;
        json_decref(rec);
    }
    cf_strlist_free(l);
    return rc;
}

cf_err_t
cf_pki_key_load(cf_req_t *req, const char *key_id, json_t **rec,
                EVP_PKEY **out)
{
    json_t       *r = NULL;
    EVP_PKEY     *pub = NULL;
    cf_hsm_id_t   hid;
    char          key[128];
    const char   *pem, *hex;
    cf_err_t      rc;

    *out = NULL;
    if (rec != NULL)
        *rec = NULL;
    if (strlen(key_id) > 100)
        return CF_ERR_NOT_FOUND;
    snprintf(key, sizeof(key), "key/%s", key_id);
    if ((rc = cf_view_get_json(req, key, &r)) != CF_OK)
        return rc;
    pem = json_string_value(json_object_get(r, "public_key"));
    hex = json_string_value(json_object_get(r, "hsm_id"));
    if (pem == NULL || hex == NULL || cf_hsm_id_parse(hex, &hid) != CF_OK
        || (pub = cf_pki_pem_pubkey_shared(pem)) == NULL) {
        cf_log_error("pki", "key record %s is damaged", key_id);
        rc = CF_ERR_INTEGRITY;
        goto out;
    }
    if ((rc = cf_pki_hsm_pkey(req->srv->hsm, &hid, pub, out)) != CF_OK)
        goto out;
    if (rec != NULL) {
        *rec = r;
        r = NULL;
    }
out:
    EVP_PKEY_free(pub);
    json_decref(r);
    return rc;
}

cf_err_t
cf_pki_issuer_load(cf_req_t *req, const char *ref, bool with_key,
                   cf_pki_issuer_t *out)
{
    char        *id = NULL, key[128];
    const char  *pem, *kid;
    cf_err_t     rc;

    memset(out, 0, sizeof(*out));
    if ((rc = cf_pki_issuer_resolve(req, ref, &id)) != CF_OK) {
        if (rc == CF_ERR_NOT_FOUND)
            rc = ref == NULL || *ref == '\0' || strcmp(ref, "default") == 0
                 ? cf_req_fail(req, CF_ERR_INVALID,
                               "no default issuer currently configured")
                 : cf_req_fail(req, CF_ERR_INVALID,
                               "unable to find PKI issuer for reference: "
                               "%s", ref);
        return rc;
    }
    snprintf(key, sizeof(key), "issuer/%s", id);
    free(id);
    if ((rc = cf_view_get_json(req, key, &out->rec)) != CF_OK)
        goto out;
    out->id = json_string_value(json_object_get(out->rec, "issuer_id"));
    pem = json_string_value(json_object_get(out->rec, "certificate"));
    if (out->id == NULL || pem == NULL
        || (out->cert = cf_pki_pem_x509_shared(pem)) == NULL) {
        rc = CF_ERR_INTEGRITY;
        goto out;
    }
    if (with_key) {
        kid = json_string_value(json_object_get(out->rec, "key_id"));
        if (kid == NULL || *kid == '\0') {
            rc = cf_req_fail(req, CF_ERR_INVALID, "issuer %s has no key",
                             out->id);
            goto out;
        }
        rc = cf_pki_key_load(req, kid, NULL, &out->key);
        if (rc == CF_ERR_NOT_FOUND)
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "the key of issuer %s is gone", out->id);
    }
out:
    if (rc != CF_OK)
        cf_pki_issuer_cleanup(out);
    return rc;
}

void
cf_pki_issuer_cleanup(cf_pki_issuer_t *is)
{
    json_decref(is->rec);
    X509_free(is->cert);
    EVP_PKEY_free(is->key);
    memset(is, 0, sizeof(*is));
}

cf_err_t
cf_pki_reply_404(cf_req_t *req)
{
    if (req->errors == NULL && (req->errors = json_array()) == NULL)
        return CF_ERR_NOMEM;
    req->status = 404;
    return CF_ERR_NOT_FOUND;
}

cf_err_t
cf_pki_reply_list(cf_req_t *req, const char *prefix, bool serials)
{
    cf_strlist_t  *l = NULL;
    json_t        *keys;
    char          *s, *p;
    size_t         i;
    cf_err_t       rc;

    if ((rc = cf_view_list(req, prefix, &l)) != CF_OK)
        return rc;
    if (l->len == 0) {
        cf_strlist_free(l);
        return cf_pki_reply_404(req);
    }
    if ((keys = json_array()) == NULL) {
        cf_strlist_free(l);
        return CF_ERR_NOMEM;
    }
    for (i = 0; i < l->len; i++) {
        s = l->items[i];
        if (serials) {
            for (p = s; *p != '\0'; p++) {
                if (*p == '-')
                    *p = ':';
            }
        }
        json_array_append_new(keys, json_string(s));
    }
    cf_strlist_free(l);
    return cf_req_reply_data(req, json_pack("{s:o}", "keys", keys));
}

#define CF_PKI_RW   (CF_OP_CREATE | CF_OP_UPDATE)

static const cf_path_t  cf_pki_paths[] = {
    { "root/generate/+",                CF_PKI_RW, cf_pki_root_generate },
    { "issuers/generate/root/+",        CF_PKI_RW, cf_pki_root_generate },
    { "root/sign-intermediate",         CF_PKI_RW, cf_pki_sign_intermediate },
    { "issuer/+/sign-intermediate",     CF_PKI_RW, cf_pki_sign_intermediate },
    { "root/sign-self-issued",          CF_PKI_RW, cf_pki_sign_self_issued },
    { "issuer/+/sign-self-issued",      CF_PKI_RW, cf_pki_sign_self_issued },
    { "root",                           CF_OP_DELETE, cf_pki_root_delete },
    { "intermediate/generate/+",        CF_PKI_RW,
      cf_pki_intermediate_generate },
    { "issuers/generate/intermediate/+", CF_PKI_RW,
      cf_pki_intermediate_generate },
    { "intermediate/set-signed",        CF_PKI_RW, cf_pki_set_signed },
    { "issuers",                        CF_OP_LIST, cf_pki_issuers_list },
    { "issuers/",                       CF_OP_LIST, cf_pki_issuers_list },
    { "issuer/+/pem",                   CF_OP_READ, cf_pki_issuer_cert },
    { "issuer/+/der",                   CF_OP_READ, cf_pki_issuer_cert },
    { "issuer/+/json",                  CF_OP_READ, cf_pki_issuer_cert },
    { "issuer/+/issue/+",               CF_PKI_RW, cf_pki_issue },
    { "issuer/+/sign/+",                CF_PKI_RW, cf_pki_sign },
    { "issuer/+/sign-verbatim",         CF_PKI_RW, cf_pki_sign_verbatim },
    { "issuer/+/sign-verbatim/+",       CF_PKI_RW, cf_pki_sign_verbatim },
    { "issuer/+",                       CF_OP_READ | CF_PKI_RW | CF_OP_PATCH
                                        | CF_OP_DELETE, cf_pki_issuer },
    { "keys",                           CF_OP_LIST, cf_pki_keys_list },
    { "keys/",                          CF_OP_LIST, cf_pki_keys_list },
    { "key/+",                          CF_OP_READ | CF_PKI_RW, cf_pki_key },
    { "config/issuers",                 CF_OP_READ | CF_PKI_RW,
      cf_pki_config_issuers },
    { "root/replace",                   CF_PKI_RW, cf_pki_config_issuers },
    { "config/urls",                    CF_OP_READ | CF_PKI_RW,
      cf_pki_config_urls },
    { "config/crl",                     CF_OP_READ | CF_PKI_RW,
      cf_pki_config_crl },
    { "ca",                             CF_OP_READ, cf_pki_ca },
    { "ca/pem",                         CF_OP_READ, cf_pki_ca },
    { "ca_chain",                       CF_OP_READ, cf_pki_ca },
    { "cert/ca_chain",                  CF_OP_READ, cf_pki_ca },
    { "certs/revoked",                  CF_OP_LIST, cf_pki_revoked_list },
    { "certs/revoked/",                 CF_OP_LIST, cf_pki_revoked_list },
    { "certs",                          CF_OP_LIST, cf_pki_certs_list },
    { "certs/",                         CF_OP_LIST, cf_pki_certs_list },
    { "cert/crl",                       CF_OP_READ, cf_pki_crl },
    { "cert/+",                         CF_OP_READ, cf_pki_cert_read },
    { "cert/+/raw",                     CF_OP_READ, cf_pki_cert_read },
    { "cert/+/raw/pem",                 CF_OP_READ, cf_pki_cert_read },
    { "roles",                          CF_OP_LIST, cf_pki_roles_list },
    { "roles/",                         CF_OP_LIST, cf_pki_roles_list },
    { "roles/+",                        CF_OP_READ | CF_PKI_RW | CF_OP_DELETE,
      cf_pki_role },
    { "issue/+",                        CF_PKI_RW, cf_pki_issue },
    { "sign/+",                         CF_PKI_RW, cf_pki_sign },
    { "sign-verbatim",                  CF_PKI_RW, cf_pki_sign_verbatim },
    { "sign-verbatim/+",                CF_PKI_RW, cf_pki_sign_verbatim },
    { "revoke",                         CF_PKI_RW, cf_pki_revoke },
    { "revoke-with-key",                CF_PKI_RW, cf_pki_revoke },
    { "crl",                            CF_OP_READ, cf_pki_crl },
    { "crl/pem",                        CF_OP_READ, cf_pki_crl },
    { "issuer/+/crl",                   CF_OP_READ, cf_pki_crl },
    { "issuer/+/crl/pem",               CF_OP_READ, cf_pki_crl },
    { "issuer/+/crl/der",               CF_OP_READ, cf_pki_crl },
    { "crl/rotate",                     CF_OP_READ | CF_PKI_RW,
      cf_pki_crl_rotate },
    { "ocsp",                           CF_PKI_RW, cf_pki_ocsp },
    { "ocsp/*",                         CF_OP_READ, cf_pki_ocsp },
    { "tidy",                           CF_PKI_RW, cf_pki_tidy },
    { "tidy-status",                    CF_OP_READ, cf_pki_tidy_status },
    CF_PATH_END
};

/* Served without a token, as Vault's PKI paths: CA certificates, CRLs,
 * certificates by serial and OCSP are public by nature. */
static const char *const  cf_pki_unauth[] = {
    "ca", "ca/pem", "ca_chain", "cert/*", "crl", "crl/pem",
    "issuer/+/pem", "issuer/+/der", "issuer/+/json", "issuer/+/crl",
    "issuer/+/crl/pem", "issuer/+/crl/der", "ocsp", "ocsp/*", NULL
};

/* Read by every issue and sign: the role, the default-issuer setting,
 * the issuer and its key record (an HSM id, no key material), the URL and
 * CRL settings. Certificates, CRLs and revocations are not cached. */
static const char *const  cf_pki_cached[] = {
    "role/", "config/", "issuer/", "key/", NULL
};

const cf_engine_t  cf_pki_engine = {
    .name = "pki", .paths = cf_pki_paths, .unauthenticated = cf_pki_unauth,
    .cached = cf_pki_cached,
    .revoke_secret = cf_pki_revoke_secret,
};
