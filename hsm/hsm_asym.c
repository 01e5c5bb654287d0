/* hsm_asym: key pairs on the token (EC P-256/384/521, Ed25519, RSA), their
 * public halves as OpenSSL keys, signing on the token, secret keys of any
 * size and HMAC with any SHA-2 digest. */
#include "hsm_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "coffer/log.h"

/* Same switch as hsm_key.c (see there): false unless built otherwise. */
#ifndef CF_HSM_KEY_MODIFIABLE
#define CF_HSM_KEY_MODIFIABLE  CK_FALSE
#endif

#define CF_HSM_ATTR_MAX  1024       /* largest public attribute we read */

/* DER OIDs for CKA_EC_PARAMS. */
static const unsigned char  cf_hsm_oid_p256[] = {
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
static const unsigned char  cf_hsm_oid_p384[] = {
    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22
};
static const unsigned char  cf_hsm_oid_p521[] = {
    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23
};
static const unsigned char  cf_hsm_oid_ed25519[] = {
    0x06, 0x03, 0x2b, 0x65, 0x70
};

static unsigned char  cf_hsm_asym_empty[1];

/* ---- small helpers ------------------------------------------------------ */

uint64_t
cf_hsm_generation(cf_hsm_t *h)
{
    uint64_t  g;

    if (h == NULL)
        return 0;
    pthread_rwlock_rdlock(&h->conn_lock);
    g = h->gen;
    pthread_rwlock_unlock(&h->conn_lock);
    return g;
}

/* The one object of class cls with CKA_ID id among token objects. */
static cf_err_t
cf_hsm_asym_find(cf_hsm_call_t *c, CK_OBJECT_CLASS cls,
                 const cf_hsm_id_t *id, CK_OBJECT_HANDLE *out)
{
    CK_FUNCTION_LIST_PTR  f = c->h->f;
    CK_BBOOL              yes = CK_TRUE;
    CK_ATTRIBUTE          tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_ID, (void *) id->b, CF_HSM_ID_LEN },
    };
    CK_OBJECT_HANDLE      found[2];
    CK_ULONG              n = 0;
    CK_RV                 rv;

    rv = f->C_FindObjectsInit(c->s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]));
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_FindObjectsInit", rv);
    rv = f->C_FindObjects(c->s, found, 2, &n);
    f->C_FindObjectsFinal(c->s);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_FindObjects", rv);
    if (n == 0)
        return CF_ERR_NOT_FOUND;
    if (n > 1)
        return CF_ERR_INTEGRITY;
    *out = found[0];
    return CF_OK;
}

/* ---- generation --------------------------------------------------------- */

typedef struct {
    cf_hsm_pair_type_t   type;
    cf_hsm_pair_use_t    use;
    const char          *label;
    cf_hsm_id_t          id;
} cf_hsm_pair_arg_t;

static cf_err_t
cf_hsm_pair_generate_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_pair_arg_t     *a = arg;
    cf_hsm_t              *h = c->h;
    CK_OBJECT_CLASS        pub_cls = CKO_PUBLIC_KEY, prv_cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE            kt;
    CK_MECHANISM           mech = { 0, NULL, 0 };
    CK_BBOOL               yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL               modifiable = CF_HSM_KEY_MODIFIABLE;
    CK_BBOOL               sign = a->use != CF_HSM_PAIR_DECRYPT
                                  ? CK_TRUE : CK_FALSE;
    CK_BBOOL               decrypt = a->use != CF_HSM_PAIR_SIGN
                                     ? CK_TRUE : CK_FALSE;
    CK_ULONG               bits = 0;
    CK_BYTE                exp[] = { 0x01, 0x00, 0x01 };
    const unsigned char   *oid = NULL;
    size_t                 oid_len = 0;
    CK_ATTRIBUTE           pub[16], prv[20];
    CK_ULONG               np = 0, nv = 0;
    CK_OBJECT_HANDLE       ho, vo;
    CK_RV                  rv;

    switch (a->type) {
    case CF_HSM_PAIR_EC_P256:
        oid = cf_hsm_oid_p256;
        oid_len = sizeof(cf_hsm_oid_p256);
        break;
    case CF_HSM_PAIR_EC_P384:
        oid = cf_hsm_oid_p384;
        oid_len = sizeof(cf_hsm_oid_p384);
        break;
    case CF_HSM_PAIR_EC_P521:
        oid = cf_hsm_oid_p521;
        oid_len = sizeof(cf_hsm_oid_p521);
        break;
    case CF_HSM_PAIR_ED25519:
        oid = cf_hsm_oid_ed25519;
        oid_len = sizeof(cf_hsm_oid_ed25519);
        break;
    case CF_HSM_PAIR_RSA2048:
        bits = 2048;
        break;
    case CF_HSM_PAIR_RSA3072:
        bits = 3072;
        break;
    default:
        bits = 4096;
        break;
    }
    if (a->type == CF_HSM_PAIR_ED25519) {
        kt = CKK_EC_EDWARDS;
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
    } else if (oid != NULL) {
        kt = CKK_EC;
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
    } else {
        kt = CKK_RSA;
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
    }

#define CF_ATTR(arr, n, t, p, l) \
    do { arr[n].type = (t); arr[n].pValue = (void *) (p); \
         arr[n].ulValueLen = (l); n++; } while (0)

    /* Every usage attribute explicit: SoftHSM's defaults switch on usages
     * nobody asked for (an EC private key got decrypt and unwrap). */
    CF_ATTR(pub, np, CKA_CLASS, &pub_cls, sizeof(pub_cls));
    CF_ATTR(pub, np, CKA_KEY_TYPE, &kt, sizeof(kt));
    CF_ATTR(pub, np, CKA_TOKEN, &yes, sizeof(yes));
    CF_ATTR(pub, np, CKA_PRIVATE, &no, sizeof(no));
    CF_ATTR(pub, np, CKA_MODIFIABLE, &modifiable, sizeof(modifiable));
    CF_ATTR(pub, np, CKA_LABEL, a->label, strlen(a->label));
    CF_ATTR(pub, np, CKA_ID, a->id.b, CF_HSM_ID_LEN);
    CF_ATTR(pub, np, CKA_VERIFY, &sign, sizeof(sign));
    CF_ATTR(pub, np, CKA_WRAP, &no, sizeof(no));
    CF_ATTR(pub, np, CKA_ENCRYPT, &decrypt, sizeof(decrypt));
    CF_ATTR(pub, np, CKA_DERIVE, &no, sizeof(no));
    if (oid != NULL) {
        CF_ATTR(pub, np, CKA_EC_PARAMS, oid, oid_len);
    } else {
        CF_ATTR(pub, np, CKA_MODULUS_BITS, &bits, sizeof(bits));
        CF_ATTR(pub, np, CKA_PUBLIC_EXPONENT, exp, sizeof(exp));
    }

    CF_ATTR(prv, nv, CKA_CLASS, &prv_cls, sizeof(prv_cls));
    CF_ATTR(prv, nv, CKA_KEY_TYPE, &kt, sizeof(kt));
    CF_ATTR(prv, nv, CKA_TOKEN, &yes, sizeof(yes));
    CF_ATTR(prv, nv, CKA_PRIVATE, &yes, sizeof(yes));
    CF_ATTR(prv, nv, CKA_SENSITIVE, &yes, sizeof(yes));
    CF_ATTR(prv, nv, CKA_EXTRACTABLE, &no, sizeof(no));
    CF_ATTR(prv, nv, CKA_MODIFIABLE, &modifiable, sizeof(modifiable));
    CF_ATTR(prv, nv, CKA_LABEL, a->label, strlen(a->label));
    CF_ATTR(prv, nv, CKA_ID, a->id.b, CF_HSM_ID_LEN);
    /* Decryption is raw RSA on the token with the OAEP check in software
     * (hsm_rsa.c), so CKA_DECRYPT, never CKA_UNWRAP: not even the BYOK
     * wrapping key unwraps on the token. */
    CF_ATTR(prv, nv, CKA_SIGN, &sign, sizeof(sign));
    CF_ATTR(prv, nv, CKA_UNWRAP, &no, sizeof(no));
    CF_ATTR(prv, nv, CKA_DECRYPT, &decrypt, sizeof(decrypt));
    CF_ATTR(prv, nv, CKA_DERIVE, &no, sizeof(no));
    if (kt == CKK_RSA)
        CF_ATTR(prv, nv, CKA_SIGN_RECOVER, &no, sizeof(no));
#undef CF_ATTR

    rv = h->f->C_GenerateRandom(c->s, a->id.b, CF_HSM_ID_LEN);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateRandom", rv);
    pthread_mutex_lock(&h->obj_mu);
    rv = h->f->C_GenerateKeyPair(c->s, &mech, pub, np, prv, nv, &ho, &vo);
    pthread_mutex_unlock(&h->obj_mu);
    if (rv == CKR_MECHANISM_INVALID || rv == CKR_CURVE_NOT_SUPPORTED
        || rv == CKR_DOMAIN_PARAMS_INVALID) {
        cf_log_warn("hsm", "the token cannot generate this key type "
                    "(C_GenerateKeyPair: 0x%lx)", (unsigned long) rv);
        return CF_ERR_INVALID;
    }
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateKeyPair", rv);
    return CF_OK;
}

cf_err_t
cf_hsm_pair_generate(cf_hsm_t *h, cf_hsm_pair_type_t type,
                     cf_hsm_pair_use_t use, const char *label,
                     cf_hsm_id_t *id_out)
{
    cf_hsm_pair_arg_t  a;
    cf_err_t           rc;

    memset(id_out, 0, sizeof(*id_out));
    if (h == NULL || label == NULL || *label == '\0'
        || type < CF_HSM_PAIR_EC_P256 || type > CF_HSM_PAIR_RSA4096
        || use < CF_HSM_PAIR_SIGN || use > CF_HSM_PAIR_DECRYPT
        || (use != CF_HSM_PAIR_SIGN && type < CF_HSM_PAIR_RSA2048))
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    a.type = type;
    a.use = use;
    a.label = label;
    rc = cf_hsm_run(h, "generate key pair", cf_hsm_pair_generate_op, &a);
    if (rc == CF_OK) {
        *id_out = a.id;
        cf_log_debug("hsm", "generated key pair '%s'", label);
    }
    return rc;
}

/* ---- public key --------------------------------------------------------- */

typedef struct {
    const cf_hsm_id_t  *id;
    EVP_PKEY           *pkey;
} cf_hsm_pub_arg_t;

/* Read up to two attributes of o into caller buffers of CF_HSM_ATTR_MAX. */
static cf_err_t
cf_hsm_asym_attrs(cf_hsm_call_t *c, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *a,
                  CK_ULONG n)
{
    CK_RV  rv = c->h->f->C_GetAttributeValue(c->s, o, a, n);

    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GetAttributeValue", rv);
    return CF_OK;
}

static const char *
cf_hsm_asym_curve(const unsigned char *p, size_t n)
{
    if (n == sizeof(cf_hsm_oid_p256)
        && memcmp(p, cf_hsm_oid_p256, n) == 0)
        return "P-256";
    if (n == sizeof(cf_hsm_oid_p384)
        && memcmp(p, cf_hsm_oid_p384, n) == 0)
        return "P-384";
    if (n == sizeof(cf_hsm_oid_p521)
        && memcmp(p, cf_hsm_oid_p521, n) == 0)
        return "P-521";
    return NULL;
}

/* CKA_EC_POINT is a DER OCTET STRING around the point. */
static ASN1_OCTET_STRING *
cf_hsm_asym_point(const unsigned char *p, size_t n)
{
    const unsigned char  *q = p;

    return d2i_ASN1_OCTET_STRING(NULL, &q, (long) n);
}

static EVP_PKEY *
cf_hsm_asym_ec_pkey(const char *curve, const unsigned char *pt, size_t n)
{
    EVP_PKEY_CTX    *ctx = NULL;
    OSSL_PARAM_BLD  *bld = NULL;
    OSSL_PARAM      *params = NULL;
    EVP_PKEY        *pkey = NULL;

    if ((bld = OSSL_PARAM_BLD_new()) == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            curve, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             pt, n)
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *
cf_hsm_asym_rsa_pkey(const unsigned char *mod, size_t mn,
                     const unsigned char *e, size_t en)
{
    EVP_PKEY_CTX    *ctx = NULL;
    OSSL_PARAM_BLD  *bld = NULL;
    OSSL_PARAM      *params = NULL;
    EVP_PKEY        *pkey = NULL;
    BIGNUM          *n = BN_bin2bn(mod, (int) mn, NULL);
    BIGNUM          *x = BN_bin2bn(e, (int) en, NULL);

    if (n == NULL || x == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, x)
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(x);
    return pkey;
}

static cf_err_t
cf_hsm_pair_public_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_pub_arg_t     *a = arg;
    CK_OBJECT_HANDLE      o = CK_INVALID_HANDLE;
    CK_KEY_TYPE           kt = 0;
    CK_ATTRIBUTE          ta = { CKA_KEY_TYPE, &kt, sizeof(kt) };
    unsigned char        *b1 = NULL, *b2 = NULL;
    ASN1_OCTET_STRING    *pt = NULL;
    const char           *curve;
    cf_err_t              rc;

    if ((rc = cf_hsm_asym_find(c, CKO_PUBLIC_KEY, a->id, &o)) != CF_OK)
        return rc;
    if ((rc = cf_hsm_asym_attrs(c, o, &ta, 1)) != CF_OK)
        return rc;
    b1 = malloc(CF_HSM_ATTR_MAX);
    b2 = malloc(CF_HSM_ATTR_MAX);
    if (b1 == NULL || b2 == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
        CK_ATTRIBUTE  at[] = {
            { CKA_EC_PARAMS, b1, CF_HSM_ATTR_MAX },
            { CKA_EC_POINT, b2, CF_HSM_ATTR_MAX },
        };

        if ((rc = cf_hsm_asym_attrs(c, o, at, 2)) != CF_OK)
            goto out;
        if ((pt = cf_hsm_asym_point(b2, at[1].ulValueLen)) == NULL) {
            rc = CF_ERR_HSM;
            goto out;
        }
        if (kt == CKK_EC_EDWARDS) {
            a->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                                  pt->data,
                                                  (size_t) pt->length);
        } else if ((curve = cf_hsm_asym_curve(b1, at[0].ulValueLen))
                   != NULL) {
            a->pkey = cf_hsm_asym_ec_pkey(curve, pt->data,
                                          (size_t) pt->length);
        }
    } else if (kt == CKK_RSA) {
        CK_ATTRIBUTE  at[] = {
            { CKA_MODULUS, b1, CF_HSM_ATTR_MAX },
            { CKA_PUBLIC_EXPONENT, b2, CF_HSM_ATTR_MAX },
        };

        if ((rc = cf_hsm_asym_attrs(c, o, at, 2)) != CF_OK)
            goto out;
        a->pkey = cf_hsm_asym_rsa_pkey(b1, at[0].ulValueLen, b2,
                                       at[1].ulValueLen);
    }
    if (a->pkey == NULL) {
        cf_log_error("hsm", "public key of type 0x%lx could not be "
                     "converted", (unsigned long) kt);
        rc = CF_ERR_HSM;
    }
out:
    ASN1_OCTET_STRING_free(pt);
    free(b1);
    free(b2);
    return rc;
}

cf_err_t
cf_hsm_pair_public(cf_hsm_t *h, const cf_hsm_id_t *id, EVP_PKEY **out)
{
    cf_hsm_pub_arg_t  a = { .id = id, .pkey = NULL };
    cf_err_t          rc;

    *out = NULL;
    if (h == NULL || id == NULL)
        return CF_ERR_INVALID;
    rc = cf_hsm_run(h, "public key", cf_hsm_pair_public_op, &a);
    if (rc == CF_OK)
        *out = a.pkey;
    else
        EVP_PKEY_free(a.pkey);
    return rc;
}

/* ---- destroy ------------------------------------------------------------ */

static cf_err_t
cf_hsm_pair_destroy_pub_op(cf_hsm_call_t *c, void *arg)
{
    const cf_hsm_id_t  *id = arg;
    CK_OBJECT_HANDLE    o = CK_INVALID_HANDLE;
    CK_RV               rv;
    cf_err_t            rc;

    if ((rc = cf_hsm_asym_find(c, CKO_PUBLIC_KEY, id, &o)) != CF_OK)
        return rc;
    pthread_mutex_lock(&c->h->obj_mu);
    rv = c->h->f->C_DestroyObject(c->s, o);
    pthread_mutex_unlock(&c->h->obj_mu);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_DestroyObject", rv);
    return CF_OK;
}

cf_err_t
cf_hsm_pair_destroy(cf_hsm_t *h, const cf_hsm_id_t *id)
{
    cf_err_t  rp, rq;

    if (h == NULL || id == NULL)
        return CF_ERR_INVALID;
    rp = cf_hsm_key_destroy(h, id);         /* private half + cache entry */
    rq = cf_hsm_run(h, "destroy public key", cf_hsm_pair_destroy_pub_op,
                    (void *) id);
    if (rp == CF_ERR_NOT_FOUND && rq == CF_ERR_NOT_FOUND)
        return CF_ERR_NOT_FOUND;
    if (rp != CF_OK && rp != CF_ERR_NOT_FOUND)
        return rp;
    if (rq != CF_OK && rq != CF_ERR_NOT_FOUND)
        return rq;
    return CF_OK;
}

/* ---- sign --------------------------------------------------------------- */

typedef struct {
    const cf_hsm_id_t         *key;
    const cf_hsm_sign_opts_t  *o;
    const unsigned char       *in;
    size_t                     in_len;
    unsigned char             *sig;
    size_t                     sig_len;
} cf_hsm_sign_arg_t;

static bool
cf_hsm_asym_md_mech(const EVP_MD *md, CK_MECHANISM_TYPE *hash,
                    CK_RSA_PKCS_MGF_TYPE *mgf)
{
    switch (EVP_MD_get_type(md)) {
    case NID_sha1:
        *hash = CKM_SHA_1;
        *mgf = CKG_MGF1_SHA1;
        return true;
    case NID_sha224:
        *hash = CKM_SHA224;
        *mgf = CKG_MGF1_SHA224;
        return true;
    case NID_sha256:
        *hash = CKM_SHA256;
        *mgf = CKG_MGF1_SHA256;
        return true;
    case NID_sha384:
        *hash = CKM_SHA384;
        *mgf = CKG_MGF1_SHA384;
        return true;
    case NID_sha512:
        *hash = CKM_SHA512;
        *mgf = CKG_MGF1_SHA512;
        return true;
    default:
        return false;
    }
}

/* DigestInfo || digest for PKCS#1 v1.5 (RFC 8017 9.2), DER built by
 * hand: SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING digest }. Every
 * length is below 128 (OIDs of ~11 bytes, digests of at most 64), so all
 * are one-byte lengths. *out OPENSSL_malloc'd. */
static cf_err_t
cf_hsm_asym_digest_info(const EVP_MD *md, const unsigned char *d,
                        size_t n, unsigned char **out, size_t *out_len)
{
    const ASN1_OBJECT  *obj = OBJ_nid2obj(EVP_MD_get_type(md));
    unsigned char      *oid = NULL, *p;
    int                 ol;
    size_t              alg, total;

    *out = NULL;
    if (obj == NULL || n > 64 || (ol = i2d_ASN1_OBJECT(obj, &oid)) <= 0
        || ol > 32) {
        OPENSSL_free(oid);
        return CF_ERR_INVALID;
    }
    alg = (size_t) ol + 2;                      /* OID + NULL */
    total = 2 + alg + 2 + n;                    /* both inner TLVs */
    if ((p = OPENSSL_malloc(total + 2)) == NULL) {
        OPENSSL_free(oid);
        return CF_ERR_NOMEM;
    }
    *out = p;
    *p++ = 0x30;
    *p++ = (unsigned char) total;
    *p++ = 0x30;
    *p++ = (unsigned char) alg;
    memcpy(p, oid, (size_t) ol);
    p += ol;
    *p++ = 0x05;
    *p++ = 0x00;
    *p++ = 0x04;
    *p++ = (unsigned char) n;
    memcpy(p, d, n);
    *out_len = total + 2;
    OPENSSL_free(oid);
    return CF_OK;
}

static cf_err_t
cf_hsm_sign_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_sign_arg_t     *a = arg;
    CK_FUNCTION_LIST_PTR   f = c->h->f;
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM           m = { 0, NULL, 0 };
    CK_OBJECT_HANDLE       obj, use;
    CK_ULONG               len = CF_HSM_SIG_MAX;
    CK_RV                  rv;
    cf_err_t               rc;

    if ((rc = cf_hsm_key_handles(c, a->key, &obj, &use)) != CF_OK)
        return rc;
    switch (a->o->alg) {
    case CF_HSM_SIG_ECDSA:
        m.mechanism = CKM_ECDSA;
        break;
    case CF_HSM_SIG_EDDSA:
        m.mechanism = CKM_EDDSA;
        break;
    case CF_HSM_SIG_RSA_PKCS1:
        m.mechanism = CKM_RSA_PKCS;
        break;
    default:
        memset(&pss, 0, sizeof(pss));
        if (!cf_hsm_asym_md_mech(a->o->md, &pss.hashAlg, &pss.mgf))
            return CF_ERR_INVALID;
        pss.sLen = (CK_ULONG) a->o->salt_len;
        m.mechanism = CKM_RSA_PKCS_PSS;
        m.pParameter = &pss;
        m.ulParameterLen = sizeof(pss);
        if (a->o->salt_len == CF_HSM_PSS_SALT_MAX) {
            CK_BYTE       mod[CF_HSM_SIG_MAX];
            CK_ATTRIBUTE  at = { CKA_MODULUS, mod, sizeof(mod) };
            size_t        bits, em;

            /* The private key's modulus is public; the largest salt is
             * emLen - hLen - 2 with emLen = ceil((modBits - 1) / 8). */
            if ((rc = cf_hsm_asym_attrs(c, obj, &at, 1)) != CF_OK)
                return rc;
            bits = at.ulValueLen * 8;
            em = (bits - 1 + 7) / 8;
            pss.sLen = (CK_ULONG) (em - (size_t) EVP_MD_get_size(a->o->md)
                                   - 2);
        }
        break;
    }
    if ((rv = f->C_SignInit(c->s, &m, use)) != CKR_OK) {
        if (rv == CKR_KEY_TYPE_INCONSISTENT
            || rv == CKR_KEY_FUNCTION_NOT_PERMITTED
            || rv == CKR_MECHANISM_INVALID
            || rv == CKR_MECHANISM_PARAM_INVALID)
            return CF_ERR_INVALID;
        return cf_hsm_call_fail(c, "C_SignInit", rv);
    }
    rv = f->C_Sign(c->s, a->in_len > 0 ? (CK_BYTE_PTR) a->in
                                       : cf_hsm_asym_empty,
                   a->in_len, a->sig, &len);
    if (rv == CKR_DATA_LEN_RANGE || rv == CKR_DATA_INVALID)
        return CF_ERR_INVALID;  /* the operation ended with the error */
    if (rv != CKR_OK) {
        c->poisoned = true;
        return cf_hsm_call_fail(c, "C_Sign", rv);
    }
    a->sig_len = len;
    return CF_OK;
}

/* Raw r || s (two equal halves) to a DER ECDSA-Sig-Value, in place. */
static cf_err_t
cf_hsm_asym_ecdsa_der(unsigned char *sig, size_t *len)
{
    ECDSA_SIG      *es = NULL;
    BIGNUM         *r = NULL, *s = NULL;
    unsigned char  *p = NULL;
    size_t          half = *len / 2;
    int             n;
    cf_err_t        rc = CF_ERR_INTERNAL;

    if (*len == 0 || *len % 2 != 0)
        return CF_ERR_HSM;
    r = BN_bin2bn(sig, (int) half, NULL);
    s = BN_bin2bn(sig + half, (int) half, NULL);
    if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL)
        goto out;
    if (ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL;
    if ((n = i2d_ECDSA_SIG(es, &p)) <= 0 || (size_t) n > CF_HSM_SIG_MAX)
        goto out;
    memcpy(sig, p, (size_t) n);
    *len = (size_t) n;
    rc = CF_OK;
out:
    OPENSSL_free(p);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

cf_err_t
cf_hsm_sign(cf_hsm_t *h, const cf_hsm_id_t *key, const cf_hsm_sign_opts_t *o,
            const void *in, size_t in_len, unsigned char *sig,
            size_t *sig_len)
{
    cf_hsm_sign_arg_t  a;
    unsigned char     *di = NULL;
    size_t             di_len = 0;
    cf_err_t           rc;

    *sig_len = 0;
    if (h == NULL || key == NULL || o == NULL || sig == NULL
        || (in == NULL && in_len > 0) || in_len > CF_HSM_MAX_INPUT
        || (o->alg == CF_HSM_SIG_RSA_PSS && o->md == NULL))
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    a.key = key;
    a.o = o;
    a.in = in;
    a.in_len = in_len;
    a.sig = sig;
    if (o->alg == CF_HSM_SIG_RSA_PKCS1 && o->md != NULL) {
        if ((rc = cf_hsm_asym_digest_info(o->md, in, in_len, &di, &di_len))
            != CF_OK)
            return rc;
        a.in = di;
        a.in_len = di_len;
    }
    rc = cf_hsm_run(h, "sign", cf_hsm_sign_op, &a);
    OPENSSL_free(di);
    if (rc == CF_OK && o->alg == CF_HSM_SIG_ECDSA && !o->ecdsa_raw)
        rc = cf_hsm_asym_ecdsa_der(sig, &a.sig_len);
    if (rc == CF_OK)
        *sig_len = a.sig_len;
    return rc;
}

/* ---- secret keys of any size -------------------------------------------- */

typedef struct {
    bool          hmac;
    CK_ULONG      bytes;
    const char   *label;
    cf_hsm_id_t   id;
} cf_hsm_secret_arg_t;

static cf_err_t
cf_hsm_secret_generate_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_secret_arg_t  *a = arg;
    cf_hsm_t             *h = c->h;
    CK_OBJECT_CLASS       cls = CKO_SECRET_KEY;
    CK_KEY_TYPE           kt = a->hmac ? CKK_GENERIC_SECRET : CKK_AES;
    CK_BBOOL              yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL              aes = a->hmac ? CK_FALSE : CK_TRUE;
    CK_BBOOL              mac = a->hmac ? CK_TRUE : CK_FALSE;
    CK_BBOOL              modifiable = CF_HSM_KEY_MODIFIABLE;
    CK_MECHANISM          mech = { a->hmac ? CKM_GENERIC_SECRET_KEY_GEN
                                           : CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE          tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE_LEN, &a->bytes, sizeof(a->bytes) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_MODIFIABLE, &modifiable, sizeof(modifiable) },
        { CKA_LABEL, (void *) a->label, strlen(a->label) },
        { CKA_ID, a->id.b, CF_HSM_ID_LEN },
        { CKA_ENCRYPT, &aes, sizeof(aes) },
        { CKA_DECRYPT, &aes, sizeof(aes) },
        { CKA_SIGN, &mac, sizeof(mac) },
        { CKA_VERIFY, &mac, sizeof(mac) },
        { CKA_WRAP, &no, sizeof(no) },
        { CKA_UNWRAP, &no, sizeof(no) },
        { CKA_DERIVE, &no, sizeof(no) },
    };
    CK_OBJECT_HANDLE      o = CK_INVALID_HANDLE;
    CK_RV                 rv;

    rv = h->f->C_GenerateRandom(c->s, a->id.b, CF_HSM_ID_LEN);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateRandom", rv);
    pthread_mutex_lock(&h->obj_mu);
    rv = h->f->C_GenerateKey(c->s, &mech, tmpl,
                             sizeof(tmpl) / sizeof(tmpl[0]), &o);
    pthread_mutex_unlock(&h->obj_mu);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateKey", rv);
    return CF_OK;
}

cf_err_t
cf_hsm_secret_generate(cf_hsm_t *h, bool hmac, size_t bytes,
                       const char *label, cf_hsm_id_t *id_out)
{
    cf_hsm_secret_arg_t  a;
    cf_err_t             rc;

    memset(id_out, 0, sizeof(*id_out));
    if (h == NULL || label == NULL || *label == '\0'
        || (hmac && (bytes < 16 || bytes > 512))
        || (!hmac && bytes != 16 && bytes != 24 && bytes != 32))
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    a.hmac = hmac;
    a.bytes = bytes;
    a.label = label;
    rc = cf_hsm_run(h, "generate key", cf_hsm_secret_generate_op, &a);
    if (rc == CF_OK)
        *id_out = a.id;
    return rc;
}

/* ---- HMAC with any SHA -------------------------------------------------- */

typedef struct {
    const cf_hsm_id_t  *key;
    CK_MECHANISM_TYPE   mech;
    const void         *data;
    size_t              len;
    unsigned char      *out;
    CK_ULONG            out_len;
} cf_hsm_mac_arg_t;

static cf_err_t
cf_hsm_mac_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_mac_arg_t  *a = arg;
    CK_MECHANISM       m = { a->mech, NULL, 0 };
    CK_OBJECT_HANDLE   obj, use;
    CK_RV              rv;
    cf_err_t           rc;

    if ((rc = cf_hsm_key_handles(c, a->key, &obj, &use)) != CF_OK)
        return rc;
    if ((rv = c->h->f->C_SignInit(c->s, &m, use)) != CKR_OK) {
        /* SoftHSM also refuses a key shorter than the digest
         * (CKR_KEY_SIZE_RANGE, e.g. a 32-byte key with SHA-512). */
        if (rv == CKR_KEY_TYPE_INCONSISTENT
            || rv == CKR_KEY_FUNCTION_NOT_PERMITTED
            || rv == CKR_MECHANISM_INVALID || rv == CKR_KEY_SIZE_RANGE)
            return CF_ERR_INVALID;
        return cf_hsm_call_fail(c, "C_SignInit", rv);
    }
    a->out_len = EVP_MAX_MD_SIZE;
    rv = c->h->f->C_Sign(c->s, a->len > 0 ? (CK_BYTE_PTR) a->data
                                          : cf_hsm_asym_empty,
                         a->len, a->out, &a->out_len);
    if (rv != CKR_OK) {
        c->poisoned = true;
        return cf_hsm_call_fail(c, "C_Sign", rv);
    }
    return CF_OK;
}

cf_err_t
cf_hsm_hmac(cf_hsm_t *h, const cf_hsm_id_t *key, const EVP_MD *md,
            const void *data, size_t len, unsigned char *out,
            size_t *out_len)
{
    cf_hsm_mac_arg_t  a;
    cf_err_t          rc;

    *out_len = 0;
    if (h == NULL || key == NULL || md == NULL || out == NULL
        || (data == NULL && len > 0) || len > CF_HSM_MAX_INPUT)
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    switch (EVP_MD_get_type(md)) {
    case NID_sha1:   a.mech = CKM_SHA_1_HMAC;  break;
    case NID_sha224: a.mech = CKM_SHA224_HMAC; break;
    case NID_sha256: a.mech = CKM_SHA256_HMAC; break;
    case NID_sha384: a.mech = CKM_SHA384_HMAC; break;
    case NID_sha512: a.mech = CKM_SHA512_HMAC; break;
    default:
        return CF_ERR_INVALID;
    }
    a.key = key;
    a.data = data;
    a.len = len;
    a.out = out;
    rc = cf_hsm_run(h, "HMAC", cf_hsm_mac_op, &a);
    if (rc == CF_OK)
        *out_len = a.out_len;
    else
        OPENSSL_cleanse(out, EVP_MAX_MD_SIZE);
    return rc;
}
