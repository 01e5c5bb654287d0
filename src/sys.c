/*
 * sys: the authenticated system backend at sys/: barrier key status and
 * rotation, random bytes and hashing tools, the mount tables (read; the
 * mount management routes are in sys_mounts.c).
 */
#include "coffer/sys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/barrier.h"
#include "coffer/hsm.h"
#include "coffer/log.h"
#include "coffer/router.h"
#include "coffer/server.h"
#include "coffer/tools.h"
#include "coffer/wrapping.h"
#include "sys_internal.h"

#define CF_SYS_RANDOM_MAX  (128 * 1024)

static cf_err_t
cf_sys_key_status(cf_req_t *req)
{
    uint32_t         term;
    time_t           installed;
    uint64_t         enc;
    struct timespec  ts = { 0, 0 };
    char             when[40];
    cf_err_t         rc;

    rc = cf_barrier_key_status(req->srv->barrier, &term, &installed, &enc);
    if (rc != CF_OK)
        return rc;
    ts.tv_sec = installed;
    cf_time_rfc3339(&ts, when);
    return cf_req_reply_data_top(req, json_pack("{s:I, s:s, s:I}",
                                 "term", (json_int_t) term,
                                 "install_time", when,
                                 "encryptions", (json_int_t) enc));
}

static cf_err_t
cf_sys_rotate(cf_req_t *req)
{
    cf_err_t  rc;

    if ((rc = cf_barrier_rotate(req->srv->barrier)) != CF_OK)
        return rc;
    cf_log_info("sys", "barrier key rotated");
    return cf_req_reply_none(req);
}

static cf_err_t
cf_sys_random(cf_req_t *req)
{
    return cf_tools_random(req, "tools/random");
}

static cf_err_t
cf_sys_hash(cf_req_t *req)
{
    return cf_tools_hash(req, "tools/hash");
}

static cf_err_t
cf_sys_mounts(cf_req_t *req)
{
    return cf_req_reply_data_top(req, cf_router_mounts_json(req->srv,
                                                            false));
}

static cf_err_t
cf_sys_auth(cf_req_t *req)
{
    return cf_req_reply_data_top(req, cf_router_mounts_json(req->srv, true));
}

static const cf_path_t  cf_sys_paths[] = {
    { "key-status",     CF_OP_READ,                cf_sys_key_status },
    { "rotate",         CF_OP_UPDATE,              cf_sys_rotate },
    { "tools/random",   CF_OP_READ | CF_OP_UPDATE, cf_sys_random },
    { "tools/random/*", CF_OP_READ | CF_OP_UPDATE, cf_sys_random },
    { "tools/hash",     CF_OP_UPDATE,              cf_sys_hash },
    { "tools/hash/+",   CF_OP_UPDATE,              cf_sys_hash },
    { "mounts",         CF_OP_READ,                cf_sys_mounts },
    { "mounts/*",       CF_OP_ALL,                 cf_sys_mount_route },
    { "remount",        CF_OP_UPDATE,              cf_sys_remount },
    { "remount/status/+", CF_OP_READ,              cf_sys_remount_status },
    { "policies/acl",   CF_OP_READ | CF_OP_LIST,   cf_sys_policies_acl },
    { "policies/acl/",  CF_OP_LIST,                cf_sys_policies_acl },
    { "policies/acl/+", CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE,
                                                   cf_sys_policies_acl },
    { "policy",         CF_OP_READ,                cf_sys_policy_legacy },
    { "policy/+",       CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE,
                                                   cf_sys_policy_legacy },
    { "capabilities",   CF_OP_WRITE,               cf_sys_capabilities },
    { "capabilities-self", CF_OP_WRITE,            cf_sys_capabilities },
    { "capabilities-accessor", CF_OP_WRITE,        cf_sys_capabilities },
    { "wrapping/wrap",  CF_OP_WRITE,               cf_sys_wrapping_wrap },
    { "wrapping/unwrap", CF_OP_WRITE,              cf_sys_wrapping_unwrap },
    { "wrapping/lookup", CF_OP_READ | CF_OP_WRITE, cf_sys_wrapping_lookup },
    { "wrapping/rewrap", CF_OP_WRITE,              cf_sys_wrapping_rewrap },
    { "internal/ui/mounts", CF_OP_READ,            cf_sys_ui_mounts },
    { "internal/ui/mounts/*", CF_OP_READ,          cf_sys_ui_mount },
    { "audit",          CF_OP_READ,                cf_sys_audit_list },
    { "audit/*",        CF_OP_WRITE | CF_OP_DELETE, cf_sys_audit_route },
    { "audit-hash/*",   CF_OP_WRITE,               cf_sys_audit_hash },
    { "leases/lookup",  CF_OP_UPDATE,              cf_sys_lease_lookup },
    { "leases/lookup/*", CF_OP_LIST,               cf_sys_lease_lookup },
    { "leases/renew",   CF_OP_UPDATE,              cf_sys_lease_renew },
    { "leases/renew/*", CF_OP_UPDATE,              cf_sys_lease_renew },
    { "leases/revoke",  CF_OP_UPDATE,              cf_sys_lease_revoke },
    { "leases/revoke/*", CF_OP_UPDATE,             cf_sys_lease_revoke },
    { "leases/revoke-prefix/*", CF_OP_UPDATE,      cf_sys_lease_revoke_prefix },
    { "leases/revoke-force/*", CF_OP_UPDATE,       cf_sys_lease_revoke_prefix },
    { "leases/tidy",    CF_OP_UPDATE,              cf_sys_lease_tidy },
    { "renew",          CF_OP_UPDATE,              cf_sys_lease_renew },
    { "renew/*",        CF_OP_UPDATE,              cf_sys_lease_renew },
    { "revoke",         CF_OP_UPDATE,              cf_sys_lease_revoke },
    { "revoke/*",       CF_OP_UPDATE,              cf_sys_lease_revoke },
    { "revoke-prefix/*", CF_OP_UPDATE,             cf_sys_lease_revoke_prefix },
    { "revoke-force/*", CF_OP_UPDATE,              cf_sys_lease_revoke_prefix },
    { "auth",           CF_OP_READ,                cf_sys_auth },
    { "auth/*",         CF_OP_ALL,                 cf_sys_auth_route },
    CF_PATH_END
};

/* Vault serves these without a token: lookup names its token in the
 * body. */
static const char *const  cf_sys_unauth[] = { "wrapping/lookup", NULL };

const cf_engine_t  cf_sys_engine = {
    .name = "system", .paths = cf_sys_paths, .singleton = true,
    .unauthenticated = cf_sys_unauth,
};
