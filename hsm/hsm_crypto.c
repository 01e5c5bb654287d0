/* hsm_crypto: AES-GCM, HMAC-SHA256 and random bytes on the token. */
#include "hsm_internal.h"

#include <string.h>

#include <openssl/crypto.h>

#include "coffer/log.h"

/* C_GenerateRandom in pieces: one call holds a pool session, and other
 * threads wait for it. */
#define CF_HSM_RANDOM_CHUNK  (64u * 1024)

/* Stands in for a NULL pointer with length 0, which some modules refuse
 * as CKR_ARGUMENTS_BAD. */
static unsigned char  cf_hsm_empty[1];

/* ---- AES-GCM ------------------------------------------------------------- */

typedef struct {
    const cf_hsm_id_t    *key;
    const unsigned char  *iv;
    const void           *aad;
    size_t                aad_len;
    const void           *in;
    size_t                in_len;
    unsigned char        *out;
    size_t                out_cap;
    size_t                out_len;
    bool                  decrypt;
} cf_hsm_gcm_arg_t;

static cf_err_t
cf_hsm_gcm_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_gcm_arg_t  *a = arg;
    CK_FUNCTION_LIST_PTR f = c->h->f;
    CK_GCM_PARAMS      p;
    CK_MECHANISM       m = { CKM_AES_GCM, &p, sizeof(p) };
    CK_OBJECT_HANDLE   obj, use;
    CK_BYTE_PTR        in, out;
    CK_ULONG           len = a->out_cap;
    CK_RV              rv;
    cf_err_t           rc;

    if ((rc = cf_hsm_key_handles(c, a->key, &obj, &use)) != CF_OK)
        return rc;
    memset(&p, 0, sizeof(p));
    p.pIv = (CK_BYTE_PTR) a->iv;
    p.ulIvLen = CF_HSM_GCM_IV;
    p.ulIvBits = CF_HSM_GCM_IV * 8;
    p.pAAD = a->aad_len > 0 ? (CK_BYTE_PTR) a->aad : cf_hsm_empty;
    p.ulAADLen = a->aad_len;
    p.ulTagBits = CF_HSM_GCM_TAG * 8;
    in = a->in_len > 0 ? (CK_BYTE_PTR) a->in : cf_hsm_empty;
    out = a->out;
    if (a->decrypt) {
        if ((rv = f->C_DecryptInit(c->s, &m, use)) != CKR_OK)
            return cf_hsm_call_fail(c, "C_DecryptInit", rv);
        rv = f->C_Decrypt(c->s, in, a->in_len, out, &len);
        /* SoftHSM reports a bad tag or AAD as CKR_GENERAL_ERROR and ends
         * the operation: the caller's ciphertext is wrong, the session
         * and the connection are fine. */
        if (rv == CKR_GENERAL_ERROR || rv == CKR_ENCRYPTED_DATA_INVALID
            || rv == CKR_ENCRYPTED_DATA_LEN_RANGE) {
            OPENSSL_cleanse(a->out, a->out_cap);
            return CF_ERR_CRYPTO;
        }
        if (rv != CKR_OK) {
            OPENSSL_cleanse(a->out, a->out_cap);
            return cf_hsm_call_fail(c, "C_Decrypt", rv);
        }
    } else {
        if ((rv = f->C_EncryptInit(c->s, &m, use)) != CKR_OK)
            return cf_hsm_call_fail(c, "C_EncryptInit", rv);
        rv = f->C_Encrypt(c->s, in, a->in_len, out, &len);
        if (rv != CKR_OK)
            return cf_hsm_call_fail(c, "C_Encrypt", rv);
    }
    a->out_len = len;
    return CF_OK;
}

static cf_err_t
cf_hsm_gcm(cf_hsm_t *h, cf_hsm_gcm_arg_t *a, size_t *out_len)
{
    cf_err_t  rc;

    *out_len = 0;
    if (h == NULL || a->key == NULL || a->iv == NULL || a->out == NULL
        || (a->in == NULL && a->in_len > 0)
        || (a->aad == NULL && a->aad_len > 0)
        || a->in_len > CF_HSM_MAX_INPUT || a->aad_len > CF_HSM_MAX_INPUT)
        return CF_ERR_INVALID;
    if (a->decrypt && a->in_len < CF_HSM_GCM_TAG)
        return CF_ERR_CRYPTO;
    rc = cf_hsm_run(h, a->decrypt ? "AES-GCM decrypt" : "AES-GCM encrypt",
                    cf_hsm_gcm_op, a);
    if (rc == CF_OK)
        *out_len = a->out_len;
    return rc;
}

cf_err_t
cf_hsm_gcm_encrypt(cf_hsm_t *h, const cf_hsm_id_t *key,
                   const unsigned char iv[CF_HSM_GCM_IV],
                   const void *aad, size_t aad_len,
                   const void *pt, size_t pt_len,
                   unsigned char *out, size_t *out_len)
{
    cf_hsm_gcm_arg_t  a = {
        .key = key, .iv = iv, .aad = aad, .aad_len = aad_len,
        .in = pt, .in_len = pt_len, .out = out,
        .out_cap = pt_len + CF_HSM_GCM_TAG, .decrypt = false,
    };

    return cf_hsm_gcm(h, &a, out_len);
}

cf_err_t
cf_hsm_gcm_decrypt(cf_hsm_t *h, const cf_hsm_id_t *key,
                   const unsigned char iv[CF_HSM_GCM_IV],
                   const void *aad, size_t aad_len,
                   const void *ct, size_t ct_len,
                   unsigned char *out, size_t *out_len)
{
    cf_hsm_gcm_arg_t  a = {
        .key = key, .iv = iv, .aad = aad, .aad_len = aad_len,
        .in = ct, .in_len = ct_len, .out = out, .out_cap = ct_len,
        .decrypt = true,
    };

    return cf_hsm_gcm(h, &a, out_len);
}

/* ---- HMAC ---------------------------------------------------------------- */

typedef struct {
    const cf_hsm_id_t  *key;
    const void         *data;
    size_t              len;
    unsigned char      *out;
} cf_hsm_hmac_arg_t;

static cf_err_t
cf_hsm_hmac_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_hmac_arg_t  *a = arg;
    CK_MECHANISM        m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_OBJECT_HANDLE    obj, use;
    CK_ULONG            len = 32;
    CK_RV               rv;
    cf_err_t            rc;

    if ((rc = cf_hsm_key_handles(c, a->key, &obj, &use)) != CF_OK)
        return rc;
    if ((rv = c->h->f->C_SignInit(c->s, &m, use)) != CKR_OK)
        return cf_hsm_call_fail(c, "C_SignInit", rv);
    rv = c->h->f->C_Sign(c->s, a->len > 0 ? (CK_BYTE_PTR) a->data
                                          : cf_hsm_empty,
                         a->len, a->out, &len);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_Sign", rv);
    if (len != 32) {
        cf_log_error("hsm", "HMAC-SHA256 gave %lu bytes", (unsigned long) len);
        return CF_ERR_HSM;
    }
    return CF_OK;
}

cf_err_t
cf_hsm_hmac_sha256(cf_hsm_t *h, const cf_hsm_id_t *key, const void *data,
                   size_t len, unsigned char out[32])
{
    cf_hsm_hmac_arg_t  a = { .key = key, .data = data, .len = len,
                             .out = out };
    cf_err_t           rc;

    if (h == NULL || key == NULL || out == NULL || (data == NULL && len > 0)
        || len > CF_HSM_MAX_INPUT)
        return CF_ERR_INVALID;
    rc = cf_hsm_run(h, "HMAC-SHA256", cf_hsm_hmac_op, &a);
    if (rc != CF_OK)
        OPENSSL_cleanse(out, 32);
    return rc;
}

/* ---- random -------------------------------------------------------------- */

typedef struct {
    unsigned char  *out;
    size_t          len;
} cf_hsm_random_arg_t;

static cf_err_t
cf_hsm_random_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_random_arg_t  *a = arg;
    CK_RV                 rv;

    rv = c->h->f->C_GenerateRandom(c->s, a->out, a->len);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateRandom", rv);
    return CF_OK;
}

cf_err_t
cf_hsm_random(cf_hsm_t *h, void *out, size_t len)
{
    cf_hsm_random_arg_t  a;
    size_t               off, n;
    cf_err_t             rc = CF_OK;

    if (h == NULL || (out == NULL && len > 0))
        return CF_ERR_INVALID;
    for (off = 0; off < len && rc == CF_OK; off += n) {
        n = len - off < CF_HSM_RANDOM_CHUNK ? len - off
                                            : CF_HSM_RANDOM_CHUNK;
        a.out = (unsigned char *) out + off;
        a.len = n;
        rc = cf_hsm_run(h, "random", cf_hsm_random_op, &a);
    }
    if (rc != CF_OK)
        OPENSSL_cleanse(out, len);
    return rc;
}
