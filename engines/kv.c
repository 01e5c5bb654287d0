/*
 * kv: the key/value secrets engine. This file holds the engine table, the
 * per-request version dispatch (mount option "version"), the key lock
 * stripes and the helpers both versions share; kv_v1.c and kv_v2.c hold
 * the handlers. Layout and locking: engines/kv.h.
 */
#include "coffer/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "coffer/log.h"
#include "coffer/server.h"
#include "kv.h"

pthread_mutex_t *
cf_kv_lock_key(const cf_req_t *req, const char *key)
{
    return cf_keylock(&req->srv->keylocks, req->mount->uuid, key);
}

cf_err_t
cf_kv_reply_404(cf_req_t *req, json_t *data_take)
{
    return cf_req_reply_not_found(req, data_take);
}

cf_err_t
cf_kv_reply_list(cf_req_t *req, const char *prefix)
{
    return cf_view_reply_list(req, prefix);
}

cf_err_t
cf_kv_reply_list_dir(cf_req_t *req, const char *base, const char *dir)
{
    size_t     nb = strlen(base), nd = strlen(dir);
    char      *prefix;
    cf_err_t   rc;

    if ((prefix = malloc(nb + nd + 2)) == NULL)
        return CF_ERR_NOMEM;
    memcpy(prefix, base, nb);
    memcpy(prefix + nb, dir, nd + 1);
    if (nd > 0 && dir[nd - 1] != '/')
        memcpy(prefix + nb + nd, "/", 2);
    rc = cf_kv_reply_list(req, prefix);
    free(prefix);
    return rc;
}

cf_err_t
cf_kv_check_key(cf_req_t *req, const char *key)
{
    size_t  n = strlen(key);

    if (n == 0)
        return cf_req_fail(req, CF_ERR_INVALID, "missing secret path");
    if (key[n - 1] == '/')
        return cf_req_fail(req, CF_ERR_INVALID,
                           "secret path must not end in '/'");
    return CF_OK;
}

void
cf_kv_time(int64_t add, char buf[40])
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t) add;
    cf_time_rfc3339(&ts, buf);
}

cf_err_t
cf_kv_check_merge_patch(cf_req_t *req)
{
    const char  *ct = req->content_type;
    static const char  want[] = "application/merge-patch+json";

    if (ct != NULL) {
        while (*ct == ' ')
            ct++;
        if (strncasecmp(ct, want, sizeof(want) - 1) == 0
            && (ct[sizeof(want) - 1] == '\0' || ct[sizeof(want) - 1] == ';'
                || ct[sizeof(want) - 1] == ' '))
            return CF_OK;
    }
    return cf_req_fail(req, CF_ERR_MEDIA_TYPE,
                       "PATCH requires the Content-Type "
                       "application/merge-patch+json");
}

json_t *
cf_kv_merge_patch(json_t *target, json_t *patch)
{
    const char  *k;
    json_t      *v, *cur, *merged;
    void        *tmp;

    if (!json_is_object(patch))
        return json_incref(patch);
    if (!json_is_object(target))
        target = json_object();
    else
        json_incref(target);
    if (target == NULL)
        return NULL;
    json_object_foreach_safe(patch, tmp, k, v) {
        if (json_is_null(v)) {
            json_object_del(target, k);
            continue;
        }
        cur = json_object_get(target, k);
        if ((merged = cf_kv_merge_patch(cur, v)) == NULL
            || json_object_set_new(target, k, merged) != 0) {
            json_decref(target);
            return NULL;
        }
    }
    return target;
}

/* Vault keeps the version as a string ("2"); accept a number too. */
static bool
cf_kv_is_v2(const cf_mount_t *m)
{
    json_t  *v = json_object_get(m->options, "version");

    if (json_is_string(v))
        return strcmp(json_string_value(v), "2") == 0;
    return json_is_integer(v) && json_integer_value(v) == 2;
}

static cf_err_t
cf_kv_handle(cf_req_t *req)
{
    return cf_kv_is_v2(req->mount) ? cf_kv_v2_handle(req)
                                   : cf_kv_v1_handle(req);
}

static int
cf_kv_exists(cf_req_t *req)
{
    return cf_kv_is_v2(req->mount) ? cf_kv_v2_exists(req)
                                   : cf_kv_v1_exists(req);
}

/* One catch-all row: which paths exist depends on the mount's version,
 * so each version's handler routes (and answers 404/405) itself. */
static const cf_path_t  cf_kv_paths[] = {
    { "*", CF_OP_ALL, cf_kv_handle },
    CF_PATH_END
};

const cf_engine_t  cf_kv_engine = {
    .name = "kv", .paths = cf_kv_paths, .exists = cf_kv_exists,
};
