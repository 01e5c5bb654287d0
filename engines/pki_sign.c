/*
 * pki_sign: an OpenSSL EVP_PKEY whose private operation is cf_hsm_sign on
 * a token key pair, so X509_sign, X509_CRL_sign, X509_REQ_sign and
 * OCSP_basic_sign build and sign certificates, CRLs, CSRs and OCSP
 * responses with the CA key on the token.
 *
 * Why this route (DESIGN.md §4): libp11 0.4.12 fails every key lookup on
 * a token that holds an Ed25519 key, and transit puts Ed25519 keys on the
 * same token. Signing through our own hsm/ layer avoids libp11 entirely.
 * Of the ways to give OpenSSL such a key we take the one libp11 itself
 * uses and PKCS11-NOTES.md §5 proved on OpenSSL 3.0: a "foreign" legacy
 * EC_KEY / RSA key with an EC_KEY_METHOD / RSA_METHOD whose sign callback
 * calls the token. It is one small file and every OpenSSL signing
 * function works with it unchanged. The alternatives cost more: a full
 * OpenSSL 3 provider (keymgmt + signature, ~4x the code) or assembling
 * each structure from its TBS bytes by hand, which OpenSSL 3.0 cannot do
 * for CRLs and OCSP responses without private struct access. The legacy
 * method API is deprecated in 3.0 but present in every 3.x; the
 * deprecation warning is silenced for this file only.
 *
 * The key's public half comes from storage (the issuer certificate or
 * the key record), so making a signing key costs no token call; the
 * private half never leaves the token.
 *
 * Thread-safety: the methods and ex_data indexes are made once
 * (pthread_once) and never change; each EVP_PKEY belongs to one request.
 */
#include "pki.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "coffer/log.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef struct {
    cf_hsm_t     *h;
    cf_hsm_id_t   id;
} cf_pki_hkey_t;

/* Made once, read-only afterwards. */
static EC_KEY_METHOD   *cf_pki_ec_meth;
static RSA_METHOD      *cf_pki_rsa_meth;
static int              cf_pki_ec_idx = -1;
static int              cf_pki_rsa_idx = -1;
static pthread_once_t   cf_pki_sign_once = PTHREAD_ONCE_INIT;

static void
cf_pki_hkey_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                 long argl, void *argp)
{
    (void) parent;
    (void) ad;
    (void) idx;
    (void) argl;
    (void) argp;
    if (ptr != NULL) {
        OPENSSL_cleanse(ptr, sizeof(cf_pki_hkey_t));
        free(ptr);
    }
}

/* ECDSA over a digest, DER out: the token gives r || s, hsm/ converts. */
static int
cf_pki_ec_sign(int type, const unsigned char *dgst, int dlen,
               unsigned char *sig, unsigned int *siglen, const BIGNUM *kinv,
               const BIGNUM *r, EC_KEY *ec)
{
    cf_pki_hkey_t       *hk = EC_KEY_get_ex_data(ec, cf_pki_ec_idx);
    cf_hsm_sign_opts_t   o = { .alg = CF_HSM_SIG_ECDSA };
    unsigned char        buf[CF_HSM_SIG_MAX];
    size_t               n = 0;

    (void) type;
    (void) kinv;
    (void) r;
    if (hk == NULL || dlen <= 0)
        return 0;
    if (cf_hsm_sign(hk->h, &hk->id, &o, dgst, (size_t) dlen, buf, &n)
        != CF_OK || n > (size_t) ECDSA_size(ec))
        return 0;
    memcpy(sig, buf, n);
    *siglen = (unsigned int) n;
    return 1;
}

static int
cf_pki_ec_sign_setup(EC_KEY *ec, BN_CTX *ctx, BIGNUM **kinv, BIGNUM **r)
{
    (void) ec;
    (void) ctx;
    (void) kinv;
    (void) r;
    return 1;
}

static ECDSA_SIG *
cf_pki_ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
                   const BIGNUM *r, EC_KEY *ec)
{
    unsigned char         der[CF_HSM_SIG_MAX];
    const unsigned char  *p = der;
    unsigned int          n = 0;

    if (cf_pki_ec_sign(0, dgst, dlen, der, &n, kinv, r, ec) != 1)
        return NULL;
    return d2i_ECDSA_SIG(NULL, &p, (long) n);
}

/* RSA PKCS#1 v1.5 of a digest of type `type`: the token builds the
 * DigestInfo and pads. */
static int
cf_pki_rsa_sign(int type, const unsigned char *m, unsigned int mlen,
                unsigned char *sig, unsigned int *siglen, const RSA *rsa)
{
    cf_pki_hkey_t       *hk = RSA_get_ex_data(rsa, cf_pki_rsa_idx);
    cf_hsm_sign_opts_t   o = { .alg = CF_HSM_SIG_RSA_PKCS1 };
    unsigned char        buf[CF_HSM_SIG_MAX];
    size_t               n = 0;

    if (hk == NULL || (o.md = EVP_get_digestbynid(type)) == NULL)
        return 0;
    if (cf_hsm_sign(hk->h, &hk->id, &o, m, mlen, buf, &n) != CF_OK
        || n > (size_t) RSA_size(rsa))
        return 0;
    memcpy(sig, buf, n);
    *siglen = (unsigned int) n;
    return 1;
}

/* Raw private operations are never wanted: no padding we do not choose
 * reaches the token. */
static int
cf_pki_rsa_priv_refuse(int flen, const unsigned char *from,
                       unsigned char *to, RSA *rsa, int padding)
{
    (void) flen;
    (void) from;
    (void) to;
    (void) rsa;
    (void) padding;
    return -1;
}

static void
cf_pki_sign_init(void)
{
    cf_pki_ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL,
                                            cf_pki_hkey_free);
    cf_pki_rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL,
                                          cf_pki_hkey_free);
    cf_pki_ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
    if (cf_pki_ec_meth != NULL)
        EC_KEY_METHOD_set_sign(cf_pki_ec_meth, cf_pki_ec_sign,
                               cf_pki_ec_sign_setup, cf_pki_ec_sign_sig);
    cf_pki_rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL());
    if (cf_pki_rsa_meth != NULL) {
        RSA_meth_set1_name(cf_pki_rsa_meth, "coffer hsm");
        RSA_meth_set_sign(cf_pki_rsa_meth, cf_pki_rsa_sign);
        RSA_meth_set_priv_enc(cf_pki_rsa_meth, cf_pki_rsa_priv_refuse);
        RSA_meth_set_priv_dec(cf_pki_rsa_meth, cf_pki_rsa_priv_refuse);
    }
}

cf_err_t
cf_pki_hsm_pkey(cf_hsm_t *h, const cf_hsm_id_t *id, EVP_PKEY *pub,
                EVP_PKEY **out)
{
    cf_pki_hkey_t  *hk = NULL;
    EVP_PKEY       *pk = NULL;
    EC_KEY         *ec = NULL;
    RSA            *rsa = NULL;
    cf_err_t        rc = CF_ERR_NOMEM;

    *out = NULL;
    pthread_once(&cf_pki_sign_once, cf_pki_sign_init);
    if (cf_pki_ec_meth == NULL || cf_pki_rsa_meth == NULL
        || cf_pki_ec_idx < 0 || cf_pki_rsa_idx < 0)
        return CF_ERR_INTERNAL;
    if ((hk = calloc(1, sizeof(*hk))) == NULL
        || (pk = EVP_PKEY_new()) == NULL)
        goto out;
    hk->h = h;
    hk->id = *id;
    switch (EVP_PKEY_get_base_id(pub)) {
    case EVP_PKEY_EC: {
        EC_KEY  *src = EVP_PKEY_get1_EC_KEY(pub);

        ec = src != NULL ? EC_KEY_dup(src) : NULL;
        EC_KEY_free(src);
        if (ec == NULL || EC_KEY_set_method(ec, cf_pki_ec_meth) != 1
            || EC_KEY_set_ex_data(ec, cf_pki_ec_idx, hk) != 1)
            goto out;
        hk = NULL;                          /* ec owns it */
        if (EVP_PKEY_assign_EC_KEY(pk, ec) != 1)
            goto out;
        ec = NULL;
        break;
    }
    case EVP_PKEY_RSA: {
        RSA  *src = EVP_PKEY_get1_RSA(pub);

        rsa = src != NULL ? RSAPublicKey_dup(src) : NULL;
        RSA_free(src);
        if (rsa == NULL || RSA_set_method(rsa, cf_pki_rsa_meth) != 1
            || RSA_set_ex_data(rsa, cf_pki_rsa_idx, hk) != 1)
            goto out;
        hk = NULL;
        if (EVP_PKEY_assign_RSA(pk, rsa) != 1)
            goto out;
        rsa = NULL;
        break;
    }
    default:
        cf_log_error("pki", "CA key of unsupported type %d",
                     EVP_PKEY_get_base_id(pub));
        rc = CF_ERR_INTERNAL;
        goto out;
    }
    *out = pk;
    pk = NULL;
    rc = CF_OK;
out:
    EC_KEY_free(ec);
    RSA_free(rsa);
    EVP_PKEY_free(pk);
    free(hk);
    return rc;
}

const EVP_MD *
cf_pki_md_for(const EVP_PKEY *key)
{
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        int  bits = EVP_PKEY_get_bits(key);

        if (bits > 384)
            return EVP_sha512();
        if (bits > 256)
            return EVP_sha384();
    }
    return EVP_sha256();
}
