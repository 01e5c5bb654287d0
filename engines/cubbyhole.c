/*
 * cubbyhole: per-token private storage at cubbyhole/, on every server,
 * never disabled or moved. A token sees only the entries under its own
 * prefix "<token id HMAC>/" in the mount's view, so no token can name
 * another's; revoking a token purges its prefix (cf_cubbyhole_purge).
 * Semantics are KV v1's without leases: read, write, list, delete.
 */
#include "coffer/cubbyhole.h"

#include <stdlib.h>
#include <string.h>

#include "coffer/barrier.h"
#include "coffer/router.h"
#include "coffer/server.h"
#include "coffer/token.h"
#include "kv.h"

/* "<token hmac>/<rest>" (malloc'd), or NULL on OOM. */
static char *
cf_cubbyhole_key(const cf_req_t *req, const char *rest)
{
    const char  *id = req->token->id_hmac;
    size_t       li = strlen(id), lr = strlen(rest);
    char        *k;

    if ((k = malloc(li + 1 + lr + 1)) == NULL)
        return NULL;
    memcpy(k, id, li);
    k[li] = '/';
    memcpy(k + li + 1, rest, lr + 1);
    return k;
}

static cf_err_t
cf_cubbyhole_handle(cf_req_t *req)
{
    json_t    *data = NULL;
    char      *key;
    cf_err_t   rc;

    if (req->token == NULL || req->token->id_hmac == NULL)
        return cf_req_fail(req, CF_ERR_PERMISSION, "permission denied");
    if (req->op != CF_OP_LIST && (rc = cf_kv_check_key(req, req->rest))
                                 != CF_OK)
        return rc;
    if (req->op == CF_OP_LIST) {
        char base[256];

        snprintf(base, sizeof(base), "%s/", req->token->id_hmac);
        return cf_kv_reply_list_dir(req, base, req->rest);
    }
    key = cf_cubbyhole_key(req, req->rest);
    if (key == NULL)
        return CF_ERR_NOMEM;
    switch (req->op) {
    case CF_OP_READ:
        rc = cf_view_get_json(req, key, &data);
        if (rc == CF_ERR_NOT_FOUND)
            rc = cf_kv_reply_404(req, NULL);
        else if (rc == CF_OK)
            rc = cf_req_reply_data(req, data);
        break;
    case CF_OP_CREATE:
    case CF_OP_UPDATE:
        if (json_object_size(req->body) == 0)
            rc = cf_req_fail(req, CF_ERR_INVALID, "missing data fields");
        else if ((rc = cf_view_put_json(req, key, req->body)) == CF_OK)
            rc = cf_req_reply_none(req);
        break;
    case CF_OP_DELETE:
        if ((rc = cf_view_delete(req, key)) == CF_OK)
            rc = cf_req_reply_none(req);
        break;
    default:
        rc = cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    }
    free(key);
    return rc;
}

cf_err_t
cf_cubbyhole_purge(cf_server_t *srv, const char *token_hmac)
{
    char  prefix[256];

    if ((size_t) snprintf(prefix, sizeof(prefix), "%s/", token_hmac)
        >= sizeof(prefix))
        return CF_ERR_INVALID;
    return cf_router_view_delete_prefix(srv, "cubbyhole/", prefix);
}

/* The barrier path of <token hmac>/<key> in the cubbyhole mount. */
static char *
cf_cubbyhole_path(cf_server_t *srv, const char *token_hmac, const char *key)
{
    char  *rel = NULL, *full;

    if (asprintf(&rel, "%s/%s", token_hmac, key) < 0)
        return NULL;
    full = cf_router_view_key(srv, "cubbyhole/", rel);
    free(rel);
    return full;
}

cf_err_t
cf_cubbyhole_put_json(cf_server_t *srv, const char *token_hmac,
                      const char *key, const json_t *v)
{
    char      *path = cf_cubbyhole_path(srv, token_hmac, key);
    cf_err_t   rc;

    if (path == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_put_json(srv->barrier, path, v);
    free(path);
    return rc;
}

cf_err_t
cf_cubbyhole_take_json(cf_server_t *srv, const char *token_hmac,
                       const char *key, json_t **out)
{
    char      *path = cf_cubbyhole_path(srv, token_hmac, key);
    cf_err_t   rc;

    *out = NULL;
    if (path == NULL)
        return CF_ERR_NOMEM;
    if ((rc = cf_barrier_get_json(srv->barrier, path, out)) == CF_OK
        && (rc = cf_barrier_delete(srv->barrier, path)) != CF_OK) {
        json_decref(*out);              /* not taken unless deleted */
        *out = NULL;
    }
    free(path);
    return rc;
}

static int
cf_cubbyhole_exists(cf_req_t *req)
{
    char   *key;
    int     r;
    size_t  n = strlen(req->rest);

    /* (no cf_kv_check_key: an exists hook must not record failures) */
    if (req->token == NULL || n == 0 || req->rest[n - 1] == '/')
        return -1;
    if ((key = cf_cubbyhole_key(req, req->rest)) == NULL)
        return -1;
    r = cf_view_exists(req, key);
    free(key);
    return r;
}

static const cf_path_t  cf_cubbyhole_paths[] = {
    { "*", CF_OP_ALL & ~CF_OP_PATCH, cf_cubbyhole_handle },
    CF_PATH_END
};

const cf_engine_t  cf_cubbyhole_engine = {
    .name = "cubbyhole", .paths = cf_cubbyhole_paths, .singleton = true,
    .exists = cf_cubbyhole_exists,
};
