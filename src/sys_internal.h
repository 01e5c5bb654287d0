/*
 * sys_internal: handlers of the system backend that live outside sys.c
 * (sys.c's path table is the one place they are routed from).
 */
#ifndef COFFER_SYS_INTERNAL_H
#define COFFER_SYS_INTERNAL_H

#include "coffer/engine.h"
#include "coffer/req.h"

/* sys_mounts.c */
cf_err_t cf_sys_mount_route(cf_req_t *req);     /* mounts/<path>[/tune] */
cf_err_t cf_sys_auth_route(cf_req_t *req);      /* auth/<path>[/tune] */
cf_err_t cf_sys_remount(cf_req_t *req);
cf_err_t cf_sys_remount_status(cf_req_t *req);
cf_err_t cf_sys_ui_mounts(cf_req_t *req);
cf_err_t cf_sys_ui_mount(cf_req_t *req);

/* sys_audit.c */
cf_err_t cf_sys_audit_list(cf_req_t *req);      /* audit */
cf_err_t cf_sys_audit_route(cf_req_t *req);     /* audit/<path> */
cf_err_t cf_sys_audit_hash(cf_req_t *req);      /* audit-hash/<path> */

/* sys_leases.c */
cf_err_t cf_sys_lease_lookup(cf_req_t *req);    /* leases/lookup[/<prefix>] */
cf_err_t cf_sys_lease_renew(cf_req_t *req);     /* leases/renew, renew */
cf_err_t cf_sys_lease_revoke(cf_req_t *req);    /* leases/revoke, revoke */
cf_err_t cf_sys_lease_revoke_prefix(cf_req_t *req); /* revoke-prefix|force */
cf_err_t cf_sys_lease_tidy(cf_req_t *req);      /* leases/tidy */

/* policy_store.c */
cf_err_t cf_sys_policies_acl(cf_req_t *req);    /* policies/acl[/<name>] */
cf_err_t cf_sys_policy_legacy(cf_req_t *req);   /* policy[/<name>] */
cf_err_t cf_sys_capabilities(cf_req_t *req);    /* capabilities[-*] */

#endif
