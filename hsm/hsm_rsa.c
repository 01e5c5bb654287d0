/* hsm_rsa: RSA-OAEP decryption with a private key that stays on the token.
 *
 * Why not CKM_RSA_PKCS_OAEP: SoftHSM 2.6.1 accepts it with SHA-1 (and
 * MGF1-SHA-1) only and answers CKR_ARGUMENTS_BAD for any other hash, while
 * Vault's transit decrypts RSA keys with SHA-256 and its BYOK format
 * allows SHA-1 to SHA-512. So the token does only the private-key
 * operation (CKM_RSA_X_509: m = c^d mod n) and OpenSSL's constant-time
 * check strips the OAEP padding here. What this process sees is the
 * padded message, wiped at once; the key never leaves the token. */
#include "hsm_internal.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "coffer/log.h"

static const unsigned char  cf_hsm_rsa_no_label[1];

cf_err_t
cf_hsm_rsa_key(cf_hsm_call_t *c, const cf_hsm_id_t *id,
               CK_OBJECT_HANDLE *obj, CK_OBJECT_HANDLE *use, size_t *modlen)
{
    CK_BYTE        mod[CF_HSM_SIG_MAX];
    CK_KEY_TYPE    kt = 0;
    CK_ATTRIBUTE   at[] = {
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_MODULUS, mod, sizeof(mod) },
    };
    CK_RV          rv;
    cf_err_t       rc;

    if ((rc = cf_hsm_key_handles(c, id, obj, use)) != CF_OK)
        return rc;
    /* The modulus is public; a key with none is not RSA. */
    rv = c->h->f->C_GetAttributeValue(c->s, *obj, at, 2);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || (rv == CKR_OK && kt != CKK_RSA))
        return CF_ERR_INVALID;
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GetAttributeValue", rv);
    if (at[1].ulValueLen == 0 || at[1].ulValueLen > CF_HSM_RSA_MAX)
        return CF_ERR_INVALID;
    *modlen = at[1].ulValueLen;
    return CF_OK;
}

/* Keys made before RSA keys could decrypt have CKA_DECRYPT false. Our
 * keys are CKA_MODIFIABLE (hsm_internal.h says why), so the attribute
 * can be switched on, once, on the token object and on its session copy
 * (a copy does not follow its original). Under obj_mu like every object
 * change. */
static cf_err_t
cf_hsm_rsa_allow_decrypt(cf_hsm_call_t *c, CK_OBJECT_HANDLE obj,
                         CK_OBJECT_HANDLE use)
{
    CK_BBOOL      yes = CK_TRUE;
    CK_ATTRIBUTE  at = { CKA_DECRYPT, &yes, sizeof(yes) };
    CK_RV         rv;

    pthread_mutex_lock(&c->h->obj_mu);
    rv = c->h->f->C_SetAttributeValue(c->s, obj, &at, 1);
    if (rv == CKR_OK && use != obj)
        rv = c->h->f->C_SetAttributeValue(c->s, use, &at, 1);
    pthread_mutex_unlock(&c->h->obj_mu);
    if (rv == CKR_ATTRIBUTE_READ_ONLY || rv == CKR_ACTION_PROHIBITED
        || rv == CKR_TEMPLATE_INCONSISTENT) {
        cf_log_warn("hsm", "an RSA key without decrypt permission cannot "
                    "be given it (C_SetAttributeValue: 0x%lx)",
                    (unsigned long) rv);
        return CF_ERR_INVALID;
    }
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_SetAttributeValue", rv);
    cf_log_info("hsm", "allowed decryption with an RSA key made before "
                "RSA keys could decrypt");
    return CF_OK;
}

cf_err_t
cf_hsm_rsa_oaep_open(cf_hsm_call_t *c, CK_OBJECT_HANDLE obj,
                     CK_OBJECT_HANDLE use, size_t modlen, const EVP_MD *md,
                     const unsigned char *in, size_t in_len,
                     unsigned char *out, size_t *out_len)
{
    CK_FUNCTION_LIST_PTR  f = c->h->f;
    CK_MECHANISM          m = { CKM_RSA_X_509, NULL, 0 };
    unsigned char         em[CF_HSM_SIG_MAX];
    CK_ULONG              em_len = sizeof(em);
    CK_RV                 rv;
    int                   n;
    cf_err_t              rc;

    *out_len = 0;
    if (in_len != modlen)
        return CF_ERR_CRYPTO;
    rv = f->C_DecryptInit(c->s, &m, use);
    if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED) {
        if ((rc = cf_hsm_rsa_allow_decrypt(c, obj, use)) != CF_OK)
            return rc;
        rv = f->C_DecryptInit(c->s, &m, use);
    }
    if (rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_MECHANISM_INVALID
        || rv == CKR_KEY_FUNCTION_NOT_PERMITTED)
        return CF_ERR_INVALID;
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_DecryptInit", rv);
    rv = f->C_Decrypt(c->s, (CK_BYTE_PTR) in, in_len, em, &em_len);
    /* SoftHSM answers an input not below the modulus with
     * CKR_GENERAL_ERROR and ends the operation: bad input, healthy
     * session. */
    if (rv == CKR_GENERAL_ERROR || rv == CKR_ENCRYPTED_DATA_INVALID
        || rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_DATA_INVALID
        || rv == CKR_DATA_LEN_RANGE) {
        rc = CF_ERR_CRYPTO;
        goto out;
    }
    if (rv != CKR_OK) {
        c->poisoned = true;
        rc = cf_hsm_call_fail(c, "C_Decrypt", rv);
        goto out;
    }
    if (em_len > modlen) {
        rc = CF_ERR_HSM;
        cf_log_error("hsm", "raw RSA gave %lu bytes for a %zu-byte modulus",
                     (unsigned long) em_len, modlen);
        goto out;
    }
    /* Deprecated in OpenSSL 3.0 but in every 3.x, and the one public
     * constant-time OAEP check there is (EVP_PKEY_decrypt needs the
     * private key). It takes em_len < modlen (leading zeros) itself. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    n = RSA_padding_check_PKCS1_OAEP_mgf1(out, CF_HSM_RSA_MAX, em,
                                          (int) em_len, (int) modlen,
                                          cf_hsm_rsa_no_label, 0, md, md);
#pragma GCC diagnostic pop
    if (n < 0) {
        ERR_clear_error();      /* not ours to report later */
        rc = CF_ERR_CRYPTO;
        goto out;
    }
    *out_len = (size_t) n;
    rc = CF_OK;
out:
    OPENSSL_cleanse(em, sizeof(em));
    if (rc != CF_OK)
        OPENSSL_cleanse(out, CF_HSM_RSA_MAX);
    return rc;
}

typedef struct {
    const cf_hsm_id_t    *key;
    const EVP_MD         *md;
    const unsigned char  *in;
    size_t                in_len;
    unsigned char        *out;
    size_t                out_len;
} cf_hsm_rsa_arg_t;

static cf_err_t
cf_hsm_rsa_decrypt_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_rsa_arg_t  *a = arg;
    CK_OBJECT_HANDLE   obj, use;
    size_t             modlen = 0;
    cf_err_t           rc;

    if ((rc = cf_hsm_rsa_key(c, a->key, &obj, &use, &modlen)) != CF_OK)
        return rc;
    return cf_hsm_rsa_oaep_open(c, obj, use, modlen, a->md, a->in,
                                a->in_len, a->out, &a->out_len);
}

cf_err_t
cf_hsm_rsa_oaep_decrypt(cf_hsm_t *h, const cf_hsm_id_t *key,
                        const EVP_MD *md, const void *ct, size_t ct_len,
                        unsigned char *out, size_t *out_len)
{
    cf_hsm_rsa_arg_t  a;
    cf_err_t          rc;

    *out_len = 0;
    if (h == NULL || key == NULL || md == NULL || out == NULL
        || (ct == NULL && ct_len > 0))
        return CF_ERR_INVALID;
    if (ct_len == 0 || ct_len > CF_HSM_RSA_MAX)
        return CF_ERR_CRYPTO;   /* fits no modulus we make */
    memset(&a, 0, sizeof(a));
    a.key = key;
    a.md = md;
    a.in = ct;
    a.in_len = ct_len;
    a.out = out;
    rc = cf_hsm_run(h, "RSA-OAEP decrypt", cf_hsm_rsa_decrypt_op, &a);
    if (rc == CF_OK)
        *out_len = a.out_len;
    else
        OPENSSL_cleanse(out, CF_HSM_RSA_MAX);
    return rc;
}
