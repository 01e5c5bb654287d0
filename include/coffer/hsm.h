/*
 * hsm: the PKCS#11 layer. The only module that includes a PKCS#11 header
 * or sees a CK_* value; everyone else names keys by cf_hsm_id_t (the
 * object's CKA_ID) and gets cf_err_t back.
 *
 * Owns: the loaded module (dlopen), C_Initialize/C_Finalize, the login,
 * a keeper session that stays open while logged in, a pool of
 * max_parallel crypto sessions (each used by one thread at a time), and a
 * cache CKA_ID -> object handle (+ a sensitive, non-extractable session
 * copy of secret keys, made on first use, dropped at logout).
 *
 * Thread-safety: every function may be called from any thread once
 * cf_hsm_open() returned, except cf_hsm_close(). Object creation and
 * destruction are serialised by one mutex (SoftHSM 2.6.1 crashes under
 * concurrent key generation). Lock order: the pool mutex is taken after
 * any caller lock; no caller lock may be taken inside.
 *
 * Failure: a CKR meaning the session/login/token is gone makes the layer
 * recover once (close everything, C_Finalize + C_Initialize, find the
 * token by label, log in with the kept PIN, re-find keys by CKA_ID) and
 * retry the operation; if that fails the call returns CF_ERR_UNAVAILABLE
 * and cf_hsm_status() says why.
 */
#ifndef COFFER_HSM_H
#define COFFER_HSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "coffer/err.h"
#include "coffer/mem.h"

#define CF_HSM_ID_LEN    16     /* random CKA_ID of every object we create */
#define CF_HSM_GCM_IV    12     /* the only IV length accepted */
#define CF_HSM_GCM_TAG   16

typedef struct cf_hsm_s cf_hsm_t;

typedef struct {
    unsigned char  b[CF_HSM_ID_LEN];
} cf_hsm_id_t;

typedef struct {
    const char *lib;            /* module path, required */
    const char *token_label;    /* exact token label, or NULL */
    const char *slot;           /* decimal slot id, used if no label */
    unsigned    max_parallel;   /* crypto session pool size, 0 -> 2 */
} cf_hsm_config_t;

typedef enum {
    CF_HSM_KEY_AES128 = 1,      /* CKK_AES 16 bytes: encrypt/decrypt */
    CF_HSM_KEY_AES256,          /* CKK_AES 32 bytes: encrypt/decrypt */
    CF_HSM_KEY_HMAC256          /* CKK_GENERIC_SECRET 32 bytes: sign/verify */
} cf_hsm_key_type_t;

typedef struct {
    bool  sensitive;
    bool  extractable;
    bool  token;                /* persistent token object */
    bool  is_private;
} cf_hsm_key_info_t;

/* Load the module, C_Initialize(CKF_OS_LOCKING_OK), find the token by exact
 * label (or slot), do not log in. Errors: CF_ERR_CONFIG with a logged
 * reason naming the module path or label (missing module, no symbol,
 * C_Initialize failed, no such token). Free with cf_hsm_close. */
cf_err_t cf_hsm_open(const cf_hsm_config_t *cfg, cf_hsm_t **out);

/* Log the user in and open the keeper session and the pool. The PIN is
 * copied (secure heap) and kept for reconnects until logout.
 * CF_ERR_PIN for a wrong PIN, CF_ERR_UNAVAILABLE if the token is gone. */
cf_err_t cf_hsm_login(cf_hsm_t *h, const cf_secret_t *pin);

/* Change the user PIN (logged in). Used by the shamir seal at init. */
cf_err_t cf_hsm_set_pin(cf_hsm_t *h, const cf_secret_t *old_pin,
                        const cf_secret_t *new_pin);

/* Drop session copies, cached handles, pool and keeper session; forget
 * the PIN. Safe when not logged in. */
void cf_hsm_logout(cf_hsm_t *h);

bool cf_hsm_logged_in(cf_hsm_t *h);

/* Last failure reason for sys/health and seal-status warnings, or NULL
 * when healthy. Returns a copy (free()) so it cannot race. */
char *cf_hsm_status(cf_hsm_t *h);

/* Dev mode and tests: with SOFTHSM2_CONF already pointing at a private
 * token dir, load `lib`, initialise the first free slot's token with
 * `label`, set the SO and user PINs, and C_Finalize again. Must run before
 * cf_hsm_open() in the same process. CF_ERR_CONFIG with a logged reason. */
cf_err_t cf_hsm_init_token(const char *lib, const char *label,
                           const cf_secret_t *so_pin,
                           const cf_secret_t *user_pin);

/* Logout, C_Finalize, dlclose, free. NULL-safe. Call with no other thread
 * inside the layer. */
void cf_hsm_close(cf_hsm_t *h);

/* Generate a persistent secret key on the token with a random CKA_ID,
 * label `label`, template CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE = true,
 * CKA_EXTRACTABLE, CKA_MODIFIABLE = false and only the usage attributes of
 * its type true. Serialised. */
cf_err_t cf_hsm_key_generate(cf_hsm_t *h, cf_hsm_key_type_t type,
                             const char *label, cf_hsm_id_t *id_out);

/* Find the one secret key whose label is exactly `label`.
 * CF_ERR_NOT_FOUND if none, CF_ERR_INTEGRITY if several. */
cf_err_t cf_hsm_key_find(cf_hsm_t *h, const char *label, cf_hsm_id_t *id_out);

/* Destroy the token object (and its session copy). NOT_FOUND if absent. */
cf_err_t cf_hsm_key_destroy(cf_hsm_t *h, const cf_hsm_id_t *id);

/* Attributes of the token object, for tests and sys introspection. */
cf_err_t cf_hsm_key_info(cf_hsm_t *h, const cf_hsm_id_t *id,
                         cf_hsm_key_info_t *out);

/* AES-GCM with a caller-made 12-byte IV (CF_ERR_INVALID otherwise).
 * out must have room for pt_len + CF_HSM_GCM_TAG; it receives ct || tag and
 * *out_len its length. */
cf_err_t cf_hsm_gcm_encrypt(cf_hsm_t *h, const cf_hsm_id_t *key,
                            const unsigned char iv[CF_HSM_GCM_IV],
                            const void *aad, size_t aad_len,
                            const void *pt, size_t pt_len,
                            unsigned char *out, size_t *out_len);

/* ct includes the tag. out must have room for ct_len bytes (SoftHSM wants
 * that much). CF_ERR_CRYPTO when the tag or AAD does not verify. */
cf_err_t cf_hsm_gcm_decrypt(cf_hsm_t *h, const cf_hsm_id_t *key,
                            const unsigned char iv[CF_HSM_GCM_IV],
                            const void *aad, size_t aad_len,
                            const void *ct, size_t ct_len,
                            unsigned char *out, size_t *out_len);

/* HMAC-SHA256 with a CF_HSM_KEY_HMAC256 key; out gets 32 bytes. */
cf_err_t cf_hsm_hmac_sha256(cf_hsm_t *h, const cf_hsm_id_t *key,
                            const void *data, size_t len,
                            unsigned char out[32]);

/* len bytes from C_GenerateRandom (needs login). */
cf_err_t cf_hsm_random(cf_hsm_t *h, void *out, size_t len);

/* Hex of an id into buf (2*CF_HSM_ID_LEN+1 bytes). */
void cf_hsm_id_hex(const cf_hsm_id_t *id, char buf[2 * CF_HSM_ID_LEN + 1]);

/* Parse hex back; CF_ERR_INVALID on a wrong length or digit. */
cf_err_t cf_hsm_id_parse(const char *hex, cf_hsm_id_t *out);

/* ---- asymmetric keys, sized secret keys, signing (hsm_asym.c) ----------
 *
 * Key pairs are generated on the token: the private key with CKA_TOKEN,
 * CKA_PRIVATE, CKA_SENSITIVE = true, CKA_EXTRACTABLE = false and only the
 * usage it was made for; the public key as a token object with the same
 * CKA_ID and label (so libp11 and pkcs11-tool pair them). Both are named
 * by that CKA_ID afterwards. Generation is serialised like every object
 * creation.
 */

typedef enum {
    CF_HSM_PAIR_EC_P256 = 1,
    CF_HSM_PAIR_EC_P384,
    CF_HSM_PAIR_EC_P521,
    CF_HSM_PAIR_ED25519,
    CF_HSM_PAIR_RSA2048,
    CF_HSM_PAIR_RSA3072,
    CF_HSM_PAIR_RSA4096
} cf_hsm_pair_type_t;

typedef enum {
    CF_HSM_PAIR_SIGN = 1,       /* private: CKA_SIGN only */
    CF_HSM_PAIR_SIGN_DECRYPT,   /* RSA private: CKA_SIGN and CKA_DECRYPT
                                 * (transit RSA keys) */
    CF_HSM_PAIR_DECRYPT         /* RSA private: CKA_DECRYPT only (the BYOK
                                 * wrapping key) */
} cf_hsm_pair_use_t;

typedef enum {
    CF_HSM_SIG_ECDSA = 1,       /* in = digest; CKM_ECDSA */
    CF_HSM_SIG_EDDSA,           /* in = message; CKM_EDDSA, pure Ed25519 */
    CF_HSM_SIG_RSA_PKCS1,       /* in = digest; CKM_RSA_PKCS over DigestInfo
                                 * of md (md NULL: in is signed as is) */
    CF_HSM_SIG_RSA_PSS          /* in = digest of md; CKM_RSA_PKCS_PSS */
} cf_hsm_sig_alg_t;

#define CF_HSM_PSS_SALT_MAX   (-1)  /* largest salt the modulus allows */
#define CF_HSM_SIG_MAX        1024  /* room for any signature we make */
#define CF_HSM_RSA_MAX        512   /* largest RSA modulus (4096 bits) */

typedef struct {
    cf_hsm_sig_alg_t   alg;
    const EVP_MD      *md;          /* digest algorithm of `in` (RSA) */
    int                salt_len;    /* PSS: bytes or CF_HSM_PSS_SALT_MAX */
    bool               ecdsa_raw;   /* ECDSA: r || s instead of DER */
} cf_hsm_sign_opts_t;

/* Generate a key pair on the token, labelled `label` (both halves), with
 * a fresh random CKA_ID in *id_out. RSA keys use e = 65537. Serialised. */
cf_err_t cf_hsm_pair_generate(cf_hsm_t *h, cf_hsm_pair_type_t type,
                              cf_hsm_pair_use_t use, const char *label,
                              cf_hsm_id_t *id_out);

/* The public half of pair `id` as an OpenSSL key, read from the public
 * token object (CKA_EC_PARAMS/CKA_EC_POINT or CKA_MODULUS/
 * CKA_PUBLIC_EXPONENT). *out owned by the caller (EVP_PKEY_free). */
cf_err_t cf_hsm_pair_public(cf_hsm_t *h, const cf_hsm_id_t *id,
                            EVP_PKEY **out);

/* Destroy both halves of pair `id` (and any session copy). NOT_FOUND if
 * neither exists. */
cf_err_t cf_hsm_pair_destroy(cf_hsm_t *h, const cf_hsm_id_t *id);

/* Sign `in` with the private key `key` on the token. sig must have
 * CF_HSM_SIG_MAX bytes; *sig_len gets the length. ECDSA gives DER unless
 * ecdsa_raw. CF_ERR_INVALID when the token refuses o->alg for the key or
 * the input does not fit (e.g. a digest too long for the RSA modulus).
 * The caller matches o->alg to the key type: SoftHSM accepts C_SignInit
 * of an RSA mechanism with an EC key and fails in C_Sign (CF_ERR_HSM). */
cf_err_t cf_hsm_sign(cf_hsm_t *h, const cf_hsm_id_t *key,
                     const cf_hsm_sign_opts_t *o, const void *in,
                     size_t in_len, unsigned char *sig, size_t *sig_len);

/* Generate a secret key of `bytes` bytes: AES (16/24/32) when !hmac,
 * else a CKK_GENERIC_SECRET for HMAC (16..512). Same template and
 * serialisation as cf_hsm_key_generate. */
cf_err_t cf_hsm_secret_generate(cf_hsm_t *h, bool hmac, size_t bytes,
                                const char *label, cf_hsm_id_t *id_out);

/* HMAC of data with a generic-secret key, digest md (SHA-1/224/256/384/
 * 512). out needs EVP_MAX_MD_SIZE bytes; *out_len gets the length.
 * CF_ERR_INVALID for a digest the token has no HMAC mechanism for, or
 * (SoftHSM) a key shorter than the digest. */
cf_err_t cf_hsm_hmac(cf_hsm_t *h, const cf_hsm_id_t *key, const EVP_MD *md,
                     const void *data, size_t len, unsigned char *out,
                     size_t *out_len);

/* Connection generation: changes at every login, logout (seal) and
 * reconnect. Callers that cache anything derived from the token (handles,
 * key metadata checked against it) compare it to notice. */
uint64_t cf_hsm_generation(cf_hsm_t *h);

/* ---- RSA-OAEP decryption (hsm_rsa.c) --------------------------------------
 *
 * SoftHSM 2.6.1's CKM_RSA_PKCS_OAEP takes SHA-1 (and MGF1-SHA-1) only, so
 * the token does the private-key operation alone (CKM_RSA_X_509) and
 * OpenSSL checks and strips the OAEP padding in this process, with md for
 * both the OAEP hash and MGF1 and an empty label, as Vault (Go's
 * rsa.DecryptOAEP) does. The private key never leaves the token.
 */

/* Decrypt ct (exactly the modulus length) with the private key of pair
 * `key`. out must have CF_HSM_RSA_MAX bytes; *out_len gets the message
 * length. Every ciphertext that does not decrypt (wrong length, not below
 * the modulus, bad padding) is CF_ERR_CRYPTO, one result for all.
 * CF_ERR_INVALID when `key` is not an RSA private key we may use. A key
 * made without CKA_DECRYPT (before RSA keys could decrypt) gets it once,
 * by C_SetAttributeValue on the token object and its session copy. */
cf_err_t cf_hsm_rsa_oaep_decrypt(cf_hsm_t *h, const cf_hsm_id_t *key,
                                 const EVP_MD *md, const void *ct,
                                 size_t ct_len, unsigned char *out,
                                 size_t *out_len);

/* ---- key import (hsm_wrap.c) ---------------------------------------------
 *
 * BYOK: `wrapped` = RSA-OAEP(wrapping key, ephemeral AES-256 key) of the
 * wrapping key's modulus length, followed by AES-KWP (RFC 5649) of the
 * target key under that ephemeral key. The RSA part is decrypted as
 * cf_hsm_rsa_oaep_decrypt does (oaep_md for OAEP and MGF1: SHA-1 to
 * SHA-512 all work, though SoftHSM's own OAEP is SHA-1 only); the
 * ephemeral key goes straight back onto the token as a sensitive,
 * non-extractable, unwrap-only session object and is wiped here; the
 * KWP part is then unwrapped on the token into a token object with the
 * secret-key template of cf_hsm_secret_generate (AES or HMAC), labelled
 * `label`, with a fresh CKA_ID (SoftHSM refuses CKA_MODIFIABLE in an
 * unwrap template, so it keeps the token's default there), and the
 * session object is destroyed. The target key never enters this process.
 * CF_ERR_CRYPTO for any ciphertext that does not unwrap into a key of
 * key_bytes (bad RSA-OAEP part, bad KWP part, wrong length: one result);
 * CF_ERR_INVALID for bad arguments.
 */
cf_err_t cf_hsm_import_secret(cf_hsm_t *h, const cf_hsm_id_t *wrapping_key,
                              const EVP_MD *oaep_md, const void *wrapped,
                              size_t wrapped_len, bool hmac,
                              size_t key_bytes, const char *label,
                              cf_hsm_id_t *id_out);

/* BYOK of an RSA key pair: as cf_hsm_import_secret, but the KWP part is
 * the PKCS#8 DER private key, which the token unwraps into a private-key
 * object with the template cf_hsm_pair_generate gives
 * CF_HSM_PAIR_SIGN_DECRYPT (CKA_SIGN, CKA_DECRYPT; sensitive,
 * non-extractable, CKA_MODIFIABLE as every key), labelled `label`, with a
 * fresh CKA_ID; the public half (CKA_MODULUS, CKA_PUBLIC_EXPONENT, which
 * the private object shows) becomes a token public-key object with the
 * same CKA_ID and label, so the pair works with cf_hsm_pair_public,
 * cf_hsm_sign, cf_hsm_rsa_oaep_decrypt and cf_hsm_pair_destroy. *bits_out
 * gets the modulus length in bits; checking it is the caller's job
 * (cf_hsm_pair_destroy a pair of the wrong size). CF_ERR_CRYPTO for any
 * ciphertext that does not unwrap into an RSA private key (one result, as
 * above); CF_ERR_TOO_LARGE (nothing kept) for a modulus longer than
 * CF_HSM_RSA_MAX; CF_ERR_INVALID for bad arguments. */
cf_err_t cf_hsm_import_rsa(cf_hsm_t *h, const cf_hsm_id_t *wrapping_key,
                           const EVP_MD *oaep_md, const void *wrapped,
                           size_t wrapped_len, const char *label,
                           cf_hsm_id_t *id_out, size_t *bits_out);

#endif
