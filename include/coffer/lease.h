/*
 * lease: the expiration manager (Vault's). A response that hands out a
 * secret with a lifetime (a certificate of a generate_lease PKI role)
 * carries a lease: its id is the request path plus a random part, e.g.
 * "pki/issue/web/Hc9x...". Storage (through the barrier):
 *
 *   "sys/expire/id/<lease id>"               the lease: mount, what the
 *                                            engine needs to revoke the
 *                                            secret, times, token
 *   "sys/expire/token/<token hmac>/<rand>"   {"lease_id"}: the leases a
 *                                            token holds
 *
 * Revoking a token revokes its leases. One thread revokes leases when
 * they expire, in expiry order, from a min-heap rebuilt at every unseal
 * and dropped at seal. Revocations are serialised (one at a time), and
 * each is idempotent: the engine is asked to revoke, then the lease is
 * deleted; a failed revocation is retried a minute later.
 *
 * Thread-safe. Lock order: seal (read) -> lease revoke -> engine.
 */
#ifndef COFFER_LEASE_H
#define COFFER_LEASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "coffer/err.h"
#include "coffer/mem.h"
#include "coffer/req.h"

typedef struct cf_lease_mgr_s  cf_lease_mgr_t;

/* Create the manager (heap empty, no thread yet) as srv->leases. */
cf_err_t cf_lease_mgr_new(cf_server_t *srv);

/* Start / stop-and-join the expiration thread. Stop is NULL-safe and must
 * come before cf_lease_mgr_free. */
cf_err_t cf_lease_mgr_start(cf_server_t *srv);
void cf_lease_mgr_stop(cf_server_t *srv);
void cf_lease_mgr_free(cf_lease_mgr_t *m);

/* Seal transitions (the caller holds the seal lock for writing): rebuild
 * the heap from storage after the barrier opens / drop it at seal. */
cf_err_t cf_lease_restore(cf_server_t *srv);
void cf_lease_clear(cf_server_t *srv);

/* For a handler: this response hands out a secret that lives ttl seconds
 * (> 0). internal_take (a JSON object, taken even on error) is what the
 * engine's revoke_secret hook gets back; it is stored through the barrier
 * and never returned to clients. */
cf_err_t cf_req_set_lease(cf_req_t *req, int64_t ttl, json_t *internal_take);

/* For core, after a handler that asked for a lease succeeded: store the
 * lease and put lease_id / lease_duration / renewable into the response.
 * On failure the secret is revoked again and the request fails (500). */
cf_err_t cf_lease_register(cf_req_t *req);

/* The lease as sys/leases/lookup shows it. CF_ERR_NOT_FOUND if none.
 * *out owned by the caller. */
cf_err_t cf_lease_lookup(cf_server_t *srv, const char *lease_id,
                         json_t **out);

/* Revoke one lease: the engine revokes its secret, then the lease is
 * deleted. An unknown lease is CF_OK (revocation is idempotent). With
 * force, a failure of the engine is logged and the lease deleted anyway. */
cf_err_t cf_lease_revoke(cf_server_t *srv, const char *lease_id, bool force);

/* Every lease whose id starts with prefix ("" or ending in '/'); *n (may
 * be NULL) counts the revoked ones. Stops at the first failure unless
 * force. */
cf_err_t cf_lease_revoke_prefix(cf_server_t *srv, const char *prefix,
                                bool force, unsigned *n);

/* Every lease held by the token with this HMAC (token revocation). */
cf_err_t cf_lease_revoke_token(cf_server_t *srv, const char *token_hmac);

/* Immediate children of prefix among the lease ids, as LIST shows them
 * (folders end in '/'). *out owned by the caller. */
cf_err_t cf_lease_list(cf_server_t *srv, const char *prefix,
                       cf_strlist_t **out);

/* Revoke leases whose token no longer exists; *n counts them. */
cf_err_t cf_lease_tidy(cf_server_t *srv, unsigned *n);

/* A lease id a client sent is usable as a storage key: 1..1023 bytes,
 * printable, no empty or dot segments, no leading or trailing '/'. */
bool cf_lease_id_valid(const char *lease_id);

#endif
