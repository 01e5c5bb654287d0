/*
 * pki_sec1: an EC private key as SEC1 DER (RFC 5915 ECPrivateKey), built
 * from the key's parameters.
 *
 * Why not i2d_PrivateKey: in OpenSSL 3.0 every i2d/PEM of a provider key
 * sets up an OSSL_ENCODER context first, ~40 us per call here, as much as
 * generating the key. issue/ returns one private key per certificate, so
 * this writes the fixed structure directly. The output is byte for byte
 * what OpenSSL writes (test_pki_sec1 compares them).
 *
 *   ECPrivateKey ::= SEQUENCE {
 *     version        INTEGER 1,
 *     privateKey     OCTET STRING (the scalar, field-size bytes),
 *     parameters [0] EXPLICIT OBJECT IDENTIFIER (the named curve),
 *     publicKey  [1] EXPLICIT BIT STRING (the uncompressed point) }
 */
#include "pki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <string.h>

typedef struct {
    const char           *name;         /* OSSL group name */
    size_t                field;        /* scalar bytes */
    const unsigned char  *oid;          /* DER of the OID, tag included */
    size_t                oid_len;
} cf_pki_sec1_curve_t;

static const unsigned char  cf_pki_oid_p256[] = {
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char  cf_pki_oid_p384[] = {
    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char  cf_pki_oid_p521[] = {
    0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };

static const cf_pki_sec1_curve_t  cf_pki_sec1_curves[] = {
    { "prime256v1", 32, cf_pki_oid_p256, sizeof(cf_pki_oid_p256) },
    { "secp384r1",  48, cf_pki_oid_p384, sizeof(cf_pki_oid_p384) },
    { "secp521r1",  66, cf_pki_oid_p521, sizeof(cf_pki_oid_p521) },
};

/* Tag and DER length of a value of len bytes at *p; returns bytes
 * written. Lengths here stay below 64 KiB. */
static size_t
cf_pki_sec1_hdr(unsigned char *p, unsigned char tag, size_t len)
{
    p[0] = tag;
    if (len < 0x80) {
        p[1] = (unsigned char) len;
        return 2;
    }
    if (len < 0x100) {
        p[1] = 0x81;
        p[2] = (unsigned char) len;
        return 3;
    }
    p[1] = 0x82;
    p[2] = (unsigned char) (len >> 8);
    p[3] = (unsigned char) len;
    return 4;
}

static size_t
cf_pki_sec1_hdr_len(size_t len)
{
    return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

cf_err_t
cf_pki_sec1_der(EVP_PKEY *k, unsigned char **out, size_t *out_len)
{
    const cf_pki_sec1_curve_t  *c = NULL;
    char                        group[32];
    unsigned char               pub[1 + 2 * 66], *der = NULL, *p;
    BIGNUM                     *priv = NULL;
    size_t                      pub_len = 0, i, bits, pk, body, total;
    cf_err_t                    rc = CF_ERR_INVALID;

    *out = NULL;
    *out_len = 0;
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC
        || EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
                                          group, sizeof(group), NULL) != 1)
        return CF_ERR_INVALID;
    for (i = 0; i < sizeof(cf_pki_sec1_curves) / sizeof(*c); i++) {
        if (strcmp(group, cf_pki_sec1_curves[i].name) == 0)
            c = &cf_pki_sec1_curves[i];
    }
    if (c == NULL
        || EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                           sizeof(pub), &pub_len) != 1
        || pub_len != 1 + 2 * c->field || pub[0] != 0x04
        || EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1)
        goto out;
    bits = 1 + pub_len;                                 /* BIT STRING */
    pk = cf_pki_sec1_hdr_len(bits) + bits;              /* [1] content */
    body = 3                                            /* version */
           + 2 + c->field                               /* OCTET STRING */
           + 2 + c->oid_len                             /* [0] */
           + cf_pki_sec1_hdr_len(pk) + pk;              /* [1] */
    total = cf_pki_sec1_hdr_len(body) + body;
    rc = CF_ERR_NOMEM;
    if ((der = OPENSSL_secure_malloc(total)) == NULL)
        goto out;
    p = der;
    p += cf_pki_sec1_hdr(p, 0x30, body);
    *p++ = 0x02; *p++ = 0x01; *p++ = 0x01;
    p += cf_pki_sec1_hdr(p, 0x04, c->field);
    rc = CF_ERR_INTERNAL;
    if (BN_bn2binpad(priv, p, (int) c->field) != (int) c->field)
        goto out;
    p += c->field;
    p += cf_pki_sec1_hdr(p, 0xa0, c->oid_len);
    memcpy(p, c->oid, c->oid_len);
    p += c->oid_len;
    p += cf_pki_sec1_hdr(p, 0xa1, pk);
    p += cf_pki_sec1_hdr(p, 0x03, bits);
    *p++ = 0x00;                                        /* unused bits */
    memcpy(p, pub, pub_len);
    p += pub_len;
    if ((size_t) (p - der) != total)
        goto out;
    *out = der;
    *out_len = total;
    der = NULL;
    rc = CF_OK;
out:
    if (der != NULL)
        OPENSSL_secure_clear_free(der, total);
    BN_clear_free(priv);
    return rc;
}
