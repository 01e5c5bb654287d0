/*
 * kv internals, shared by engines/kv.c (dispatch, key locks, helpers),
 * engines/kv_v1.c and engines/kv_v2.c; engines/cubbyhole.c (a KV v1 per
 * token) reuses the key check, 404 and LIST helpers. Not a public
 * header: the engine's export is cf_kv_engine (include/coffer/kv.h).
 *
 * Storage layout inside the mount's barrier view:
 *   KV v1  "<path>"                        the JSON object as written
 *   KV v2  "config"                        {max_versions, cas_required,
 *                                           delete_version_after}
 *          "meta/<path>"                   the key's metadata and its
 *                                          versions map
 *          "ver/<sha256 hex of path>/<n>"  {"data": {...}} of version n
 * A read costs one metadata get and one version get whatever the number
 * of keys in the mount (both are point lookups by path); LIST is a prefix
 * scan of "meta/". Destroying a version deletes its "ver/" entry; the
 * metadata keeps the version's record until metadata DELETE.
 *
 * Locking: every read-modify-write of a key (and of "config") holds the
 * key's stripe of a fixed mutex table for the whole change, storage I/O
 * included: the lock exists to serialise that I/O so check-and-set is
 * exact. Reads take no lock (each entry is written whole).
 */
#ifndef COFFER_ENGINES_KV_H
#define COFFER_ENGINES_KV_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "coffer/engine.h"
#include "coffer/req.h"

/* Lock the stripe of (mount, key) and return it; release it with
 * pthread_mutex_unlock. Never fails. */
pthread_mutex_t *cf_kv_lock_key(const cf_req_t *req, const char *key);

/* 404. With data_take (may be NULL) the body also carries the Vault
 * envelope around it (KV v2 deleted or destroyed versions); the errors
 * array stays empty, as Vault's. Returns CF_ERR_NOT_FOUND. */
cf_err_t cf_kv_reply_404(cf_req_t *req, json_t *data_take);

/* LIST the immediate children of `prefix` (view-relative, "" or ending in
 * '/'); folders end in '/'. An empty list is 404 {"errors":[]}. */
cf_err_t cf_kv_reply_list(cf_req_t *req, const char *prefix);

/* cf_kv_reply_list of base + dir, with a '/' added after a non-empty dir
 * that lacks one ("LIST secret/metadata/app" lists the folder app/). */
cf_err_t cf_kv_reply_list_dir(cf_req_t *req, const char *base,
                              const char *dir);

/* A key given in the path: non-empty and not ending in '/' for an
 * operation on one secret. 400 naming the problem otherwise. */
cf_err_t cf_kv_check_key(cf_req_t *req, const char *key);

/* Now as RFC 3339 with nanoseconds, plus `add` seconds. */
void cf_kv_time(int64_t add, char buf[40]);

/* Content-Type is application/merge-patch+json (415 otherwise). */
cf_err_t cf_kv_check_merge_patch(cf_req_t *req);

/* RFC 7386 JSON merge patch: returns the patched value (a new reference;
 * target is modified in place when both are objects). */
json_t *cf_kv_merge_patch(json_t *target, json_t *patch);

/* Existence checks of each version (engine.h's exists hook). */
int cf_kv_v1_exists(cf_req_t *req);
int cf_kv_v2_exists(cf_req_t *req);

/* Handlers of each version: req->rest is the path inside the mount. */
cf_err_t cf_kv_v1_handle(cf_req_t *req);
cf_err_t cf_kv_v2_handle(cf_req_t *req);

#endif
