/*
 * seal: initialisation, unseal and seal; the unauthenticated sys endpoints
 * that report it (sys/init, sys/seal-status, sys/unseal, sys/seal,
 * sys/health, sys/leader).
 *
 * pkcs11 seal: the barrier keys on the token are the seal; logging in with
 * the configured PIN unseals, at boot without anyone. Init creates recovery
 * shares (Shamir over a random recovery key stored behind the barrier).
 * shamir seal: the unseal shares reconstruct the token's user PIN, which
 * init changed to a random value; nobody holds it whole.
 *
 * "core/seal-config" is the only storage entry written in plaintext: it holds
 * no secret (seal type, share counts) and must be readable while sealed.
 */
#ifndef COFFER_SEAL_H
#define COFFER_SEAL_H

#include "coffer/err.h"
#include "coffer/req.h"
#include "coffer/server.h"

/* At start: read the seal config; with the pkcs11 seal log in and unseal
 * (a wrong PIN, missing module or token is fatal: CF_ERR_PIN/CONFIG). */
cf_err_t cf_seal_start(cf_server_t *srv);

/* Dev mode: initialise with one recovery share and the given root token
 * (NULL = random); *root_out malloc'd. */
cf_err_t cf_seal_dev_init(cf_server_t *srv, const char *root_id,
                          char **root_out);

/* Seal now: logout, drop keys and caches. Caller holds no seal_lock. */
cf_err_t cf_seal_seal(cf_server_t *srv);

/* Handlers for the bare (non-envelope) sys endpoints. They run without
 * the seal read lock and take the write lock themselves. */
cf_err_t cf_seal_handle_init(cf_req_t *req);
cf_err_t cf_seal_handle_seal_status(cf_req_t *req);
cf_err_t cf_seal_handle_unseal(cf_req_t *req);
cf_err_t cf_seal_handle_health(cf_req_t *req);
cf_err_t cf_seal_handle_leader(cf_req_t *req);

#endif
