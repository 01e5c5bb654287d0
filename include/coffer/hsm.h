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

#endif
