/*
 * sys_leases: the HTTP face of the expiration manager (lease.c):
 * sys/leases/lookup, renew, revoke, revoke-prefix, revoke-force, tidy,
 * and the legacy sys/renew, sys/revoke, sys/revoke-prefix,
 * sys/revoke-force. The lease id comes from the path or from the body's
 * lease_id, as in Vault.
 */
#include <stdio.h>
#include <string.h>

#include "coffer/lease.h"
#include "coffer/log.h"
#include "sys_internal.h"

#define CF_SYS_LEASE_PREFIX_MAX  1024

/* The part of req->rest after whichever of these route prefixes it
 * starts with ("" when the route has no argument in its path). */
static const char *
cf_sys_lease_path_arg(cf_req_t *req)
{
    static const char *const  routes[] = {
        "leases/lookup/", "leases/renew/", "leases/revoke-prefix/",
        "leases/revoke-force/", "leases/revoke/", "renew/",
        "revoke-prefix/", "revoke-force/", "revoke/", NULL
    };
    size_t  i, n;

    for (i = 0; routes[i] != NULL; i++) {
        n = strlen(routes[i]);
        if (strncmp(req->rest, routes[i], n) == 0)
            return req->rest + n;
    }
    return "";
}

/* The lease id of the request: from the path, else the body's lease_id.
 * Fails the request when there is none. */
static cf_err_t
cf_sys_lease_id(cf_req_t *req, const char **out)
{
    const char  *id = cf_sys_lease_path_arg(req);
    bool         have = false;
    cf_err_t     rc;

    if (*id == '\0') {
        if ((rc = cf_req_param_str(req, "lease_id", &id, &have)) != CF_OK)
            return rc;
        if (!have || *id == '\0')
            return cf_req_fail(req, CF_ERR_INVALID,
                               "lease_id must be specified");
    }
    *out = id;
    return CF_OK;
}

/* A prefix of lease ids as revoke-prefix and LIST take it: leading
 * slashes dropped, a trailing one added. */
static cf_err_t
cf_sys_lease_prefix(cf_req_t *req, char out[CF_SYS_LEASE_PREFIX_MAX])
{
    const char  *p = cf_sys_lease_path_arg(req);
    size_t       n;

    while (*p == '/')
        p++;
    n = strlen(p);
    if (n + 2 > CF_SYS_LEASE_PREFIX_MAX)
        return cf_req_fail(req, CF_ERR_INVALID, "prefix is too long");
    snprintf(out, CF_SYS_LEASE_PREFIX_MAX, "%s%s", p,
             n > 0 && p[n - 1] != '/' ? "/" : "");
    return CF_OK;
}

cf_err_t
cf_sys_lease_lookup(cf_req_t *req)
{
    char           prefix[CF_SYS_LEASE_PREFIX_MAX];
    cf_strlist_t  *l = NULL;
    json_t        *info = NULL;
    const char    *id;
    cf_err_t       rc;

    if (req->op == CF_OP_LIST) {
        if ((rc = cf_sys_lease_prefix(req, prefix)) != CF_OK)
            return rc;
        if ((rc = cf_lease_list(req->srv, prefix, &l)) != CF_OK)
            return rc;
        return cf_req_reply_keys(req, l);
    }
    if ((rc = cf_sys_lease_id(req, &id)) != CF_OK)
        return rc;
    rc = cf_lease_lookup(req->srv, id, &info);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "invalid lease");
    if (rc != CF_OK)
        return rc;
    return cf_req_reply_data(req, info);
}

/* No engine hands out renewable leases yet (PKI certificates are not
 * renewable in Vault either), so a renewal is always refused; the lookup
 * first tells an unknown lease from a non-renewable one. */
cf_err_t
cf_sys_lease_renew(cf_req_t *req)
{
    json_t       *info = NULL;
    const char   *id;
    cf_err_t      rc;

    if ((rc = cf_sys_lease_id(req, &id)) != CF_OK)
        return rc;
    rc = cf_lease_lookup(req->srv, id, &info);
    json_decref(info);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "lease not found");
    if (rc != CF_OK)
        return rc;
    return cf_req_fail(req, CF_ERR_INVALID, "lease is not renewable");
}

cf_err_t
cf_sys_lease_revoke(cf_req_t *req)
{
    const char  *id;
    cf_err_t     rc;

    if ((rc = cf_sys_lease_id(req, &id)) != CF_OK)
        return rc;
    if ((rc = cf_lease_revoke(req->srv, id, false)) != CF_OK)
        return cf_req_fail(req, rc, "failed to revoke the lease: %s",
                           cf_err_message(rc));
    return cf_req_reply_none(req);
}

cf_err_t
cf_sys_lease_revoke_prefix(cf_req_t *req)
{
    char      prefix[CF_SYS_LEASE_PREFIX_MAX];
    bool      force = strstr(req->rest, "revoke-force/") != NULL;
    unsigned  n = 0;
    cf_err_t  rc;

    if ((rc = cf_sys_lease_prefix(req, prefix)) != CF_OK)
        return rc;
    rc = cf_lease_revoke_prefix(req->srv, prefix, force, &n);
    if (n > 0)
        cf_log_info("lease", "revoked %u leases under '%s'%s", n, prefix,
                    force ? " (forced)" : "");
    if (rc != CF_OK)
        return cf_req_fail(req, rc, "failed to revoke every lease under "
                           "the prefix (%u revoked): %s", n,
                           cf_err_message(rc));
    return cf_req_reply_none(req);
}

cf_err_t
cf_sys_lease_tidy(cf_req_t *req)
{
    unsigned  n = 0;
    cf_err_t  rc;

    if ((rc = cf_lease_tidy(req->srv, &n)) != CF_OK)
        return rc;
    if (n > 0)
        cf_log_info("lease", "tidy revoked %u leases of revoked tokens", n);
    return cf_req_reply_none(req);
}
