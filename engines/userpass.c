/*
 * userpass: the username/password auth method (Vault's auth/userpass):
 * users/<name> CRUD + LIST, users/<name>/password, users/<name>/policies,
 * and login/<name>. Usernames are case-insensitive (stored lowercased);
 * passwords are kept only as scrypt hashes ("user/<name>" in the view).
 */
#include "coffer/userpass.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "auth_common.h"

#define CF_USERPASS_NAME_MAX  256

/* The user named by the path segment after `skip`, lowercased, into buf;
 * 400 for an empty or oversize name. */
static cf_err_t
cf_userpass_name(cf_req_t *req, const char *skip, char *buf, size_t cap)
{
    const char  *p = req->rest + strlen(skip);
    size_t       n = strcspn(p, "/"), i;

    if (n == 0 || n >= cap || n > CF_USERPASS_NAME_MAX)
        return cf_req_fail(req, CF_ERR_INVALID, "missing or invalid "
                           "username");
    for (i = 0; i < n; i++)
        buf[i] = (char) tolower((unsigned char) p[i]);
    buf[n] = '\0';
    return CF_OK;
}

static void
cf_userpass_key(const char *name, char *key, size_t cap)
{
    snprintf(key, cap, "user/%s", name);
}

/* Set "password_hash" from the request's password; 400 if missing. */
static cf_err_t
cf_userpass_set_password(cf_req_t *req, json_t *user, bool required)
{
    const char  *pw = NULL;
    json_t      *h;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "password", &pw, &has)) != CF_OK)
        return rc;
    if (pw == NULL || *pw == '\0')
        return required ? cf_req_fail(req, CF_ERR_INVALID,
                                      "missing password") : CF_OK;
    if ((h = cf_auth_password_hash(pw)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "password too long");
    json_object_set_new(user, "password_hash", h);
    return CF_OK;
}

static cf_err_t
cf_userpass_user(cf_req_t *req)
{
    char       name[CF_USERPASS_NAME_MAX + 1], key[300];
    json_t    *user = NULL, *out;
    cf_err_t   rc;

    if ((rc = cf_userpass_name(req, "users/", name, sizeof(name))) != CF_OK)
        return rc;
    cf_userpass_key(name, key, sizeof(key));
    rc = cf_view_get_json(req, key, &user);
    if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
        return rc;
    switch (req->op) {
    case CF_OP_READ:
        if (user == NULL)
            return cf_req_fail(req, CF_ERR_NOT_FOUND, "user not found");
        out = json_object();
        cf_auth_token_fields_describe(user, out);
        json_decref(user);
        return cf_req_reply_data(req, out);
    case CF_OP_DELETE:
        json_decref(user);
        if ((rc = cf_view_delete(req, key)) != CF_OK)
            return rc;
        return cf_req_reply_none(req);
    default:                            /* create or update */
        if (user == NULL && (user = json_object()) == NULL)
            return CF_ERR_NOMEM;
        if ((rc = cf_userpass_set_password(req, user,
                                           json_object_get(user,
                                               "password_hash") == NULL))
            == CF_OK
            && (rc = cf_auth_token_fields_parse(req, user)) == CF_OK
            && (rc = cf_view_put_json(req, key, user)) == CF_OK)
            rc = cf_req_reply_none(req);
        json_decref(user);
        return rc;
    }
}

/* users/<name>/password and users/<name>/policies: change one part of an
 * existing user. */
static cf_err_t
cf_userpass_user_part(cf_req_t *req)
{
    char        name[CF_USERPASS_NAME_MAX + 1], key[300];
    const char *part = strrchr(req->rest, '/') + 1;
    json_t     *user = NULL;
    cf_err_t    rc;

    if ((rc = cf_userpass_name(req, "users/", name, sizeof(name))) != CF_OK)
        return rc;
    cf_userpass_key(name, key, sizeof(key));
    rc = cf_view_get_json(req, key, &user);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "username does not exist");
    if (rc != CF_OK)
        return rc;
    if (strcmp(part, "password") == 0)
        rc = cf_userpass_set_password(req, user, true);
    else
        rc = cf_auth_token_fields_parse(req, user);
    if (rc == CF_OK && (rc = cf_view_put_json(req, key, user)) == CF_OK)
        rc = cf_req_reply_none(req);
    json_decref(user);
    return rc;
}

static cf_err_t
cf_userpass_list(cf_req_t *req)
{
    return cf_view_reply_list(req, "user/");
}

static cf_err_t
cf_userpass_login(cf_req_t *req)
{
    char         name[CF_USERPASS_NAME_MAX + 1], key[300], disp[300];
    char         path[600];
    const char  *pw = NULL;
    json_t      *user = NULL, *meta;
    bool         has, ok;
    cf_err_t     rc;

    if ((rc = cf_userpass_name(req, "login/", name, sizeof(name))) != CF_OK
        || (rc = cf_req_param_str(req, "password", &pw, &has)) != CF_OK)
        return rc;
    if (pw == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "missing password");
    cf_userpass_key(name, key, sizeof(key));
    rc = cf_view_get_json(req, key, &user);
    if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
        return rc;
    /* Same work whether the user exists or not. */
    ok = cf_auth_password_check(json_object_get(user, "password_hash"), pw);
    if (!ok) {
        json_decref(user);
        return cf_auth_login_failed(req);
    }
    snprintf(disp, sizeof(disp), "%s-%s", req->mount->type, name);
    snprintf(path, sizeof(path), "%slogin/%s", req->mount->path, name);
    meta = json_pack("{s:s}", "username", name);
    rc = cf_auth_issue_login(req, user, disp, path, meta, name);
    json_decref(meta);
    json_decref(user);
    return rc;
}

static const cf_path_t  cf_userpass_paths[] = {
    { "users",            CF_OP_LIST,                  cf_userpass_list },
    { "users/",           CF_OP_LIST,                  cf_userpass_list },
    { "users/+/password", CF_OP_WRITE,                 cf_userpass_user_part },
    { "users/+/policies", CF_OP_WRITE,                 cf_userpass_user_part },
    { "users/+",          CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE,
                                                       cf_userpass_user },
    { "login/+",          CF_OP_WRITE,                 cf_userpass_login },
    CF_PATH_END
};

static const char *const  cf_userpass_unauth[] = { "login/+", NULL };

const cf_engine_t  cf_userpass_engine = {
    .name = "userpass", .paths = cf_userpass_paths, .is_auth = true,
    .unauthenticated = cf_userpass_unauth,
};
