/*
 * router: the mount table and longest-prefix routing.
 *
 * The table is persisted as the barrier entry "core/mounts" and held in
 * memory as an immutable, refcounted snapshot; a change builds a new
 * snapshot and swaps it under the table mutex, so a request routes on
 * the snapshot it took. Required mounts (sys/, and cubbyhole/ and
 * identity/ when those engines exist) are always present.
 */
#ifndef COFFER_ROUTER_H
#define COFFER_ROUTER_H

#include <jansson.h>

#include "coffer/engine.h"
#include "coffer/err.h"
#include "coffer/req.h"
#include "coffer/server.h"

cf_err_t cf_router_new(cf_router_t **out);
void cf_router_free(cf_router_t *r);

/* Load "core/mounts" (or create the default table on first unseal) and
 * run each engine's mount hook. Barrier must be unsealed. */
cf_err_t cf_router_load(cf_server_t *srv);

/* Drop the in-memory table (at seal). */
void cf_router_unload(cf_server_t *srv);

/* Add a mount of engine `type` at `path` (normalised to end in '/');
 * persists the table. CF_ERR_INVALID naming the problem for overlapping
 * or reserved paths or unknown types. */
cf_err_t cf_router_mount(cf_server_t *srv, const char *path,
                         const char *type, const char *description,
                         json_t *config, json_t *options, char **errmsg);

/* Route req->path: sets req->mount/req->rest for the duration of the call
 * and runs the matching handler. 404 for no mount or no path, 405 for an
 * operation the path does not support. */
cf_err_t cf_router_dispatch(cf_server_t *srv, cf_req_t *req);

/* The mount table as Vault's sys/mounts "data" object (owned). */
json_t *cf_router_mounts_json(cf_server_t *srv, bool auth);

/* Match one pattern against a path inside a mount (exposed for tests). */
bool cf_router_match(const char *pattern, const char *path);

#endif
