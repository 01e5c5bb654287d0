/*
 * hsm_internal: what the files of hsm/ share, and nothing else may see.
 *
 * The layer's state is one cf_hsm_t. Its guards, in lock order:
 *
 *   conn_lock (rwlock)  the connection: module initialised, slot, keeper
 *                       session, login, kept PIN, generation. Every
 *                       operation holds it for reading across its
 *                       PKCS#11 calls, so the connection cannot be torn
 *                       down under it; login, logout and recovery hold it
 *                       for writing. It exists to serialise teardown with
 *                       the I/O, which is why it is held across calls.
 *   obj_mu              serialises object creation and destruction
 *                       (C_GenerateKey, C_CopyObject, C_DestroyObject;
 *                       SoftHSM 2.6.1 crashes under concurrent key
 *                       generation) and every use of the keeper session.
 *   pool_mu + pool_cv   the free crypto sessions.
 *   cache_mu            the CKA_ID -> handle cache (held briefly, no I/O).
 *   status_mu           the last failure reason.
 *
 * A session is used by one thread at a time (two threads on one session
 * crash SoftHSM): crypto goes through a borrowed pool session, the keeper
 * only under obj_mu.
 */
#ifndef COFFER_HSM_INTERNAL_H
#define COFFER_HSM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "coffer/hsm.h"

/* Largest input of one GCM/HMAC call; bigger is CF_ERR_INVALID. */
#define CF_HSM_MAX_INPUT    (64u * 1024 * 1024)

/* CKA_MODIFIABLE of every key Coffer creates: TRUE, on purpose. SoftHSM
 * 2.6.1 refuses C_CopyObject of a CKA_MODIFIABLE=false object
 * (CKR_ATTRIBUTE_READ_ONLY), and session copies are what make symmetric
 * ops 3x faster (AES-GCM 64 B: 29k -> 95k ops/s here). The key value's
 * protection does not depend on it: PKCS#11 makes CKA_SENSITIVE=true and
 * CKA_EXTRACTABLE=false one-way, and the token enforces that; what
 * MODIFIABLE=true allows a logged-in user is relabelling, which that user
 * could already do by using the key. DESIGN.md section 4 records this. */
#define CF_HSM_KEY_MODIFIABLE  CK_TRUE
#define CF_HSM_CACHE_BUCKETS 256

typedef struct cf_hsm_key_s {
    struct cf_hsm_key_s  *next;
    cf_hsm_id_t           id;
    CK_OBJECT_HANDLE      obj;      /* the token object */
    CK_OBJECT_HANDLE      copy;     /* session copy, CK_INVALID_HANDLE if
                                     * the token refused to make one */
} cf_hsm_key_t;

struct cf_hsm_s {
    /* Immutable after cf_hsm_open. */
    char                  *lib;
    char                  *label;       /* NULL when found by slot */
    CK_SLOT_ID             cfg_slot;
    unsigned               max_parallel;
    void                  *dl;
    CK_FUNCTION_LIST_PTR   f;

    pthread_rwlock_t       conn_lock;
    bool                   initialized; /* C_Initialize done by us */
    CK_SLOT_ID             slot;
    CK_SESSION_HANDLE      keeper;      /* CK_INVALID_HANDLE if none */
    bool                   logged_in;   /* sessions and login are up */
    bool                   broken;      /* PIN kept but recovery failed */
    cf_secret_t           *pin;         /* kept while logged in/broken */
    uint64_t               gen;         /* bumped on every connect/drop */

    pthread_mutex_t        obj_mu;

    pthread_mutex_t        pool_mu;
    pthread_cond_t         pool_cv;
    CK_SESSION_HANDLE     *pool_free;   /* max_parallel slots */
    unsigned               pool_nfree;
    unsigned               pool_total;  /* open: free + borrowed */

    pthread_mutex_t        cache_mu;
    cf_hsm_key_t          *cache[CF_HSM_CACHE_BUCKETS];

    atomic_bool            no_copies;   /* a C_CopyObject was refused */

    pthread_mutex_t        status_mu;
    char                  *status;      /* last failure, NULL if healthy */
};

/* One attempt of an operation in a borrowed session. A PKCS#11 failure
 * sets rv, fn (the C_ function's name) and, when the failing call used a
 * handle taken from the cache, held; the attempt then returns
 * CF_ERR_HSM and cf_hsm_run maps rv (recovering first if it means the
 * connection is gone). Other results are returned as they are. */
typedef struct {
    cf_hsm_t           *h;
    CK_SESSION_HANDLE   s;
    CK_RV               rv;
    const char         *fn;
    bool                held;
    bool                poisoned;   /* close the session, do not reuse */
} cf_hsm_call_t;

typedef cf_err_t (*cf_hsm_op_fn)(cf_hsm_call_t *c, void *arg);

/* Record a failed PKCS#11 call in c; returns CF_ERR_HSM. */
cf_err_t cf_hsm_call_fail(cf_hsm_call_t *c, const char *fn, CK_RV rv);

/* Run op in a borrowed pool session while logged in; recover once and
 * retry when the failure means the connection is gone. `what` names the
 * operation in log lines. */
cf_err_t cf_hsm_run(cf_hsm_t *h, const char *what, cf_hsm_op_fn op,
                    void *arg);

/* The one CK_RV -> cf_err_t mapping; logs the CKR name with `what`. */
cf_err_t cf_hsm_rv_map(CK_RV rv, const char *what, const char *fn);

/* "CKR_PIN_INCORRECT" etc., or NULL for a value not in the table. */
const char *cf_hsm_rv_name(CK_RV rv);

/* Handles for `id` (from the cache, or found by CKA_ID and cached with a
 * fresh session copy). *use is the handle to do crypto with (the copy if
 * there is one). CF_ERR_NOT_FOUND if no such key. */
cf_err_t cf_hsm_key_handles(cf_hsm_call_t *c, const cf_hsm_id_t *id,
                            CK_OBJECT_HANDLE *obj, CK_OBJECT_HANDLE *use);

/* hsm_rsa.c: the handles of RSA private key id (as cf_hsm_key_handles)
 * and its modulus length in bytes. CF_ERR_INVALID when id is no RSA
 * private key or its modulus is longer than CF_HSM_RSA_MAX. */
cf_err_t cf_hsm_rsa_key(cf_hsm_call_t *c, const cf_hsm_id_t *id,
                        CK_OBJECT_HANDLE *obj, CK_OBJECT_HANDLE *use,
                        size_t *modlen);

/* hsm_rsa.c: RSA-OAEP decryption in c's session: raw RSA on the token
 * with `use` (CKM_RSA_X_509), OAEP check here with md for OAEP and MGF1
 * and an empty label. out has CF_HSM_RSA_MAX bytes. CF_ERR_CRYPTO, one
 * result for every ciphertext that does not decrypt; the padded message
 * is wiped either way. Gives obj and use CKA_DECRYPT if they lack it. */
cf_err_t cf_hsm_rsa_oaep_open(cf_hsm_call_t *c, CK_OBJECT_HANDLE obj,
                              CK_OBJECT_HANDLE use, size_t modlen,
                              const EVP_MD *md, const unsigned char *in,
                              size_t in_len, unsigned char *out,
                              size_t *out_len);

/* Drop every cached handle (the copies die with the keeper session).
 * Caller holds conn_lock for writing. */
void cf_hsm_cache_clear(cf_hsm_t *h);

/* Pad label to the 32-byte blank-padded form; false if it is too long. */
bool cf_hsm_label_pad(const char *label, unsigned char out[32]);

/* Tests only: run the recovery path now, as if a call had failed with
 * CKR_SESSION_HANDLE_INVALID. Returns its result. */
cf_err_t cf_hsm_test_force_reconnect(cf_hsm_t *h);

/* Tests only: C_Finalize the module behind the layer's back, as a token
 * that went away would; the next call must notice and recover. */
void cf_hsm_test_finalize(cf_hsm_t *h);

#endif
