/*
 * token_api: the auth/token/ routes (Vault's token store API) over the
 * token core in token.c: create, create-orphan, lookup(-self,-accessor),
 * renew(-self,-accessor), revoke(-self,-accessor,-orphan), accessors.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/barrier.h"
#include "coffer/log.h"
#include "coffer/server.h"
#include "coffer/token.h"

#define CF_TOKEN_MAX_POLICIES  64

/* "policies" (list or comma-separated string), normalised. *out owned. */
static cf_err_t
cf_token_api_policies(cf_req_t *req, bool no_default, json_t **out)
{
    json_t    *v = NULL;
    bool       has;
    cf_err_t   rc;

    *out = NULL;
    if ((rc = cf_req_param_strlist(req, "policies", &v, &has)) != CF_OK)
        return rc;
    if (json_array_size(v) > CF_TOKEN_MAX_POLICIES) {
        json_decref(v);
        return cf_req_fail(req, CF_ERR_INVALID, "too many policies");
    }
    *out = cf_token_policies_normalise(v, no_default);
    json_decref(v);
    return *out != NULL ? CF_OK : CF_ERR_NOMEM;
}

static bool
cf_token_api_has_policy(const json_t *list, const char *name)
{
    json_t  *e;
    size_t   i;

    json_array_foreach(list, i, e) {
        if (json_is_string(e) && strcmp(json_string_value(e), name) == 0)
            return true;
    }
    return false;
}

/* Vault: a non-root parent may only give its children policies it has
 * itself ("default" is always allowed). */
static cf_err_t
cf_token_api_check_subset(cf_req_t *req, const json_t *want)
{
    const json_t  *have = json_object_get(req->token->entry, "policies");
    json_t        *e;
    size_t         i;

    if (req->token->root)
        return CF_OK;
    json_array_foreach(want, i, e) {
        const char *p = json_string_value(e);

        if (strcmp(p, "default") != 0 && !cf_token_api_has_policy(have, p))
            return cf_req_fail(req, CF_ERR_PERMISSION,
                               "child policies must be subset of parent");
    }
    return CF_OK;
}

/* meta: an object of string values. */
static cf_err_t
cf_token_api_meta(cf_req_t *req, json_t **out)
{
    json_t      *v = json_object_get(req->body, "meta"), *e;
    const char  *k;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return CF_OK;
    if (!json_is_object(v))
        return cf_req_fail(req, CF_ERR_INVALID, "'meta' must be a map of "
                           "strings");
    json_object_foreach(v, k, e) {
        if (!json_is_string(e))
            return cf_req_fail(req, CF_ERR_INVALID, "'meta' must be a map "
                               "of strings");
    }
    *out = v;
    return CF_OK;
}

/* Apply a token role (auth/token/roles/<name>) to the new token's
 * parameters: its policy limits, orphan/renewable, period and max TTL,
 * path suffix. 400 naming the problem. */
static cf_err_t
cf_token_api_apply_role(cf_req_t *req, const json_t *role, bool requested,
                        bool no_default, cf_token_params_t *p, bool *orphan,
                        bool *renewable)
{
    const json_t  *allowed = json_object_get(role, "allowed_policies");
    const json_t  *denied = json_object_get(role, "disallowed_policies");
    json_t        *e, *pol;
    size_t         i;
    int64_t        v;

    if (!requested && json_array_size(allowed) > 0) {
        pol = cf_token_policies_normalise(allowed, no_default);
        if (pol == NULL)
            return CF_ERR_NOMEM;
        json_decref(p->policies);
        p->policies = pol;
    }
    json_array_foreach(p->policies, i, e) {
        const char *n = json_string_value(e);

        if (cf_token_api_has_policy(denied, n))
            return cf_req_fail(req, CF_ERR_INVALID, "token policy (%.100s)"
                               " is disallowed by this role", n);
        if (json_array_size(allowed) > 0 && strcmp(n, "default") != 0
            && !cf_token_api_has_policy(allowed, n))
            return cf_req_fail(req, CF_ERR_INVALID, "token policies must "
                               "be a subset of the role's allowed "
                               "policies");
    }
    /* "default" goes when the role disallows it. */
    if (cf_token_api_has_policy(denied, "default")) {
        json_array_foreach(p->policies, i, e) {
            if (strcmp(json_string_value(e), "default") == 0) {
                json_array_remove(p->policies, i);
                break;
            }
        }
    }
    *orphan = json_is_true(json_object_get(role, "orphan"));
    if (!json_is_true(json_object_get(role, "renewable")))
        *renewable = false;
    if ((v = json_integer_value(json_object_get(role, "token_period"))) > 0)
        p->period = v;
    v = json_integer_value(json_object_get(role, "token_explicit_max_ttl"));
    if (v > 0 && (p->explicit_max_ttl == 0 || v < p->explicit_max_ttl))
        p->explicit_max_ttl = v;
    p->bound_cidrs = json_object_get(role, "token_bound_cidrs");
    return CF_OK;
}

static cf_err_t
cf_token_api_create_common(cf_req_t *req, bool orphan, const json_t *role,
                           const char *path)
{
    cf_token_params_t  p = { 0 };
    const char        *type = NULL, *dn = NULL;
    json_t            *entry = NULL;
    char              *token = NULL, name[160];
    bool               no_default = false, no_parent = false, has;
    bool               renewable = true;
    cf_err_t           rc;

    if ((rc = cf_req_param_str(req, "id", &p.id, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "type", &type, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "display_name", &dn, &has)) != CF_OK
        || (rc = cf_req_param_bool(req, "no_default_policy", &no_default,
                                   &has)) != CF_OK
        || (rc = cf_req_param_bool(req, "no_parent", &no_parent, &has))
           != CF_OK
        || (rc = cf_req_param_bool(req, "renewable", &renewable, &has))
           != CF_OK
        || (rc = cf_req_param_duration(req, "ttl", &p.ttl, &has)) != CF_OK
        || (rc = cf_req_param_duration(req, "explicit_max_ttl",
                                       &p.explicit_max_ttl, &has)) != CF_OK
        || (rc = cf_req_param_duration(req, "period", &p.period, &has))
           != CF_OK
        || (rc = cf_req_param_int(req, "num_uses", &p.num_uses, &has))
           != CF_OK
        || (rc = cf_token_api_meta(req, &p.meta)) != CF_OK)
        return rc;
    if (type != NULL && *type != '\0' && strcmp(type, "service") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "unsupported token type; only \"service\"");
    if (p.num_uses < 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'num_uses' cannot be negative");
    if (p.id != NULL && !req->token->root)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "root or sudo privileges required to specify "
                           "token id");
    if (no_parent && !req->token->root)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "root or sudo privileges required to create "
                           "orphan token");
    if ((rc = cf_token_api_policies(req, no_default, &p.policies)) != CF_OK)
        return rc;
    if (role != NULL)
        rc = cf_token_api_apply_role(req, role,
                                     json_object_get(req->body, "policies")
                                     != NULL, no_default, &p, &orphan,
                                     &renewable);
    else
        rc = cf_token_api_check_subset(req, p.policies);
    if (rc != CF_OK)
        goto out;
    if (cf_token_api_has_policy(p.policies, "root") && !req->token->root) {
        rc = cf_req_fail(req, CF_ERR_PERMISSION,
                         "root tokens may only be created by root");
        goto out;
    }
    /* TTL: a root-policy token may live forever; anything else gets its
     * period, its ttl or the default, within its explicit max and the
     * system max. */
    if (p.period > 0)
        p.ttl = p.period;
    else if (p.ttl == 0 && !cf_token_api_has_policy(p.policies, "root"))
        p.ttl = CF_TOKEN_SYSTEM_MAX_TTL;
    if (p.explicit_max_ttl > 0 && (p.ttl == 0 || p.ttl > p.explicit_max_ttl))
        p.ttl = p.explicit_max_ttl;
    if (p.period == 0 && p.ttl > CF_TOKEN_SYSTEM_MAX_TTL)
        p.ttl = CF_TOKEN_SYSTEM_MAX_TTL;
    snprintf(name, sizeof(name), "token%s%.120s", dn && *dn ? "-" : "",
             dn ? dn : "");
    p.display_name = name;
    p.renewable = renewable && p.ttl > 0;
    p.path = path;
    p.parent_hmac = orphan || no_parent ? NULL : req->token->id_hmac;
    if ((rc = cf_token_create(req->srv, &p, &token, NULL, &entry)) != CF_OK)
        goto out;
    rc = cf_req_reply_auth(req, cf_token_auth_block(entry, token));
out:
    json_decref(p.policies);
    json_decref(entry);
    cf_mem_free_str(token);
    return rc;
}

static cf_err_t
cf_token_api_create(cf_req_t *req)
{
    return cf_token_api_create_common(req, false, NULL,
                                      "auth/token/create");
}

static cf_err_t
cf_token_api_create_orphan(cf_req_t *req)
{
    return cf_token_api_create_common(req, true, NULL,
                                      "auth/token/create-orphan");
}

static cf_err_t
cf_token_api_tidy(cf_req_t *req)
{
    unsigned  n = 0;
    cf_err_t  rc;

    if ((rc = cf_token_tidy(req->srv, &n)) != CF_OK)
        return rc;
    cf_log_info("token", "tidy revoked %u expired tokens", n);
    /* Vault answers 202 and tidies in the background; here it is done. */
    return cf_req_reply_bare(req, 202, json_pack("{s:s, s:[s]}",
                             "request_id", req->request_id, "warnings",
                             "Tidy operation completed."));
}

/* ---- token roles ------------------------------------------------------ */

#define CF_TOKEN_ROLE_PREFIX  "sys/token/role/"

static cf_err_t
cf_token_api_role_name(cf_req_t *req, const char *route, char name[129])
{
    const char  *p = req->rest + strlen(route);
    size_t       n = strlen(p), i;

    if (n == 0 || n > 128)
        return cf_req_fail(req, CF_ERR_INVALID, "invalid role name");
    for (i = 0; i < n; i++) {
        if (p[i] == '/' || (unsigned char) p[i] < 0x21)
            return cf_req_fail(req, CF_ERR_INVALID, "invalid role name");
        name[i] = (char) (p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    }
    name[n] = '\0';
    return CF_OK;
}

static cf_err_t
cf_token_api_role_load(cf_server_t *srv, const char *name, json_t **out)
{
    char  path[200];

    snprintf(path, sizeof(path), CF_TOKEN_ROLE_PREFIX "%s", name);
    return cf_barrier_get_json(srv->barrier, path, out);
}

static cf_err_t
cf_token_api_role_write(cf_req_t *req, const char *name, json_t *role)
{
    static const char *const  lists[] = { "allowed_policies",
                                          "disallowed_policies" };
    static const char *const  durs[][2] = {
        { "token_period", "period" },
        { "token_explicit_max_ttl", "explicit_max_ttl" },
    };
    const char  *suffix = NULL, *type = NULL;
    char         path[200];
    json_t      *v = NULL;
    int64_t      d = 0;
    bool         b = false, has;
    size_t       i;
    cf_err_t     rc;

    for (i = 0; i < 2; i++) {
        if ((rc = cf_req_param_strlist(req, lists[i], &v, &has)) != CF_OK)
            return rc;
        if (has)
            json_object_set_new(role, lists[i], v);
    }
    for (i = 0; i < 2; i++) {
        rc = cf_req_param_duration(req, durs[i][0], &d, &has);
        if (rc == CF_OK && !has)
            rc = cf_req_param_duration(req, durs[i][1], &d, &has);
        if (rc != CF_OK)
            return rc;
        if (has)
            json_object_set_new(role, durs[i][0], json_integer(d));
    }
    if ((rc = cf_req_param_bool(req, "orphan", &b, &has)) != CF_OK)
        return rc;
    if (has)
        json_object_set_new(role, "orphan", json_boolean(b));
    b = true;
    if ((rc = cf_req_param_bool(req, "renewable", &b, &has)) != CF_OK)
        return rc;
    if (has || json_object_get(role, "renewable") == NULL)
        json_object_set_new(role, "renewable", json_boolean(b));
    if ((rc = cf_req_param_str(req, "path_suffix", &suffix, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "token_type", &type, &has)) != CF_OK)
        return rc;
    if (suffix != NULL && (strlen(suffix) > 64 || strstr(suffix, "..")
                           || strchr(suffix, '/')))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid path_suffix");
    if (suffix != NULL)
        json_object_set_new(role, "path_suffix", json_string(suffix));
    if (type != NULL && *type != '\0' && strcmp(type, "service") != 0
        && strcmp(type, "default-service") != 0
        && strcmp(type, "default") != 0)
        return cf_req_fail(req, CF_ERR_INVALID, "'token_type' must be "
                           "\"service\"; batch tokens are not supported");
    if ((rc = cf_req_param_cidrs(req, "token_bound_cidrs", role))
        != CF_OK)
        return rc;
    json_object_set_new(role, "name", json_string(name));
    snprintf(path, sizeof(path), CF_TOKEN_ROLE_PREFIX "%s", name);
    rc = cf_barrier_put_json(req->srv->barrier, path, role);
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

static cf_err_t
cf_token_api_role(cf_req_t *req)
{
    char       name[129], path[200];
    json_t    *role = NULL, *out;
    cf_err_t   rc;

    if ((rc = cf_token_api_role_name(req, "roles/", name)) != CF_OK)
        return rc;
    rc = cf_token_api_role_load(req->srv, name, &role);
    if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
        return rc;
    if (req->op == CF_OP_DELETE) {
        json_decref(role);
        snprintf(path, sizeof(path), CF_TOKEN_ROLE_PREFIX "%s", name);
        rc = cf_barrier_delete(req->srv->barrier, path);
        return rc == CF_OK ? cf_req_reply_none(req) : rc;
    }
    if (req->op == CF_OP_READ) {
        if (role == NULL)
            return cf_req_fail(req, CF_ERR_NOT_FOUND, "role not found");
        /* "o" steals: copies or fresh arrays. */
        out = json_pack("{s:s, s:o, s:o, s:b, s:b, s:s, s:I, s:I, s:I, "
                        "s:I, s:s, s:[]}", "name", name,
                        "allowed_policies",
                        json_object_get(role, "allowed_policies")
                        ? json_deep_copy(json_object_get(role,
                                                  "allowed_policies"))
                        : json_array(),
                        "disallowed_policies",
                        json_object_get(role, "disallowed_policies")
                        ? json_deep_copy(json_object_get(role,
                                                  "disallowed_policies"))
                        : json_array(),
                        "orphan", json_is_true(json_object_get(role,
                                                               "orphan")),
                        "renewable", json_is_true(json_object_get(role,
                                                            "renewable")),
                        "path_suffix",
                        json_string_value(json_object_get(role,
                                                          "path_suffix"))
                        ? json_string_value(json_object_get(role,
                                                            "path_suffix"))
                        : "",
                        "period", json_integer_value(json_object_get(role,
                                                          "token_period")),
                        "token_period",
                        json_integer_value(json_object_get(role,
                                                           "token_period")),
                        "explicit_max_ttl",
                        json_integer_value(json_object_get(role,
                                                "token_explicit_max_ttl")),
                        "token_explicit_max_ttl",
                        json_integer_value(json_object_get(role,
                                                "token_explicit_max_ttl")),
                        "token_type", "default-service",
                        "token_bound_cidrs");
        if (out != NULL && json_object_get(role, "token_bound_cidrs"))
            json_object_set(out, "token_bound_cidrs",
                            json_object_get(role, "token_bound_cidrs"));
        json_decref(role);
        return cf_req_reply_data(req, out);
    }
    if (role == NULL && (role = json_object()) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_token_api_role_write(req, name, role);
    json_decref(role);
    return rc;
}

static cf_err_t
cf_token_api_roles_list(cf_req_t *req)
{
    cf_strlist_t  *l = NULL;
    json_t        *keys;
    size_t         i;
    cf_err_t       rc;

    if ((rc = cf_barrier_list(req->srv->barrier, CF_TOKEN_ROLE_PREFIX, &l))
        != CF_OK)
        return rc;
    if (l->len == 0) {
        cf_strlist_free(l);
        return cf_req_fail(req, CF_ERR_NOT_FOUND, "no roles");
    }
    keys = json_array();
    for (i = 0; i < l->len; i++)
        json_array_append_new(keys, json_string(l->items[i]));
    cf_strlist_free(l);
    return cf_req_reply_data(req, json_pack("{s:o}", "keys", keys));
}

static cf_err_t
cf_token_api_create_role(cf_req_t *req)
{
    char        name[129], path[300];
    const char *suffix;
    json_t     *role = NULL;
    cf_err_t    rc;

    if ((rc = cf_token_api_role_name(req, "create/", name)) != CF_OK)
        return rc;
    rc = cf_token_api_role_load(req->srv, name, &role);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "unknown role %s", name);
    if (rc != CF_OK)
        return rc;
    suffix = json_string_value(json_object_get(role, "path_suffix"));
    snprintf(path, sizeof(path), "auth/token/create/%s%s%s", name,
             suffix && *suffix ? "/" : "", suffix ? suffix : "");
    rc = cf_token_api_create_common(req, false, role, path);
    json_decref(role);
    return rc;
}

/* The token a request names: "self", its "token" param, or its
 * "accessor" param. *id_hmac malloc'd; *client set for token lookups. */
typedef enum { CF_TOKEN_SELF, CF_TOKEN_BY_ID, CF_TOKEN_BY_ACCESSOR }
    cf_token_target_t;

static cf_err_t
cf_token_api_target(cf_req_t *req, cf_token_target_t how, char **id_hmac,
                    const char **client)
{
    const char  *v = NULL;
    bool         has;
    cf_err_t     rc;

    *id_hmac = NULL;
    *client = NULL;
    if (how == CF_TOKEN_SELF) {
        *client = req->client_token;
        return (*id_hmac = strdup(req->token->id_hmac)) != NULL
               ? CF_OK : CF_ERR_NOMEM;
    }
    if ((rc = cf_req_param_str(req, how == CF_TOKEN_BY_ID ? "token"
                                                          : "accessor",
                               &v, &has)) != CF_OK)
        return rc;
    if (v == NULL || *v == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "missing %s",
                           how == CF_TOKEN_BY_ID ? "token" : "accessor");
    if (how == CF_TOKEN_BY_ID) {
        *client = v;
        rc = cf_token_hmac_of(req->srv, v, id_hmac);
    } else {
        rc = cf_token_by_accessor(req->srv, v, id_hmac);
    }
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "bad token");
    return rc;
}

static cf_err_t
cf_token_api_lookup_as(cf_req_t *req, cf_token_target_t how)
{
    const char  *client;
    char        *th = NULL;
    json_t      *e = NULL, *d;
    cf_err_t     rc;

    /* Self: the entry the pipeline resolved (a token on its last use is
     * already gone from storage). */
    if (how == CF_TOKEN_SELF) {
        d = cf_token_describe(req->token->entry, req->client_token);
        return d != NULL ? cf_req_reply_data(req, d) : CF_ERR_NOMEM;
    }
    if ((rc = cf_token_api_target(req, how, &th, &client)) != CF_OK)
        return rc;
    rc = cf_token_load(req->srv, th, &e);
    free(th);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "bad token");
    if (rc != CF_OK)
        return rc;
    d = cf_token_describe(e, how == CF_TOKEN_BY_ACCESSOR ? "" : client);
    json_decref(e);
    return d != NULL ? cf_req_reply_data(req, d) : CF_ERR_NOMEM;
}

static cf_err_t
cf_token_api_lookup_self(cf_req_t *req)
{
    return cf_token_api_lookup_as(req, CF_TOKEN_SELF);
}

static cf_err_t
cf_token_api_lookup(cf_req_t *req)
{
    /* GET auth/token/lookup without a token is lookup-self, as in Vault */
    if (req->op == CF_OP_READ && cf_req_query(req, "token") == NULL)
        return cf_token_api_lookup_as(req, CF_TOKEN_SELF);
    return cf_token_api_lookup_as(req, CF_TOKEN_BY_ID);
}

static cf_err_t
cf_token_api_lookup_accessor(cf_req_t *req)
{
    return cf_token_api_lookup_as(req, CF_TOKEN_BY_ACCESSOR);
}

static cf_err_t
cf_token_api_renew_as(cf_req_t *req, cf_token_target_t how)
{
    const char  *client;
    char        *th = NULL;
    json_t      *e = NULL, *auth;
    int64_t      inc = 0;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_duration(req, "increment", &inc, &has)) != CF_OK
        || (rc = cf_token_api_target(req, how, &th, &client)) != CF_OK)
        return rc;
    rc = cf_token_renew(req->srv, th, inc, &e);
    free(th);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "bad token");
    if (rc == CF_ERR_INVALID)
        return cf_req_fail(req, rc, "lease is not renewable");
    if (rc == CF_ERR_PERMISSION)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "past the max TTL, cannot renew");
    if (rc != CF_OK)
        return rc;
    auth = cf_token_auth_block(e, how == CF_TOKEN_BY_ACCESSOR ? "" : client);
    json_decref(e);
    return cf_req_reply_auth(req, auth);
}

static cf_err_t
cf_token_api_renew(cf_req_t *req)
{
    return cf_token_api_renew_as(req, CF_TOKEN_BY_ID);
}

static cf_err_t
cf_token_api_renew_self(cf_req_t *req)
{
    return cf_token_api_renew_as(req, CF_TOKEN_SELF);
}

static cf_err_t
cf_token_api_renew_accessor(cf_req_t *req)
{
    return cf_token_api_renew_as(req, CF_TOKEN_BY_ACCESSOR);
}

static cf_err_t
cf_token_api_revoke_as(cf_req_t *req, cf_token_target_t how, bool tree)
{
    const char  *client;
    char        *th = NULL;
    cf_err_t     rc;

    /* An unknown token or accessor revokes nothing and succeeds, as in
     * Vault (cf_token_revoke is idempotent). */
    rc = cf_token_api_target(req, how, &th, &client);
    if (rc != CF_OK)
        return rc;
    rc = cf_token_revoke(req->srv, th, tree);
    free(th);
    if (rc != CF_OK)
        return rc;
    return cf_req_reply_none(req);
}

static cf_err_t
cf_token_api_revoke(cf_req_t *req)
{
    return cf_token_api_revoke_as(req, CF_TOKEN_BY_ID, true);
}

static cf_err_t
cf_token_api_revoke_self(cf_req_t *req)
{
    return cf_token_api_revoke_as(req, CF_TOKEN_SELF, true);
}

static cf_err_t
cf_token_api_revoke_accessor(cf_req_t *req)
{
    return cf_token_api_revoke_as(req, CF_TOKEN_BY_ACCESSOR, true);
}

static cf_err_t
cf_token_api_revoke_orphan(cf_req_t *req)
{
    return cf_token_api_revoke_as(req, CF_TOKEN_BY_ID, false);
}

/* LIST auth/token/accessors: the accessors themselves are stored only as
 * HMACs, so each comes from its token's entry. */
static cf_err_t
cf_token_api_accessors(cf_req_t *req)
{
    cf_strlist_t  *ids = NULL;
    json_t        *keys, *e = NULL;
    const char    *acc;
    size_t         i;
    cf_err_t       rc;

    if ((rc = cf_token_list_ids(req->srv, &ids)) != CF_OK)
        return rc;
    if ((keys = json_array()) == NULL) {
        cf_strlist_free(ids);
        return CF_ERR_NOMEM;
    }
    for (i = 0; i < ids->len; i++) {
        if (cf_token_load(req->srv, ids->items[i], &e) != CF_OK)
            continue;
        if ((acc = json_string_value(json_object_get(e, "accessor")))
            != NULL)
            json_array_append_new(keys, json_string(acc));
        json_decref(e);
    }
    cf_strlist_free(ids);
    return cf_req_reply_data(req, json_pack("{s:o}", "keys", keys));
}

#define CF_RW  (CF_OP_READ | CF_OP_WRITE)

static const cf_path_t  cf_token_paths[] = {
    { "create",          CF_OP_WRITE, cf_token_api_create },
    { "create-orphan",   CF_OP_WRITE, cf_token_api_create_orphan },
    { "create/+",        CF_OP_WRITE, cf_token_api_create_role },
    { "tidy",            CF_OP_WRITE, cf_token_api_tidy },
    { "roles",           CF_OP_LIST,  cf_token_api_roles_list },
    { "roles/",          CF_OP_LIST,  cf_token_api_roles_list },
    { "roles/+",         CF_RW | CF_OP_DELETE, cf_token_api_role },
    { "lookup",          CF_RW,       cf_token_api_lookup },
    { "lookup-self",     CF_RW,       cf_token_api_lookup_self },
    { "lookup-accessor", CF_OP_WRITE, cf_token_api_lookup_accessor },
    { "renew",           CF_OP_WRITE, cf_token_api_renew },
    { "renew-self",      CF_OP_WRITE, cf_token_api_renew_self },
    { "renew-accessor",  CF_OP_WRITE, cf_token_api_renew_accessor },
    { "revoke",          CF_OP_WRITE, cf_token_api_revoke },
    { "revoke-self",     CF_OP_WRITE, cf_token_api_revoke_self },
    { "revoke-accessor", CF_OP_WRITE, cf_token_api_revoke_accessor },
    { "revoke-orphan",   CF_OP_WRITE, cf_token_api_revoke_orphan },
    { "accessors",       CF_OP_LIST,  cf_token_api_accessors },
    { "accessors/",      CF_OP_LIST,  cf_token_api_accessors },
    CF_PATH_END
};

const cf_engine_t  cf_token_engine = {
    .name = "token", .paths = cf_token_paths, .is_auth = true,
    .singleton = true,
};
