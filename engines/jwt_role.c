/*
 * jwt_role: role storage, listing and token issuing shared by the jwt and
 * kubernetes auth methods ("role/<name>" in the mount's view, names
 * lowercased as in Vault).
 */
#include "jwt_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_common.h"
#include "coffer/engine.h"

#define CF_JWT_ROLE_KEY  (CF_JWT_ROLE_NAME_MAX + 8)

/* name lowercased into out; false when empty, too long or holding '/'. */
static bool
cf_jwt_role_norm(const char *name, char out[CF_JWT_ROLE_NAME_MAX + 1])
{
    size_t  n = strlen(name), i;

    if (n == 0 || n > CF_JWT_ROLE_NAME_MAX || strchr(name, '/') != NULL)
        return false;
    for (i = 0; i < n; i++)
        out[i] = (char) (name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32
                                                          : name[i]);
    out[n] = '\0';
    return true;
}

cf_err_t
cf_jwt_role_load(cf_req_t *req, const char *name,
                 char rname[CF_JWT_ROLE_NAME_MAX + 1], json_t **role)
{
    char  key[CF_JWT_ROLE_KEY];

    *role = NULL;
    if (!cf_jwt_role_norm(name, rname))
        return CF_ERR_NOT_FOUND;
    snprintf(key, sizeof(key), "role/%s", rname);
    return cf_view_get_json(req, key, role);
}

cf_err_t
cf_jwt_role_crud(cf_req_t *req, cf_jwt_role_parse_t parse,
                 cf_jwt_role_describe_t describe)
{
    char       name[CF_JWT_ROLE_NAME_MAX + 1], key[CF_JWT_ROLE_KEY];
    json_t    *role = NULL, *out;
    cf_err_t   rc;

    if (!cf_jwt_role_norm(req->rest + strlen("role/"), name))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid role name");
    snprintf(key, sizeof(key), "role/%s", name);
    if (req->op == CF_OP_DELETE) {
        rc = cf_view_delete(req, key);
        return rc == CF_OK || rc == CF_ERR_NOT_FOUND ? cf_req_reply_none(req)
                                                    : rc;
    }
    rc = cf_view_get_json(req, key, &role);
    if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
        return rc;
    if (req->op == CF_OP_READ) {
        if (role == NULL)
            return cf_req_fail(req, CF_ERR_NOT_FOUND, "role not found");
        if ((out = describe(role)) != NULL)
            cf_auth_token_fields_describe(role, out);
        json_decref(role);
        return out != NULL ? cf_req_reply_data(req, out) : CF_ERR_NOMEM;
    }
    if (role == NULL && (role = json_object()) == NULL)
        return CF_ERR_NOMEM;
    if ((rc = parse(req, role)) == CF_OK
        && (rc = cf_auth_token_fields_parse(req, role)) == CF_OK
        && (rc = cf_view_put_json(req, key, role)) == CF_OK)
        rc = cf_req_reply_none(req);
    json_decref(role);
    return rc;
}

cf_err_t
cf_jwt_role_list(cf_req_t *req)
{
    return cf_view_reply_list(req, "role/");
}

cf_err_t
cf_jwt_role_issue(cf_req_t *req, const json_t *role, const char *who,
                  json_t *meta, const char *alias)
{
    char      *disp = NULL, *path = NULL;
    cf_err_t   rc = CF_ERR_NOMEM;

    if (asprintf(&disp, "%s-%s", req->mount->type, who) < 0)
        disp = NULL;
    if (asprintf(&path, "%slogin", req->mount->path) < 0)
        path = NULL;
    if (disp != NULL && path != NULL && meta != NULL)
        rc = cf_auth_issue_login(req, role, disp, path, meta, alias);
    free(disp);
    free(path);
    return rc;
}
