/*
 * approle: the AppRole auth method (Vault's auth/approle) for machines
 * and CI: roles, their role_id, secret_ids with TTL and num_uses, secret
 * id accessors, and login with role_id + secret_id.
 *
 * View layout:
 *   role/<name>                        the role (token_* fields, role_id)
 *   role_id/<hmac(role_id)>            {"name": ...}
 *   secret_id/<name>/<hmac(secret_id)> {accessor, metadata, num_uses,
 *                                       creation_time, expiration_time}
 *   accessor/<name>/<accessor>         {"hmac": ...}
 * role_ids and secret_ids are kept only as HMACs under the token HMAC key
 * on the HSM; a secret_id is shown once, when it is made.
 */
#include "coffer/approle.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_common.h"
#include "coffer/cidr.h"
#include "coffer/server.h"
#include "coffer/token.h"

#define CF_APPROLE_NAME_MAX  128
#define CF_APPROLE_KEY       640     /* view keys: prefix + name + HMAC */

/* Changes to one role's secret_ids (num_uses countdown, destroy) hold
 * the stripe of (mount, role). */
static pthread_mutex_t *
cf_approle_lock(cf_req_t *req, const char *name)
{
    return cf_keylock(&req->srv->keylocks, req->mount->uuid, name);
}

/* A secret UUID from the private DRBG (role_id, secret_id, accessor). */
static cf_err_t
cf_approle_secret_uuid(char buf[37])
{
    unsigned char  u[16];

    if (RAND_priv_bytes(u, sizeof(u)) != 1)
        return CF_ERR_INTERNAL;
    u[6] = (unsigned char) ((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char) ((u[8] & 0x3f) | 0x80);
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4],
             u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
    OPENSSL_cleanse(u, sizeof(u));
    return CF_OK;
}

/* The role name of "role/<name>[/...]", lowercased like Vault's. */
static cf_err_t
cf_approle_name(cf_req_t *req, char name[CF_APPROLE_NAME_MAX + 1])
{
    const char  *p = req->rest + strlen("role/");
    size_t       n = strcspn(p, "/"), i;

    if (n == 0 || n > CF_APPROLE_NAME_MAX)
        return cf_req_fail(req, CF_ERR_INVALID, "invalid role name");
    for (i = 0; i < n; i++)
        name[i] = (char) (p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    name[n] = '\0';
    return CF_OK;
}

static cf_err_t
cf_approle_load(cf_req_t *req, const char *name, json_t **role)
{
    char  key[CF_APPROLE_KEY];

    snprintf(key, sizeof(key), "role/%s", name);
    return cf_view_get_json(req, key, role);
}

/* Load the named role or fail the request with Vault's 400. */
static cf_err_t
cf_approle_need(cf_req_t *req, char name[CF_APPROLE_NAME_MAX + 1],
                json_t **role)
{
    cf_err_t  rc;

    *role = NULL;
    if ((rc = cf_approle_name(req, name)) != CF_OK)
        return rc;
    rc = cf_approle_load(req, name, role);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID, "role \"%s\" does not exist",
                           name);
    return rc;
}

static cf_err_t
cf_approle_hmac_key(cf_req_t *req, const char *prefix, const char *secret,
                    char *key, size_t cap)
{
    char      *h = NULL;
    cf_err_t   rc;

    char       tmp[CF_APPROLE_KEY];

    if ((rc = cf_token_hmac_of(req->srv, secret, &h)) != CF_OK)
        return rc;
    /* prefix may be key itself: build in tmp first. */
    snprintf(tmp, sizeof(tmp), "%s%s", prefix, h);
    snprintf(key, cap, "%s", tmp);
    free(h);
    return CF_OK;
}

static cf_err_t
cf_approle_set_role_id(cf_req_t *req, const char *name, json_t *role,
                       const char *role_id)
{
    char       key[CF_APPROLE_KEY];
    json_t    *idx;
    cf_err_t   rc;

    if ((rc = cf_approle_hmac_key(req, "role_id/", role_id, key,
                                  sizeof(key))) != CF_OK)
        return rc;
    idx = json_pack("{s:s}", "name", name);
    rc = cf_view_put_json(req, key, idx);
    json_decref(idx);
    if (rc == CF_OK)
        json_object_set_new(role, "role_id", json_string(role_id));
    return rc;
}

/* ---- roles ------------------------------------------------------------ */

static cf_err_t cf_approle_delete_role(cf_req_t *req, const char *name);

static cf_err_t
cf_approle_role(cf_req_t *req)
{
    char       name[CF_APPROLE_NAME_MAX + 1], key[CF_APPROLE_KEY], rid[37];
    json_t    *role = NULL, *out;
    int64_t    v = 0;
    bool       b = true, has;
    cf_err_t   rc;

    if ((rc = cf_approle_name(req, name)) != CF_OK)
        return rc;
    snprintf(key, sizeof(key), "role/%s", name);
    rc = cf_view_get_json(req, key, &role);
    if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
        return rc;
    if (req->op == CF_OP_READ) {
        if (role == NULL)
            return cf_req_fail(req, CF_ERR_NOT_FOUND, "role not found");
        out = json_pack("{s:b, s:I, s:I, s:[]}", "bind_secret_id",
                        json_is_true(json_object_get(role,
                                                     "bind_secret_id")),
                        "secret_id_num_uses",
                        json_integer_value(json_object_get(role,
                                                      "secret_id_num_uses")),
                        "secret_id_ttl",
                        json_integer_value(json_object_get(role,
                                                         "secret_id_ttl")),
                        "secret_id_bound_cidrs");
        if (out != NULL && json_object_get(role, "secret_id_bound_cidrs"))
            json_object_set(out, "secret_id_bound_cidrs",
                            json_object_get(role, "secret_id_bound_cidrs"));
        cf_auth_token_fields_describe(role, out);
        json_decref(role);
        return cf_req_reply_data(req, out);
    }
    if (req->op == CF_OP_DELETE) {
        json_decref(role);
        return cf_approle_delete_role(req, name);
    }
    if (role == NULL) {
        if ((role = json_pack("{s:b}", "bind_secret_id", 1)) == NULL)
            return CF_ERR_NOMEM;
        if ((rc = cf_approle_secret_uuid(rid)) != CF_OK
            || (rc = cf_approle_set_role_id(req, name, role, rid)) != CF_OK)
            goto out;
    }
    if ((rc = cf_req_param_bool(req, "bind_secret_id", &b, &has)) != CF_OK)
        goto out;
    if (has)
        json_object_set_new(role, "bind_secret_id", json_boolean(b));
    if ((rc = cf_req_param_int(req, "secret_id_num_uses", &v, &has))
        != CF_OK)
        goto out;
    if (has && v < 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "'secret_id_num_uses' cannot be negative");
        goto out;
    }
    if (has)
        json_object_set_new(role, "secret_id_num_uses", json_integer(v));
    if ((rc = cf_req_param_duration(req, "secret_id_ttl", &v, &has))
        != CF_OK)
        goto out;
    if (has)
        json_object_set_new(role, "secret_id_ttl", json_integer(v));
    if ((rc = cf_req_param_cidrs(req, "secret_id_bound_cidrs", role)) != CF_OK)
        goto out;
    if ((rc = cf_auth_token_fields_parse(req, role)) != CF_OK)
        goto out;
    if (!json_is_true(json_object_get(role, "bind_secret_id"))) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "bind_secret_id must be "
                         "true: no other binding is supported yet");
        goto out;
    }
    if ((rc = cf_view_put_json(req, key, role)) == CF_OK)
        rc = cf_req_reply_none(req);
out:
    json_decref(role);
    return rc;
}

static cf_err_t
cf_approle_delete_role(cf_req_t *req, const char *name)
{
    char              key[CF_APPROLE_KEY];
    json_t           *role = NULL;
    pthread_mutex_t  *mu = cf_approle_lock(req, name);
    cf_err_t          rc;

    rc = cf_approle_load(req, name, &role);
    if (rc == CF_OK) {
        const char *rid = json_string_value(json_object_get(role,
                                                            "role_id"));

        if (rid != NULL && cf_approle_hmac_key(req, "role_id/", rid, key,
                                               sizeof(key)) == CF_OK)
            (void) cf_view_delete(req, key);
        snprintf(key, sizeof(key), "secret_id/%s/", name);
        rc = cf_view_delete_prefix(req, key);
        snprintf(key, sizeof(key), "accessor/%s/", name);
        if (rc == CF_OK)
            rc = cf_view_delete_prefix(req, key);
        snprintf(key, sizeof(key), "role/%s", name);
        if (rc == CF_OK)
            rc = cf_view_delete(req, key);
    } else if (rc == CF_ERR_NOT_FOUND) {
        rc = CF_OK;
    }
    pthread_mutex_unlock(mu);
    json_decref(role);
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

static cf_err_t
cf_approle_list_at(cf_req_t *req, const char *prefix)
{
    return cf_view_reply_list(req, prefix);
}

static cf_err_t
cf_approle_list_roles(cf_req_t *req)
{
    return cf_approle_list_at(req, "role/");
}

static cf_err_t
cf_approle_role_id(cf_req_t *req)
{
    char         name[CF_APPROLE_NAME_MAX + 1], key[CF_APPROLE_KEY];
    const char  *rid = NULL, *old;
    json_t      *role = NULL;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_approle_need(req, name, &role)) != CF_OK)
        return rc;
    if (req->op == CF_OP_READ) {
        rc = cf_req_reply_data(req, json_pack("{s:O}", "role_id",
                                    json_object_get(role, "role_id")));
        json_decref(role);
        return rc;
    }
    if ((rc = cf_req_param_str(req, "role_id", &rid, &has)) != CF_OK)
        goto out;
    if (rid == NULL || *rid == '\0' || strlen(rid) > 256) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "missing role_id");
        goto out;
    }
    /* One role per role_id: refuse one that another role holds. */
    if ((rc = cf_approle_hmac_key(req, "role_id/", rid, key, sizeof(key)))
        != CF_OK)
        goto out;
    {
        json_t *idx = NULL;

        if (cf_view_get_json(req, key, &idx) == CF_OK
            && strcmp(json_string_value(json_object_get(idx, "name")),
                      name) != 0) {
            json_decref(idx);
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "role_id already in use");
            goto out;
        }
        json_decref(idx);
    }
    old = json_string_value(json_object_get(role, "role_id"));
    if (old != NULL && strcmp(old, rid) != 0
        && cf_approle_hmac_key(req, "role_id/", old, key, sizeof(key))
           == CF_OK)
        (void) cf_view_delete(req, key);
    if ((rc = cf_approle_set_role_id(req, name, role, rid)) == CF_OK) {
        snprintf(key, sizeof(key), "role/%s", name);
        if ((rc = cf_view_put_json(req, key, role)) == CF_OK)
            rc = cf_req_reply_none(req);
    }
out:
    json_decref(role);
    return rc;
}

/* ---- secret ids ------------------------------------------------------- */

/* metadata: an object of strings, or a JSON string holding one (what the
 * vault CLI sends). *out owned, never NULL on CF_OK. */
static cf_err_t
cf_approle_metadata(cf_req_t *req, json_t **out)
{
    json_t        *v = json_object_get(req->body, "metadata"), *m = NULL, *e;
    json_error_t   jerr;
    const char    *k;

    *out = NULL;
    if (json_is_string(v) && *json_string_value(v) != '\0')
        m = json_loads(json_string_value(v), 0, &jerr);
    else if (json_is_object(v))
        m = json_incref(v);
    else if (v == NULL || json_is_null(v) || json_is_string(v))
        m = json_object();
    if (!json_is_object(m)) {
        json_decref(m);
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'metadata' must be a map of strings");
    }
    json_object_foreach(m, k, e) {
        if (!json_is_string(e)) {
            json_decref(m);
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'metadata' must be a map of strings");
        }
    }
    *out = m;
    return CF_OK;
}

static cf_err_t
cf_approle_make_secret(cf_req_t *req, bool custom)
{
    char          name[CF_APPROLE_NAME_MAX + 1], key[CF_APPROLE_KEY];
    char          acc[37];
    char          sid[37];
    const char   *given = NULL;
    json_t       *role = NULL, *meta = NULL, *ent = NULL, *idx = NULL;
    json_t       *cidrs = NULL;
    int64_t       ttl = 0, uses = 0;
    time_t        now = time(NULL);
    bool          has;
    cf_err_t      rc;

    if ((rc = cf_approle_need(req, name, &role)) != CF_OK)
        return rc;
    ttl = json_integer_value(json_object_get(role, "secret_id_ttl"));
    uses = json_integer_value(json_object_get(role, "secret_id_num_uses"));
    if ((rc = cf_approle_metadata(req, &meta)) != CF_OK
        || (rc = cf_req_param_duration(req, "ttl", &ttl, &has)) != CF_OK
        || (rc = cf_req_param_int(req, "num_uses", &uses, &has)) != CF_OK)
        goto out;
    if (uses < 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "'num_uses' cannot be negative");
        goto out;
    }
    if ((cidrs = json_object()) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_req_param_cidrs(req, "cidr_list", cidrs)) != CF_OK
        || (rc = cf_req_param_cidrs(req, "token_bound_cidrs", cidrs)) != CF_OK)
        goto out;
    if (custom) {
        if ((rc = cf_req_param_str(req, "secret_id", &given, &has))
            != CF_OK)
            goto out;
        if (given == NULL || *given == '\0' || strlen(given) > 256) {
            rc = cf_req_fail(req, CF_ERR_INVALID, "missing secret_id");
            goto out;
        }
    } else if ((rc = cf_approle_secret_uuid(sid)) != CF_OK) {
        goto out;
    }
    if ((rc = cf_approle_secret_uuid(acc)) != CF_OK)
        goto out;
    snprintf(key, sizeof(key), "secret_id/%s/", name);
    if ((rc = cf_approle_hmac_key(req, key, custom ? given : sid, key,
                                  sizeof(key))) != CF_OK)
        goto out;
    ent = json_pack("{s:s, s:O, s:I, s:I, s:I}", "accessor", acc,
                    "metadata", meta, "num_uses", (json_int_t) uses,
                    "creation_time", (json_int_t) now,
                    "expiration_time", (json_int_t) (ttl > 0 ? now + ttl
                                                             : 0));
    idx = json_pack("{s:s}", "key", key);
    if (ent == NULL || idx == NULL || json_object_update(ent, cidrs) != 0) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_view_put_json(req, key, ent)) != CF_OK)
        goto out;
    snprintf(key, sizeof(key), "accessor/%s/%s", name, acc);
    if ((rc = cf_view_put_json(req, key, idx)) != CF_OK)
        goto out;
    rc = cf_req_reply_data(req, json_pack("{s:s, s:s, s:I, s:I}",
                           "secret_id", custom ? given : sid,
                           "secret_id_accessor", acc,
                           "secret_id_ttl", (json_int_t) ttl,
                           "secret_id_num_uses", (json_int_t) uses));
out:
    OPENSSL_cleanse(sid, sizeof(sid));
    json_decref(role);
    json_decref(meta);
    json_decref(ent);
    json_decref(idx);
    json_decref(cidrs);
    return rc;
}

static cf_err_t
cf_approle_secret_id(cf_req_t *req)
{
    char  name[CF_APPROLE_NAME_MAX + 1], prefix[200];

    if (req->op == CF_OP_LIST) {
        if (cf_approle_name(req, name) != CF_OK)
            return CF_ERR_INVALID;
        snprintf(prefix, sizeof(prefix), "accessor/%s/", name);
        return cf_approle_list_at(req, prefix);
    }
    return cf_approle_make_secret(req, false);
}

static cf_err_t
cf_approle_custom_secret_id(cf_req_t *req)
{
    return cf_approle_make_secret(req, true);
}

/* The storage key of a secret_id named by "secret_id" or by
 * "secret_id_accessor"; CF_ERR_NOT_FOUND when there is none. */
static cf_err_t
cf_approle_find_secret(cf_req_t *req, const char *name, bool by_accessor,
                       char *key, size_t cap)
{
    const char  *v = NULL;
    json_t      *idx = NULL;
    char         k[CF_APPROLE_KEY];
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, by_accessor ? "secret_id_accessor"
                                                : "secret_id", &v, &has))
        != CF_OK)
        return rc;
    if (v == NULL || *v == '\0' || strlen(v) > 256)
        return cf_req_fail(req, CF_ERR_INVALID, "missing %s", by_accessor
                           ? "secret_id_accessor" : "secret_id");
    if (!by_accessor) {
        snprintf(k, sizeof(k), "secret_id/%s/", name);
        return cf_approle_hmac_key(req, k, v, key, cap);
    }
    snprintf(k, sizeof(k), "accessor/%s/%s", name, v);
    if ((rc = cf_view_get_json(req, k, &idx)) != CF_OK)
        return rc;
    snprintf(key, cap, "%s", json_string_value(json_object_get(idx, "key")));
    json_decref(idx);
    return CF_OK;
}

/* A copy of a stored list field, or an empty list. */
static json_t *
cf_approle_list_copy(const json_t *o, const char *field)
{
    const json_t  *v = json_object_get(o, field);

    return json_is_array(v) ? json_deep_copy(v) : json_array();
}

static json_t *
cf_approle_describe_secret(const json_t *ent)
{
    json_int_t       ct = json_integer_value(json_object_get(ent,
                                                        "creation_time"));
    json_int_t       et = json_integer_value(json_object_get(ent,
                                                      "expiration_time"));
    struct timespec  ts = { 0, 0 };
    char             c[40], e[40] = "0001-01-01T00:00:00Z";

    ts.tv_sec = (time_t) ct;
    cf_time_rfc3339(&ts, c);
    if (et > 0) {
        ts.tv_sec = (time_t) et;
        cf_time_rfc3339(&ts, e);
    }
    return json_pack("{s:O, s:O, s:O, s:s, s:s, s:s, s:I, s:o, s:o}",
                     "secret_id_accessor", json_object_get(ent, "accessor"),
                     "metadata", json_object_get(ent, "metadata"),
                     "secret_id_num_uses", json_object_get(ent, "num_uses"),
                     "creation_time", c, "last_updated_time", c,
                     "expiration_time", e,
                     "secret_id_ttl", et > 0 ? et - ct : 0,
                     "cidr_list", cf_approle_list_copy(ent, "cidr_list"),
                     "token_bound_cidrs",
                     cf_approle_list_copy(ent, "token_bound_cidrs"));
}

/* role/<name>/secret-id{,-accessor}/{lookup,destroy} */
static cf_err_t
cf_approle_secret_op(cf_req_t *req)
{
    char              name[CF_APPROLE_NAME_MAX + 1];
    char              key[CF_APPROLE_KEY], k2[CF_APPROLE_KEY];
    bool              by_acc = strstr(req->rest, "/secret-id-accessor/")
                               != NULL;
    bool              destroy = strcmp(strrchr(req->rest, '/'),
                                       "/destroy") == 0;
    json_t           *role = NULL, *ent = NULL;
    pthread_mutex_t  *mu;
    cf_err_t          rc;

    if ((rc = cf_approle_need(req, name, &role)) != CF_OK)
        return rc;
    json_decref(role);
    rc = cf_approle_find_secret(req, name, by_acc, key, sizeof(key));
    if (rc == CF_ERR_NOT_FOUND)
        return destroy ? cf_req_reply_none(req)
                       : cf_req_fail(req, CF_ERR_NOT_FOUND,
                                     "secret_id not found");
    if (rc != CF_OK)
        return rc;
    mu = cf_approle_lock(req, name);
    rc = cf_view_get_json(req, key, &ent);
    if (rc == CF_OK && destroy) {
        snprintf(k2, sizeof(k2), "accessor/%s/%s", name,
                 json_string_value(json_object_get(ent, "accessor")));
        if ((rc = cf_view_delete(req, key)) == CF_OK)
            rc = cf_view_delete(req, k2);
    }
    pthread_mutex_unlock(mu);
    if (rc == CF_ERR_NOT_FOUND)
        rc = destroy ? cf_req_reply_none(req)
                     : cf_req_fail(req, CF_ERR_NOT_FOUND,
                                   "secret_id not found");
    else if (rc == CF_OK)
        rc = destroy ? cf_req_reply_none(req)
                     : cf_req_reply_data(req,
                                         cf_approle_describe_secret(ent));
    json_decref(ent);
    return rc;
}

/* ---- login ------------------------------------------------------------ */

/* Count one use of the secret_id at key (lock held); CF_ERR_PERMISSION
 * when it is expired or used up (and then deleted). */
/* Use the secret ID stored at key once: CF_ERR_PERMISSION when it is
 * unknown, expired, or (*cidr_denied) used from outside its cidr_list,
 * which does not consume it. */
static cf_err_t
cf_approle_use_secret(cf_req_t *req, const char *name, const char *key,
                      json_t **ent_out, bool *cidr_denied)
{
    json_t      *ent = NULL;
    json_int_t   uses, exp;
    char         k2[CF_APPROLE_KEY];
    bool         gone = false;
    cf_err_t     rc;

    *ent_out = NULL;
    if ((rc = cf_view_get_json(req, key, &ent)) != CF_OK)
        return rc == CF_ERR_NOT_FOUND ? CF_ERR_PERMISSION : rc;
    *cidr_denied = !cf_cidr_list_match(json_object_get(ent, "cidr_list"),
                                       cf_req_remote_addr(req));
    if (*cidr_denied) {
        json_decref(ent);
        return CF_ERR_PERMISSION;
    }
    uses = json_integer_value(json_object_get(ent, "num_uses"));
    exp = json_integer_value(json_object_get(ent, "expiration_time"));
    if (exp > 0 && time(NULL) >= exp) {
        gone = true;
        rc = CF_ERR_PERMISSION;
    } else if (uses == 1) {
        gone = true;                    /* this is the last use */
    } else if (uses > 1) {
        json_object_set_new(ent, "num_uses", json_integer(uses - 1));
        rc = cf_view_put_json(req, key, ent);
    }
    if (gone) {
        snprintf(k2, sizeof(k2), "accessor/%s/%s", name,
                 json_string_value(json_object_get(ent, "accessor")));
        (void) cf_view_delete(req, key);
        (void) cf_view_delete(req, k2);
    }
    if (rc == CF_OK)
        *ent_out = ent;
    else
        json_decref(ent);
    return rc;
}

static cf_err_t
cf_approle_login(cf_req_t *req)
{
    const char        *rid = NULL, *sid = NULL, *name;
    char               key[CF_APPROLE_KEY], disp[200], path[CF_APPROLE_KEY];
    json_t            *idx = NULL, *role = NULL, *ent = NULL, *meta;
    pthread_mutex_t   *mu;
    bool               has, cidr_denied = false;
    cf_err_t           rc;

    if ((rc = cf_req_param_str(req, "role_id", &rid, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "secret_id", &sid, &has)) != CF_OK)
        return rc;
    if (rid == NULL || *rid == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "missing role_id");
    if (sid == NULL || *sid == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "missing secret_id");
    if ((rc = cf_approle_hmac_key(req, "role_id/", rid, key, sizeof(key)))
        != CF_OK)
        return rc;
    if (cf_view_get_json(req, key, &idx) != CF_OK
        || (name = json_string_value(json_object_get(idx, "name"))) == NULL
        || cf_approle_load(req, name, &role) != CF_OK) {
        json_decref(idx);
        return cf_req_fail(req, CF_ERR_INVALID, "invalid role or secret ID");
    }
    if (!cf_cidr_list_match(json_object_get(role, "secret_id_bound_cidrs"),
                            cf_req_remote_addr(req))) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "source address unauthorized "
                         "through CIDR restrictions on the role");
        goto out;
    }
    snprintf(key, sizeof(key), "secret_id/%s/", name);
    if ((rc = cf_approle_hmac_key(req, key, sid, key, sizeof(key)))
        != CF_OK)
        goto out;
    mu = cf_approle_lock(req, name);
    rc = cf_approle_use_secret(req, name, key, &ent, &cidr_denied);
    pthread_mutex_unlock(mu);
    if (rc == CF_ERR_PERMISSION && cidr_denied) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "source address unauthorized "
                         "through CIDR restrictions on the secret ID");
        goto out;
    }
    if (rc == CF_ERR_PERMISSION) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "invalid role or secret ID");
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    /* The secret ID's own token_bound_cidrs replace the role's. */
    if (json_array_size(json_object_get(ent, "token_bound_cidrs")) > 0)
        json_object_set(role, "token_bound_cidrs",
                        json_object_get(ent, "token_bound_cidrs"));
    meta = json_deep_copy(json_object_get(ent, "metadata"));
    if (meta == NULL)
        meta = json_object();
    json_object_set_new(meta, "role_name", json_string(name));
    snprintf(disp, sizeof(disp), "approle");
    snprintf(path, sizeof(path), "%slogin", req->mount->path);
    /* Vault names an AppRole alias by the role_id. */
    rc = cf_auth_issue_login(req, role, disp, path, meta, rid);
    json_decref(meta);
out:
    json_decref(idx);
    json_decref(role);
    json_decref(ent);
    return rc;
}

#define CF_RWD  (CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE)

static const cf_path_t  cf_approle_paths[] = {
    { "role",                          CF_OP_LIST,  cf_approle_list_roles },
    { "role/",                         CF_OP_LIST,  cf_approle_list_roles },
    { "role/+",                        CF_RWD,      cf_approle_role },
    { "role/+/role-id",                CF_OP_READ | CF_OP_WRITE,
                                                    cf_approle_role_id },
    { "role/+/secret-id",              CF_OP_WRITE | CF_OP_LIST,
                                                    cf_approle_secret_id },
    { "role/+/secret-id/",             CF_OP_LIST,  cf_approle_secret_id },
    { "role/+/custom-secret-id",       CF_OP_WRITE,
                                       cf_approle_custom_secret_id },
    { "role/+/secret-id/lookup",       CF_OP_WRITE, cf_approle_secret_op },
    { "role/+/secret-id/destroy",      CF_OP_WRITE | CF_OP_DELETE,
                                                    cf_approle_secret_op },
    { "role/+/secret-id-accessor/lookup", CF_OP_WRITE,
                                       cf_approle_secret_op },
    { "role/+/secret-id-accessor/destroy", CF_OP_WRITE | CF_OP_DELETE,
                                       cf_approle_secret_op },
    { "login",                         CF_OP_WRITE, cf_approle_login },
    CF_PATH_END
};

static const char *const  cf_approle_unauth[] = { "login", NULL };

const cf_engine_t  cf_approle_engine = {
    .name = "approle", .paths = cf_approle_paths, .is_auth = true,
    .unauthenticated = cf_approle_unauth,
};
