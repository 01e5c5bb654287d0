/*
 * core: the request pipeline. Unauthenticated seal endpoints run first and
 * take the seal lock themselves; everything else runs under the seal read
 * lock: sealed -> 503, token -> 403, policy -> 403, audit the request
 * (no device can log -> 500), router -> engine, then the lease the engine
 * asked for (lease.c), response wrapping, and audit the response.
 */
#include "coffer/core.h"

#include <string.h>

#include "coffer/audit.h"
#include "coffer/cidr.h"
#include "coffer/lease.h"
#include "coffer/log.h"
#include "coffer/policy_store.h"
#include "coffer/router.h"
#include "coffer/seal.h"
#include "coffer/server.h"
#include "coffer/token.h"
#include "coffer/wrapping.h"

typedef struct {
    const char         *path;
    unsigned            ops;
    cf_path_handler_t   handler;
} cf_core_route_t;

/* Served in any seal state, without a token (Vault's unauthenticated
 * paths). */
static const cf_core_route_t  cf_core_open_routes[] = {
    { "sys/health",      CF_OP_READ,   cf_seal_handle_health },
    { "sys/seal-status", CF_OP_READ,   cf_seal_handle_seal_status },
    { "sys/init",        CF_OP_READ | CF_OP_UPDATE, cf_seal_handle_init },
    { "sys/unseal",      CF_OP_UPDATE, cf_seal_handle_unseal },
    { "sys/leader",      CF_OP_READ,   cf_seal_handle_leader },
    { NULL, 0, NULL }
};

static bool
cf_core_open_route(cf_req_t *req)
{
    const cf_core_route_t  *r;
    cf_err_t                rc;

    for (r = cf_core_open_routes; r->path != NULL; r++) {
        if (strcmp(req->path, r->path) != 0)
            continue;
        if ((r->ops & (unsigned) req->op) == 0) {
            cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
            return true;
        }
        rc = r->handler(req);
        if (rc != CF_OK && req->errors == NULL)
            cf_req_fail(req, rc, "%s", cf_err_message(rc));
        return true;
    }
    return false;
}

/* The token's ACL decides; root-protected paths also need sudo. */
static cf_err_t
cf_core_check_acl(cf_req_t *req)
{
    cf_acl_t         *acl = NULL;
    cf_acl_result_t   r;
    cf_op_t           op;
    bool              ok;
    cf_err_t          rc;

    /* Unauthenticated in Vault (the CLI's KV preflight); here any valid
     * token may ask, and sees only the mounts its ACL reaches
     * (sys_mounts.c filters). */
    if (strncmp(req->path, "sys/internal/ui/mounts", 22) == 0)
        return CF_OK;
    rc = cf_policy_store_token_acl(req->srv, req->token->entry, &acl);
    if (rc == CF_ERR_PERMISSION)        /* its entity is disabled */
        return cf_req_fail(req, rc, "permission denied");
    if (rc != CF_OK)
        return cf_req_fail(req, rc, "%s", cf_err_message(rc));
    /* A write to something that does not exist yet is a "create". */
    op = req->op;
    if (op == CF_OP_UPDATE && cf_router_exists(req->srv, req) == 0)
        op = CF_OP_CREATE;
    ok = cf_acl_allowed(acl, req->path, op, req->body, &r);
    if (ok && !r.sudo && cf_policy_path_needs_sudo(req->path))
        ok = false;
    if (ok && !cf_acl_wrap_ttl_ok(&r, req->wrap_ttl))
        ok = false;
    cf_acl_free(acl);
    if (!ok) {
        cf_log_debug("core", "denied %s: %s", req->path,
                     cf_acl_reason_str(r.reason));
        return cf_req_fail(req, CF_ERR_PERMISSION, "permission denied");
    }
    return CF_OK;
}

/* Token, then policy: the root token passes, every other token is
 * checked against the ACL of its policies. */
static cf_err_t
cf_core_authorize_locked(cf_req_t *req)
{
    cf_err_t  rc;

    if (req->client_token == NULL)
        return cf_req_fail(req, CF_ERR_PERMISSION, "permission denied");
    rc = cf_token_lookup(req->srv, req->client_token, &req->token);
    if (rc == CF_ERR_PERMISSION)
        return cf_req_fail(req, rc, "permission denied");
    if (rc != CF_OK)
        return cf_req_fail(req, rc, "%s", cf_err_message(rc));
    /* token_bound_cidrs: the token only works from its blocks. */
    if (!cf_cidr_list_match(json_object_get(req->token->entry,
                                            "bound_cidrs"),
                            cf_req_remote_addr(req)))
        return cf_req_fail(req, CF_ERR_PERMISSION, "permission denied");
    if (req->token->root)
        return CF_OK;
    return cf_core_check_acl(req);
}

/* sys/seal needs the write lock, so it cannot run inside the read-locked
 * pipeline: authorise under the read lock, release, then seal. */
static void
cf_core_seal(cf_req_t *req)
{
    cf_server_t  *srv = req->srv;
    cf_err_t      rc;

    if (req->op != CF_OP_UPDATE) {
        cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
        return;
    }
    pthread_rwlock_rdlock(&srv->seal_lock);
    if (atomic_load(&srv->sealed))
        rc = cf_req_fail(req, CF_ERR_SEALED, "Vault is sealed");
    else if ((rc = cf_core_authorize_locked(req)) != CF_OK) {
        if (cf_audit_log_request(req) == CF_OK)
            (void) cf_audit_log_response(req);
    } else {
        /* Logged before: once sealed, no device is loaded to log to. */
        rc = cf_audit_log_request(req);
    }
    pthread_rwlock_unlock(&srv->seal_lock);
    if (rc != CF_OK)
        return;
    cf_seal_seal(srv);
    cf_req_reply_none(req);
}

void
cf_core_handle(cf_req_t *req)
{
    cf_server_t  *srv = req->srv;

    if (cf_core_open_route(req))
        return;
    if (strcmp(req->path, "sys/seal") == 0) {
        cf_core_seal(req);
        return;
    }
    pthread_rwlock_rdlock(&srv->seal_lock);
    if (atomic_load(&srv->sealed)) {
        cf_req_fail(req, CF_ERR_SEALED, "Vault is sealed");
        goto out;
    }
    /* Login paths run without a token (and ignore one if sent). */
    if (!cf_router_unauthenticated(srv, req->path)
        && cf_core_authorize_locked(req) != CF_OK) {
        /* Refused requests are audited too (Vault): probing shows. */
        if (cf_audit_log_request(req) == CF_OK)
            (void) cf_audit_log_response(req);
        goto out;
    }
    if (cf_audit_log_request(req) != CF_OK)
        goto out;
    if (cf_router_dispatch(srv, req) != CF_OK)
        goto audit;
    if (req->lease != NULL && cf_lease_register(req) != CF_OK)
        goto audit;
    /* Vault: a token's leases end with it, also those its last use made
     * (the response still shows the lease it had). */
    if (req->lease != NULL && req->token != NULL && req->token->used_up)
        (void) cf_lease_revoke_token(srv, req->token->id_hmac);
    if (req->wrap_ttl > 0 && strcmp(req->path, "sys/wrapping/rewrap") != 0)
        (void) cf_wrap_response(req);
audit:
    (void) cf_audit_log_response(req);
out:
    pthread_rwlock_unlock(&srv->seal_lock);
}
