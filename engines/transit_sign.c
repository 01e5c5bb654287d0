/* transit_sign: sign/<name>(/<hash>) on the token and verify/<name>
 * (/<hash>) with the version's public key (public, so verified here with
 * OpenSSL); verify with "hmac" goes to the HMAC path. */
#include "transit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "coffer/server.h"

#define CF_TRANSIT_SALT_AUTO  (-1)
#define CF_TRANSIT_SALT_HASH  (-2)

typedef struct {
    cf_transit_policy_t  *p;
    const EVP_MD         *md;       /* NULL with hash_algorithm none */
    bool                  prehashed;
    bool                  pss;      /* RSA: PSS, else PKCS#1 v1.5 */
    bool                  jws;
    int                   salt;     /* >= 0 or CF_TRANSIT_SALT_* */
} cf_transit_sig_t;

static bool
cf_transit_is_ecdsa(const cf_transit_policy_t *p)
{
    return p->ti->type == CF_TRANSIT_ECDSA_P256
           || p->ti->type == CF_TRANSIT_ECDSA_P384
           || p->ti->type == CF_TRANSIT_ECDSA_P521;
}

static bool
cf_transit_is_rsa(const cf_transit_policy_t *p)
{
    return p->ti->type == CF_TRANSIT_RSA2048
           || p->ti->type == CF_TRANSIT_RSA3072
           || p->ti->type == CF_TRANSIT_RSA4096;
}

/* The bytes that get signed or verified: the input itself (Ed25519,
 * prehashed, hash none) or its digest. *out points at dig or in. */
static cf_err_t
cf_transit_sig_digest(const cf_transit_sig_t *s, const cf_buf_t *in,
                      unsigned char dig[EVP_MAX_MD_SIZE],
                      const unsigned char **out, size_t *out_len, char *msg,
                      size_t mlen)
{
    unsigned int  dl = 0;

    if (s->p->ti->type == CF_TRANSIT_ED25519 || s->md == NULL
        || s->prehashed) {
        if (s->prehashed && s->md != NULL
            && in->len != (size_t) EVP_MD_get_size(s->md)) {
            snprintf(msg, mlen, "prehashed input has %zu bytes; the "
                     "hash_algorithm gives %d", in->len,
                     EVP_MD_get_size(s->md));
            return CF_ERR_INVALID;
        }
        *out = in->data;
        *out_len = in->len;
        return CF_OK;
    }
    if (EVP_Digest(in->data, in->len, dig, &dl, s->md, NULL) != 1)
        return CF_ERR_INTERNAL;
    *out = dig;
    *out_len = dl;
    return CF_OK;
}

static cf_err_t
cf_transit_sign_item(cf_req_t *req, void *ctx, json_t *item, json_t *out,
                     char *msg, size_t mlen)
{
    cf_transit_sig_t         *s = ctx;
    const cf_transit_ver_t   *x;
    cf_hsm_sign_opts_t        o;
    const unsigned char      *tbs;
    unsigned char             dig[EVP_MAX_MD_SIZE], sig[CF_HSM_SIG_MAX];
    size_t                    tl = 0, sl = 0;
    const char               *str = NULL;
    cf_buf_t                 *in = NULL;
    char                     *res = NULL;
    int64_t                   kv = 0;
    unsigned                  v;
    bool                      have;
    cf_err_t                  rc;

    if ((rc = cf_transit_item_str(item, "input", &str, &have, msg, mlen))
        != CF_OK)
        return rc;
    if (!have) {
        snprintf(msg, mlen, "missing input");
        return CF_ERR_INVALID;
    }
    if ((rc = cf_transit_b64(str, false, "input", &in, msg, mlen)) != CF_OK)
        return rc;
    if ((rc = cf_transit_item_int(item, "key_version", &kv, msg, mlen))
        != CF_OK
        || (rc = cf_transit_use_version(s->p, kv, &v, msg, mlen)) != CF_OK
        || (rc = cf_transit_sig_digest(s, in, dig, &tbs, &tl, msg, mlen))
           != CF_OK)
        goto out;
    x = cf_transit_ver(s->p, v);
    memset(&o, 0, sizeof(o));
    if (s->p->ti->type == CF_TRANSIT_ED25519) {
        o.alg = CF_HSM_SIG_EDDSA;
    } else if (cf_transit_is_ecdsa(s->p)) {
        o.alg = CF_HSM_SIG_ECDSA;
        o.ecdsa_raw = s->jws;
    } else if (s->pss) {
        o.alg = CF_HSM_SIG_RSA_PSS;
        o.md = s->md;
        o.salt_len = s->salt == CF_TRANSIT_SALT_AUTO ? CF_HSM_PSS_SALT_MAX
                     : s->salt == CF_TRANSIT_SALT_HASH
                       ? EVP_MD_get_size(s->md) : s->salt;
    } else {
        o.alg = CF_HSM_SIG_RSA_PKCS1;
        o.md = s->md;
    }
    rc = cf_hsm_sign(req->srv->hsm, &x->key, &o, tbs, tl, sig, &sl);
    if (rc == CF_ERR_INVALID) {
        snprintf(msg, mlen, "the HSM refused to sign this input with these "
                 "parameters (hash, salt length or input size)");
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    if ((res = cf_transit_prefixed(v, sig, sl, s->jws)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(out, "signature", json_string(res));
    json_object_set_new(out, "key_version", json_integer(v));
out:
    cf_buf_free(in);
    free(res);
    return rc;
}

/* r || s (JWS) to DER; *der malloc'd (OPENSSL_free). */
static bool
cf_transit_raw_to_der(const cf_buf_t *raw, unsigned char **der, int *len)
{
    ECDSA_SIG  *es;
    BIGNUM     *r, *s;
    size_t      half = raw->len / 2;

    *der = NULL;
    if (raw->len == 0 || raw->len % 2 != 0 || (es = ECDSA_SIG_new()) == NULL)
        return false;
    r = BN_bin2bn(raw->data, (int) half, NULL);
    s = BN_bin2bn(raw->data + half, (int) half, NULL);
    if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return false;
    }
    *len = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);
    return *len > 0;
}

static cf_err_t
cf_transit_verify_item(cf_req_t *req, void *ctx, json_t *item, json_t *out,
                       char *msg, size_t mlen)
{
    cf_transit_sig_t         *s = ctx;
    const cf_transit_ver_t   *x;
    const unsigned char      *tbs, *sp;
    unsigned char             dig[EVP_MAX_MD_SIZE], *der = NULL;
    size_t                    tl = 0, spl;
    const char               *str = NULL, *sigs = NULL, *rest;
    cf_buf_t                 *in = NULL, *sig = NULL;
    EVP_PKEY_CTX             *pc = NULL;
    EVP_MD_CTX               *mc = NULL;
    unsigned                  v;
    int                       ok = 0, dl;
    bool                      have;
    cf_err_t                  rc;

    (void) req;
    if ((rc = cf_transit_item_str(item, "input", &str, &have, msg, mlen))
        != CF_OK)
        return rc;
    if (!have) {
        snprintf(msg, mlen, "missing input");
        return CF_ERR_INVALID;
    }
    if ((rc = cf_transit_b64(str, false, "input", &in, msg, mlen)) != CF_OK)
        return rc;
    if ((rc = cf_transit_item_str(item, "signature", &sigs, &have, msg,
                                  mlen)) != CF_OK)
        goto out;
    if (!have) {
        snprintf(msg, mlen, "missing signature");
        rc = CF_ERR_INVALID;
        goto out;
    }
    if ((rc = cf_transit_parse_prefixed(sigs, &v, &rest, msg, mlen))
        != CF_OK)
        goto out;
    if (v > s->p->latest) {
        snprintf(msg, mlen, "invalid signature: version is too new");
        rc = CF_ERR_INVALID;
        goto out;
    }
    if (v < s->p->min_dec || (x = cf_transit_ver(s->p, v)) == NULL) {
        snprintf(msg, mlen, "ciphertext or signature version is "
                 "disallowed by policy (too old)");
        rc = CF_ERR_INVALID;
        goto out;
    }
    if ((rc = cf_transit_b64(rest, s->jws, "signature", &sig, msg, mlen))
        != CF_OK
        || (rc = cf_transit_sig_digest(s, in, dig, &tbs, &tl, msg, mlen))
           != CF_OK)
        goto out;
    sp = sig->data;
    spl = sig->len;
    if (s->p->ti->type == CF_TRANSIT_ED25519) {
        if ((mc = EVP_MD_CTX_new()) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        ok = EVP_DigestVerifyInit(mc, NULL, NULL, NULL, x->pub) == 1
             && EVP_DigestVerify(mc, sp, spl, tbs, tl) == 1;
    } else {
        if (cf_transit_is_ecdsa(s->p) && s->jws) {
            if (!cf_transit_raw_to_der(sig, &der, &dl)) {
                ok = 0;
                goto done;
            }
            sp = der;
            spl = (size_t) dl;
        }
        if ((pc = EVP_PKEY_CTX_new(x->pub, NULL)) == NULL
            || EVP_PKEY_verify_init(pc) != 1) {
            rc = CF_ERR_INTERNAL;
            goto out;
        }
        if (cf_transit_is_rsa(s->p)) {
            EVP_PKEY_CTX_set_rsa_padding(pc, s->pss ? RSA_PKCS1_PSS_PADDING
                                                    : RSA_PKCS1_PADDING);
            if (s->md != NULL)
                EVP_PKEY_CTX_set_signature_md(pc, s->md);
            if (s->pss)
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pc,
                    s->salt == CF_TRANSIT_SALT_AUTO ? RSA_PSS_SALTLEN_AUTO
                    : s->salt == CF_TRANSIT_SALT_HASH
                      ? RSA_PSS_SALTLEN_DIGEST : s->salt);
        }
        ok = EVP_PKEY_verify(pc, sp, spl, tbs, tl) == 1;
    }
done:
    json_object_set_new(out, "valid", json_boolean(ok));
    rc = CF_OK;
out:
    EVP_PKEY_CTX_free(pc);
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    cf_buf_free(in);
    cf_buf_free(sig);
    return rc;
}

/* Parameters common to sign and verify; fails req. */
static cf_err_t
cf_transit_sig_params(cf_req_t *req, cf_transit_sig_t *s, const char *alg)
{
    const char  *sa = "pss", *marsh = "asn1", *salt = NULL;
    bool         have;
    json_t      *sv;
    cf_err_t     rc;

    if ((rc = cf_req_param_bool(req, "prehashed", &s->prehashed, &have))
        != CF_OK
        || (rc = cf_req_param_str(req, "signature_algorithm", &sa, &have))
           != CF_OK
        || (rc = cf_req_param_str(req, "marshaling_algorithm", &marsh,
                                  &have)) != CF_OK)
        return rc;
    if (strcmp(alg, "none") == 0) {
        s->md = NULL;
    } else if ((s->md = cf_transit_md(alg)) == NULL) {
        return cf_req_fail(req, CF_ERR_INVALID, "unsupported hash "
                           "algorithm %.32s", alg);
    }
    if (strcmp(sa, "pss") == 0)
        s->pss = true;
    else if (strcmp(sa, "pkcs1v15") == 0)
        s->pss = false;
    else
        return cf_req_fail(req, CF_ERR_INVALID, "unsupported signature "
                           "algorithm %.32s; must be \"pss\" or "
                           "\"pkcs1v15\"", sa);
    if (strcmp(marsh, "asn1") == 0)
        s->jws = false;
    else if (strcmp(marsh, "jws") == 0)
        s->jws = true;
    else
        return cf_req_fail(req, CF_ERR_INVALID, "unsupported marshaling "
                           "algorithm %.32s; must be \"asn1\" or \"jws\"",
                           marsh);
    s->salt = CF_TRANSIT_SALT_AUTO;
    sv = json_object_get(req->body, "salt_length");
    if (json_is_integer(sv)) {
        if (json_integer_value(sv) < 0 || json_integer_value(sv) > 1024)
            return cf_req_fail(req, CF_ERR_INVALID, "invalid salt_length");
        s->salt = (int) json_integer_value(sv);
    } else if ((rc = cf_req_param_str(req, "salt_length", &salt, &have))
               != CF_OK) {
        return rc;
    } else if (have) {
        char  *end;
        long   n;

        if (strcmp(salt, "auto") == 0) {
            s->salt = CF_TRANSIT_SALT_AUTO;
        } else if (strcmp(salt, "hash") == 0) {
            s->salt = CF_TRANSIT_SALT_HASH;
        } else {
            n = strtol(salt, &end, 10);
            if (*salt == '\0' || *end != '\0' || n < 0 || n > 1024)
                return cf_req_fail(req, CF_ERR_INVALID, "invalid "
                                   "salt_length: \"auto\", \"hash\" or a "
                                   "number of bytes");
            s->salt = (int) n;
        }
    }
    return CF_OK;
}

/* The checks that depend on the key type. */
static cf_err_t
cf_transit_sig_check(cf_req_t *req, cf_transit_sig_t *s)
{
    cf_transit_policy_t  *p = s->p;

    if (!p->ti->pair)
        return cf_req_fail(req, CF_ERR_INVALID, "key type %s does not "
                           "support signing", p->ti->name);
    if (p->ti->type == CF_TRANSIT_ED25519 && s->prehashed)
        return cf_req_fail(req, CF_ERR_INVALID, "prehashed input is not "
                           "supported for ed25519 keys");
    if (cf_transit_is_rsa(p) && s->pss && s->md == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "hash_algorithm none needs "
                           "signature_algorithm pkcs1v15");
    if (cf_transit_is_ecdsa(p) && s->md == NULL && !s->prehashed)
        return cf_req_fail(req, CF_ERR_INVALID, "hash_algorithm none needs "
                           "prehashed input for ECDSA keys");
    return CF_OK;
}

/* The hash from the path ("sign/<name>/<hash>") or the body. */
static cf_err_t
cf_transit_sig_alg(cf_req_t *req, char *seg, size_t len, const char **alg)
{
    bool      have;
    cf_err_t  rc;

    *alg = "sha2-256";
    if ((rc = cf_req_param_str(req, "algorithm", alg, &have)) != CF_OK
        || (rc = cf_req_param_str(req, "hash_algorithm", alg, &have))
           != CF_OK)
        return rc;
    if (cf_transit_seg(req, 2, seg, len))
        *alg = seg;
    return CF_OK;
}

static cf_err_t
cf_transit_sig_run(cf_req_t *req, bool verify)
{
    char              name[CF_TRANSIT_NAME_MAX + 1], seg[32];
    const char       *alg;
    cf_transit_sig_t  s;
    cf_err_t          rc;

    memset(&s, 0, sizeof(s));
    if (!cf_transit_seg(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if ((rc = cf_transit_sig_alg(req, seg, sizeof(seg), &alg)) != CF_OK
        || (rc = cf_transit_sig_params(req, &s, alg)) != CF_OK)
        return rc;
    rc = cf_transit_policy_get(req, name, &s.p);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "signing key not found");
    if (rc != CF_OK)
        return rc;
    if ((rc = cf_transit_sig_check(req, &s)) != CF_OK)
        goto out;
    if (!verify && (rc = cf_transit_auto_rotate(req, &s.p)) != CF_OK)
        goto out;
    rc = cf_transit_run_items(req, verify ? cf_transit_verify_item
                                          : cf_transit_sign_item, &s);
out:
    cf_transit_policy_put(s.p);
    return rc;
}

cf_err_t
cf_transit_sign(cf_req_t *req)
{
    return cf_transit_sig_run(req, false);
}

/* An HMAC verify when the body (or its first batch item) has "hmac". */
static bool
cf_transit_is_hmac_verify(cf_req_t *req)
{
    json_t  *b0 = json_array_get(json_object_get(req->body, "batch_input"),
                                 0);

    if (b0 != NULL)
        return json_object_get(b0, "hmac") != NULL;
    return json_is_string(json_object_get(req->body, "hmac"));
}

cf_err_t
cf_transit_verify(cf_req_t *req)
{
    char         name[CF_TRANSIT_NAME_MAX + 1], seg[32];
    const char  *alg;
    cf_err_t     rc;

    if (!cf_transit_is_hmac_verify(req))
        return cf_transit_sig_run(req, true);
    if (!cf_transit_seg(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid key name");
    if ((rc = cf_transit_sig_alg(req, seg, sizeof(seg), &alg)) != CF_OK)
        return rc;
    return cf_transit_hmac_run(req, name, alg, true);
}
