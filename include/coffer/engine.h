/*
 * engine: what a mountable backend is, and the mount it is served from.
 *
 * An engine exports one `const cf_engine_t` and nothing else; it is listed
 * in engines/engines.c (cf_engines[]), the only table the router walks.
 * Its paths table maps a pattern inside the mount to a handler and the
 * operations it supports; the router returns 405 for other operations and
 * 404 for unknown paths, and checks seal state, token and policy before a
 * handler runs. A handler reads and writes only its mount's storage view.
 *
 * Patterns: literal segments, "+" = exactly one segment, a trailing "*" =
 * any rest (also empty). The first matching entry wins.
 */
#ifndef COFFER_ENGINE_H
#define COFFER_ENGINE_H

#include <jansson.h>
#include <stdbool.h>

#include "coffer/err.h"
#include "coffer/mem.h"
#include "coffer/req.h"

typedef cf_err_t (*cf_path_handler_t)(cf_req_t *req);

typedef struct {
    const char         *pattern;
    unsigned            ops;        /* CF_OP_* bits */
    cf_path_handler_t   handler;
} cf_path_t;

#define CF_PATH_END  { NULL, 0, NULL }

typedef struct cf_engine_s {
    const char       *name;         /* mount type: "system", "kv", ... */
    const cf_path_t  *paths;
    bool              is_auth;      /* mounted under auth/ */
    bool              singleton;    /* one instance, cannot be disabled */
    /* Patterns (as in paths) served without a token, e.g. "login/+";
     * NULL-terminated, or NULL for none. */
    const char *const *unauthenticated;
    /* Key prefixes (in the mount's view) of entries that are settings,
     * not secrets, and are read on hot paths: cf_view_get answers them
     * from the barrier's cache (barrier_cache.h). NULL-terminated, or
     * NULL for none. */
    const char *const *cached;
    /* Optional hooks; run under the mount table lock, no request. */
    cf_err_t        (*mount)(cf_server_t *srv, cf_mount_t *m);
    cf_err_t        (*unmount)(cf_server_t *srv, cf_mount_t *m);
    /* Optional existence check, Vault's: for a POST/PUT, whether the
     * target exists (1) or not (0), so the ACL asks for "update" or
     * "create"; -1 when the path has no such check (then "update").
     * req->mount and req->rest are set; nothing may be written. */
    int             (*exists)(cf_req_t *req);
    /* Optional periodic work (ticker.c, about once a minute while
     * unsealed): req has the mount and the server, no token and an empty
     * body; failures recorded on it are logged and dropped. */
    void            (*tick)(cf_req_t *req);
    /* Optional: revoke the secret one of this mount's leases hands out
     * (lease.c, on revocation or expiry). req has the mount, no token and
     * an empty body; `internal` is what the handler gave cf_req_set_lease.
     * CF_OK also when the secret is already gone. */
    cf_err_t        (*revoke_secret)(cf_req_t *req, const json_t *internal);
} cf_engine_t;

/* One entry of the mount table. Immutable once published. */
struct cf_mount_s {
    char               *path;       /* "secret/", "auth/userpass/" */
    char               *type;       /* engine name */
    char               *uuid;
    char               *accessor;
    char               *description;
    json_t             *config;     /* object: default_lease_ttl, ... */
    json_t             *options;    /* object or null */
    bool                local;
    bool                seal_wrap;
    const cf_engine_t  *engine;
    char               *view;       /* storage prefix "logical/<uuid>/" */
};

/* Storage view of the request's mount: keys are relative to the view. */
cf_err_t cf_view_get(cf_req_t *req, const char *key, cf_buf_t **out);
cf_err_t cf_view_put(cf_req_t *req, const char *key, const void *data,
                     size_t len);
cf_err_t cf_view_delete(cf_req_t *req, const char *key);
cf_err_t cf_view_list(cf_req_t *req, const char *prefix, cf_strlist_t **out);
/* Delete every key under prefix (ends in '/'), in one transaction. */
cf_err_t cf_view_delete_prefix(cf_req_t *req, const char *prefix);

/* For exists hooks: 1 when key is stored in the view, 0 when not, -1 on
 * any other failure. */
int cf_view_exists(cf_req_t *req, const char *key);

/* LIST reply of the immediate children of prefix ("" or ending in '/';
 * folders end in '/'): {"keys": [...]}, or Vault's 404 {"errors":[]}
 * when there are none. */
cf_err_t cf_view_reply_list(cf_req_t *req, const char *prefix);

/* The same reply for a list already made (taken: freed here). */
cf_err_t cf_req_reply_keys(cf_req_t *req, cf_strlist_t *l);

/* JSON convenience over the view: *out owned by the caller. */
cf_err_t cf_view_get_json(cf_req_t *req, const char *key, json_t **out);
cf_err_t cf_view_put_json(cf_req_t *req, const char *key, const json_t *v);
/* Several entries in one durable transaction: all or none. */
cf_err_t cf_view_put_json_many(cf_req_t *req, size_t n,
                               const char *const *keys,
                               const json_t *const *values);

/* NULL-terminated list of every engine (engines/engines.c). */
extern const cf_engine_t *const  cf_engines[];

/* The engine named `name`, or NULL. */
const cf_engine_t *cf_engine_find(const char *name);

#endif
