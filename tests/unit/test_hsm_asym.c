/* test_hsm_asym: key pairs, signing, sized secret keys, HMAC and BYOK
 * import on a real SoftHSM token. Signatures are checked with OpenSSL
 * against the public key the layer exports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/hsm.h"
#include "coffer/mem.h"
#include "helpers.h"

#define CF_TEST_LABEL  "coffer-unit-asym"
#define CF_TEST_PIN    "1234"

static cf_test_token_t  cf_test_tok;

/* Under LeakSanitizer: SoftHSM 2.6.1 leaks ~40-60 bytes inside C_SignInit
 * of every Ed25519 signature (its own d2i; ECDSA and RSA do not). The
 * suppression names our frame above the module, which only a full unwind
 * at malloc time records. */
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);

const char *
__lsan_default_suppressions(void)
{
    return "leak:cf_hsm_sign_op\n";
}

const char *
__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

static int
cf_test_group_setup(void **state)
{
    (void) state;
    cf_mem_init();
    return cf_test_token_make(&cf_test_tok, CF_TEST_LABEL, CF_TEST_PIN);
}

static int
cf_test_group_teardown(void **state)
{
    (void) state;
    cf_test_token_remove(&cf_test_tok);
    return 0;
}

static int
cf_test_setup(void **state)
{
    cf_hsm_t  *h = cf_test_hsm_open(CF_TEST_LABEL, CF_TEST_PIN);

    *state = h;
    return h != NULL ? 0 : -1;
}

static int
cf_test_teardown(void **state)
{
    cf_hsm_close(*state);
    return 0;
}

/* Verify sig over msg with pub: digest md (NULL for Ed25519), PSS salt
 * (-2 = auto) or PKCS#1 when salt < -2. */
static int
cf_test_verify(EVP_PKEY *pub, const EVP_MD *md, int pad, int salt,
               const unsigned char *msg, size_t n, const unsigned char *sig,
               size_t sl)
{
    EVP_MD_CTX    *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX  *pctx = NULL;
    int            ok;

    assert_non_null(ctx);
    assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pub), 1);
    if (pad != 0) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, pad);
        if (pad == RSA_PKCS1_PSS_PADDING)
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt);
    }
    ok = EVP_DigestVerify(ctx, sig, sl, msg, n);
    EVP_MD_CTX_free(ctx);
    return ok;
}

static void
cf_test_check_sensitive(cf_hsm_t *h, const cf_hsm_id_t *id)
{
    cf_hsm_key_info_t  info;

    assert_int_equal(cf_hsm_key_info(h, id, &info), CF_OK);
    assert_true(info.sensitive);
    assert_false(info.extractable);
    assert_true(info.token);
    assert_true(info.is_private);
}

static void
cf_test_ec(void **state)
{
    static const struct {
        cf_hsm_pair_type_t  t;
        const char         *md;
    } cases[] = {
        { CF_HSM_PAIR_EC_P256, "SHA256" },
        { CF_HSM_PAIR_EC_P384, "SHA384" },
        { CF_HSM_PAIR_EC_P521, "SHA512" },
    };
    cf_hsm_t             *h = *state;
    const unsigned char   msg[] = "the quick brown fox";
    unsigned char         dig[64], sig[CF_HSM_SIG_MAX];
    unsigned int          dl;
    size_t                sl, i;
    cf_hsm_id_t           id;
    EVP_PKEY             *pub;
    cf_hsm_sign_opts_t    o = { .alg = CF_HSM_SIG_ECDSA };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const EVP_MD  *md = EVP_get_digestbyname(cases[i].md);

        assert_int_equal(cf_hsm_pair_generate(h, cases[i].t,
                                              CF_HSM_PAIR_SIGN, "t/ec",
                                              &id), CF_OK);
        cf_test_check_sensitive(h, &id);
        assert_int_equal(cf_hsm_pair_public(h, &id, &pub), CF_OK);
        assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
        EVP_Digest(msg, sizeof(msg), dig, &dl, md, NULL);
        o.ecdsa_raw = false;
        assert_int_equal(cf_hsm_sign(h, &id, &o, dig, dl, sig, &sl), CF_OK);
        assert_int_equal(sig[0], 0x30);            /* DER SEQUENCE */
        assert_int_equal(cf_test_verify(pub, md, 0, 0, msg, sizeof(msg),
                                        sig, sl), 1);
        sig[sl - 1] ^= 1;
        assert_int_not_equal(cf_test_verify(pub, md, 0, 0, msg,
                                            sizeof(msg), sig, sl), 1);
        o.ecdsa_raw = true;
        assert_int_equal(cf_hsm_sign(h, &id, &o, dig, dl, sig, &sl), CF_OK);
        assert_int_equal(sl % 2, 0);
        EVP_PKEY_free(pub);
        assert_int_equal(cf_hsm_pair_destroy(h, &id), CF_OK);
        assert_int_equal(cf_hsm_pair_destroy(h, &id), CF_ERR_NOT_FOUND);
        assert_int_equal(cf_hsm_pair_public(h, &id, &pub), CF_ERR_NOT_FOUND);
    }
}

static void
cf_test_ed25519(void **state)
{
    cf_hsm_t             *h = *state;
    const unsigned char   msg[] = "an Ed25519 message";
    unsigned char         sig[CF_HSM_SIG_MAX];
    size_t                sl;
    cf_hsm_id_t           id;
    EVP_PKEY             *pub;
    cf_hsm_sign_opts_t    o = { .alg = CF_HSM_SIG_EDDSA };

    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_ED25519,
                                          CF_HSM_PAIR_SIGN, "t/ed", &id),
                     CF_OK);
    cf_test_check_sensitive(h, &id);
    assert_int_equal(cf_hsm_pair_public(h, &id, &pub), CF_OK);
    assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_ED25519);
    assert_int_equal(cf_hsm_sign(h, &id, &o, msg, sizeof(msg), sig, &sl),
                     CF_OK);
    assert_int_equal(sl, 64);
    assert_int_equal(cf_test_verify(pub, NULL, 0, 0, msg, sizeof(msg), sig,
                                    sl), 1);
    EVP_PKEY_free(pub);
    assert_int_equal(cf_hsm_pair_destroy(h, &id), CF_OK);
}

static void
cf_test_rsa(void **state)
{
    cf_hsm_t             *h = *state;
    const unsigned char   msg[] = "an RSA message";
    unsigned char         dig[64], sig[CF_HSM_SIG_MAX];
    unsigned int          dl;
    size_t                sl;
    cf_hsm_id_t           id;
    EVP_PKEY             *pub;
    const EVP_MD         *md = EVP_sha256();
    cf_hsm_sign_opts_t    o = { .alg = CF_HSM_SIG_RSA_PKCS1, .md = md };

    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_RSA2048,
                                          CF_HSM_PAIR_SIGN, "t/rsa", &id),
                     CF_OK);
    cf_test_check_sensitive(h, &id);
    assert_int_equal(cf_hsm_pair_public(h, &id, &pub), CF_OK);
    assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
    EVP_Digest(msg, sizeof(msg), dig, &dl, md, NULL);
    assert_int_equal(cf_hsm_sign(h, &id, &o, dig, dl, sig, &sl), CF_OK);
    assert_int_equal(sl, 256);
    assert_int_equal(cf_test_verify(pub, md, RSA_PKCS1_PADDING, 0, msg,
                                    sizeof(msg), sig, sl), 1);
    o.alg = CF_HSM_SIG_RSA_PSS;
    o.salt_len = 32;
    assert_int_equal(cf_hsm_sign(h, &id, &o, dig, dl, sig, &sl), CF_OK);
    assert_int_equal(cf_test_verify(pub, md, RSA_PKCS1_PSS_PADDING, 32, msg,
                                    sizeof(msg), sig, sl), 1);
    o.salt_len = CF_HSM_PSS_SALT_MAX;
    assert_int_equal(cf_hsm_sign(h, &id, &o, dig, dl, sig, &sl), CF_OK);
    assert_int_equal(cf_test_verify(pub, md, RSA_PKCS1_PSS_PADDING,
                                    RSA_PSS_SALTLEN_AUTO, msg, sizeof(msg),
                                    sig, sl), 1);
    assert_int_equal(cf_test_verify(pub, md, RSA_PKCS1_PSS_PADDING, 222,
                                    msg, sizeof(msg), sig, sl), 1);
    EVP_PKEY_free(pub);
    assert_int_equal(cf_hsm_pair_destroy(h, &id), CF_OK);
}

static void
cf_test_secret_hmac(void **state)
{
    cf_hsm_t       *h = *state;
    cf_hsm_id_t     id;
    unsigned char   out[EVP_MAX_MD_SIZE], out2[EVP_MAX_MD_SIZE];
    size_t          n = 0, n2 = 0;

    assert_int_equal(cf_hsm_secret_generate(h, true, 64, "t/mac", &id),
                     CF_OK);
    cf_test_check_sensitive(h, &id);
    assert_int_equal(cf_hsm_hmac(h, &id, EVP_sha512(), "abc", 3, out, &n),
                     CF_OK);
    assert_int_equal(n, 64);
    assert_int_equal(cf_hsm_hmac(h, &id, EVP_sha224(), "abc", 3, out2, &n2),
                     CF_OK);
    assert_int_equal(n2, 28);
    assert_int_equal(cf_hsm_hmac(h, &id, EVP_sha3_256(), "abc", 3, out2,
                                 &n2), CF_ERR_INVALID);
    assert_int_equal(cf_hsm_secret_generate(h, false, 16, "t/aes", &id),
                     CF_OK);
    /* An AES key cannot HMAC. */
    assert_int_equal(cf_hsm_hmac(h, &id, EVP_sha256(), "abc", 3, out, &n),
                     CF_ERR_INVALID);
    assert_int_equal(cf_hsm_secret_generate(h, false, 17, "t/aes", &id),
                     CF_ERR_INVALID);
}

/* RSA-OAEP with md (OAEP and MGF1) under pub, as a client would. */
static size_t
cf_test_oaep(EVP_PKEY *pub, const EVP_MD *md, const void *in, size_t n,
             unsigned char *out)
{
    EVP_PKEY_CTX  *pc = EVP_PKEY_CTX_new(pub, NULL);
    size_t         wl = CF_HSM_RSA_MAX;

    assert_non_null(pc);
    assert_int_equal(EVP_PKEY_encrypt_init(pc), 1);
    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(pc, md);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md);
    assert_int_equal(EVP_PKEY_encrypt(pc, out, &wl, in, n), 1);
    EVP_PKEY_CTX_free(pc);
    return wl;
}

/* RSA-OAEP decryption on the token: SHA-256 (which SoftHSM's own OAEP
 * refuses) round-trips; a key made for signing only (as before RSA keys
 * decrypted), already used so it has a session copy, is given
 * CKA_DECRYPT on first use; bad input of any kind is CF_ERR_CRYPTO. */
static void
cf_test_rsa_oaep(void **state)
{
    cf_hsm_t       *h = *state;
    cf_hsm_id_t     id, ec;
    EVP_PKEY       *pub;
    unsigned char   ct[CF_HSM_RSA_MAX], pt[CF_HSM_RSA_MAX], dig[32];
    unsigned char   sig[CF_HSM_SIG_MAX];
    size_t          cl, pl = 0, sl;
    cf_secret_t    *pin;
    cf_hsm_sign_opts_t  o = { .alg = CF_HSM_SIG_RSA_PKCS1,
                              .md = EVP_sha256() };

    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_RSA2048,
                                          CF_HSM_PAIR_SIGN, "t/old-rsa",
                                          &id), CF_OK);
    memset(dig, 1, sizeof(dig));
    assert_int_equal(cf_hsm_sign(h, &id, &o, dig, sizeof(dig), sig, &sl),
                     CF_OK);
    assert_int_equal(cf_hsm_pair_public(h, &id, &pub), CF_OK);
    cl = cf_test_oaep(pub, EVP_sha256(), "attack at dawn", 14, ct);
    assert_int_equal(cl, 256);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, cl,
                                             pt, &pl), CF_OK);
    assert_int_equal(pl, 14);
    assert_memory_equal(pt, "attack at dawn", 14);
    /* Empty messages are valid OAEP. */
    cl = cf_test_oaep(pub, EVP_sha256(), "", 0, ct);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, cl,
                                             pt, &pl), CF_OK);
    assert_int_equal(pl, 0);
    /* Wrong hash, tampered, short, not below the modulus: one result. */
    cl = cf_test_oaep(pub, EVP_sha1(), "x", 1, ct);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, cl,
                                             pt, &pl), CF_ERR_CRYPTO);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha1(), ct, cl,
                                             pt, &pl), CF_OK);
    ct[100] ^= 1;
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha1(), ct, cl,
                                             pt, &pl), CF_ERR_CRYPTO);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha1(), ct,
                                             cl - 1, pt, &pl),
                     CF_ERR_CRYPTO);
    memset(ct, 0xff, cl);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, cl,
                                             pt, &pl), CF_ERR_CRYPTO);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, 0,
                                             pt, &pl), CF_ERR_CRYPTO);
    /* Across a seal/unseal (new session copy) it still decrypts and
     * signs. */
    cf_hsm_logout(h);
    pin = cf_secret_new_copy(CF_TEST_PIN, strlen(CF_TEST_PIN));
    assert_int_equal(cf_hsm_login(h, pin), CF_OK);
    cf_secret_free(pin);
    cl = cf_test_oaep(pub, EVP_sha256(), "again", 5, ct);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, cl,
                                             pt, &pl), CF_OK);
    assert_memory_equal(pt, "again", 5);
    assert_int_equal(cf_hsm_sign(h, &id, &o, dig, sizeof(dig), sig, &sl),
                     CF_OK);
    EVP_PKEY_free(pub);
    assert_int_equal(cf_hsm_pair_destroy(h, &id), CF_OK);

    /* New keys are made able to decrypt; an EC key is not RSA. */
    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_RSA3072,
                                          CF_HSM_PAIR_SIGN_DECRYPT,
                                          "t/rsa-dec", &id), CF_OK);
    cf_test_check_sensitive(h, &id);
    assert_int_equal(cf_hsm_pair_public(h, &id, &pub), CF_OK);
    cl = cf_test_oaep(pub, EVP_sha256(), "three", 5, ct);
    assert_int_equal(cl, 384);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, cl,
                                             pt, &pl), CF_OK);
    assert_memory_equal(pt, "three", 5);
    EVP_PKEY_free(pub);
    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_EC_P256,
                                          CF_HSM_PAIR_SIGN, "t/ec", &ec),
                     CF_OK);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &ec, EVP_sha256(), ct, cl,
                                             pt, &pl), CF_ERR_INVALID);
    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_EC_P256,
                                          CF_HSM_PAIR_DECRYPT, "t/ec2", &ec),
                     CF_ERR_INVALID);
}

/* Vault's import payload for `target` under wrapping key pub: OAEP(md)
 * of an ephemeral AES-256 key, then AES-KWP of target with it. */
static size_t
cf_test_wrap(EVP_PKEY *pub, const EVP_MD *md, const unsigned char *target,
             size_t tl, unsigned char *blob)
{
    unsigned char    eph[32];
    EVP_CIPHER_CTX  *cc;
    size_t           wl;
    int              n, m;

    RAND_bytes(eph, sizeof(eph));
    wl = cf_test_oaep(pub, md, eph, sizeof(eph), blob);
    assert_int_equal(wl, 512);
    cc = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX_set_flags(cc, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    assert_int_equal(EVP_EncryptInit_ex(cc, EVP_aes_256_wrap_pad(), NULL,
                                        eph, NULL), 1);
    assert_int_equal(EVP_EncryptUpdate(cc, blob + wl, &n, target,
                                       (int) tl), 1);
    assert_int_equal(EVP_EncryptFinal_ex(cc, blob + wl + n, &m), 1);
    EVP_CIPHER_CTX_free(cc);
    OPENSSL_cleanse(eph, sizeof(eph));
    return wl + (size_t) n + (size_t) m;
}

/* The token key id is the AES-256 key target: it decrypts what OpenSSL
 * encrypted with target. */
static void
cf_test_is_key(cf_hsm_t *h, const cf_hsm_id_t *id,
               const unsigned char *target)
{
    EVP_CIPHER_CTX  *cc;
    unsigned char    iv[12], ct[64], pt[64];
    size_t           ctl = 0;
    int              n, m;

    RAND_bytes(iv, sizeof(iv));
    assert_int_equal(cf_hsm_gcm_encrypt(h, id, iv, NULL, 0, "hello", 5, ct,
                                        &ctl), CF_OK);
    cc = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(cc, EVP_aes_256_gcm(), NULL, target, iv);
    EVP_DecryptUpdate(cc, pt, &n, ct, (int) ctl - 16);
    EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_TAG, 16, ct + ctl - 16);
    assert_int_equal(EVP_DecryptFinal_ex(cc, pt + n, &m), 1);
    EVP_CIPHER_CTX_free(cc);
    assert_int_equal(n, 5);
    assert_memory_equal(pt, "hello", 5);
}

/* BYOK: wrap a known AES key as Vault's import format expects and check
 * the imported token key is that key, for every OAEP hash Vault allows
 * (SoftHSM's own OAEP would take SHA-1 only). Anything wrong with the
 * ciphertext is CF_ERR_CRYPTO, whichever part is wrong. */
static void
cf_test_import(void **state)
{
    static const char  *mds[] = { "SHA1", "SHA224", "SHA256", "SHA384",
                                  "SHA512" };
    cf_hsm_t           *h = *state;
    cf_hsm_id_t         wk, id;
    EVP_PKEY           *pub;
    unsigned char       target[32], blob[1024];
    size_t              bl, i;
    cf_hsm_key_info_t   info;

    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_RSA4096,
                                          CF_HSM_PAIR_DECRYPT, "t/wrap",
                                          &wk), CF_OK);
    assert_int_equal(cf_hsm_pair_public(h, &wk, &pub), CF_OK);
    for (i = 0; i < sizeof(mds) / sizeof(mds[0]); i++) {
        const EVP_MD  *md = EVP_get_digestbyname(mds[i]);

        RAND_bytes(target, sizeof(target));
        bl = cf_test_wrap(pub, md, target, sizeof(target), blob);
        assert_int_equal(cf_hsm_import_secret(h, &wk, md, blob, bl, false,
                                              32, "t/imported", &id),
                         CF_OK);
        assert_int_equal(cf_hsm_key_info(h, &id, &info), CF_OK);
        assert_true(info.sensitive);
        assert_false(info.extractable);
        assert_true(info.token);
        cf_test_is_key(h, &id, target);
        assert_int_equal(cf_hsm_key_destroy(h, &id), CF_OK);
    }
    /* Wrong hash, wrong size for the type, tampered RSA part, tampered
     * KWP part: refused alike. */
    bl = cf_test_wrap(pub, EVP_sha256(), target, sizeof(target), blob);
    assert_int_equal(cf_hsm_import_secret(h, &wk, EVP_sha384(), blob, bl,
                                          false, 32, "t/bad", &id),
                     CF_ERR_CRYPTO);
    assert_int_equal(cf_hsm_import_secret(h, &wk, EVP_sha256(), blob, bl,
                                          false, 16, "t/bad", &id),
                     CF_ERR_CRYPTO);
    blob[10] ^= 1;
    assert_int_equal(cf_hsm_import_secret(h, &wk, EVP_sha256(), blob, bl,
                                          false, 32, "t/bad", &id),
                     CF_ERR_CRYPTO);
    blob[10] ^= 1;
    blob[bl - 1] ^= 1;
    assert_int_equal(cf_hsm_import_secret(h, &wk, EVP_sha256(), blob, bl,
                                          false, 32, "t/bad", &id),
                     CF_ERR_CRYPTO);
    blob[bl - 1] ^= 1;
    assert_int_equal(cf_hsm_import_secret(h, &wk, EVP_md5(), blob, bl,
                                          false, 32, "t/bad", &id),
                     CF_ERR_INVALID);
    assert_int_equal(cf_hsm_key_find(h, "t/bad", &id), CF_ERR_NOT_FOUND);
    /* The untouched blob still imports (nothing above consumed it). */
    assert_int_equal(cf_hsm_import_secret(h, &wk, EVP_sha256(), blob, bl,
                                          false, 32, "t/good", &id),
                     CF_OK);
    cf_test_is_key(h, &id, target);
    EVP_PKEY_free(pub);
    OPENSSL_cleanse(target, sizeof(target));
}

/* PKCS#8 DER of key into *der (OPENSSL_free); returns its length. */
static size_t
cf_test_pkcs8(EVP_PKEY *key, unsigned char **der)
{
    PKCS8_PRIV_KEY_INFO  *p8 = EVP_PKEY2PKCS8(key);
    int                   n;

    assert_non_null(p8);
    *der = NULL;
    n = i2d_PKCS8_PRIV_KEY_INFO(p8, der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    assert_true(n > 0);
    return (size_t) n;
}

/* BYOK of an RSA key (Vault: PKCS#8 DER in the KWP part): the token pair
 * is the known key (same public key, signs what it verifies, decrypts
 * what it encrypted), sensitive and non-extractable; bits reports the
 * size; a tampered payload or an EC key is CF_ERR_CRYPTO. */
static void
cf_test_import_rsa(void **state)
{
    cf_hsm_t             *h = *state;
    cf_hsm_id_t           wk, id;
    EVP_PKEY             *wpub, *known, *ec, *pub;
    EVP_PKEY_CTX         *pc;
    unsigned char        *der = NULL, blob[4096], sig[CF_HSM_SIG_MAX];
    unsigned char         dig[32], ct[512], pt[CF_HSM_RSA_MAX];
    const unsigned char   msg[] = "signed by an imported key";
    unsigned int          dl;
    size_t                n, bl, bits, sl, ctl = sizeof(ct), ptl;
    cf_hsm_sign_opts_t    o = { .alg = CF_HSM_SIG_RSA_PKCS1,
                                .md = EVP_sha256() };

    assert_int_equal(cf_hsm_pair_generate(h, CF_HSM_PAIR_RSA4096,
                                          CF_HSM_PAIR_DECRYPT, "t/wrap-r",
                                          &wk), CF_OK);
    assert_int_equal(cf_hsm_pair_public(h, &wk, &wpub), CF_OK);
    known = EVP_RSA_gen(2048);
    assert_non_null(known);
    n = cf_test_pkcs8(known, &der);
    bl = cf_test_wrap(wpub, EVP_sha256(), der, n, blob);
    OPENSSL_clear_free(der, n);
    assert_int_equal(cf_hsm_import_rsa(h, &wk, EVP_sha256(), blob, bl,
                                       "t/imp-rsa", &id, &bits), CF_OK);
    assert_int_equal(bits, 2048);
    cf_test_check_sensitive(h, &id);
    assert_int_equal(cf_hsm_pair_public(h, &id, &pub), CF_OK);
    assert_int_equal(EVP_PKEY_eq(pub, known), 1);
    EVP_Digest(msg, sizeof(msg), dig, &dl, EVP_sha256(), NULL);
    assert_int_equal(cf_hsm_sign(h, &id, &o, dig, dl, sig, &sl), CF_OK);
    assert_int_equal(cf_test_verify(known, EVP_sha256(), RSA_PKCS1_PADDING,
                                    0, msg, sizeof(msg), sig, sl), 1);
    pc = EVP_PKEY_CTX_new(known, NULL);
    assert_int_equal(EVP_PKEY_encrypt_init(pc), 1);
    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256());
    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256());
    assert_int_equal(EVP_PKEY_encrypt(pc, ct, &ctl, msg, sizeof(msg)), 1);
    EVP_PKEY_CTX_free(pc);
    assert_int_equal(cf_hsm_rsa_oaep_decrypt(h, &id, EVP_sha256(), ct, ctl,
                                             pt, &ptl), CF_OK);
    assert_int_equal(ptl, sizeof(msg));
    assert_memory_equal(pt, msg, sizeof(msg));
    EVP_PKEY_free(pub);
    assert_int_equal(cf_hsm_pair_destroy(h, &id), CF_OK);

    /* Tampered KWP part; an EC private key: refused, nothing kept. */
    blob[bl - 1] ^= 1;
    assert_int_equal(cf_hsm_import_rsa(h, &wk, EVP_sha256(), blob, bl,
                                       "t/bad-rsa", &id, &bits),
                     CF_ERR_CRYPTO);
    ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    n = cf_test_pkcs8(ec, &der);
    bl = cf_test_wrap(wpub, EVP_sha256(), der, n, blob);
    OPENSSL_clear_free(der, n);
    assert_int_equal(cf_hsm_import_rsa(h, &wk, EVP_sha256(), blob, bl,
                                       "t/bad-rsa", &id, &bits),
                     CF_ERR_CRYPTO);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(known);
    EVP_PKEY_free(wpub);
    assert_int_equal(cf_hsm_pair_destroy(h, &wk), CF_OK);
}

static void
cf_test_generation(void **state)
{
    cf_hsm_t  *h = *state;
    uint64_t   g = cf_hsm_generation(h);
    cf_secret_t *pin = cf_secret_new_copy(CF_TEST_PIN, strlen(CF_TEST_PIN));

    cf_hsm_logout(h);
    assert_int_not_equal(cf_hsm_generation(h), g);
    assert_int_equal(cf_hsm_login(h, pin), CF_OK);
    cf_secret_free(pin);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(cf_test_ec, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_ed25519, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_rsa, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_secret_hmac, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_rsa_oaep, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_import, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_import_rsa, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_generation, cf_test_setup,
                                        cf_test_teardown),
    };

    return cmocka_run_group_tests(tests, cf_test_group_setup,
                                  cf_test_group_teardown);
}
