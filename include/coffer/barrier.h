/*
 * barrier: encrypts every value on its way to storage with the HSM.
 *
 * Entry format: version(1)=1 | term(4, big endian) | iv(12) | ct || tag(16),
 * AES-256-GCM on the token under the barrier key of `term`, AAD = the
 * storage path, so entries cannot be swapped between paths.
 *
 * Keys: term N is the token object labelled "<key_label>/<N>". The keyring
 * (term -> CKA_ID, install time) is itself a barrier entry at
 * "core/keyring", encrypted under the newest term; at unseal it is read by
 * finding the key of the term in its header by label, then every term's
 * key is named by CKA_ID.
 *
 * Owns: the keyring while unsealed. Thread-safety: get/put/delete/list are
 * safe from any thread; rotate takes the keyring write lock; unseal/seal
 * must not run beside other calls (core holds the seal lock).
 */
#ifndef COFFER_BARRIER_H
#define COFFER_BARRIER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "coffer/err.h"
#include "coffer/hsm.h"
#include "coffer/mem.h"
#include "coffer/storage.h"

typedef struct cf_barrier_s cf_barrier_t;

/* Borrowed store and hsm must outlive the barrier. key_label NULL ->
 * "coffer-barrier". Free with cf_barrier_free. */
cf_err_t cf_barrier_new(cf_storage_t *store, cf_hsm_t *hsm,
                        const char *key_label, cf_barrier_t **out);
void cf_barrier_free(cf_barrier_t *b);

/* First-time set-up (HSM logged in): generate term 1 on the token when
 * generate_key, else find "<key_label>/1" (CF_ERR_NOT_FOUND naming the
 * label if absent); write the keyring. Leaves the barrier unsealed. */
cf_err_t cf_barrier_initialize(cf_barrier_t *b, bool generate_key);

/* Load the keyring (HSM logged in). CF_ERR_INTEGRITY if it does not
 * decrypt, CF_ERR_NOT_FOUND if there is none (not initialised). */
cf_err_t cf_barrier_unseal(cf_barrier_t *b);

/* Forget the keyring. */
void cf_barrier_seal(cf_barrier_t *b);

bool cf_barrier_sealed(cf_barrier_t *b);

/* Plaintext of path. CF_ERR_NOT_FOUND, CF_ERR_SEALED, CF_ERR_INTEGRITY (logged
 * with the path) when the entry fails to decrypt or names an unknown term.
 * *out owned by the caller (cf_buf_free zeroes it). */
cf_err_t cf_barrier_get(cf_barrier_t *b, const char *path, cf_buf_t **out);

/* The same, for an entry that is a setting, not a secret: answered from
 * the barrier's cache of decrypted entries when it can be (absence too),
 * filled from storage when not. Every put and delete through the barrier
 * keeps the cache current. Never use it for secrets: the plaintext stays
 * in memory until the entry changes or the barrier seals. */
cf_err_t cf_barrier_get_cached(cf_barrier_t *b, const char *path,
                               cf_buf_t **out);

/* The same as parsed JSON (any JSON value), from the cache's parsed copy
 * when it can be: *out is the caller's to change and free. A value that
 * does not parse is CF_ERR_INTEGRITY (logged with the path). */
cf_err_t cf_barrier_get_json_cached(cf_barrier_t *b, const char *path,
                                    json_t **out);

/* Encrypt under the current term and store (committed; durability as in
 * storage.h). */
cf_err_t cf_barrier_put(cf_barrier_t *b, const char *path,
                        const void *data, size_t len);

/* JSON objects over get/put: a stored value that is not a JSON object
 * is CF_ERR_INTEGRITY (logged with the path). *out owned. */
cf_err_t cf_barrier_get_json(cf_barrier_t *b, const char *path,
                             json_t **out);
cf_err_t cf_barrier_put_json(cf_barrier_t *b, const char *path,
                             const json_t *v);

/* Encrypt n entries under the current term and store them in one
 * transaction: all or none. */
cf_err_t cf_barrier_put_many(cf_barrier_t *b, size_t n,
                             const char *const *paths,
                             const void *const *data, const size_t *lens);

cf_err_t cf_barrier_delete(cf_barrier_t *b, const char *path);

/* Delete everything under prefix (ends in '/'), in one transaction. */
cf_err_t cf_barrier_delete_prefix(cf_barrier_t *b, const char *prefix);

/* Same contract as cf_storage_list. */
cf_err_t cf_barrier_list(cf_barrier_t *b, const char *prefix,
                         cf_strlist_t **out);

/* Add a term: generate "<key_label>/<N+1>" on the token, write the keyring.
 * New writes use it; old terms still decrypt. */
cf_err_t cf_barrier_rotate(cf_barrier_t *b);

/* Current term, its install time and encryptions under it since unseal. */
cf_err_t cf_barrier_key_status(cf_barrier_t *b, uint32_t *term,
                               time_t *install_time, uint64_t *encryptions);

/* The CKA_IDs of every term (for tests/introspection). *out owned. */
cf_err_t cf_barrier_key_ids(cf_barrier_t *b, cf_strlist_t **out);

#endif
