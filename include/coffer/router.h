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

/* Remove the mount at `path`: its engine's unmount hook runs, then every
 * entry of its storage view is deleted. CF_ERR_NOT_FOUND when nothing is
 * mounted there; CF_ERR_INVALID (with *errmsg) for required mounts. */
cf_err_t cf_router_unmount(cf_server_t *srv, const char *path,
                           char **errmsg);

/* Move a mount to a new path. Its data stays where it is: views are keyed
 * by the mount's UUID. CF_ERR_INVALID with *errmsg for a missing source,
 * a required mount, or a taken or reserved destination. */
cf_err_t cf_router_remount(cf_server_t *srv, const char *from,
                           const char *to, char **errmsg);

/* Merge `config` into the mount's config and `options` into its options,
 * set its description; each may be NULL for "unchanged". */
cf_err_t cf_router_tune(cf_server_t *srv, const char *path, json_t *config,
                        const char *description, json_t *options,
                        char **errmsg);

/* The mount at exactly `path` in sys/mounts shape, or NULL (owned). */
json_t *cf_router_mount_json(cf_server_t *srv, const char *path);

/* The mount that serves `path` (longest prefix) in sys/mounts shape,
 * and its mount path in *mpath; NULL when none. Both owned. */
json_t *cf_router_mount_for_path(cf_server_t *srv, const char *path,
                                 char **mpath);

/* The barrier path of key in the view of the mount at exactly
 * mount_path (malloc'd), or NULL when there is no such mount. For
 * engine data reached outside a request to that mount. */
char *cf_router_view_key(cf_server_t *srv, const char *mount_path,
                         const char *key);

/* Delete every entry under `prefix` (ends in '/') in the storage view of
 * the mount at exactly mount_path; CF_OK when there is no such mount.
 * For purges outside a request (a revoked token's cubbyhole). */
cf_err_t cf_router_view_delete_prefix(cf_server_t *srv,
                                      const char *mount_path,
                                      const char *prefix);

/* The existence check of the engine serving req->path (see engine.h):
 * 1 exists, 0 does not, -1 no check. */
int cf_router_exists(cf_server_t *srv, cf_req_t *req);

/* Whether path falls on one of its engine's unauthenticated patterns
 * (login endpoints): the pipeline then dispatches without a token. */
bool cf_router_unauthenticated(cf_server_t *srv, const char *path);

/* Run every mounted engine's tick hook once (ticker.c). */
void cf_router_tick(cf_server_t *srv);

/* Ask the engine of the mount with this uuid to revoke a lease's secret
 * (engine revoke_secret hook; CF_OK when it has none). CF_ERR_NOT_FOUND
 * when that mount is gone (its data went with it). */
cf_err_t cf_router_revoke_secret(cf_server_t *srv, const char *mount_uuid,
                                 const json_t *internal);

/* Route req->path: sets req->mount/req->rest for the duration of the call
 * and runs the matching handler. 404 for no mount or no path, 405 for an
 * operation the path does not support. */
cf_err_t cf_router_dispatch(cf_server_t *srv, cf_req_t *req);

/* The mount table as Vault's sys/mounts "data" object (owned). */
json_t *cf_router_mounts_json(cf_server_t *srv, bool auth);

/* Match one pattern against a path inside a mount (exposed for tests). */
bool cf_router_match(const char *pattern, const char *path);

#endif
