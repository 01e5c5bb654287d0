/*
 * kv_v1: KV version 1, one unversioned JSON object per path (Vault's
 * "passthrough" backend): read, write, list, delete. The object is stored
 * as written at "<path>" in the mount's view.
 */
#include <string.h>

#include "coffer/config.h"
#include "kv.h"

#define CF_KV_V1_DEFAULT_TTL  2764800     /* Vault's 768h system default */

/* Vault answers a KV v1 read with a lease duration: the secret's own
 * "ttl" (or legacy "lease") field, else the mount's default TTL. */
static json_int_t
cf_kv_v1_lease(const cf_req_t *req, json_t *data)
{
    const char  *names[] = { "ttl", "lease" };
    json_t      *v;
    long         secs;
    size_t       i;

    for (i = 0; i < 2; i++) {
        v = json_object_get(data, names[i]);
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            return json_integer_value(v);
        if (json_is_string(v)
            && cf_config_parse_duration(json_string_value(v), &secs)
               == CF_OK && secs >= 0)
            return secs;
    }
    v = json_object_get(req->mount->config, "default_lease_ttl");
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return json_integer_value(v);
    return CF_KV_V1_DEFAULT_TTL;
}

static cf_err_t
cf_kv_v1_read(cf_req_t *req, const char *key)
{
    json_t      *data = NULL;
    json_int_t   lease;
    cf_err_t     rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK)
        return rc;
    rc = cf_view_get_json(req, key, &data);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_kv_reply_404(req, NULL);
    if (rc != CF_OK)
        return rc;
    lease = cf_kv_v1_lease(req, data);
    if ((rc = cf_req_reply_data(req, data)) != CF_OK)
        return rc;
    json_object_set_new(req->resp, "lease_duration", json_integer(lease));
    return CF_OK;
}

static cf_err_t
cf_kv_v1_write(cf_req_t *req, const char *key)
{
    cf_err_t  rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK)
        return rc;
    if (json_object_size(req->body) == 0)
        return cf_req_fail(req, CF_ERR_INVALID, "missing data fields");
    /* A whole-object put needs no lock: the last writer wins, as in
     * Vault's KV v1. */
    if ((rc = cf_view_put_json(req, key, req->body)) != CF_OK)
        return rc;
    return cf_req_reply_none(req);
}

static cf_err_t
cf_kv_v1_delete(cf_req_t *req, const char *key)
{
    cf_err_t  rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK)
        return rc;
    if ((rc = cf_view_delete(req, key)) != CF_OK)
        return rc;
    return cf_req_reply_none(req);
}

int
cf_kv_v1_exists(cf_req_t *req)
{
    size_t  n = strlen(req->rest);

    if (n == 0 || req->rest[n - 1] == '/')
        return -1;
    return cf_view_exists(req, req->rest);
}

cf_err_t
cf_kv_v1_handle(cf_req_t *req)
{
    const char  *key = req->rest;

    switch (req->op) {
    case CF_OP_READ:
        return cf_kv_v1_read(req, key);
    case CF_OP_CREATE:
    case CF_OP_UPDATE:
        return cf_kv_v1_write(req, key);
    case CF_OP_DELETE:
        return cf_kv_v1_delete(req, key);
    case CF_OP_LIST:
        return cf_kv_reply_list_dir(req, "", key);
    default:
        return cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    }
}
