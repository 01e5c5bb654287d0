/* hsm_wrap: BYOK import. The RSA-OAEP part gives the one-time transport
 * (ephemeral) AES key: raw RSA on the token, OAEP check here (hsm_rsa.c:
 * SoftHSM 2.6.1's own OAEP is SHA-1 only, Vault's default is SHA-256).
 * That key goes straight back onto the token as a session object and is
 * wiped here; the token then unwraps the AES-KWP part with it into a
 * sensitive, non-extractable token object. The imported key itself never
 * enters this process; the transport key does, for a few calls. */
#include "hsm_internal.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "coffer/log.h"

#define CF_HSM_TRANSPORT_KEY  32    /* Vault: an ephemeral AES-256 key */

typedef struct {
    const cf_hsm_id_t     *wrapping;
    const EVP_MD          *md;
    const unsigned char   *wrapped;
    size_t                 wrapped_len;
    bool                   hmac;
    CK_ULONG               bytes;
    const char            *label;
    cf_hsm_id_t            id;
} cf_hsm_import_arg_t;

static cf_err_t
cf_hsm_import_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_import_arg_t  *a = arg;
    cf_hsm_t             *h = c->h;
    CK_FUNCTION_LIST_PTR  f = h->f;
    CK_MECHANISM          kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
    CK_OBJECT_CLASS       cls = CKO_SECRET_KEY;
    CK_KEY_TYPE           aes_kt = CKK_AES;
    CK_KEY_TYPE           kt = a->hmac ? CKK_GENERIC_SECRET : CKK_AES;
    CK_BBOOL              yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL              enc = a->hmac ? CK_FALSE : CK_TRUE;
    CK_BBOOL              mac = a->hmac ? CK_TRUE : CK_FALSE;
    unsigned char         eph[CF_HSM_RSA_MAX], rnd[CF_HSM_TRANSPORT_KEY];
    CK_ATTRIBUTE          eph_tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &aes_kt, sizeof(aes_kt) },
        { CKA_TOKEN, &no, sizeof(no) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_UNWRAP, &yes, sizeof(yes) },
        { CKA_WRAP, &no, sizeof(no) },
        { CKA_ENCRYPT, &no, sizeof(no) },
        { CKA_DECRYPT, &no, sizeof(no) },
        { CKA_SIGN, &no, sizeof(no) },
        { CKA_VERIFY, &no, sizeof(no) },
        { CKA_DERIVE, &no, sizeof(no) },
        { CKA_VALUE, eph, CF_HSM_TRANSPORT_KEY },
    };
    /* SoftHSM refuses CKA_MODIFIABLE in an unwrap template
     * (CKR_ATTRIBUTE_READ_ONLY), so imported keys keep its default. */
    CK_ATTRIBUTE          tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_LABEL, (void *) a->label, strlen(a->label) },
        { CKA_ID, a->id.b, CF_HSM_ID_LEN },
        { CKA_ENCRYPT, &enc, sizeof(enc) },
        { CKA_DECRYPT, &enc, sizeof(enc) },
        { CKA_SIGN, &mac, sizeof(mac) },
        { CKA_VERIFY, &mac, sizeof(mac) },
        { CKA_WRAP, &no, sizeof(no) },
        { CKA_UNWRAP, &no, sizeof(no) },
        { CKA_DERIVE, &no, sizeof(no) },
    };
    CK_OBJECT_HANDLE      wobj, wuse, tk = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE      o = CK_INVALID_HANDLE;
    size_t                modlen = 0, eph_len = 0;
    bool                  rejected;
    CK_RV                 rv;
    cf_err_t              rc;

    if ((rc = cf_hsm_rsa_key(c, a->wrapping, &wobj, &wuse, &modlen))
        != CF_OK)
        return rc;
    /* RFC 5649 output is the key padded to 8 bytes plus 8: an authentic
     * blob of this length holds a key of the size the type says. (SoftHSM
     * keeps no CKA_VALUE_LEN on unwrapped keys to check afterwards.) */
    if (a->wrapped_len != modlen + (a->bytes + 7) / 8 * 8 + 8)
        return CF_ERR_CRYPTO;
    rv = f->C_GenerateRandom(c->s, a->id.b, CF_HSM_ID_LEN);
    if (rv == CKR_OK)
        rv = f->C_GenerateRandom(c->s, rnd, sizeof(rnd));
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateRandom", rv);
    rc = cf_hsm_rsa_oaep_open(c, wobj, wuse, modlen, a->md, a->wrapped,
                              modlen, eph, &eph_len);
    /* Implicit rejection: a bad RSA-OAEP part goes on with a random
     * transport key, whose KWP unwrap then fails like that of a bad KWP
     * part. One error, and no shorter path to time. */
    rejected = rc == CF_ERR_CRYPTO
               || (rc == CF_OK && eph_len != CF_HSM_TRANSPORT_KEY);
    if (rejected) {
        memcpy(eph, rnd, sizeof(rnd));
        rc = CF_OK;
    }
    OPENSSL_cleanse(rnd, sizeof(rnd));
    if (rc != CF_OK)
        goto out;
    pthread_mutex_lock(&h->obj_mu);
    rv = f->C_CreateObject(c->s, eph_tmpl,
                           sizeof(eph_tmpl) / sizeof(eph_tmpl[0]), &tk);
    OPENSSL_cleanse(eph, sizeof(eph));   /* on the token now, or nowhere */
    if (rv != CKR_OK) {
        pthread_mutex_unlock(&h->obj_mu);
        rc = cf_hsm_call_fail(c, "C_CreateObject", rv);
        goto out;
    }
    rv = f->C_UnwrapKey(c->s, &kwp, tk, (CK_BYTE_PTR) a->wrapped + modlen,
                        a->wrapped_len - modlen, tmpl,
                        sizeof(tmpl) / sizeof(tmpl[0]), &o);
    f->C_DestroyObject(c->s, tk);
    if (rv == CKR_OK && rejected) {     /* a 2^-64 fluke; still refused */
        f->C_DestroyObject(c->s, o);
        rv = CKR_WRAPPED_KEY_INVALID;
    }
    pthread_mutex_unlock(&h->obj_mu);
    switch (rv) {
    case CKR_OK:
        rc = CF_OK;
        break;
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_GENERAL_ERROR:         /* SoftHSM: KWP integrity check */
    case CKR_FUNCTION_FAILED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_ATTRIBUTE_VALUE_INVALID:
        rc = CF_ERR_CRYPTO;
        break;
    default:
        rc = cf_hsm_call_fail(c, "C_UnwrapKey", rv);
        break;
    }
out:
    OPENSSL_cleanse(eph, sizeof(eph));
    if (rc == CF_ERR_CRYPTO)
        cf_log_warn("hsm", "key import: the ciphertext did not unwrap");
    return rc;
}

cf_err_t
cf_hsm_import_secret(cf_hsm_t *h, const cf_hsm_id_t *wrapping_key,
                     const EVP_MD *oaep_md, const void *wrapped,
                     size_t wrapped_len, bool hmac, size_t key_bytes,
                     const char *label, cf_hsm_id_t *id_out)
{
    cf_hsm_import_arg_t  a;
    cf_err_t             rc;

    memset(id_out, 0, sizeof(*id_out));
    if (h == NULL || wrapping_key == NULL || oaep_md == NULL
        || wrapped == NULL || label == NULL || *label == '\0'
        || wrapped_len > 64 * 1024
        || (hmac && (key_bytes < 16 || key_bytes > 512))
        || (!hmac && key_bytes != 16 && key_bytes != 32))
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    switch (EVP_MD_get_type(oaep_md)) {   /* Vault's list */
    case NID_sha1:
    case NID_sha224:
    case NID_sha256:
    case NID_sha384:
    case NID_sha512:
        break;
    default:
        return CF_ERR_INVALID;
    }
    a.md = oaep_md;
    a.wrapping = wrapping_key;
    a.wrapped = wrapped;
    a.wrapped_len = wrapped_len;
    a.hmac = hmac;
    a.bytes = key_bytes;
    a.label = label;
    rc = cf_hsm_run(h, "import key", cf_hsm_import_op, &a);
    if (rc == CF_OK)
        *id_out = a.id;
    return rc;
}
