/*
 * sys_mounts: the mount management routes of the system backend —
 * sys/mounts/<path> and sys/auth/<path> (enable, read, disable), their
 * /tune,
 * sys/remount (+ status) and sys/internal/ui/mounts(/<path>), the vault
 * CLI's KV preflight. The mount table itself lives in router.c; this file
 * only turns requests into router calls and back.
 */
#include "sys_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/config.h"
#include "coffer/lease.h"
#include "coffer/log.h"
#include "coffer/policy.h"
#include "coffer/policy_store.h"
#include "coffer/token.h"
#include "coffer/router.h"
#include "coffer/server.h"

/* Vault's system-wide lease TTLs (768h), reported by tune when a mount
 * has none of its own. */
#define CF_SYS_DEFAULT_TTL  (768L * 3600)

/* Fail req with the router's message (or the error's own). Frees msg. */
static cf_err_t
cf_sys_router_fail(cf_req_t *req, cf_err_t rc, char *msg)
{
    if (msg != NULL)
        cf_req_fail(req, rc, "%s", msg);
    else
        cf_req_fail(req, rc, "%s", cf_err_message(rc));
    free(msg);
    return rc;
}

/* A duration inside a nested object: integer seconds or "1h"-style. */
static cf_err_t
cf_sys_json_duration(cf_req_t *req, const char *name, json_t *v,
                     int64_t *out)
{
    long  secs;

    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return CF_OK;
    }
    if (json_is_string(v) && strcmp(json_string_value(v), "system") == 0) {
        *out = 0;                       /* back to the system default */
        return CF_OK;
    }
    if (!json_is_string(v)
        || cf_config_parse_duration(json_string_value(v), &secs) != CF_OK
        || secs < 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must be a duration", name);
    *out = secs;
    return CF_OK;
}

/* Turn a user "config" object into the stored one: TTLs in seconds,
 * known keys only. *out owned by the caller. */
static cf_err_t
cf_sys_mount_config(cf_req_t *req, json_t *in, json_t **out)
{
    static const char *const  ttls[] = { "default_lease_ttl",
                                         "max_lease_ttl" };
    static const char *const  lists[] = {
        "audit_non_hmac_request_keys", "audit_non_hmac_response_keys",
        "passthrough_request_headers", "allowed_response_headers",
    };
    json_t    *cfg, *v, *e;
    int64_t    secs = 0, dflt = 0, max = 0;
    size_t     i, j;
    cf_err_t   rc;

    *out = NULL;
    if (json_is_null(in))
        in = NULL;
    if (in != NULL && !json_is_object(in))
        return cf_req_fail(req, CF_ERR_INVALID, "'config' must be an object");
    if ((cfg = json_object()) == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; i < 2; i++) {
        if ((v = json_object_get(in, ttls[i])) == NULL || json_is_null(v))
            continue;
        if ((rc = cf_sys_json_duration(req, ttls[i], v, &secs)) != CF_OK)
            goto fail;
        json_object_set_new(cfg, ttls[i], json_integer(secs));
        *(i == 0 ? &dflt : &max) = secs;
    }
    if (dflt > 0 && max > 0 && dflt > max) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "'default_lease_ttl' must not "
                         "be greater than 'max_lease_ttl'");
        goto fail;
    }
    if ((v = json_object_get(in, "force_no_cache")) != NULL) {
        if (!json_is_boolean(v)) {
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "'force_no_cache' must be a boolean");
            goto fail;
        }
        json_object_set(cfg, "force_no_cache", v);
    }
    if ((v = json_object_get(in, "listing_visibility")) != NULL) {
        if (!json_is_string(v)
            || (strcmp(json_string_value(v), "") != 0
                && strcmp(json_string_value(v), "hidden") != 0
                && strcmp(json_string_value(v), "unauth") != 0)) {
            rc = cf_req_fail(req, CF_ERR_INVALID, "'listing_visibility' "
                             "must be \"\", \"hidden\" or \"unauth\"");
            goto fail;
        }
        json_object_set(cfg, "listing_visibility", v);
    }
    for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if ((v = json_object_get(in, lists[i])) == NULL || json_is_null(v))
            continue;
        json_array_foreach(json_is_array(v) ? v : NULL, j, e) {
            if (!json_is_string(e))
                break;
        }
        if (!json_is_array(v) || j != json_array_size(v)) {
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "'%s' must be a list of strings", lists[i]);
            goto fail;
        }
        json_object_set(cfg, lists[i], v);
    }
    *out = cfg;
    return CF_OK;
fail:
    json_decref(cfg);
    return rc;
}

/* Mount options are a map of strings (Vault's map[string]string); a
 * number is accepted for "version" as the vault CLI's users write it. */
static cf_err_t
cf_sys_mount_options(cf_req_t *req, json_t *in, json_t **out)
{
    json_t      *opt, *v;
    const char  *k;
    char         num[32];

    *out = NULL;
    if (in == NULL || json_is_null(in))
        return CF_OK;
    if (!json_is_object(in))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'options' must be an object");
    if ((opt = json_object()) == NULL)
        return CF_ERR_NOMEM;
    json_object_foreach(in, k, v) {
        if (json_is_string(v)) {
            json_object_set(opt, k, v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld",
                     (long long) json_integer_value(v));
            json_object_set_new(opt, k, json_string(num));
        } else {
            json_decref(opt);
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'options' values must be strings");
        }
    }
    *out = opt;
    return CF_OK;
}

/* "kv" takes options.version "1" or "2"; "kv-v2" is "kv" + version 2,
 * stored as Vault does so the CLI's preflight sees type kv, version 2. */
static cf_err_t
cf_sys_mount_kv_version(cf_req_t *req, const char **type, json_t **opt)
{
    const char  *ver;

    if (strcmp(*type, "kv-v2") == 0 || strcmp(*type, "kv-v1") == 0) {
        if (*opt == NULL && (*opt = json_object()) == NULL)
            return CF_ERR_NOMEM;
        json_object_set_new(*opt, "version",
                            json_string((*type)[4] == '2' ? "2" : "1"));
        *type = "kv";
    }
    if (strcmp(*type, "kv") != 0 || *opt == NULL)
        return CF_OK;
    ver = json_string_value(json_object_get(*opt, "version"));
    if (ver != NULL && strcmp(ver, "1") != 0 && strcmp(ver, "2") != 0
        && strcmp(ver, "") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "invalid kv version \"%.20s\"; must be 1 or 2",
                           ver);
    return CF_OK;
}

static cf_err_t
cf_sys_mount_enable(cf_req_t *req, const char *path)
{
    const char  *type = NULL, *desc = "";
    json_t      *cfg = NULL, *opt = NULL;
    char        *msg = NULL;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "type", &type, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "description", &desc, &has))
           != CF_OK)
        return rc;
    if (type == NULL || *type == '\0')
        return cf_req_fail(req, CF_ERR_INVALID,
                           "backend type must be specified");
    if ((rc = cf_sys_mount_config(req, json_object_get(req->body, "config"),
                                  &cfg)) != CF_OK
        || (rc = cf_sys_mount_options(req,
                                      json_object_get(req->body, "options"),
                                      &opt)) != CF_OK
        || (rc = cf_sys_mount_kv_version(req, &type, &opt)) != CF_OK)
        goto out;
    rc = cf_router_mount(req->srv, path, type, desc, cfg, opt, &msg);
    if (rc != CF_OK) {
        cf_sys_router_fail(req, rc, msg);
        goto out;
    }
    free(msg);
    rc = cf_req_reply_none(req);
out:
    json_decref(cfg);
    json_decref(opt);
    return rc;
}

static cf_err_t
cf_sys_mount_disable(cf_req_t *req, const char *path)
{
    char      *msg = NULL, prefix[512];
    size_t     n = strlen(path);
    cf_err_t   rc;

    rc = cf_router_unmount(req->srv, path, &msg);
    if (rc == CF_ERR_NOT_FOUND)         /* Vault: "(if it existed)" */
        rc = CF_OK;
    if (rc != CF_OK)
        return cf_sys_router_fail(req, rc, msg);
    free(msg);
    /* The mount's leases went with its data: drop them (their engine is
     * gone, so nothing is asked to revoke). */
    while (n > 0 && path[n - 1] == '/')
        n--;
    if (n == 0 || n + 2 > sizeof(prefix))
        return cf_req_reply_none(req);
    snprintf(prefix, sizeof(prefix), "%.*s/", (int) n, path);
    if ((rc = cf_lease_revoke_prefix(req->srv, prefix, true, NULL)) != CF_OK)
        cf_log_warn("mounts", "dropping the leases of %s: %s", path,
                    cf_err_name(rc));
    return cf_req_reply_none(req);
}

static cf_err_t
cf_sys_mount_read(cf_req_t *req, const char *path)
{
    json_t  *m = cf_router_mount_json(req->srv, path);

    if (m == NULL)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "No secret engine mount at %.200s", path);
    return cf_req_reply_data_top(req, m);
}

static int64_t
cf_sys_ttl_or_default(json_t *cfg, const char *name)
{
    json_int_t  v = json_integer_value(json_object_get(cfg, name));

    return v > 0 ? (int64_t) v : CF_SYS_DEFAULT_TTL;
}

static cf_err_t
cf_sys_tune_read(cf_req_t *req, const char *path)
{
    json_t  *m = cf_router_mount_json(req->srv, path), *cfg, *out;

    if (m == NULL)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "cannot fetch sysview for path \"%.200s\"", path);
    cfg = json_object_get(m, "config");
    out = json_pack("{s:I, s:I, s:b, s:O, s:O}",
                    "default_lease_ttl",
                    (json_int_t) cf_sys_ttl_or_default(cfg,
                                                       "default_lease_ttl"),
                    "max_lease_ttl",
                    (json_int_t) cf_sys_ttl_or_default(cfg, "max_lease_ttl"),
                    "force_no_cache",
                    json_is_true(json_object_get(cfg, "force_no_cache")),
                    "description", json_object_get(m, "description"),
                    "options", json_object_get(m, "options"));
    json_decref(m);
    return cf_req_reply_data_top(req, out);
}

/* Whether two KV option maps name the same version ("" or none = 1). */
static bool
cf_sys_same_kv_version(const json_t *a, const json_t *b)
{
    const char  *va = json_string_value(json_object_get(a, "version"));
    const char  *vb = json_string_value(json_object_get(b, "version"));

    if (va == NULL || *va == '\0')
        va = "1";
    if (vb == NULL || *vb == '\0')
        vb = "1";
    return strcmp(va, vb) == 0;
}

static cf_err_t
cf_sys_tune_write(cf_req_t *req, const char *path)
{
    json_t      *cfg = NULL, *opt = NULL, *cur;
    const char  *desc = NULL, *type = "";
    char        *msg = NULL;
    bool         has;
    cf_err_t     rc;

    if ((cur = cf_router_mount_json(req->srv, path)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "cannot tune '%.200s': no mount there", path);
    type = json_string_value(json_object_get(cur, "type"));
    if ((rc = cf_req_param_str(req, "description", &desc, &has)) != CF_OK
        || (rc = cf_sys_mount_config(req, req->body, &cfg)) != CF_OK
        || (rc = cf_sys_mount_options(req,
                                      json_object_get(req->body, "options"),
                                      &opt)) != CF_OK
        || (rc = cf_sys_mount_kv_version(req, &type, &opt)) != CF_OK)
        goto out;
    /* There is no v1 -> v2 upgrade: a changed version would hide every
     * key the mount holds. */
    if (strcmp(type, "kv") == 0 && opt != NULL
        && json_object_get(opt, "version") != NULL
        && !cf_sys_same_kv_version(json_object_get(cur, "options"), opt)) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "changing the version of a "
                         "KV mount is not supported");
        goto out;
    }
    rc = cf_router_tune(req->srv, path, json_object_size(cfg) ? cfg : NULL,
                        desc, opt, &msg);
    if (rc != CF_OK) {
        cf_sys_router_fail(req, rc, msg);
        goto out;
    }
    free(msg);
    rc = cf_req_reply_none(req);
out:
    json_decref(cur);
    json_decref(cfg);
    json_decref(opt);
    return rc;
}

/* sys/mounts/<path>[/tune] and sys/auth/<path>[/tune] (auth mounts live
 * under "auth/<path>/"): a mount path may itself hold '/', so the "/tune"
 * suffix is split off here rather than by a pattern. */
static cf_err_t
cf_sys_mount_route_at(cf_req_t *req, const char *route, const char *base)
{
    const char  *p = req->rest + strlen(route);
    size_t       n = strlen(p), bl = strlen(base);
    char        *path;
    bool         tune = false;
    cf_err_t     rc;

    if (n > 5 && strcmp(p + n - 5, "/tune") == 0) {
        tune = true;
        n -= 5;
    }
    if ((path = malloc(bl + n + 1)) == NULL)
        return CF_ERR_NOMEM;
    memcpy(path, base, bl);
    memcpy(path + bl, p, n);
    path[bl + n] = '\0';
    if (tune && req->op == CF_OP_READ)
        rc = cf_sys_tune_read(req, path);
    else if (tune && (req->op & CF_OP_WRITE))
        rc = cf_sys_tune_write(req, path);
    else if (tune)
        rc = cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    else if (req->op == CF_OP_READ)
        rc = cf_sys_mount_read(req, path);
    else if (req->op & CF_OP_WRITE)
        rc = cf_sys_mount_enable(req, path);
    else if (req->op == CF_OP_DELETE)
        rc = cf_sys_mount_disable(req, path);
    else
        rc = cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    free(path);
    return rc;
}

cf_err_t
cf_sys_mount_route(cf_req_t *req)
{
    return cf_sys_mount_route_at(req, "mounts/", "");
}

cf_err_t
cf_sys_auth_route(cf_req_t *req)
{
    return cf_sys_mount_route_at(req, "auth/", "auth/");
}

/* ---- sys/remount ----------------------------------------------------- */

/* Remounts finish before the reply (views are keyed by UUID, so nothing
 * moves); the status route reports the last few for clients that poll. */
#define CF_SYS_MIGRATIONS  16

static struct {
    pthread_mutex_t  mu;
    unsigned         next;
    struct {
        char  id[37];
        char  from[256];
        char  to[256];
    } ring[CF_SYS_MIGRATIONS];
} cf_sys_migrations = { .mu = PTHREAD_MUTEX_INITIALIZER };

cf_err_t
cf_sys_remount(cf_req_t *req)
{
    const char  *from = NULL, *to = NULL;
    char         id[37], *msg = NULL;
    unsigned     slot;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "from", &from, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "to", &to, &has)) != CF_OK)
        return rc;
    if (from == NULL || to == NULL || *from == '\0' || *to == '\0')
        return cf_req_fail(req, CF_ERR_INVALID,
                           "both 'from' and 'to' must be specified");
    if ((rc = cf_router_remount(req->srv, from, to, &msg)) != CF_OK)
        return cf_sys_router_fail(req, rc, msg);
    free(msg);
    cf_uuid_new(id);
    pthread_mutex_lock(&cf_sys_migrations.mu);
    slot = cf_sys_migrations.next++ % CF_SYS_MIGRATIONS;
    memcpy(cf_sys_migrations.ring[slot].id, id, sizeof(id));
    snprintf(cf_sys_migrations.ring[slot].from,
             sizeof(cf_sys_migrations.ring[slot].from), "%s", from);
    snprintf(cf_sys_migrations.ring[slot].to,
             sizeof(cf_sys_migrations.ring[slot].to), "%s", to);
    pthread_mutex_unlock(&cf_sys_migrations.mu);
    return cf_req_reply_data_top(req, json_pack("{s:s}", "migration_id", id));
}

cf_err_t
cf_sys_remount_status(cf_req_t *req)
{
    const char  *id = req->rest + strlen("remount/status/");
    json_t      *out = NULL;
    unsigned     i;

    pthread_mutex_lock(&cf_sys_migrations.mu);
    for (i = 0; i < CF_SYS_MIGRATIONS; i++) {
        if (strcmp(cf_sys_migrations.ring[i].id, id) != 0)
            continue;
        out = json_pack("{s:s, s:{s:s, s:s, s:s}}", "migration_id", id,
                        "migration_info",
                        "source_mount", cf_sys_migrations.ring[i].from,
                        "target_mount", cf_sys_migrations.ring[i].to,
                        "status", "success");
        break;
    }
    pthread_mutex_unlock(&cf_sys_migrations.mu);
    if (out == NULL)
        return cf_req_fail(req, CF_ERR_NOT_FOUND,
                           "no migration with that id");
    return cf_req_reply_data(req, out);
}

/* ---- sys/internal/ui/mounts ------------------------------------------ */

/* The ACL of the request's token, or NULL for root (sees every mount). */
static cf_err_t
cf_sys_ui_acl(cf_req_t *req, cf_acl_t **acl)
{
    *acl = NULL;
    if (req->token == NULL || req->token->root)
        return CF_OK;
    return cf_policy_store_token_acl(req->srv, req->token->entry, acl);
}

/* Drop the mounts the ACL grants nothing under (Vault filters this list
 * so that a token only learns the mounts it can use). */
static void
cf_sys_ui_filter(const cf_acl_t *acl, json_t *mounts, const char *base)
{
    const char  *key;
    json_t      *v;
    void        *tmp;
    char         path[512];

    json_object_foreach_safe(mounts, tmp, key, v) {
        snprintf(path, sizeof(path), "%s%s", base, key);
        if (!cf_acl_mount_access(acl, path))
            json_object_del(mounts, key);
    }
}

cf_err_t
cf_sys_ui_mounts(cf_req_t *req)
{
    json_t    *secret, *auth;
    cf_acl_t  *acl;
    cf_err_t   rc;

    if ((rc = cf_sys_ui_acl(req, &acl)) != CF_OK)
        return cf_req_fail(req, rc == CF_ERR_PERMISSION ? rc
                                                        : CF_ERR_INTERNAL,
                           "permission denied");
    secret = cf_router_mounts_json(req->srv, false);
    auth = cf_router_mounts_json(req->srv, true);
    if (acl != NULL) {
        cf_sys_ui_filter(acl, secret, "");
        cf_sys_ui_filter(acl, auth, "auth/");
        cf_acl_free(acl);
    }
    return cf_req_reply_data(req, json_pack("{s:o, s:o}", "secret", secret,
                                            "auth", auth));
}

/* The mount serving a path (longest prefix), with "path" added: what the
 * vault CLI reads to learn a KV mount's version. */
cf_err_t
cf_sys_ui_mount(cf_req_t *req)
{
    const char  *p = req->rest + strlen("internal/ui/mounts/");
    json_t      *m;
    char        *path;
    cf_acl_t    *acl = NULL;
    bool         visible;

    if ((m = cf_router_mount_for_path(req->srv, p, &path)) == NULL)
        /* 403, not 404: this route must not enumerate mounts. */
        return cf_req_fail(req, CF_ERR_PERMISSION, "permission denied");
    visible = cf_sys_ui_acl(req, &acl) == CF_OK
              && (acl == NULL || cf_acl_mount_access(acl, path));
    cf_acl_free(acl);
    if (!visible) {
        json_decref(m);
        free(path);
        return cf_req_fail(req, CF_ERR_PERMISSION, "permission denied");
    }
    json_object_set_new(m, "path", json_string(path));
    free(path);
    return cf_req_reply_data(req, m);
}
