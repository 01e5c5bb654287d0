/* hsm_wrap: BYOK import. The RSA-OAEP part gives the one-time transport
 * (ephemeral) AES key: raw RSA on the token, OAEP check here (hsm_rsa.c:
 * SoftHSM 2.6.1's own OAEP is SHA-1 only, Vault's default is SHA-256).
 * That key goes straight back onto the token as a session object and is
 * wiped here; the token then unwraps the AES-KWP part with it into a
 * sensitive, non-extractable token object. The imported key itself never
 * enters this process; the transport key does, for a few calls.
 *
 * RSA keys come as PKCS#8 DER (Vault's format), which SoftHSM parses as
 * it unwraps into a private-key object; the public half is then made
 * from the private object's public attributes. EC and Ed25519 are not
 * offered: SoftHSM 2.6.1 unwraps a PKCS#8 EC key without CKA_EC_POINT
 * (CKR_ATTRIBUTE_TYPE_INVALID when read), so there is no public key to
 * publish, and an Ed25519 unwrap fails (CKR_FUNCTION_FAILED). */
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
    bool                   rsa;         /* RSA private key, else secret */
    bool                   hmac;
    CK_ULONG               bytes;
    const char            *label;
    cf_hsm_id_t            id;
    size_t                 bits;        /* RSA: modulus bits */
} cf_hsm_import_arg_t;

/* Largest KWP part of an RSA import: PKCS#8 of RSA-4096 is ~2.4 KB. */
#define CF_HSM_IMPORT_RSA_MAX  (8 * 1024)

/* The public half of the RSA private key o, unwrapped just now: its
 * modulus and exponent are public attributes, so they are read and a
 * token public-key object with the same CKA_ID and label is made, as
 * cf_hsm_pair_generate leaves one. CF_ERR_TOO_LARGE for a modulus longer
 * than CF_HSM_RSA_MAX. Under obj_mu. */
static cf_err_t
cf_hsm_import_rsa_public_locked(cf_hsm_call_t *c, CK_OBJECT_HANDLE o,
                                cf_hsm_import_arg_t *a)
{
    CK_FUNCTION_LIST_PTR  f = c->h->f;
    CK_OBJECT_CLASS       cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE           kt = CKK_RSA;
    CK_BBOOL              yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL              modifiable = CF_HSM_KEY_MODIFIABLE;
    CK_BYTE               mod[CF_HSM_RSA_MAX], exp[16];
    CK_ATTRIBUTE          at[] = {
        { CKA_MODULUS, mod, sizeof(mod) },
        { CKA_PUBLIC_EXPONENT, exp, sizeof(exp) },
    };
    CK_OBJECT_HANDLE      po = CK_INVALID_HANDLE;
    CK_RV                 rv;
    size_t                bits;
    unsigned char         top;

    rv = f->C_GetAttributeValue(c->s, o, at, 2);
    if (rv == CKR_BUFFER_TOO_SMALL)
        return CF_ERR_TOO_LARGE;
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GetAttributeValue", rv);
    if (at[0].ulValueLen == 0 || at[1].ulValueLen == 0)
        return CF_ERR_CRYPTO;
    bits = at[0].ulValueLen * 8;
    for (top = mod[0]; bits > 0 && (top & 0x80) == 0; top <<= 1)
        bits--;
    {
        CK_ATTRIBUTE  tmpl[] = {
            { CKA_CLASS, &cls, sizeof(cls) },
            { CKA_KEY_TYPE, &kt, sizeof(kt) },
            { CKA_TOKEN, &yes, sizeof(yes) },
            { CKA_PRIVATE, &no, sizeof(no) },
            { CKA_MODIFIABLE, &modifiable, sizeof(modifiable) },
            { CKA_LABEL, (void *) a->label, strlen(a->label) },
            { CKA_ID, a->id.b, CF_HSM_ID_LEN },
            { CKA_VERIFY, &yes, sizeof(yes) },
            { CKA_WRAP, &no, sizeof(no) },
            { CKA_ENCRYPT, &yes, sizeof(yes) },
            { CKA_DERIVE, &no, sizeof(no) },
            { CKA_MODULUS, mod, at[0].ulValueLen },
            { CKA_PUBLIC_EXPONENT, exp, at[1].ulValueLen },
        };

        rv = f->C_CreateObject(c->s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]),
                               &po);
    }
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_CreateObject", rv);
    a->bits = bits;
    return CF_OK;
}

static cf_err_t
cf_hsm_import_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_import_arg_t  *a = arg;
    cf_hsm_t             *h = c->h;
    CK_FUNCTION_LIST_PTR  f = h->f;
    CK_MECHANISM          kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
    CK_OBJECT_CLASS       cls = CKO_SECRET_KEY;
    CK_OBJECT_CLASS       prv_cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE           aes_kt = CKK_AES, rsa_kt = CKK_RSA;
    CK_KEY_TYPE           kt = a->hmac ? CKK_GENERIC_SECRET : CKK_AES;
    CK_BBOOL              yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL              enc = a->hmac ? CK_FALSE : CK_TRUE;
    CK_BBOOL              mac = a->hmac ? CK_TRUE : CK_FALSE;
    CK_BBOOL              modifiable = CF_HSM_KEY_MODIFIABLE;
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
    /* The private half of a transit RSA pair, as cf_hsm_pair_generate
     * makes it (CF_HSM_PAIR_SIGN_DECRYPT). SoftHSM 2.6.1 takes
     * CKA_MODIFIABLE in a private-key unwrap template, so it is the
     * project's choice here. */
    CK_ATTRIBUTE          rsa_tmpl[] = {
        { CKA_CLASS, &prv_cls, sizeof(prv_cls) },
        { CKA_KEY_TYPE, &rsa_kt, sizeof(rsa_kt) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_MODIFIABLE, &modifiable, sizeof(modifiable) },
        { CKA_LABEL, (void *) a->label, strlen(a->label) },
        { CKA_ID, a->id.b, CF_HSM_ID_LEN },
        { CKA_SIGN, &yes, sizeof(yes) },
        { CKA_DECRYPT, &yes, sizeof(yes) },
        { CKA_UNWRAP, &no, sizeof(no) },
        { CKA_DERIVE, &no, sizeof(no) },
        { CKA_SIGN_RECOVER, &no, sizeof(no) },
    };
    CK_OBJECT_HANDLE      wobj, wuse, tk = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE      o = CK_INVALID_HANDLE;
    size_t                modlen = 0, eph_len = 0, kwp_len;
    bool                  rejected;
    CK_RV                 rv;
    cf_err_t              rc;

    if ((rc = cf_hsm_rsa_key(c, a->wrapping, &wobj, &wuse, &modlen))
        != CF_OK)
        return rc;
    if (a->wrapped_len < modlen + 16)
        return CF_ERR_CRYPTO;
    kwp_len = a->wrapped_len - modlen;
    /* RFC 5649 output is the key padded to 8 bytes plus 8: an authentic
     * blob of this length holds a key of the size the type says. (SoftHSM
     * keeps no CKA_VALUE_LEN on unwrapped keys to check afterwards.) An
     * RSA key's PKCS#8 length varies; its size is checked once it is on
     * the token. */
    if (a->rsa ? kwp_len % 8 != 0 || kwp_len > CF_HSM_IMPORT_RSA_MAX
               : kwp_len != (a->bytes + 7) / 8 * 8 + 8)
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
    /* The RSA target is PKCS#8 DER; the token parses it as it unwraps,
     * so the private key is never in this process either. */
    if (a->rsa)
        rv = f->C_UnwrapKey(c->s, &kwp, tk,
                            (CK_BYTE_PTR) a->wrapped + modlen, kwp_len,
                            rsa_tmpl, sizeof(rsa_tmpl) / sizeof(rsa_tmpl[0]),
                            &o);
    else
        rv = f->C_UnwrapKey(c->s, &kwp, tk,
                            (CK_BYTE_PTR) a->wrapped + modlen, kwp_len,
                            tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &o);
    f->C_DestroyObject(c->s, tk);
    if (rv == CKR_OK && rejected) {     /* a 2^-64 fluke; still refused */
        f->C_DestroyObject(c->s, o);
        rv = CKR_WRAPPED_KEY_INVALID;
    }
    rc = CF_OK;
    if (rv == CKR_OK && a->rsa
        && (rc = cf_hsm_import_rsa_public_locked(c, o, a)) != CF_OK)
        f->C_DestroyObject(c->s, o);
    pthread_mutex_unlock(&h->obj_mu);
    switch (rv) {
    case CKR_OK:
        break;
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_GENERAL_ERROR:         /* SoftHSM: KWP integrity check */
    case CKR_FUNCTION_FAILED:       /* SoftHSM: PKCS#8 of another type */
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

static bool
cf_hsm_import_md_ok(const EVP_MD *md)
{
    switch (EVP_MD_get_type(md)) {   /* Vault's list */
    case NID_sha1:
    case NID_sha224:
    case NID_sha256:
    case NID_sha384:
    case NID_sha512:
        return true;
    default:
        return false;
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
    if (!cf_hsm_import_md_ok(oaep_md))
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
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

cf_err_t
cf_hsm_import_rsa(cf_hsm_t *h, const cf_hsm_id_t *wrapping_key,
                  const EVP_MD *oaep_md, const void *wrapped,
                  size_t wrapped_len, const char *label,
                  cf_hsm_id_t *id_out, size_t *bits_out)
{
    cf_hsm_import_arg_t  a;
    cf_err_t             rc;

    memset(id_out, 0, sizeof(*id_out));
    *bits_out = 0;
    if (h == NULL || wrapping_key == NULL || oaep_md == NULL
        || wrapped == NULL || label == NULL || *label == '\0'
        || wrapped_len > 64 * 1024 || !cf_hsm_import_md_ok(oaep_md))
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    a.md = oaep_md;
    a.wrapping = wrapping_key;
    a.wrapped = wrapped;
    a.wrapped_len = wrapped_len;
    a.rsa = true;
    a.label = label;
    rc = cf_hsm_run(h, "import RSA key", cf_hsm_import_op, &a);
    if (rc == CF_OK) {
        *id_out = a.id;
        *bits_out = a.bits;
    }
    return rc;
}
