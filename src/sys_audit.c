/*
 * sys_audit: the HTTP face of audit.c: sys/audit (list), sys/audit/<path>
 * (enable with PUT/POST, disable with DELETE) and sys/audit-hash/<path>.
 * sys/audit* needs sudo (policy.c's root paths).
 */
#include <stdlib.h>
#include <string.h>

#include "coffer/audit.h"
#include "sys_internal.h"

#define CF_SYS_AUDIT_PATH_MAX  128

/* The device path after the route prefix, without trailing slashes;
 * fails the request when it is empty, too long or odd. */
static cf_err_t
cf_sys_audit_path(cf_req_t *req, const char *prefix, char *out, size_t len)
{
    const char  *p = req->rest + strlen(prefix);
    size_t       n = strlen(p), i;

    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n == 0 || n >= len)
        return cf_req_fail(req, CF_ERR_INVALID, "a device path is required "
                           "(at most %d characters)",
                           CF_SYS_AUDIT_PATH_MAX - 1);
    for (i = 0; i < n; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || strchr("-_./", p[i])))
            return cf_req_fail(req, CF_ERR_INVALID, "invalid audit device "
                               "path");
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return CF_OK;
}

cf_err_t
cf_sys_audit_list(cf_req_t *req)
{
    return cf_req_reply_data_top(req, cf_audit_list(req->srv));
}

cf_err_t
cf_sys_audit_route(cf_req_t *req)
{
    char          path[CF_SYS_AUDIT_PATH_MAX], *msg = NULL;
    const char   *type = NULL, *desc = "";
    json_t       *opts = json_object_get(req->body, "options");
    bool          local = false, have;
    cf_err_t      rc;

    if ((rc = cf_sys_audit_path(req, "audit/", path, sizeof(path)))
        != CF_OK)
        return rc;
    if (req->op == CF_OP_DELETE) {
        if ((rc = cf_audit_disable(req->srv, path)) != CF_OK)
            return rc;
        return cf_req_reply_none(req);
    }
    if ((rc = cf_req_param_str(req, "type", &type, &have)) != CF_OK
        || (rc = cf_req_param_str(req, "description", &desc, &have))
           != CF_OK
        || (rc = cf_req_param_bool(req, "local", &local, &have)) != CF_OK)
        return rc;
    if (type == NULL || *type == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "type is required");
    if (opts != NULL && !json_is_object(opts) && !json_is_null(opts))
        return cf_req_fail(req, CF_ERR_INVALID, "options must be an object");
    rc = cf_audit_enable(req->srv, path, type, desc,
                         json_is_object(opts) ? opts : NULL, local, &msg);
    if (rc == CF_ERR_INVALID) {
        rc = cf_req_fail(req, rc, "%s", msg != NULL ? msg : "invalid");
        free(msg);
        return rc;
    }
    free(msg);
    if (rc != CF_OK)
        return rc;
    return cf_req_reply_none(req);
}

cf_err_t
cf_sys_audit_hash(cf_req_t *req)
{
    char          path[CF_SYS_AUDIT_PATH_MAX], *h = NULL;
    const char   *input = NULL;
    bool          have;
    cf_err_t      rc;

    if ((rc = cf_sys_audit_path(req, "audit-hash/", path, sizeof(path)))
        != CF_OK
        || (rc = cf_req_param_str(req, "input", &input, &have)) != CF_OK)
        return rc;
    if (!have)
        return cf_req_fail(req, CF_ERR_INVALID, "input is required");
    rc = cf_audit_hash(req->srv, path, input, &h);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "unknown audit backend %s",
                           path);
    if (rc != CF_OK)
        return rc;
    rc = cf_req_reply_data_top(req, json_pack("{s:s}", "hash", h));
    free(h);
    return rc;
}
