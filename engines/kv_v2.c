/*
 * kv_v2: KV version 2, versioned secrets with metadata, check-and-set,
 * soft delete, undelete and destroy (Vault's "kv-v2"). Layout and locking
 * are in engines/kv.h.
 *
 * Metadata entry ("meta/<path>"), the shape of a metadata read except
 * that delete_version_after is kept in seconds:
 *   {created_time, updated_time, current_version, oldest_version,
 *    max_versions, cas_required, delete_version_after, custom_metadata,
 *    versions: {"<n>": {created_time, deletion_time, destroyed}}}
 * Timestamps are RFC 3339 UTC with nanoseconds, all the same width, so
 * "has this deletion time passed" is a string comparison with now.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/log.h"
#include "kv.h"

#define CF_KV_V2_DEFAULT_MAX_VERSIONS  10
#define CF_KV_V2_CM_MAX_KEYS           64      /* Vault's limits on */
#define CF_KV_V2_CM_MAX_KEY_LEN        128     /* custom_metadata */
#define CF_KV_V2_CM_MAX_VALUE_LEN      512
#define CF_KV_V2_MAX_DELETE_AFTER      (100LL * 365 * 86400)  /* 100 y */
#define CF_KV_V2_VER_PATH_LEN          96      /* "ver/" 64 "/" 20 NUL */
#define CF_KV_V2_CONFIG                "config"
#define CF_KV_V2_CONFIG_LOCK           ""      /* no key is empty */

typedef struct {
    int64_t  max_versions;
    bool     cas_required;
    int64_t  delete_version_after;      /* seconds */
} cf_kv_v2_config_t;

typedef enum {
    CF_KV_V2_DELETE,
    CF_KV_V2_UNDELETE,
    CF_KV_V2_DESTROY
} cf_kv_v2_action_t;

/* ---- small helpers --------------------------------------------------- */

/* Metadata member holding {"v": n, "data": {...}}: a copy of the current
 * version's data, so a read of the latest version is one storage read.
 * Never shown by metadata reads; dropped before a destroy of version n. */
#define CF_KV_V2_LATEST  "latest"

static int64_t
cf_kv_v2_int(const json_t *o, const char *name)
{
    return (int64_t) json_integer_value(json_object_get(o, name));
}

/* A non-negative integer from JSON: a number without a fraction or a
 * string of digits. */
static bool
cf_kv_v2_json_uint(const json_t *v, int64_t *out)
{
    const char  *s;
    char        *end;
    double       d;
    long long    n;

    if (json_is_integer(v)) {
        *out = (int64_t) json_integer_value(v);
        return *out >= 0;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        if (d < 0 || d > 9e15 || d != (double) (int64_t) d)
            return false;
        *out = (int64_t) d;
        return true;
    }
    if (!json_is_string(v))
        return false;
    s = json_string_value(v);
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = n;
    return true;
}

/* A non-negative integer parameter (body or query). */
static cf_err_t
cf_kv_v2_param_uint(cf_req_t *req, const char *name, int64_t *out,
                    bool *present)
{
    cf_err_t  rc;

    if ((rc = cf_req_param_int(req, name, out, present)) != CF_OK)
        return rc;
    if (*present && *out < 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must not be negative", name);
    return CF_OK;
}

/* delete_version_after: a duration of at most 100 years, so deletion
 * times keep their 4-digit year (and the string comparison) and the
 * clock arithmetic cannot overflow. */
static cf_err_t
cf_kv_v2_param_delete_after(cf_req_t *req, int64_t *out, bool *present)
{
    cf_err_t  rc;

    rc = cf_req_param_duration(req, "delete_version_after", out, present);
    if (rc != CF_OK)
        return rc;
    if (*present && *out > CF_KV_V2_MAX_DELETE_AFTER)
        return cf_req_fail(req, CF_ERR_INVALID, "'delete_version_after' "
                           "must be at most 100 years");
    return CF_OK;
}

/* Go's time.Duration text, which Vault returns: "0s", "1m30s", "2h0m0s". */
static void
cf_kv_v2_duration(int64_t s, char buf[32])
{
    int64_t  h = s / 3600, m = (s % 3600) / 60, sec = s % 60;

    if (h > 0)
        snprintf(buf, 32, "%lldh%lldm%llds", (long long) h, (long long) m,
                 (long long) sec);
    else if (m > 0)
        snprintf(buf, 32, "%lldm%llds", (long long) m, (long long) sec);
    else
        snprintf(buf, 32, "%llds", (long long) sec);
}

/* "meta/<key>", malloc'd. */
static char *
cf_kv_v2_meta_path(const char *key)
{
    size_t  n = strlen(key);
    char   *p;

    if ((p = malloc(n + 6)) == NULL)
        return NULL;
    memcpy(p, "meta/", 5);
    memcpy(p + 5, key, n + 1);
    return p;
}

/* "ver/<sha256 hex of key>/<n>": fixed length whatever the key. */
static cf_err_t
cf_kv_v2_ver_path(const char *key, int64_t n,
                  char out[CF_KV_V2_VER_PATH_LEN])
{
    unsigned char  md[32];
    unsigned int   mdl = 0;
    char          *hex;

    if (EVP_Digest(key, strlen(key), md, &mdl, EVP_sha256(), NULL) != 1)
        return CF_ERR_INTERNAL;
    if ((hex = cf_hex_encode(md, mdl)) == NULL)
        return CF_ERR_NOMEM;
    snprintf(out, CF_KV_V2_VER_PATH_LEN, "ver/%s/%lld", hex, (long long) n);
    cf_mem_free_str(hex);
    return CF_OK;
}

static cf_err_t
cf_kv_v2_config_load(cf_req_t *req, cf_kv_v2_config_t *c)
{
    json_t    *j = NULL;
    cf_err_t   rc;

    memset(c, 0, sizeof(*c));
    rc = cf_view_get_json(req, CF_KV_V2_CONFIG, &j);
    if (rc == CF_ERR_NOT_FOUND)
        return CF_OK;
    if (rc != CF_OK)
        return rc;
    c->max_versions = cf_kv_v2_int(j, "max_versions");
    c->cas_required = json_is_true(json_object_get(j, "cas_required"));
    c->delete_version_after = cf_kv_v2_int(j, "delete_version_after");
    json_decref(j);
    return CF_OK;
}

/* The key's metadata; CF_ERR_NOT_FOUND when it has none. *out owned. */
static cf_err_t
cf_kv_v2_meta_load(cf_req_t *req, const char *key, json_t **out)
{
    char      *p;
    cf_err_t   rc;

    *out = NULL;
    if ((p = cf_kv_v2_meta_path(key)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_view_get_json(req, p, out);
    free(p);
    if (rc == CF_OK && !json_is_object(json_object_get(*out, "versions"))) {
        cf_log_error("kv", "metadata of a key in mount %s is malformed",
                     req->mount->path);
        json_decref(*out);
        *out = NULL;
        rc = CF_ERR_INTEGRITY;
    }
    return rc;
}

static cf_err_t
cf_kv_v2_meta_store(cf_req_t *req, const char *key, const json_t *meta)
{
    char      *p;
    cf_err_t   rc;

    if ((p = cf_kv_v2_meta_path(key)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_view_put_json(req, p, meta);
    free(p);
    return rc;
}

/* The new version's entry and the key's metadata, in one transaction:
 * a crash never leaves one without the other. */
static cf_err_t
cf_kv_v2_store_version(cf_req_t *req, const char *key, const char *vpath,
                       json_t *data, const json_t *meta)
{
    const char    *keys[2];
    const json_t  *vals[2];
    json_t        *entry;
    char          *mp;
    cf_err_t       rc;

    if ((mp = cf_kv_v2_meta_path(key)) == NULL)
        return CF_ERR_NOMEM;
    if ((entry = json_pack("{s:O}", "data", data)) == NULL) {
        free(mp);
        return CF_ERR_NOMEM;
    }
    keys[0] = vpath;
    vals[0] = entry;
    keys[1] = mp;
    vals[1] = meta;
    rc = cf_view_put_json_many(req, 2, keys, vals);
    json_decref(entry);
    free(mp);
    return rc;
}

/* Fresh metadata for a key that has none. Owned. */
static json_t *
cf_kv_v2_meta_new(void)
{
    char  now[40];

    cf_kv_time(0, now);
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:i, s:n, s:{}}",
                     "created_time", now, "updated_time", now,
                     "current_version", 0, "oldest_version", 0,
                     "max_versions", 0, "cas_required", 0,
                     "delete_version_after", 0, "custom_metadata",
                     "versions");
}

/* The record of version n in meta, or NULL. Borrowed. */
static json_t *
cf_kv_v2_version(const json_t *meta, int64_t n)
{
    char  k[24];

    snprintf(k, sizeof(k), "%lld", (long long) n);
    return json_object_get(json_object_get(meta, "versions"), k);
}

/* Deleted: a deletion time that has passed (delete_version_after sets
 * one in the future at write time). */
static bool
cf_kv_v2_is_deleted(const json_t *vm, const char *now)
{
    const char  *dt = json_string_value(json_object_get(vm,
                                                        "deletion_time"));

    return dt != NULL && *dt != '\0' && strcmp(dt, now) <= 0;
}

/* Vault's per-version metadata object for version n. Owned. */
static json_t *
cf_kv_v2_version_meta(const json_t *meta, const json_t *vm, int64_t n)
{
    json_t  *cm = json_object_get(meta, "custom_metadata");

    return json_pack("{s:O, s:O, s:O, s:b, s:I}",
                     "created_time", json_object_get(vm, "created_time"),
                     "custom_metadata", cm != NULL ? cm : json_null(),
                     "deletion_time", json_object_get(vm, "deletion_time"),
                     "destroyed",
                     json_is_true(json_object_get(vm, "destroyed")),
                     "version", (json_int_t) n);
}

static int
cf_kv_v2_cmp_int64(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

/* Version numbers present in meta, ascending. *out malloc'd (may be NULL
 * when *n is 0). */
static cf_err_t
cf_kv_v2_version_numbers(const json_t *meta, int64_t **out, size_t *n)
{
    json_t      *vs = json_object_get(meta, "versions"), *v;
    const char  *k;
    int64_t     *a;
    size_t       i = 0;

    *out = NULL;
    *n = 0;
    if (json_object_size(vs) == 0)
        return CF_OK;
    if ((a = calloc(json_object_size(vs), sizeof(*a))) == NULL)
        return CF_ERR_NOMEM;
    json_object_foreach(vs, k, v) {
        a[i++] = strtoll(k, NULL, 10);
    }
    qsort(a, i, sizeof(*a), cf_kv_v2_cmp_int64);
    *out = a;
    *n = i;
    return CF_OK;
}

static int64_t
cf_kv_v2_max_versions(const cf_kv_v2_config_t *c, const json_t *meta)
{
    int64_t  m = cf_kv_v2_int(meta, "max_versions");

    if (m > 0)
        return m;           /* a key's own setting overrides the mount's */
    if (c->max_versions > 0)
        return c->max_versions;
    return CF_KV_V2_DEFAULT_MAX_VERSIONS;
}

static int64_t
cf_kv_v2_delete_after(const cf_kv_v2_config_t *c, const json_t *meta)
{
    int64_t  m = cf_kv_v2_int(meta, "delete_version_after");

    /* The key's value applies unless the mount's is shorter. */
    if (m > 0 && (c->delete_version_after == 0
                  || m < c->delete_version_after))
        return m;
    return c->delete_version_after;
}

/* custom_metadata: an object of at most 64 string values, keys up to 128
 * and values up to 512 bytes (Vault's limits). NULL is "not given". */
static cf_err_t
cf_kv_v2_check_custom(cf_req_t *req, const json_t *cm)
{
    const char  *k;
    json_t      *v;

    if (!json_is_object(cm))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'custom_metadata' must be an object");
    if (json_object_size(cm) > CF_KV_V2_CM_MAX_KEYS)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'custom_metadata' has more than %d keys",
                           CF_KV_V2_CM_MAX_KEYS);
    json_object_foreach((json_t *) cm, k, v) {
        if (*k == '\0' || strlen(k) > CF_KV_V2_CM_MAX_KEY_LEN)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'custom_metadata' keys must be 1 to %d "
                               "bytes long", CF_KV_V2_CM_MAX_KEY_LEN);
        if (!json_is_string(v))
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'custom_metadata' values must be strings");
        if (json_string_length(v) > CF_KV_V2_CM_MAX_VALUE_LEN)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'custom_metadata' values must be at most "
                               "%d bytes long", CF_KV_V2_CM_MAX_VALUE_LEN);
    }
    return CF_OK;
}

/* ---- data/ ----------------------------------------------------------- */

/* Which version a read means (0 = the current one) and the key's
 * metadata. Answers the plain 404s itself (no such key or version) and
 * returns CF_ERR_NOT_FOUND for them. */
static cf_err_t
cf_kv_v2_read_target(cf_req_t *req, const char *key, json_t **meta,
                     json_t **vm, int64_t *version)
{
    int64_t    v = 0;
    bool       have;
    cf_err_t   rc;

    *meta = NULL;
    *vm = NULL;
    if ((rc = cf_kv_check_key(req, key)) != CF_OK
        || (rc = cf_kv_v2_param_uint(req, "version", &v, &have)) != CF_OK)
        return rc;
    rc = cf_kv_v2_meta_load(req, key, meta);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_kv_reply_404(req, NULL);
    if (rc != CF_OK)
        return rc;
    if (v == 0)
        v = cf_kv_v2_int(*meta, "current_version");
    if ((*vm = cf_kv_v2_version(*meta, v)) == NULL) {
        json_decref(*meta);
        *meta = NULL;
        return cf_kv_reply_404(req, NULL);
    }
    *version = v;
    return CF_OK;
}

/* The stored data object of a version (owned), or CF_ERR_NOT_FOUND if the
 * entry is gone (destroyed or pruned meanwhile). */
static cf_err_t
cf_kv_v2_data_load(cf_req_t *req, const char *key, int64_t v, json_t **out)
{
    char       path[CF_KV_V2_VER_PATH_LEN];
    json_t    *e = NULL, *d;
    cf_err_t   rc;

    *out = NULL;
    if ((rc = cf_kv_v2_ver_path(key, v, path)) != CF_OK
        || (rc = cf_view_get_json(req, path, &e)) != CF_OK)
        return rc;
    d = json_object_get(e, "data");
    if (!json_is_object(d)) {
        json_decref(e);
        return CF_ERR_INTEGRITY;
    }
    *out = json_incref(d);
    json_decref(e);
    return CF_OK;
}

/* The inline copy of version v's data kept in the metadata when v is the
 * current version (owned), else NULL. */
static json_t *
cf_kv_v2_latest(const json_t *meta, int64_t v)
{
    const json_t  *l = json_object_get(meta, CF_KV_V2_LATEST);
    json_t        *d = json_object_get(l, "data");

    if (cf_kv_v2_int(l, "v") != v || !json_is_object(d))
        return NULL;
    return json_incref(d);
}

/* The data (owned) and version metadata (owned) a read names. A deleted
 * or destroyed version answers 404 whose data is {<field>: null,
 * metadata: {...}}, as Vault's, and returns CF_ERR_NOT_FOUND. */
static cf_err_t
cf_kv_v2_read_version(cf_req_t *req, const char *key, const char *field,
                      json_t **data, json_t **md)
{
    json_t    *meta = NULL, *vm;
    int64_t    v = 0;
    char       now[40];
    cf_err_t   rc;

    *data = NULL;
    *md = NULL;
    if ((rc = cf_kv_v2_read_target(req, key, &meta, &vm, &v)) != CF_OK)
        return rc;
    if ((*md = cf_kv_v2_version_meta(meta, vm, v)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    cf_kv_time(0, now);
    if (!json_is_true(json_object_get(vm, "destroyed"))
        && !cf_kv_v2_is_deleted(vm, now)
        && (*data = cf_kv_v2_latest(meta, v)) != NULL)
        rc = CF_OK;                     /* one storage read, not two */
    else if (json_is_true(json_object_get(vm, "destroyed"))
        || cf_kv_v2_is_deleted(vm, now)
        || (rc = cf_kv_v2_data_load(req, key, v, data)) == CF_ERR_NOT_FOUND)
        rc = cf_kv_reply_404(req, json_pack("{s:n, s:O}", field,
                                            "metadata", *md));
out:
    json_decref(meta);
    if (rc != CF_OK) {
        json_decref(*md);
        *md = NULL;
    }
    return rc;
}

static cf_err_t
cf_kv_v2_data_read(cf_req_t *req, const char *key)
{
    json_t    *data, *md;
    cf_err_t   rc;

    if ((rc = cf_kv_v2_read_version(req, key, "data", &data, &md)) != CF_OK)
        return rc;
    return cf_req_reply_data(req, json_pack("{s:o, s:o}", "data", data,
                                            "metadata", md));
}

/* data, options and options.cas of a write or patch body. */
static cf_err_t
cf_kv_v2_write_params(cf_req_t *req, json_t **data, int64_t *cas,
                      bool *have_cas)
{
    json_t  *opt, *c;

    *have_cas = false;
    *data = json_object_get(req->body, "data");
    if (*data == NULL || json_is_null(*data))
        return cf_req_fail(req, CF_ERR_INVALID, "no data provided");
    if (!json_is_object(*data))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'data' must be an object");
    opt = json_object_get(req->body, "options");
    if (opt != NULL && !json_is_null(opt) && !json_is_object(opt))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'options' must be an object");
    c = json_object_get(opt, "cas");
    if (c != NULL && !json_is_null(c)) {
        if (!cf_kv_v2_json_uint(c, cas))
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'cas' must be a non-negative integer");
        *have_cas = true;
    }
    return CF_OK;
}

/* Drop the oldest versions beyond max; the paths of their entries go to
 * `gone` for deletion once the metadata is stored. Caller holds the key
 * lock. */
static cf_err_t
cf_kv_v2_prune(const char *key, json_t *meta, int64_t max,
               cf_strlist_t *gone)
{
    json_t   *vs = json_object_get(meta, "versions");
    int64_t  *nums = NULL;
    size_t    n = 0, i, drop;
    char      k[24], path[CF_KV_V2_VER_PATH_LEN];
    cf_err_t  rc;

    if ((int64_t) json_object_size(vs) <= max)
        return CF_OK;
    if ((rc = cf_kv_v2_version_numbers(meta, &nums, &n)) != CF_OK)
        return rc;
    drop = n - (size_t) max;
    for (i = 0; i < drop && rc == CF_OK; i++) {
        snprintf(k, sizeof(k), "%lld", (long long) nums[i]);
        json_object_del(vs, k);
        if ((rc = cf_kv_v2_ver_path(key, nums[i], path)) == CF_OK)
            rc = cf_strlist_add(gone, path);
    }
    if (rc == CF_OK)
        json_object_set_new(meta, "oldest_version",
                            json_integer((json_int_t) nums[drop]));
    free(nums);
    return rc;
}

/* Delete entries whose metadata no longer names them. A failure leaves
 * an unreachable entry behind: logged, not the client's problem. */
static void
cf_kv_v2_delete_entries(cf_req_t *req, const cf_strlist_t *paths)
{
    size_t  i;

    for (i = 0; paths != NULL && i < paths->len; i++) {
        if (cf_view_delete(req, paths->items[i]) != CF_OK)
            cf_log_warn("kv", "could not delete an old version entry in "
                        "mount %s", req->mount->path);
    }
}

/* POST/PUT data/<key> (patch false) and PATCH data/<key> (patch true):
 * write a new version under the key lock. */
static cf_err_t
cf_kv_v2_data_write(cf_req_t *req, const char *key, bool patch)
{
    cf_kv_v2_config_t   cfg;
    pthread_mutex_t    *mu = NULL;
    json_t             *in, *meta = NULL, *vm, *data = NULL, *old = NULL;
    json_t             *md = NULL;
    cf_strlist_t       *gone = NULL;
    int64_t             cas = 0, cur, n, dva;
    bool                have_cas, fresh = false;
    char                now[40], del[40], k[24];
    char                path[CF_KV_V2_VER_PATH_LEN];
    cf_err_t            rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK
        || (patch && (rc = cf_kv_check_merge_patch(req)) != CF_OK)
        || (rc = cf_kv_v2_write_params(req, &in, &cas, &have_cas))
           != CF_OK)
        return rc;
    if ((gone = cf_strlist_new()) == NULL)
        return CF_ERR_NOMEM;
    mu = cf_kv_lock_key(req, key);
    if ((rc = cf_kv_v2_config_load(req, &cfg)) != CF_OK)
        goto out;
    rc = cf_kv_v2_meta_load(req, key, &meta);
    if (rc == CF_ERR_NOT_FOUND && !patch) {
        fresh = true;
        rc = (meta = cf_kv_v2_meta_new()) != NULL ? CF_OK : CF_ERR_NOMEM;
    } else if (rc == CF_ERR_NOT_FOUND) {
        rc = cf_kv_reply_404(req, NULL);
    }
    if (rc != CF_OK)
        goto out;
    cur = cf_kv_v2_int(meta, "current_version");
    if (!have_cas && (cfg.cas_required
                      || json_is_true(json_object_get(meta,
                                                      "cas_required")))) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "check-and-set parameter "
                         "required for this call");
        goto out;
    }
    if (have_cas && cas != cur) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "check-and-set parameter "
                         "did not match the current version");
        goto out;
    }
    cf_kv_time(0, now);
    if (patch) {
        vm = cf_kv_v2_version(meta, cur);
        if (vm == NULL || json_is_true(json_object_get(vm, "destroyed"))
            || cf_kv_v2_is_deleted(vm, now)
            || (rc = cf_kv_v2_data_load(req, key, cur, &old))
               == CF_ERR_NOT_FOUND) {
            rc = cf_kv_reply_404(req, NULL);
            goto out;
        }
        if (rc != CF_OK)
            goto out;
        data = cf_kv_merge_patch(old, in);
    } else {
        data = json_incref(in);
    }
    if (data == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    n = cur + 1;
    if ((rc = cf_kv_v2_ver_path(key, n, path)) != CF_OK)
        goto out;
    dva = cf_kv_v2_delete_after(&cfg, meta);
    if (dva > 0)
        cf_kv_time(dva, del);
    else
        del[0] = '\0';
    snprintf(k, sizeof(k), "%lld", (long long) n);
    vm = json_pack("{s:s, s:s, s:b}", "created_time", now,
                   "deletion_time", del, "destroyed", 0);
    if (vm == NULL
        || json_object_set_new(json_object_get(meta, "versions"), k, vm)
           != 0) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(meta, "current_version", json_integer(n));
    json_object_set_new(meta, "updated_time", json_string(now));
    json_object_set_new(meta, CF_KV_V2_LATEST,
                        json_pack("{s:I, s:O}", "v", (json_int_t) n,
                                  "data", data));
    if (fresh)
        json_object_set_new(meta, "created_time", json_string(now));
    if ((rc = cf_kv_v2_prune(key, meta, cf_kv_v2_max_versions(&cfg, meta),
                             gone)) != CF_OK
        || (rc = cf_kv_v2_store_version(req, key, path, data, meta))
           != CF_OK)
        goto out;
    cf_kv_v2_delete_entries(req, gone);
    md = cf_kv_v2_version_meta(meta, cf_kv_v2_version(meta, n), n);
    rc = md != NULL ? cf_req_reply_data(req, md) : CF_ERR_NOMEM;
out:
    if (mu != NULL)
        pthread_mutex_unlock(mu);
    cf_strlist_free(gone);
    json_decref(meta);
    json_decref(data);
    json_decref(old);
    return rc;
}

/* Mark, unmark or destroy versions of a key under its lock. */
/* If the inline copy is of one of vers, store meta without it. */
static cf_err_t
cf_kv_v2_drop_latest(cf_req_t *req, const char *key, json_t *meta,
                     const int64_t *vers, size_t nvers)
{
    int64_t  lv;
    size_t   i;

    if (json_object_get(meta, CF_KV_V2_LATEST) == NULL)
        return CF_OK;
    lv = cf_kv_v2_int(json_object_get(meta, CF_KV_V2_LATEST), "v");
    for (i = 0; i < nvers; i++) {
        if (vers[i] == lv) {
            json_object_del(meta, CF_KV_V2_LATEST);
            return cf_kv_v2_meta_store(req, key, meta);
        }
    }
    return CF_OK;
}

static cf_err_t
cf_kv_v2_apply(cf_req_t *req, const char *key, const int64_t *vers,
               size_t nvers, cf_kv_v2_action_t act)
{
    pthread_mutex_t  *mu;
    json_t           *meta = NULL, *vm;
    cf_strlist_t     *gone = NULL;
    char              now[40], path[CF_KV_V2_VER_PATH_LEN];
    size_t            i;
    bool              changed = false;
    cf_err_t          rc;

    if ((gone = cf_strlist_new()) == NULL)
        return CF_ERR_NOMEM;
    mu = cf_kv_lock_key(req, key);
    rc = cf_kv_v2_meta_load(req, key, &meta);
    if (rc == CF_ERR_NOT_FOUND) {       /* nothing to do, as Vault */
        rc = CF_OK;
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    /* The inline copy of the current version's data is wiped (metadata
     * stored without it) before anything else a destroy does. */
    if (act == CF_KV_V2_DESTROY
        && (rc = cf_kv_v2_drop_latest(req, key, meta, vers, nvers))
           != CF_OK)
        goto out;
    cf_kv_time(0, now);
    for (i = 0; i < nvers; i++) {
        vm = cf_kv_v2_version(meta, vers[i]);
        if (vm == NULL)
            continue;
        if (act == CF_KV_V2_DESTROY) {
            if ((rc = cf_kv_v2_ver_path(key, vers[i], path)) != CF_OK
                || (rc = cf_strlist_add(gone, path)) != CF_OK)
                goto out;
            json_object_set_new(vm, "destroyed", json_true());
            changed = true;
        } else if (json_is_true(json_object_get(vm, "destroyed"))) {
            continue;
        } else if (act == CF_KV_V2_DELETE) {
            if (!cf_kv_v2_is_deleted(vm, now)) {
                json_object_set_new(vm, "deletion_time", json_string(now));
                changed = true;
            }
        } else {
            json_object_set_new(vm, "deletion_time", json_string(""));
            changed = true;
        }
    }
    /* Destroy wipes the ciphertext first: a crash in between leaves a
     * version whose data reads as gone, never data that should be. */
    for (i = 0; i < gone->len; i++) {
        if ((rc = cf_view_delete(req, gone->items[i])) != CF_OK)
            goto out;
    }
    if (changed)
        rc = cf_kv_v2_meta_store(req, key, meta);
out:
    pthread_mutex_unlock(mu);
    cf_strlist_free(gone);
    json_decref(meta);
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

/* DELETE data/<key>: soft-delete the current version. */
static cf_err_t
cf_kv_v2_data_delete(cf_req_t *req, const char *key)
{
    json_t    *meta = NULL;
    int64_t    cur;
    cf_err_t   rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK)
        return rc;
    rc = cf_kv_v2_meta_load(req, key, &meta);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_reply_none(req);
    if (rc != CF_OK)
        return rc;
    cur = cf_kv_v2_int(meta, "current_version");
    json_decref(meta);
    /* cf_kv_v2_apply re-reads under the lock; a write in between makes
     * this delete the version that was current when it was asked. */
    return cf_kv_v2_apply(req, key, &cur, 1, CF_KV_V2_DELETE);
}

static cf_err_t
cf_kv_v2_data(cf_req_t *req, const char *key)
{
    switch (req->op) {
    case CF_OP_READ:
        return cf_kv_v2_data_read(req, key);
    case CF_OP_CREATE:
    case CF_OP_UPDATE:
        return cf_kv_v2_data_write(req, key, false);
    case CF_OP_PATCH:
        return cf_kv_v2_data_write(req, key, true);
    case CF_OP_DELETE:
        return cf_kv_v2_data_delete(req, key);
    default:
        return cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    }
}

/* ---- delete/, undelete/, destroy/ ------------------------------------ */

static cf_err_t
cf_kv_v2_versions_op(cf_req_t *req, const char *key, cf_kv_v2_action_t act)
{
    json_t    *vs, *e;
    int64_t   *vers = NULL;
    size_t     i, n;
    cf_err_t   rc;

    if (req->op != CF_OP_UPDATE && req->op != CF_OP_CREATE)
        return cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    if ((rc = cf_kv_check_key(req, key)) != CF_OK)
        return rc;
    vs = json_object_get(req->body, "versions");
    if (vs == NULL || json_is_null(vs)
        || (json_is_array(vs) && json_array_size(vs) == 0))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "no version number provided in 'versions'");
    n = json_is_array(vs) ? json_array_size(vs) : 1;
    if ((vers = calloc(n, sizeof(*vers))) == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        e = json_is_array(vs) ? json_array_get(vs, i) : vs;
        if (!cf_kv_v2_json_uint(e, &vers[i])) {
            free(vers);
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'versions' must be a list of "
                               "non-negative integers");
        }
    }
    rc = cf_kv_v2_apply(req, key, vers, n, act);
    free(vers);
    return rc;
}

/* ---- metadata/ ------------------------------------------------------- */

static cf_err_t
cf_kv_v2_metadata_read(cf_req_t *req, const char *key)
{
    json_t    *meta = NULL;
    char       dva[32];
    cf_err_t   rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK)
        return rc;
    rc = cf_kv_v2_meta_load(req, key, &meta);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_kv_reply_404(req, NULL);
    if (rc != CF_OK)
        return rc;
    json_object_del(meta, CF_KV_V2_LATEST);     /* data, not metadata */
    cf_kv_v2_duration(cf_kv_v2_int(meta, "delete_version_after"), dva);
    json_object_set_new(meta, "delete_version_after", json_string(dva));
    if (json_object_get(meta, "custom_metadata") == NULL)
        json_object_set_new(meta, "custom_metadata", json_null());
    return cf_req_reply_data(req, meta);
}

/* max_versions, cas_required, delete_version_after from a metadata write
 * or patch into meta; custom_metadata replaced (write) or merged (patch).
 */
static cf_err_t
cf_kv_v2_metadata_params(cf_req_t *req, json_t *meta, bool patch)
{
    json_t    *cm, *merged;
    int64_t    mv = 0, dva = 0;
    bool       cas = false, have;
    cf_err_t   rc;

    if ((rc = cf_kv_v2_param_uint(req, "max_versions", &mv, &have))
        != CF_OK)
        return rc;
    if (have)
        json_object_set_new(meta, "max_versions", json_integer(mv));
    if ((rc = cf_req_param_bool(req, "cas_required", &cas, &have)) != CF_OK)
        return rc;
    if (have)
        json_object_set_new(meta, "cas_required", json_boolean(cas));
    if ((rc = cf_kv_v2_param_delete_after(req, &dva, &have)) != CF_OK)
        return rc;
    if (have)
        json_object_set_new(meta, "delete_version_after",
                            json_integer(dva));
    cm = json_object_get(req->body, "custom_metadata");
    if (cm == NULL || json_is_null(cm))
        return CF_OK;
    if (!json_is_object(cm))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'custom_metadata' must be an object");
    if (patch) {
        merged = cf_kv_merge_patch(json_object_get(meta, "custom_metadata"),
                                   cm);
        if (merged == NULL)
            return CF_ERR_NOMEM;
    } else {
        merged = json_deep_copy(cm);
    }
    if ((rc = cf_kv_v2_check_custom(req, merged)) != CF_OK) {
        json_decref(merged);
        return rc;
    }
    json_object_set_new(meta, "custom_metadata", merged);
    return CF_OK;
}

/* POST metadata/<key> (creates the metadata if absent) and PATCH (the key
 * must exist). */
static cf_err_t
cf_kv_v2_metadata_write(cf_req_t *req, const char *key, bool patch)
{
    pthread_mutex_t  *mu;
    json_t           *meta = NULL;
    char              now[40];
    cf_err_t          rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK
        || (patch && (rc = cf_kv_check_merge_patch(req)) != CF_OK))
        return rc;
    mu = cf_kv_lock_key(req, key);
    rc = cf_kv_v2_meta_load(req, key, &meta);
    if (rc == CF_ERR_NOT_FOUND && !patch)
        rc = (meta = cf_kv_v2_meta_new()) != NULL ? CF_OK : CF_ERR_NOMEM;
    else if (rc == CF_ERR_NOT_FOUND)
        rc = cf_kv_reply_404(req, NULL);
    if (rc != CF_OK
        || (rc = cf_kv_v2_metadata_params(req, meta, patch)) != CF_OK)
        goto out;
    cf_kv_time(0, now);
    json_object_set_new(meta, "updated_time", json_string(now));
    rc = cf_kv_v2_meta_store(req, key, meta);
out:
    pthread_mutex_unlock(mu);
    json_decref(meta);
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

/* DELETE metadata/<key>: every version entry, then the metadata. */
static cf_err_t
cf_kv_v2_metadata_delete(cf_req_t *req, const char *key)
{
    pthread_mutex_t  *mu;
    json_t           *meta = NULL;
    int64_t          *nums = NULL;
    size_t            n = 0, i;
    char              path[CF_KV_V2_VER_PATH_LEN], *mp = NULL;
    cf_err_t          rc;

    if ((rc = cf_kv_check_key(req, key)) != CF_OK)
        return rc;
    mu = cf_kv_lock_key(req, key);
    rc = cf_kv_v2_meta_load(req, key, &meta);
    if (rc == CF_ERR_NOT_FOUND) {
        rc = CF_OK;
        goto out;
    }
    if (rc != CF_OK
        || (rc = cf_kv_v2_version_numbers(meta, &nums, &n)) != CF_OK)
        goto out;
    for (i = 0; i < n; i++) {
        if ((rc = cf_kv_v2_ver_path(key, nums[i], path)) != CF_OK
            || (rc = cf_view_delete(req, path)) != CF_OK)
            goto out;
    }
    if ((mp = cf_kv_v2_meta_path(key)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    rc = cf_view_delete(req, mp);
out:
    pthread_mutex_unlock(mu);
    free(mp);
    free(nums);
    json_decref(meta);
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

static cf_err_t
cf_kv_v2_metadata(cf_req_t *req, const char *key)
{
    switch (req->op) {
    case CF_OP_READ:
        return cf_kv_v2_metadata_read(req, key);
    case CF_OP_CREATE:
    case CF_OP_UPDATE:
        return cf_kv_v2_metadata_write(req, key, false);
    case CF_OP_PATCH:
        return cf_kv_v2_metadata_write(req, key, true);
    case CF_OP_DELETE:
        return cf_kv_v2_metadata_delete(req, key);
    case CF_OP_LIST:
        return cf_kv_reply_list_dir(req, "meta/", key);
    default:
        return cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    }
}

/* ---- subkeys/ -------------------------------------------------------- */

/* The data's structure with every leaf null; objects below `depth` levels
 * (0 = no limit) become leaves too. Owned. */
static json_t *
cf_kv_v2_subkeys_of(const json_t *data, int64_t depth, int64_t level)
{
    json_t      *out = json_object(), *v, *sub;
    const char  *k;

    if (out == NULL)
        return NULL;
    json_object_foreach((json_t *) data, k, v) {
        if (json_is_object(v) && (depth == 0 || level < depth))
            sub = cf_kv_v2_subkeys_of(v, depth, level + 1);
        else
            sub = json_null();
        if (sub == NULL || json_object_set_new(out, k, sub) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static cf_err_t
cf_kv_v2_subkeys(cf_req_t *req, const char *key)
{
    json_t    *data, *md, *sk;
    int64_t    depth = 0;
    bool       have;
    cf_err_t   rc;

    if (req->op != CF_OP_READ)
        return cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    if ((rc = cf_kv_v2_param_uint(req, "depth", &depth, &have)) != CF_OK
        || (rc = cf_kv_v2_read_version(req, key, "subkeys", &data, &md))
           != CF_OK)
        return rc;
    sk = cf_kv_v2_subkeys_of(data, depth, 1);
    json_decref(data);
    if (sk == NULL) {
        json_decref(md);
        return CF_ERR_NOMEM;
    }
    return cf_req_reply_data(req, json_pack("{s:o, s:o}", "subkeys", sk,
                                            "metadata", md));
}

/* ---- config ---------------------------------------------------------- */

static cf_err_t
cf_kv_v2_config(cf_req_t *req)
{
    cf_kv_v2_config_t   c;
    pthread_mutex_t    *mu;
    json_t             *j;
    int64_t             mv = 0, dva = 0;
    bool                cas = false, have_mv, have_cas, have_dva;
    char                d[32];
    cf_err_t            rc;

    if (req->op == CF_OP_READ) {
        if ((rc = cf_kv_v2_config_load(req, &c)) != CF_OK)
            return rc;
        cf_kv_v2_duration(c.delete_version_after, d);
        return cf_req_reply_data(req, json_pack("{s:b, s:s, s:I}",
                                 "cas_required", c.cas_required,
                                 "delete_version_after", d,
                                 "max_versions",
                                 (json_int_t) c.max_versions));
    }
    if (req->op != CF_OP_UPDATE && req->op != CF_OP_CREATE)
        return cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
    if ((rc = cf_kv_v2_param_uint(req, "max_versions", &mv, &have_mv))
        != CF_OK
        || (rc = cf_req_param_bool(req, "cas_required", &cas, &have_cas))
           != CF_OK
        || (rc = cf_kv_v2_param_delete_after(req, &dva, &have_dva))
           != CF_OK)
        return rc;
    mu = cf_kv_lock_key(req, CF_KV_V2_CONFIG_LOCK);
    if ((rc = cf_kv_v2_config_load(req, &c)) != CF_OK)
        goto out;
    if (have_mv)
        c.max_versions = mv;
    if (have_cas)
        c.cas_required = cas;
    if (have_dva)
        c.delete_version_after = dva;
    j = json_pack("{s:I, s:b, s:I}", "max_versions",
                  (json_int_t) c.max_versions, "cas_required",
                  c.cas_required, "delete_version_after",
                  (json_int_t) c.delete_version_after);
    rc = j != NULL ? cf_view_put_json(req, CF_KV_V2_CONFIG, j)
                   : CF_ERR_NOMEM;
    json_decref(j);
out:
    pthread_mutex_unlock(mu);
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

/* ---- routing --------------------------------------------------------- */

/* rest begins with word + '/'? Then *key is what follows. */
static bool
cf_kv_v2_under(const char *rest, const char *word, const char **key)
{
    size_t  n = strlen(word);

    if (strncmp(rest, word, n) != 0 || rest[n] != '/')
        return false;
    *key = rest + n + 1;
    return true;
}

int
cf_kv_v2_exists(cf_req_t *req)
{
    const char  *key = NULL;
    char        *mp;
    int          r;

    if (strncmp(req->rest, "data/", 5) == 0)
        key = req->rest + 5;
    else if (strncmp(req->rest, "metadata/", 9) == 0)
        key = req->rest + 9;
    if (key == NULL || *key == '\0' || key[strlen(key) - 1] == '/'
        || (mp = cf_kv_v2_meta_path(key)) == NULL)
        return -1;
    r = cf_view_exists(req, mp);
    free(mp);
    return r;
}

cf_err_t
cf_kv_v2_handle(cf_req_t *req)
{
    const char  *rest = req->rest, *key;

    if (strcmp(rest, "config") == 0)
        return cf_kv_v2_config(req);
    if (cf_kv_v2_under(rest, "data", &key))
        return cf_kv_v2_data(req, key);
    if (strcmp(rest, "metadata") == 0)
        return cf_kv_v2_metadata(req, "");
    if (cf_kv_v2_under(rest, "metadata", &key))
        return cf_kv_v2_metadata(req, key);
    if (cf_kv_v2_under(rest, "delete", &key))
        return cf_kv_v2_versions_op(req, key, CF_KV_V2_DELETE);
    if (cf_kv_v2_under(rest, "undelete", &key))
        return cf_kv_v2_versions_op(req, key, CF_KV_V2_UNDELETE);
    if (cf_kv_v2_under(rest, "destroy", &key))
        return cf_kv_v2_versions_op(req, key, CF_KV_V2_DESTROY);
    if (cf_kv_v2_under(rest, "subkeys", &key))
        return cf_kv_v2_subkeys(req, key);
    return cf_req_fail(req, CF_ERR_NOT_FOUND,
                       "invalid path for a versioned K/V secrets engine; "
                       "use the data/, metadata/, delete/, undelete/, "
                       "destroy/, subkeys/ or config endpoints");
}
