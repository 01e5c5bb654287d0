/*
 * jwt_verify: compact JWS parsing, signature verification with OpenSSL
 * EVP (keys from PEM or JWK), time claims, claim lookup and globs for the
 * jwt and kubernetes auth methods.
 *
 * No JOSE library: Debian's libjwt would add a dependency for what is a
 * few hundred lines over EVP here, and it neither reads JWKS with x5c nor
 * gives us the control over accepted algorithms (never "none" or HMAC,
 * key type and curve bound to the algorithm) that we need anyway.
 */
#include "jwt_verify.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/log.h"
#include "coffer/engine.h"

/* RSA keys below this size are refused whatever the algorithm. */
#define CF_JWT_RSA_MIN_BITS  2048

typedef enum {
    CF_JWT_KEY_RSA,
    CF_JWT_KEY_EC,
    CF_JWT_KEY_OKP              /* Ed25519 or Ed448 ("EdDSA") */
} cf_jwt_keytype_t;

typedef struct {
    const char        *name;
    cf_jwt_keytype_t   type;
    const char        *md;        /* digest name, NULL for EdDSA */
    bool               pss;
    const char        *group;     /* EC curve (OpenSSL name) */
    const char        *crv;       /* EC curve (JWK name) */
    size_t             coord;     /* EC coordinate length in bytes */
} cf_jwt_alg_t;

static const cf_jwt_alg_t  cf_jwt_algs[] = {
    { "RS256", CF_JWT_KEY_RSA, "SHA256", false, NULL, NULL, 0 },
    { "RS384", CF_JWT_KEY_RSA, "SHA384", false, NULL, NULL, 0 },
    { "RS512", CF_JWT_KEY_RSA, "SHA512", false, NULL, NULL, 0 },
    { "PS256", CF_JWT_KEY_RSA, "SHA256", true, NULL, NULL, 0 },
    { "PS384", CF_JWT_KEY_RSA, "SHA384", true, NULL, NULL, 0 },
    { "PS512", CF_JWT_KEY_RSA, "SHA512", true, NULL, NULL, 0 },
    { "ES256", CF_JWT_KEY_EC, "SHA256", false, "prime256v1", "P-256", 32 },
    { "ES384", CF_JWT_KEY_EC, "SHA384", false, "secp384r1", "P-384", 48 },
    { "ES512", CF_JWT_KEY_EC, "SHA512", false, "secp521r1", "P-521", 66 },
    { "EdDSA", CF_JWT_KEY_OKP, NULL, false, NULL, NULL, 0 },
};

#define CF_JWT_NALGS  (sizeof(cf_jwt_algs) / sizeof(cf_jwt_algs[0]))

static const cf_jwt_alg_t *
cf_jwt_alg_find(const char *name)
{
    size_t  i;

    for (i = 0; name != NULL && i < CF_JWT_NALGS; i++) {
        if (strcmp(cf_jwt_algs[i].name, name) == 0)
            return &cf_jwt_algs[i];
    }
    return NULL;
}

bool
cf_jwt_alg_known(const char *alg)
{
    return cf_jwt_alg_find(alg) != NULL;
}

/* ---- base64url and parsing ------------------------------------------- */

static int
cf_jwt_b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decode n bytes of unpadded base64url; CF_ERR_INVALID on a bad
 * character or length. *out owned. */
static cf_err_t
cf_jwt_b64url_decode(const char *s, size_t n, cf_buf_t **out)
{
    cf_buf_t  *b;
    uint32_t   acc = 0;
    size_t     i, bits = 0;
    int        v;

    *out = NULL;
    if (n % 4 == 1)
        return CF_ERR_INVALID;
    if ((b = cf_buf_new(n / 4 * 3 + 3)) == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        if ((v = cf_jwt_b64url_val((unsigned char) s[i])) < 0) {
            cf_buf_free(b);
            return CF_ERR_INVALID;
        }
        acc = (acc << 6) | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b->data[b->len++] = (unsigned char) (acc >> bits);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if ((acc & ((1u << bits) - 1)) != 0) {
        cf_buf_free(b);
        return CF_ERR_INVALID;
    }
    *out = b;
    return CF_OK;
}

/* Decode a base64url JSON object; NULL when it is not one. Duplicate
 * keys are refused: two "sub" claims must not mean two things. */
static json_t *
cf_jwt_b64url_json(const char *s, size_t n)
{
    cf_buf_t      *b = NULL;
    json_t        *v = NULL;
    json_error_t   jerr;

    if (cf_jwt_b64url_decode(s, n, &b) != CF_OK)
        return NULL;
    v = json_loadb((const char *) b->data, b->len, JSON_REJECT_DUPLICATES,
                   &jerr);
    cf_buf_free(b);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

cf_err_t
cf_jwt_parse(const char *compact, cf_jwt_t **out, const char **why)
{
    const char  *d1, *d2;
    cf_jwt_t    *t = NULL;
    json_t      *v;
    size_t       n;
    cf_err_t     rc = CF_ERR_INVALID;

    *out = NULL;
    *why = "malformed token";
    n = strlen(compact);
    if (n == 0 || n > CF_JWT_MAX_LEN)
        return CF_ERR_INVALID;
    d1 = strchr(compact, '.');
    d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL || strchr(d2 + 1, '.') != NULL)
        return CF_ERR_INVALID;          /* not three parts (JWE has 5) */
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return CF_ERR_NOMEM;
    if ((t->header = cf_jwt_b64url_json(compact, (size_t) (d1 - compact)))
        == NULL
        || (t->claims = cf_jwt_b64url_json(d1 + 1, (size_t) (d2 - d1 - 1)))
           == NULL) {
        *why = "header or claims are not base64url JSON objects";
        goto out;
    }
    if ((rc = cf_jwt_b64url_decode(d2 + 1, strlen(d2 + 1), &t->sig))
        != CF_OK) {
        *why = "signature is not base64url";
        goto out;
    }
    rc = CF_ERR_INVALID;
    t->alg = json_string_value(json_object_get(t->header, "alg"));
    if (t->alg == NULL) {
        *why = "no alg in header";
        goto out;
    }
    if (json_object_get(t->header, "crit") != NULL) {
        *why = "critical header extensions are not supported";
        goto out;
    }
    v = json_object_get(t->header, "kid");
    if (v != NULL && !json_is_string(v)) {
        *why = "kid is not a string";
        goto out;
    }
    t->kid = json_string_value(v);
    t->signed_len = (size_t) (d2 - compact);
    if ((t->signed_part = strndup(compact, t->signed_len)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    *out = t;
    t = NULL;
    rc = CF_OK;
out:
    cf_jwt_free(t);
    return rc;
}

void
cf_jwt_free(cf_jwt_t *t)
{
    if (t == NULL)
        return;
    json_decref(t->header);
    json_decref(t->claims);
    free(t->signed_part);
    cf_buf_free(t->sig);
    free(t);
}

/* ---- keys ------------------------------------------------------------- */

EVP_PKEY *
cf_jwt_pem_key(const char *pem)
{
    BIO       *bio;
    EVP_PKEY  *k = NULL;
    X509      *x;

    if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
        return NULL;
    k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (k == NULL) {
        (void) BIO_reset(bio);
        if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
            k = X509_get_pubkey(x);
            X509_free(x);
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    return k;
}

bool
cf_jwt_pem_certs_ok(const char *pem)
{
    BIO     *bio;
    X509    *x;
    size_t   n = 0;

    if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
        return false;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    BIO_free(bio);
    ERR_clear_error();
    return n > 0;
}

/* A base64url member of a JWK as a buffer, or NULL. */
static cf_buf_t *
cf_jwt_jwk_bytes(const json_t *jwk, const char *name)
{
    const char  *s = json_string_value(json_object_get(jwk, name));
    cf_buf_t    *b = NULL;

    if (s == NULL || cf_jwt_b64url_decode(s, strlen(s), &b) != CF_OK)
        return NULL;
    return b;
}

static EVP_PKEY *
cf_jwt_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM    *params = NULL;
    EVP_PKEY_CTX  *ctx = NULL;
    EVP_PKEY      *k = NULL;

    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
        k = NULL;
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static EVP_PKEY *
cf_jwt_jwk_rsa(const json_t *jwk)
{
    cf_buf_t        *n = cf_jwt_jwk_bytes(jwk, "n");
    cf_buf_t        *e = cf_jwt_jwk_bytes(jwk, "e");
    BIGNUM          *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD  *bld = NULL;
    EVP_PKEY        *k = NULL;

    if (n == NULL || e == NULL || n->len == 0 || e->len == 0
        || (bn = BN_bin2bn(n->data, (int) n->len, NULL)) == NULL
        || (be = BN_bin2bn(e->data, (int) e->len, NULL)) == NULL
        || (bld = OSSL_PARAM_BLD_new()) == NULL
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
        goto out;
    k = cf_jwt_fromdata("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    cf_buf_free(n);
    cf_buf_free(e);
    return k;
}

static EVP_PKEY *
cf_jwt_jwk_ec(const json_t *jwk)
{
    const char      *crv = json_string_value(json_object_get(jwk, "crv"));
    const cf_jwt_alg_t *a = NULL;
    cf_buf_t        *x = cf_jwt_jwk_bytes(jwk, "x");
    cf_buf_t        *y = cf_jwt_jwk_bytes(jwk, "y");
    unsigned char    pt[1 + 2 * 66];
    OSSL_PARAM_BLD  *bld = NULL;
    EVP_PKEY        *k = NULL;
    size_t           i;

    for (i = 0; crv != NULL && i < CF_JWT_NALGS; i++) {
        if (cf_jwt_algs[i].crv != NULL
            && strcmp(cf_jwt_algs[i].crv, crv) == 0)
            a = &cf_jwt_algs[i];
    }
    if (a == NULL || x == NULL || y == NULL || x->len != a->coord
        || y->len != a->coord)
        goto out;
    pt[0] = 0x04;                       /* uncompressed point */
    memcpy(pt + 1, x->data, a->coord);
    memcpy(pt + 1 + a->coord, y->data, a->coord);
    if ((bld = OSSL_PARAM_BLD_new()) == NULL
        || OSSL_PARAM_BLD_push_utf8_string(bld,
                                           OSSL_PKEY_PARAM_GROUP_NAME,
                                           a->group, 0) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            pt, 1 + 2 * a->coord) != 1)
        goto out;
    k = cf_jwt_fromdata("EC", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    cf_buf_free(x);
    cf_buf_free(y);
    return k;
}

static EVP_PKEY *
cf_jwt_jwk_okp(const json_t *jwk)
{
    const char  *crv = json_string_value(json_object_get(jwk, "crv"));
    cf_buf_t    *x = cf_jwt_jwk_bytes(jwk, "x");
    EVP_PKEY    *k = NULL;

    if (crv != NULL && x != NULL) {
        if (strcmp(crv, "Ed25519") == 0 && x->len == 32)
            k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                            x->data, x->len);
        else if (strcmp(crv, "Ed448") == 0 && x->len == 57)
            k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, NULL, x->data,
                                            x->len);
    }
    cf_buf_free(x);
    return k;
}

/* The key of the first certificate of "x5c" (standard base64 DER). */
static EVP_PKEY *
cf_jwt_jwk_x5c(const json_t *jwk)
{
    const char           *s;
    const unsigned char  *p;
    cf_buf_t             *der = NULL;
    EVP_PKEY             *k = NULL;
    X509                 *x;

    s = json_string_value(json_array_get(json_object_get(jwk, "x5c"), 0));
    if (s == NULL || cf_b64_decode(s, &der) != CF_OK)
        return NULL;
    p = der->data;
    if ((x = d2i_X509(NULL, &p, (long) der->len)) != NULL) {
        k = X509_get_pubkey(x);
        X509_free(x);
    }
    cf_buf_free(der);
    return k;
}

/* The public key of one JWK; NULL when unusable (unknown type, an
 * encryption key, bad members). */
static EVP_PKEY *
cf_jwt_jwk_key(const json_t *jwk)
{
    const char  *kty = json_string_value(json_object_get(jwk, "kty"));
    const char  *use = json_string_value(json_object_get(jwk, "use"));
    EVP_PKEY    *k = NULL;

    if (!json_is_object(jwk) || kty == NULL
        || (use != NULL && strcmp(use, "sig") != 0))
        return NULL;
    if (strcmp(kty, "RSA") == 0 && json_object_get(jwk, "n") != NULL)
        k = cf_jwt_jwk_rsa(jwk);
    else if (strcmp(kty, "EC") == 0 && json_object_get(jwk, "x") != NULL)
        k = cf_jwt_jwk_ec(jwk);
    else if (strcmp(kty, "OKP") == 0)
        k = cf_jwt_jwk_okp(jwk);
    if (k == NULL && (strcmp(kty, "RSA") == 0 || strcmp(kty, "EC") == 0))
        k = cf_jwt_jwk_x5c(jwk);
    ERR_clear_error();
    return k;
}

cf_err_t
cf_jwt_jwks_check(const json_t *jwks, const char **why)
{
    const json_t  *keys = json_object_get(jwks, "keys");
    json_t        *jwk;
    EVP_PKEY      *k;
    size_t         i;

    *why = "not a JWK set";
    if (!json_is_array(keys))
        return CF_ERR_INVALID;
    json_array_foreach(keys, i, jwk) {
        if ((k = cf_jwt_jwk_key(jwk)) != NULL) {
            EVP_PKEY_free(k);
            return CF_OK;
        }
    }
    *why = "no usable signing key in the JWK set";
    return CF_ERR_INVALID;
}

/* ---- verification ----------------------------------------------------- */

/* Whether key k is of the type and size algorithm a needs. */
static bool
cf_jwt_key_fits(EVP_PKEY *k, const cf_jwt_alg_t *a)
{
    char    group[64];
    size_t  glen = 0;

    switch (a->type) {
    case CF_JWT_KEY_RSA:
        return EVP_PKEY_is_a(k, "RSA")
               && EVP_PKEY_get_bits(k) >= CF_JWT_RSA_MIN_BITS;
    case CF_JWT_KEY_EC:
        return EVP_PKEY_is_a(k, "EC")
               && EVP_PKEY_get_utf8_string_param(k,
                      OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                      &glen) == 1
               && strcmp(group, a->group) == 0;
    case CF_JWT_KEY_OKP:
        /* "EdDSA" covers both curves; the key says which. */
        return EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_is_a(k, "ED448");
    }
    return false;
}

/* ECDSA signatures in JWS are r || s; OpenSSL wants DER. *der owned
 * (OPENSSL_free); 0 on a bad length. */
static int
cf_jwt_ecdsa_der(const cf_buf_t *sig, size_t coord, unsigned char **der)
{
    ECDSA_SIG  *es;
    BIGNUM     *r, *s;
    int         n = 0;

    *der = NULL;
    if (sig->len != 2 * coord || (es = ECDSA_SIG_new()) == NULL)
        return 0;
    r = BN_bin2bn(sig->data, (int) coord, NULL);
    s = BN_bin2bn(sig->data + coord, (int) coord, NULL);
    if (r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL;                   /* es owns them now */
        n = i2d_ECDSA_SIG(es, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return n > 0 ? n : 0;
}

/* Whether t's signature verifies under k with algorithm a. */
static bool
cf_jwt_verify_key(const cf_jwt_t *t, EVP_PKEY *k, const cf_jwt_alg_t *a)
{
    EVP_MD_CTX     *md = NULL;
    EVP_PKEY_CTX   *pctx = NULL;
    unsigned char  *der = NULL;
    const unsigned char *sig = t->sig->data;
    size_t          siglen = t->sig->len;
    bool            ok = false;
    int             n;

    if (!cf_jwt_key_fits(k, a))
        return false;
    if (a->type == CF_JWT_KEY_EC) {
        if ((n = cf_jwt_ecdsa_der(t->sig, a->coord, &der)) == 0)
            goto out;
        sig = der;
        siglen = (size_t) n;
    }
    if ((md = EVP_MD_CTX_new()) == NULL
        || EVP_DigestVerifyInit_ex(md, &pctx, a->md, NULL, NULL, k, NULL)
           != 1)
        goto out;
    if (a->type == CF_JWT_KEY_RSA
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, a->pss
                                         ? RSA_PKCS1_PSS_PADDING
                                         : RSA_PKCS1_PADDING) != 1
            || (a->pss && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                              RSA_PSS_SALTLEN_DIGEST) != 1)))
        goto out;
    ok = EVP_DigestVerify(md, sig, siglen,
                          (const unsigned char *) t->signed_part,
                          t->signed_len) == 1;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

/* The algorithm of t if it is known and allowed by algs. */
static const cf_jwt_alg_t *
cf_jwt_alg_allowed(const cf_jwt_t *t, const json_t *algs, const char **why)
{
    const cf_jwt_alg_t  *a = cf_jwt_alg_find(t->alg);
    json_t              *e;
    size_t               i;

    if (a == NULL) {
        *why = "unsupported or forbidden signing algorithm";
        return NULL;
    }
    if (json_array_size(algs) == 0)
        return a;
    json_array_foreach(algs, i, e) {
        if (json_is_string(e) && strcmp(json_string_value(e), a->name) == 0)
            return a;
    }
    *why = "signing algorithm not in jwt_supported_algs";
    return NULL;
}

cf_err_t
cf_jwt_verify_pems(const cf_jwt_t *t, const json_t *pems,
                   const json_t *algs, const char **why)
{
    const cf_jwt_alg_t  *a;
    EVP_PKEY            *k;
    json_t              *e;
    size_t               i;
    bool                 ok = false;

    if ((a = cf_jwt_alg_allowed(t, algs, why)) == NULL)
        return CF_ERR_CRYPTO;
    json_array_foreach(pems, i, e) {
        if (ok || (k = cf_jwt_pem_key(json_string_value(e))) == NULL)
            continue;
        ok = cf_jwt_verify_key(t, k, a);
        EVP_PKEY_free(k);
    }
    *why = "no configured key verified the signature";
    return ok ? CF_OK : CF_ERR_CRYPTO;
}

cf_err_t
cf_jwt_verify_jwks(const cf_jwt_t *t, const json_t *jwks,
                   const json_t *algs, const char **why)
{
    const cf_jwt_alg_t  *a;
    const char          *kid, *jalg;
    EVP_PKEY            *k;
    json_t              *jwk;
    size_t               i, tried = 0;
    bool                 ok = false;

    if ((a = cf_jwt_alg_allowed(t, algs, why)) == NULL)
        return CF_ERR_CRYPTO;
    json_array_foreach(json_object_get(jwks, "keys"), i, jwk) {
        kid = json_string_value(json_object_get(jwk, "kid"));
        jalg = json_string_value(json_object_get(jwk, "alg"));
        if (ok || (t->kid != NULL && (kid == NULL || strcmp(kid, t->kid))))
            continue;
        if (jalg != NULL && strcmp(jalg, a->name) != 0)
            continue;
        if ((k = cf_jwt_jwk_key(jwk)) == NULL)
            continue;
        if (cf_jwt_key_fits(k, a)) {
            tried++;
            ok = cf_jwt_verify_key(t, k, a);
        }
        EVP_PKEY_free(k);
    }
    if (ok)
        return CF_OK;
    if (tried == 0) {
        *why = "no key in the JWK set for the token's kid and algorithm";
        return CF_ERR_NOT_FOUND;
    }
    *why = "signature did not verify";
    return CF_ERR_CRYPTO;
}

/* ---- claims ----------------------------------------------------------- */

/* A NumericDate claim: absent (*has false), a number, or an error. */
static bool
cf_jwt_time(const json_t *claims, const char *name, double *out, bool *has)
{
    json_t  *v = json_object_get(claims, name);

    *has = v != NULL && !json_is_null(v);
    if (!*has)
        return true;
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

cf_err_t
cf_jwt_check_times(const json_t *claims, time_t now,
                   const cf_jwt_times_t *lw, const char **why)
{
    double  exp = 0, nbf = 0, iat = 0, t = (double) now;
    bool    has_exp, has_nbf, has_iat;

    if (!cf_jwt_time(claims, "exp", &exp, &has_exp)
        || !cf_jwt_time(claims, "nbf", &nbf, &has_nbf)
        || !cf_jwt_time(claims, "iat", &iat, &has_iat)) {
        *why = "a time claim is not a number";
        return CF_ERR_CRYPTO;
    }
    if (lw->require_exp && !has_exp && !has_nbf) {
        *why = "token has neither exp nor nbf";
        return CF_ERR_CRYPTO;
    }
    if (has_exp && t > exp + (double) (lw->exp + lw->skew)) {
        *why = "token is expired";
        return CF_ERR_CRYPTO;
    }
    if (has_nbf && t + (double) (lw->nbf + lw->skew) < nbf) {
        *why = "token is not valid yet (nbf)";
        return CF_ERR_CRYPTO;
    }
    if (has_iat && t + (double) lw->skew < iat) {
        *why = "token is issued in the future (iat)";
        return CF_ERR_CRYPTO;
    }
    return CF_OK;
}

json_t *
cf_jwt_claim(const json_t *claims, const char *name)
{
    json_t      *cur = (json_t *) claims;
    char         seg[256];
    const char  *p = name, *end;
    size_t       n, i, j;
    char        *stop;
    unsigned long idx;

    if (name[0] != '/')
        return json_object_get(claims, name);
    while (cur != NULL && *p == '/') {
        p++;
        end = strchr(p, '/');
        n = end != NULL ? (size_t) (end - p) : strlen(p);
        if (n >= sizeof(seg))
            return NULL;
        for (i = j = 0; i < n; i++) {   /* unescape ~1 and ~0 */
            if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0'
                                            || p[i + 1] == '1')) {
                seg[j++] = p[i + 1] == '1' ? '/' : '~';
                i++;
            } else {
                seg[j++] = p[i];
            }
        }
        seg[j] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur) && seg[0] >= '0' && seg[0] <= '9') {
            idx = strtoul(seg, &stop, 10);
            cur = *stop == '\0' ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        p += n;
    }
    return cur;
}

bool
cf_jwt_aud_has(const json_t *claims, const json_t *bound)
{
    json_t  *aud = json_object_get(claims, "aud"), *a, *b;
    size_t   i, j;

    if (json_is_string(aud)) {
        json_array_foreach(bound, j, b) {
            if (json_equal(aud, b))
                return true;
        }
        return false;
    }
    json_array_foreach(aud, i, a) {
        json_array_foreach(bound, j, b) {
            if (json_is_string(a) && json_equal(a, b))
                return true;
        }
    }
    return false;
}

char *
cf_jwt_scalar_str(const json_t *v)
{
    char  buf[64];

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v))
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return strdup(buf);
}

bool
cf_jwt_scalar_ok(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

bool
cf_jwt_glob(const char *pattern, const char *s)
{
    const char  *star = NULL, *mark = NULL;

    while (*s != '\0') {
        if (*pattern == '*') {
            star = pattern++;
            mark = s;
        } else if (*pattern == *s) {
            pattern++;
            s++;
        } else if (star != NULL) {
            pattern = star + 1;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

cf_err_t
cf_jwt_login_failed(cf_req_t *req, const char *module, const char *why)
{
    cf_log_debug(module, "login on %s refused: %s", req->mount->path, why);
    return cf_req_fail(req, CF_ERR_INVALID,
                       "login failed: JWT not accepted for this role");
}
