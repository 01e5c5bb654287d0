/* hsm_wrap: BYOK import. An RSA-OAEP-wrapped ephemeral AES key and an
 * AES-KWP-wrapped target key are unwrapped on the token in two
 * C_UnwrapKey steps; the target lands in a sensitive, non-extractable
 * token object and no key byte passes through this process. */
#include "hsm_internal.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "coffer/log.h"

typedef struct {
    const cf_hsm_id_t     *wrapping;
    CK_MECHANISM_TYPE      hash;
    CK_RSA_PKCS_MGF_TYPE   mgf;
    const unsigned char   *wrapped;
    size_t                 wrapped_len;
    bool                   hmac;
    CK_ULONG               bytes;
    const char            *label;
    cf_hsm_id_t            id;
} cf_hsm_import_arg_t;

/* Length of the wrapping key's modulus in bytes, from the private key. */
static cf_err_t
cf_hsm_wrap_modlen(cf_hsm_call_t *c, CK_OBJECT_HANDLE o, size_t *out)
{
    CK_BYTE       mod[1024];
    CK_ATTRIBUTE  at = { CKA_MODULUS, mod, sizeof(mod) };
    CK_RV         rv;

    rv = c->h->f->C_GetAttributeValue(c->s, o, &at, 1);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GetAttributeValue", rv);
    *out = at.ulValueLen;
    return CF_OK;
}

static cf_err_t
cf_hsm_import_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_import_arg_t      *a = arg;
    cf_hsm_t                 *h = c->h;
    CK_FUNCTION_LIST_PTR      f = h->f;
    CK_RSA_PKCS_OAEP_PARAMS   oaep;
    CK_MECHANISM              m1 = { CKM_RSA_PKCS_OAEP, &oaep,
                                     sizeof(oaep) };
    CK_MECHANISM              m2 = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
    CK_OBJECT_CLASS           cls = CKO_SECRET_KEY;
    CK_KEY_TYPE               aes_kt = CKK_AES;
    CK_KEY_TYPE               kt = a->hmac ? CKK_GENERIC_SECRET : CKK_AES;
    CK_BBOOL                  yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL                  enc = a->hmac ? CK_FALSE : CK_TRUE;
    CK_BBOOL                  mac = a->hmac ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE              eph_tmpl[] = {
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
    };
    /* SoftHSM refuses CKA_MODIFIABLE in an unwrap template
     * (CKR_ATTRIBUTE_READ_ONLY), so imported keys keep its default. */
    CK_ATTRIBUTE              tmpl[] = {
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
    CK_OBJECT_HANDLE          wobj, wuse, eph = CK_INVALID_HANDLE, o;
    size_t                    modlen = 0;
    CK_RV                     rv;
    cf_err_t                  rc;

    if ((rc = cf_hsm_key_handles(c, a->wrapping, &wobj, &wuse)) != CF_OK)
        return rc;
    if ((rc = cf_hsm_wrap_modlen(c, wobj, &modlen)) != CF_OK)
        return rc;
    /* RFC 5649 output is the key padded to 8 bytes plus 8: an authentic
     * blob of this length holds a key of the size the type says. (SoftHSM
     * keeps no CKA_VALUE_LEN on unwrapped keys to check afterwards.) */
    if (a->wrapped_len != modlen + (a->bytes + 7) / 8 * 8 + 8) {
        cf_log_warn("hsm", "key import: %lu bytes do not hold a wrapped "
                    "key of %lu bytes", (unsigned long) a->wrapped_len,
                    (unsigned long) a->bytes);
        return CF_ERR_INVALID;
    }
    memset(&oaep, 0, sizeof(oaep));
    oaep.hashAlg = a->hash;
    oaep.mgf = a->mgf;
    oaep.source = CKZ_DATA_SPECIFIED;
    rv = f->C_GenerateRandom(c->s, a->id.b, CF_HSM_ID_LEN);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateRandom", rv);
    pthread_mutex_lock(&h->obj_mu);
    rv = f->C_UnwrapKey(c->s, &m1, wuse, (CK_BYTE_PTR) a->wrapped, modlen,
                        eph_tmpl, sizeof(eph_tmpl) / sizeof(eph_tmpl[0]),
                        &eph);
    if (rv != CKR_OK)
        cf_log_debug("hsm", "key import: RSA-OAEP step: 0x%lx",
                     (unsigned long) rv);
    if (rv == CKR_OK)
        rv = f->C_UnwrapKey(c->s, &m2, eph,
                            (CK_BYTE_PTR) a->wrapped + modlen,
                            a->wrapped_len - modlen, tmpl,
                            sizeof(tmpl) / sizeof(tmpl[0]), &o);
    else
        eph = CK_INVALID_HANDLE;
    if (eph != CK_INVALID_HANDLE)
        f->C_DestroyObject(c->s, eph);
    pthread_mutex_unlock(&h->obj_mu);
    switch (rv) {
    case CKR_OK:
        return CF_OK;
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_GENERAL_ERROR:         /* SoftHSM: OAEP or KWP check failed */
    case CKR_FUNCTION_FAILED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_ARGUMENTS_BAD:         /* SoftHSM 2.6: OAEP hash not SHA-1 */
        cf_log_warn("hsm", "key import: C_UnwrapKey refused the "
                    "ciphertext (0x%lx)", (unsigned long) rv);
        return CF_ERR_INVALID;
    default:
        return cf_hsm_call_fail(c, "C_UnwrapKey", rv);
    }
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
    switch (EVP_MD_get_type(oaep_md)) {
    case NID_sha1:
        a.hash = CKM_SHA_1;
        a.mgf = CKG_MGF1_SHA1;
        break;
    case NID_sha224:
        a.hash = CKM_SHA224;
        a.mgf = CKG_MGF1_SHA224;
        break;
    case NID_sha256:
        a.hash = CKM_SHA256;
        a.mgf = CKG_MGF1_SHA256;
        break;
    case NID_sha384:
        a.hash = CKM_SHA384;
        a.mgf = CKG_MGF1_SHA384;
        break;
    case NID_sha512:
        a.hash = CKM_SHA512;
        a.mgf = CKG_MGF1_SHA512;
        break;
    default:
        return CF_ERR_INVALID;
    }
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
