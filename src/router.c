/*
 * router: the mount table (immutable refcounted snapshots, swapped under
 * a mutex, persisted at "core/mounts") and longest-prefix routing into an
 * engine's path table.
 */
#include "coffer/router.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/barrier.h"
#include "coffer/log.h"

#define CF_MOUNTS_PATH  "core/mounts"

typedef struct {
    atomic_int   refs;
    size_t       n;
    cf_mount_t  *mounts;    /* longest path first */
} cf_mount_table_t;

/* Two locks: mu serialises changes to the table (held across storage
 * writes and engine hooks); tbl_lock guards only the `table` pointer, so
 * a request's acquire never waits behind a change in progress. Writers of
 * the pointer hold both (mu first). */
struct cf_router_s {
    pthread_mutex_t    mu;
    pthread_rwlock_t   tbl_lock;
    cf_mount_table_t  *table;   /* NULL while sealed */
};

/* Publish t as the table; the caller holds mu. Returns the old one. */
static cf_mount_table_t *
cf_router_publish(cf_router_t *r, cf_mount_table_t *t)
{
    cf_mount_table_t  *old;

    pthread_rwlock_wrlock(&r->tbl_lock);
    old = r->table;
    r->table = t;
    pthread_rwlock_unlock(&r->tbl_lock);
    return old;
}

static void
cf_mount_cleanup(cf_mount_t *m)
{
    free(m->path);
    free(m->type);
    free(m->uuid);
    free(m->accessor);
    free(m->description);
    json_decref(m->config);
    json_decref(m->options);
    free(m->view);
}

static void
cf_mount_table_release(cf_mount_table_t *t)
{
    size_t  i;

    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (i = 0; i < t->n; i++)
        cf_mount_cleanup(&t->mounts[i]);
    free(t->mounts);
    free(t);
}

static cf_mount_table_t *
cf_router_acquire(cf_router_t *r)
{
    cf_mount_table_t  *t;

    pthread_rwlock_rdlock(&r->tbl_lock);
    t = r->table;
    if (t != NULL)
        atomic_fetch_add(&t->refs, 1);
    pthread_rwlock_unlock(&r->tbl_lock);
    return t;
}

cf_err_t
cf_router_new(cf_router_t **out)
{
    cf_router_t  *r;

    *out = NULL;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return CF_ERR_NOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_rwlock_init(&r->tbl_lock, NULL);
    *out = r;
    return CF_OK;
}

void
cf_router_free(cf_router_t *r)
{
    if (r == NULL)
        return;
    cf_mount_table_release(r->table);
    pthread_mutex_destroy(&r->mu);
    pthread_rwlock_destroy(&r->tbl_lock);
    free(r);
}

static const cf_mount_t *cf_router_find(const cf_mount_table_t *t,
                                        const char *path, const char **rest);

/* ---- (de)serialisation ---------------------------------------------- */

static json_t *
cf_mount_to_json(const cf_mount_t *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:b, s:b}",
                     "path", m->path, "type", m->type, "uuid", m->uuid,
                     "accessor", m->accessor, "description", m->description,
                     "config", m->config, "options", m->options,
                     "local", m->local, "seal_wrap", m->seal_wrap);
}

/* One mount in Vault's sys/mounts shape (owned). */
static json_t *
cf_mount_describe(const cf_mount_t *m)
{
    json_t  *cfg;

    /* Vault always shows these three, 0 meaning "system default". */
    if ((cfg = json_pack("{s:i, s:i, s:b}", "default_lease_ttl", 0,
                         "max_lease_ttl", 0, "force_no_cache", 0)) == NULL)
        return NULL;
    json_object_update(cfg, m->config);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:b, s:b, s:b, "
                     "s:s, s:s, s:s}",
                     "type", m->type, "uuid", m->uuid,
                     "accessor", m->accessor, "description", m->description,
                     "config", cfg, "options", m->options,
                     "local", m->local, "seal_wrap", m->seal_wrap,
                     "external_entropy_access", 0,
                     "plugin_version", "", "running_plugin_version", "",
                     "running_sha256", "");
}

static cf_err_t
cf_mount_from_json(json_t *j, cf_mount_t *m)
{
    const char  *path, *type, *uuid, *acc, *desc = "";
    json_t      *cfg = NULL, *opt = NULL;
    int          local = 0, sw = 0;
    char         view[128];

    memset(m, 0, sizeof(*m));
    if (json_unpack(j, "{s:s, s:s, s:s, s:s, s?s, s?o, s?o, s?b, s?b}",
                    "path", &path, "type", &type, "uuid", &uuid,
                    "accessor", &acc, "description", &desc, "config", &cfg,
                    "options", &opt, "local", &local, "seal_wrap", &sw) != 0)
        return CF_ERR_INTEGRITY;
    m->engine = cf_engine_find(type);
    if (m->engine == NULL) {
        cf_log_error("router", "mount %s has unknown type '%s'", path, type);
        return CF_ERR_INTEGRITY;
    }
    snprintf(view, sizeof(view), "%s/%s/",
             m->engine->is_auth ? "auth" : "logical", uuid);
    m->path = strdup(path);
    m->type = strdup(type);
    m->uuid = strdup(uuid);
    m->accessor = strdup(acc);
    m->description = strdup(desc);
    m->config = cfg && json_is_object(cfg) ? json_deep_copy(cfg)
                                           : json_object();
    m->options = opt && json_is_object(opt) ? json_deep_copy(opt)
                                            : json_null();
    m->local = local;
    m->seal_wrap = sw;
    m->view = strdup(view);
    if (!m->path || !m->type || !m->uuid || !m->accessor || !m->description
        || !m->config || !m->view) {
        cf_mount_cleanup(m);
        return CF_ERR_NOMEM;
    }
    return CF_OK;
}

static int
cf_mount_cmp(const void *a, const void *b)
{
    const cf_mount_t  *x = a, *y = b;
    size_t             lx = strlen(x->path), ly = strlen(y->path);

    if (lx != ly)
        return lx > ly ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Build a snapshot from a JSON {"mounts":[...]} document. */
static cf_err_t
cf_mount_table_from_json(json_t *doc, cf_mount_table_t **out)
{
    cf_mount_table_t  *t;
    json_t            *arr, *e;
    size_t             i;
    cf_err_t           rc = CF_OK;

    *out = NULL;
    arr = json_object_get(doc, "mounts");
    if (!json_is_array(arr))
        return CF_ERR_INTEGRITY;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return CF_ERR_NOMEM;
    atomic_init(&t->refs, 1);
    t->mounts = calloc(json_array_size(arr) + 1, sizeof(cf_mount_t));
    if (t->mounts == NULL) {
        free(t);
        return CF_ERR_NOMEM;
    }
    json_array_foreach(arr, i, e) {
        if ((rc = cf_mount_from_json(e, &t->mounts[t->n])) != CF_OK)
            break;
        t->n++;
    }
    if (rc != CF_OK) {
        cf_mount_table_release(t);
        return rc;
    }
    qsort(t->mounts, t->n, sizeof(cf_mount_t), cf_mount_cmp);
    *out = t;
    return CF_OK;
}

static json_t *
cf_mount_table_to_json(const cf_mount_table_t *t)
{
    json_t  *arr = json_array();
    size_t   i;

    for (i = 0; t != NULL && i < t->n; i++)
        json_array_append_new(arr, cf_mount_to_json(&t->mounts[i]));
    return json_pack("{s:o}", "mounts", arr);
}

static cf_err_t
cf_router_persist(cf_server_t *srv, json_t *doc)
{
    char      *s;
    cf_err_t   rc;

    if ((s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_put(srv->barrier, CF_MOUNTS_PATH, s, strlen(s));
    cf_mem_free(s);
    return rc;
}

/* ---- mount creation -------------------------------------------------- */

static json_t *
cf_mount_new_json(const char *path, const cf_engine_t *e,
                  const char *description, json_t *config, json_t *options)
{
    char           uuid[37], acc[64];
    unsigned char  r[4];

    cf_uuid_new(uuid);
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    snprintf(acc, sizeof(acc), "%s_%02x%02x%02x%02x",
             strcmp(e->name, "system") == 0 ? "system" : e->name,
             r[0], r[1], r[2], r[3]);
    /* "o" steals: hand json_pack copies so the caller keeps its own. */
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:b}",
                     "path", path, "type", e->name, "uuid", uuid,
                     "accessor", acc,
                     "description", description ? description : "",
                     "config", config && json_is_object(config)
                               ? json_deep_copy(config) : json_object(),
                     "options", options ? json_deep_copy(options)
                                        : json_null(),
                     "local", 0, "seal_wrap", 0);
}

static bool
cf_router_overlaps(json_t *arr, const char *path, char **errmsg)
{
    json_t      *e;
    size_t       i;
    const char  *p;
    char         msg[512];

    json_array_foreach(arr, i, e) {
        p = json_string_value(json_object_get(e, "path"));
        if (p == NULL)
            continue;
        if (strncmp(p, path, strlen(p)) == 0
            || strncmp(path, p, strlen(path)) == 0) {
            snprintf(msg, sizeof(msg), "path is already in use at %s", p);
            if (errmsg != NULL)
                *errmsg = strdup(msg);
            return true;
        }
    }
    return false;
}

/* Normalise a user mount path: no leading '/', exactly one trailing '/',
 * no empty, "." or ".." segments. NULL on junk. */
static char *
cf_router_clean_path(const char *in)
{
    size_t  n;
    char   *p, *s, *seg;
    bool    bad = false;

    while (*in == '/')
        in++;
    n = strlen(in);
    while (n > 0 && in[n - 1] == '/')
        n--;
    if (n == 0 || n > 512)
        return NULL;
    if ((p = malloc(n + 2)) == NULL)
        return NULL;
    memcpy(p, in, n);
    p[n] = '/';
    p[n + 1] = '\0';
    for (s = p; *s != '\0'; s = seg + 1) {
        seg = strchr(s, '/');
        if (seg == s || (seg - s == 1 && s[0] == '.')
            || (seg - s == 2 && s[0] == '.' && s[1] == '.'))
            bad = true;
    }
    for (s = p; *s != '\0'; s++) {
        if ((unsigned char) *s < 0x20 || *s == '*' || *s == '+')
            bad = true;
    }
    if (bad) {
        free(p);
        return NULL;
    }
    return p;
}

/* Paths no user mount may take (Vault's protected prefixes). */
static bool
cf_router_reserved(const char *clean)
{
    return strncmp(clean, "sys/", 4) == 0
           || strncmp(clean, "cubbyhole/", 10) == 0
           || strncmp(clean, "identity/", 9) == 0
           || strcmp(clean, "auth/") == 0
           || strncmp(clean, "auth/token/", 11) == 0;
}

/* The storage view of a mount entry of the JSON table, into view. */
static void
cf_router_view_of(const json_t *m, char view[128])
{
    const char         *type, *uuid;
    const cf_engine_t  *e;

    type = json_string_value(json_object_get(m, "type"));
    uuid = json_string_value(json_object_get(m, "uuid"));
    e = cf_engine_find(type);
    snprintf(view, 128, "%s/%s/",
             e != NULL && e->is_auth ? "auth" : "logical",
             uuid != NULL ? uuid : "");
}

/* Run the engine's mount (or unmount) hook for the mount at `path` of
 * the current table. */
static cf_err_t
cf_router_run_hook_locked(cf_server_t *srv, const char *path, bool mount)
{
    cf_mount_table_t  *t = srv->router->table;
    cf_mount_t        *m;
    size_t             i;

    for (i = 0; t != NULL && i < t->n; i++) {
        m = &t->mounts[i];
        if (strcmp(m->path, path) != 0)
            continue;
        if (mount && m->engine->mount != NULL)
            return m->engine->mount(srv, m);
        if (!mount && m->engine->unmount != NULL)
            return m->engine->unmount(srv, m);
    }
    return CF_OK;
}

static cf_err_t
cf_router_swap_locked(cf_server_t *srv, json_t *doc)
{
    cf_router_t       *r = srv->router;
    cf_mount_table_t  *t, *old;
    cf_err_t           rc;

    if ((rc = cf_mount_table_from_json(doc, &t)) != CF_OK)
        return rc;
    if ((rc = cf_router_persist(srv, doc)) != CF_OK) {
        cf_mount_table_release(t);
        return rc;
    }
    old = cf_router_publish(r, t);
    cf_mount_table_release(old);
    return CF_OK;
}

cf_err_t
cf_router_mount(cf_server_t *srv, const char *path, const char *type,
                const char *description, json_t *config, json_t *options,
                char **errmsg)
{
    cf_router_t        *r = srv->router;
    const cf_engine_t  *e;
    json_t             *doc = NULL, *arr, *m;
    char               *clean = NULL, msg[256];
    cf_err_t            rc = CF_ERR_INVALID;

    *errmsg = NULL;
    pthread_mutex_lock(&r->mu);
    if ((e = cf_engine_find(type)) == NULL || e->singleton) {
        snprintf(msg, sizeof(msg), "unknown backend type: %s", type);
        *errmsg = strdup(msg);
        goto out;
    }
    if ((clean = cf_router_clean_path(path)) == NULL) {
        *errmsg = strdup("invalid mount path");
        goto out;
    }
    if (e->is_auth != (strncmp(clean, "auth/", 5) == 0)) {
        snprintf(msg, sizeof(msg), e->is_auth
                 ? "'%s' is an auth method; enable it under sys/auth"
                 : "'%s' is not an auth method", type);
        *errmsg = strdup(msg);
        goto out;
    }
    if (cf_router_reserved(clean)) {
        snprintf(msg, sizeof(msg), "cannot mount '%s' of type '%s': "
                 "path is reserved", clean, type);
        *errmsg = strdup(msg);
        goto out;
    }
    doc = cf_mount_table_to_json(r->table);
    arr = json_object_get(doc, "mounts");
    if (cf_router_overlaps(arr, clean, errmsg))
        goto out;
    if ((m = cf_mount_new_json(clean, e, description, config, options))
        == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    json_array_append_new(arr, m);
    if ((rc = cf_router_swap_locked(srv, doc)) == CF_OK)
        rc = cf_router_run_hook_locked(srv, clean, true);
out:
    pthread_mutex_unlock(&r->mu);
    json_decref(doc);
    free(clean);
    return rc;
}

/* The mount table entry (in doc's "mounts" array) whose path is `path`,
 * and its index; NULL when none. */
static json_t *
cf_router_doc_find(json_t *doc, const char *path, size_t *index)
{
    json_t      *arr = json_object_get(doc, "mounts"), *e;
    size_t       i;
    const char  *p;

    json_array_foreach(arr, i, e) {
        p = json_string_value(json_object_get(e, "path"));
        if (p != NULL && strcmp(p, path) == 0) {
            if (index != NULL)
                *index = i;
            return e;
        }
    }
    return NULL;
}

/* Clean `path` for lookup, failing with a message the caller returns. */
static char *
cf_router_clean_or_msg(const char *path, char **errmsg)
{
    char  *clean = cf_router_clean_path(path);

    if (clean == NULL)
        *errmsg = strdup("invalid mount path");
    return clean;
}

static bool
cf_router_is_fixed(const json_t *m)
{
    const cf_engine_t  *e;

    e = cf_engine_find(json_string_value(json_object_get(m, "type")));
    return e == NULL || e->singleton;
}

cf_err_t
cf_router_unmount(cf_server_t *srv, const char *path, char **errmsg)
{
    cf_router_t  *r = srv->router;
    json_t       *doc = NULL, *m;
    char         *clean, msg[600], view[128];
    size_t        idx;
    cf_err_t      rc = CF_ERR_INVALID;

    *errmsg = NULL;
    if ((clean = cf_router_clean_or_msg(path, errmsg)) == NULL)
        return CF_ERR_INVALID;
    pthread_mutex_lock(&r->mu);
    doc = cf_mount_table_to_json(r->table);
    if ((m = cf_router_doc_find(doc, clean, &idx)) == NULL) {
        rc = CF_ERR_NOT_FOUND;
        goto out;
    }
    if (cf_router_is_fixed(m)) {
        snprintf(msg, sizeof(msg), "cannot unmount '%s'", clean);
        *errmsg = strdup(msg);
        goto out;
    }
    cf_router_view_of(m, view);
    if ((rc = cf_router_run_hook_locked(srv, clean, false)) != CF_OK)
        goto out;
    json_array_remove(json_object_get(doc, "mounts"), idx);
    if ((rc = cf_router_swap_locked(srv, doc)) != CF_OK)
        goto out;
    /* The table no longer routes here; requests that took the old
     * snapshot may still finish, as in Vault. Their data goes now. */
    if ((rc = cf_barrier_delete_prefix(srv->barrier, view)) != CF_OK)
        cf_log_error("router", "unmounted %s but could not delete its "
                     "data under %s: %s", clean, view, cf_err_name(rc));
    else
        cf_log_info("router", "unmounted %s", clean);
out:
    pthread_mutex_unlock(&r->mu);
    json_decref(doc);
    free(clean);
    return rc;
}

cf_err_t
cf_router_remount(cf_server_t *srv, const char *from, const char *to,
                  char **errmsg)
{
    cf_router_t  *r = srv->router;
    json_t       *doc = NULL, *m, *arr;
    char         *src = NULL, *dst = NULL, msg[1100];
    size_t        idx;
    cf_err_t      rc = CF_ERR_INVALID;

    *errmsg = NULL;
    if ((src = cf_router_clean_or_msg(from, errmsg)) == NULL
        || (dst = cf_router_clean_or_msg(to, errmsg)) == NULL)
        goto done;
    pthread_mutex_lock(&r->mu);
    doc = cf_mount_table_to_json(r->table);
    arr = json_object_get(doc, "mounts");
    if ((m = cf_router_doc_find(doc, src, &idx)) == NULL) {
        snprintf(msg, sizeof(msg), "no matching mount at '%s'", src);
        *errmsg = strdup(msg);
        goto out;
    }
    if (cf_router_is_fixed(m)) {
        snprintf(msg, sizeof(msg), "cannot remount '%s'", src);
        *errmsg = strdup(msg);
        goto out;
    }
    if ((strncmp(src, "auth/", 5) == 0) != (strncmp(dst, "auth/", 5) == 0)
        || cf_router_reserved(dst)) {
        snprintf(msg, sizeof(msg), "cannot remount '%s' to '%s'", src, dst);
        *errmsg = strdup(msg);
        goto out;
    }
    /* Check overlaps against every other mount. */
    json_incref(m);
    json_array_remove(arr, idx);
    if (cf_router_overlaps(arr, dst, errmsg)) {
        json_decref(m);
        goto out;
    }
    json_object_set_new(m, "path", json_string(dst));
    json_array_append_new(arr, m);
    /* The view is keyed by the mount's UUID, so the data stays put. */
    if ((rc = cf_router_swap_locked(srv, doc)) == CF_OK)
        cf_log_info("router", "remounted %s to %s", src, dst);
out:
    pthread_mutex_unlock(&r->mu);
done:
    json_decref(doc);
    free(src);
    free(dst);
    return rc;
}

cf_err_t
cf_router_tune(cf_server_t *srv, const char *path, json_t *config,
               const char *description, json_t *options, char **errmsg)
{
    cf_router_t  *r = srv->router;
    json_t       *doc = NULL, *m, *cur;
    char         *clean, msg[600];
    cf_err_t      rc = CF_ERR_INVALID;

    *errmsg = NULL;
    if ((clean = cf_router_clean_or_msg(path, errmsg)) == NULL)
        return CF_ERR_INVALID;
    pthread_mutex_lock(&r->mu);
    doc = cf_mount_table_to_json(r->table);
    if ((m = cf_router_doc_find(doc, clean, NULL)) == NULL) {
        snprintf(msg, sizeof(msg), "no mount at '%s'", clean);
        *errmsg = strdup(msg);
        goto out;
    }
    if (config != NULL) {
        cur = json_object_get(m, "config");
        if (!json_is_object(cur)) {
            cur = json_object();
            json_object_set_new(m, "config", cur);
        }
        json_object_update(cur, config);
    }
    if (description != NULL)
        json_object_set_new(m, "description", json_string(description));
    if (options != NULL) {
        cur = json_object_get(m, "options");
        if (json_is_object(cur))
            json_object_update(cur, options);
        else
            json_object_set_new(m, "options", json_deep_copy(options));
    }
    rc = cf_router_swap_locked(srv, doc);
out:
    pthread_mutex_unlock(&r->mu);
    json_decref(doc);
    free(clean);
    return rc;
}

json_t *
cf_router_mount_for_path(cf_server_t *srv, const char *path, char **mpath)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    const cf_mount_t  *m;
    const char        *rest;
    json_t            *out = NULL;

    *mpath = NULL;
    if (t != NULL && (m = cf_router_find(t, path, &rest)) != NULL) {
        out = cf_mount_describe(m);
        if ((*mpath = strdup(m->path)) == NULL) {
            json_decref(out);
            out = NULL;
        }
    }
    cf_mount_table_release(t);
    return out;
}

int
cf_router_exists(cf_server_t *srv, cf_req_t *req)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    const cf_mount_t  *m, *saved_m = req->mount;
    const char        *rest, *saved_r = req->rest;
    int                r = -1;

    if (t != NULL && (m = cf_router_find(t, req->path, &rest)) != NULL
        && m->engine->exists != NULL) {
        req->mount = m;
        req->rest = rest;
        r = m->engine->exists(req);
        req->mount = saved_m;
        req->rest = saved_r;
    }
    cf_mount_table_release(t);
    return r;
}

bool
cf_router_unauthenticated(cf_server_t *srv, const char *path)
{
    cf_mount_table_t   *t = cf_router_acquire(srv->router);
    const cf_mount_t   *m;
    const char         *rest;
    const char *const  *u;
    bool                open = false;

    if (t != NULL && (m = cf_router_find(t, path, &rest)) != NULL
        && m->engine->unauthenticated != NULL) {
        for (u = m->engine->unauthenticated; *u != NULL && !open; u++)
            open = cf_router_match(*u, rest);
    }
    cf_mount_table_release(t);
    return open;
}

char *
cf_router_view_key(cf_server_t *srv, const char *mount_path,
                   const char *key)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    char              *full = NULL;
    size_t             i;

    for (i = 0; t != NULL && i < t->n; i++) {
        if (strcmp(t->mounts[i].path, mount_path) == 0) {
            if (asprintf(&full, "%s%s", t->mounts[i].view, key) < 0)
                full = NULL;
            break;
        }
    }
    cf_mount_table_release(t);
    return full;
}

/* A request for background work on mount m (no client, no token): ticks
 * and lease revocations. */
static cf_err_t
cf_router_bg_req_init(cf_req_t *req, cf_server_t *srv, const cf_mount_t *m,
                      const char *method)
{
    memset(req, 0, sizeof(*req));
    req->srv = srv;
    req->op = CF_OP_UPDATE;
    req->method = method;
    req->mount = m;
    req->rest = "";
    if ((req->path = strdup(m->path)) == NULL
        || (req->body = json_object()) == NULL) {
        free(req->path);
        return CF_ERR_NOMEM;
    }
    cf_uuid_new(req->request_id);
    return CF_OK;
}

/* Log what the work recorded as failures, then free the request. */
static void
cf_router_bg_req_done(cf_req_t *req, const char *what)
{
    json_t  *e;
    size_t   j;

    json_array_foreach(req->errors, j, e)
        cf_log_warn("router", "%s of %s: %s", what, req->mount->path,
                    json_string_value(e));
    free(req->path);
    json_decref(req->body);
    json_decref(req->resp);
    json_decref(req->warnings);
    json_decref(req->errors);
    json_decref(req->lease);
    free(req->raw);
}

void
cf_router_tick(cf_server_t *srv)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    cf_req_t           req;
    size_t             i;

    for (i = 0; t != NULL && i < t->n; i++) {
        if (t->mounts[i].engine->tick == NULL)
            continue;
        if (cf_router_bg_req_init(&req, srv, &t->mounts[i], "TICK")
            != CF_OK)
            break;
        t->mounts[i].engine->tick(&req);
        cf_router_bg_req_done(&req, "tick");
    }
    cf_mount_table_release(t);
}

cf_err_t
cf_router_revoke_secret(cf_server_t *srv, const char *mount_uuid,
                        const json_t *internal)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    const cf_mount_t  *m = NULL;
    cf_req_t           req;
    size_t             i;
    cf_err_t           rc;

    for (i = 0; t != NULL && i < t->n && m == NULL; i++) {
        if (strcmp(t->mounts[i].uuid, mount_uuid) == 0)
            m = &t->mounts[i];
    }
    if (m == NULL) {
        rc = t == NULL ? CF_ERR_SEALED : CF_ERR_NOT_FOUND;
    } else if (m->engine->revoke_secret == NULL) {
        rc = CF_OK;                     /* nothing to undo */
    } else if ((rc = cf_router_bg_req_init(&req, srv, m, "REVOKE"))
               == CF_OK) {
        rc = m->engine->revoke_secret(&req, internal);
        cf_router_bg_req_done(&req, "lease revocation");
    }
    cf_mount_table_release(t);
    return rc;
}

cf_err_t
cf_router_view_delete_prefix(cf_server_t *srv, const char *mount_path,
                             const char *prefix)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    char              *full = NULL;
    size_t             i;
    cf_err_t           rc = CF_OK;

    for (i = 0; t != NULL && i < t->n; i++) {
        if (strcmp(t->mounts[i].path, mount_path) != 0)
            continue;
        if (asprintf(&full, "%s%s", t->mounts[i].view, prefix) < 0)
            rc = CF_ERR_NOMEM;
        else
            rc = cf_barrier_delete_prefix(srv->barrier, full);
        free(full);
        break;
    }
    cf_mount_table_release(t);
    return rc;
}

json_t *
cf_router_mount_json(cf_server_t *srv, const char *path)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    json_t            *out = NULL;
    char              *clean = cf_router_clean_path(path);
    size_t             i;

    for (i = 0; t != NULL && clean != NULL && i < t->n; i++) {
        if (strcmp(t->mounts[i].path, clean) == 0) {
            out = cf_mount_describe(&t->mounts[i]);
            break;
        }
    }
    free(clean);
    cf_mount_table_release(t);
    return out;
}

/* Singleton mounts every table has: sys/, auth/token/, and cubbyhole/ and
 * identity/ once those engines exist. */
static cf_err_t
cf_router_ensure_required(json_t *doc, bool *changed)
{
    static const struct { const char *path, *type, *desc; } req[] = {
        { "sys/", "system", "system endpoints used for control, policy "
                            "and debugging" },
        { "auth/token/", "token", "token based credentials" },
        { "cubbyhole/", "cubbyhole", "per-token private secret storage" },
        { "identity/", "identity", "identity store" },
    };
    json_t             *arr = json_object_get(doc, "mounts"), *e, *m;
    const cf_engine_t  *eng;
    size_t              i, j;
    bool                found;

    for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        if ((eng = cf_engine_find(req[i].type)) == NULL)
            continue;
        found = false;
        json_array_foreach(arr, j, e) {
            const char *p = json_string_value(json_object_get(e, "path"));
            if (p != NULL && strcmp(p, req[i].path) == 0)
                found = true;
        }
        if (found)
            continue;
        m = cf_mount_new_json(req[i].path, eng, req[i].desc, NULL, NULL);
        if (m == NULL)
            return CF_ERR_NOMEM;
        json_array_append_new(arr, m);
        *changed = true;
    }
    return CF_OK;
}

cf_err_t
cf_router_load(cf_server_t *srv)
{
    cf_router_t       *r = srv->router;
    cf_mount_table_t  *t = NULL, *old;
    cf_buf_t          *raw = NULL;
    json_t            *doc = NULL;
    json_error_t       jerr;
    bool               changed = false;
    size_t             i;
    cf_err_t           rc;

    rc = cf_barrier_get(srv->barrier, CF_MOUNTS_PATH, &raw);
    if (rc == CF_ERR_NOT_FOUND) {
        doc = json_pack("{s:[]}", "mounts");
        changed = true;
    } else if (rc != CF_OK) {
        goto out;
    } else if ((doc = json_loadb((const char *) raw->data, raw->len, 0,
                                 &jerr)) == NULL) {
        cf_log_error("router", "mount table does not parse");
        rc = CF_ERR_INTEGRITY;
        goto out;
    }
    if ((rc = cf_router_ensure_required(doc, &changed)) != CF_OK)
        goto out;
    if (changed && (rc = cf_router_persist(srv, doc)) != CF_OK)
        goto out;
    if ((rc = cf_mount_table_from_json(doc, &t)) != CF_OK)
        goto out;
    for (i = 0; i < t->n; i++) {
        if (t->mounts[i].engine->mount != NULL
            && (rc = t->mounts[i].engine->mount(srv, &t->mounts[i]))
               != CF_OK) {
            cf_log_error("router", "mount %s failed: %s",
                         t->mounts[i].path, cf_err_name(rc));
            goto out;
        }
    }
    pthread_mutex_lock(&r->mu);
    old = cf_router_publish(r, t);
    t = NULL;
    pthread_mutex_unlock(&r->mu);
    cf_mount_table_release(old);
out:
    cf_mount_table_release(t);
    json_decref(doc);
    cf_buf_free(raw);
    return rc;
}

void
cf_router_unload(cf_server_t *srv)
{
    cf_router_t       *r = srv->router;
    cf_mount_table_t  *old;

    pthread_mutex_lock(&r->mu);
    old = cf_router_publish(r, NULL);
    pthread_mutex_unlock(&r->mu);
    cf_mount_table_release(old);
}

json_t *
cf_router_mounts_json(cf_server_t *srv, bool auth)
{
    cf_mount_table_t  *t = cf_router_acquire(srv->router);
    const cf_mount_t  *m;
    json_t            *out = json_object(), *o;
    size_t             i;
    const char        *key;

    for (i = 0; t != NULL && i < t->n; i++) {
        m = &t->mounts[i];
        if (m->engine->is_auth != auth)
            continue;
        key = auth ? m->path + 5 : m->path;    /* auth/ list drops prefix */
        if ((o = cf_mount_describe(m)) != NULL)
            json_object_set_new(out, key, o);
    }
    cf_mount_table_release(t);
    return out;
}

/* ---- routing --------------------------------------------------------- */

bool
cf_router_match(const char *pattern, const char *path)
{
    const char  *e;
    size_t       n;

    for (;;) {
        if (pattern[0] == '*' && pattern[1] == '\0')
            return true;
        if (*pattern == '+') {
            e = strchr(path, '/');
            n = e != NULL ? (size_t) (e - path) : strlen(path);
            if (n == 0)
                return false;
            path += n;
            pattern++;
            continue;
        }
        if (*pattern == '\0')
            return *path == '\0';
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
}

static const cf_mount_t *
cf_router_find(const cf_mount_table_t *t, const char *path,
               const char **rest)
{
    size_t  i, n, pl = strlen(path);

    for (i = 0; i < t->n; i++) {
        n = strlen(t->mounts[i].path);
        if (strncmp(t->mounts[i].path, path, n) == 0) {
            *rest = path + n;
            return &t->mounts[i];
        }
        /* "secret" addresses the mount "secret/" itself */
        if (pl == n - 1 && strncmp(t->mounts[i].path, path, pl) == 0) {
            *rest = path + pl;
            return &t->mounts[i];
        }
    }
    return NULL;
}

cf_err_t
cf_router_dispatch(cf_server_t *srv, cf_req_t *req)
{
    cf_mount_table_t  *t;
    const cf_mount_t  *m;
    const cf_path_t   *p;
    const char        *rest = NULL;
    cf_err_t           rc;

    if ((t = cf_router_acquire(srv->router)) == NULL)
        return cf_req_fail(req, CF_ERR_SEALED, "Vault is sealed");
    if ((m = cf_router_find(t, req->path, &rest)) == NULL) {
        rc = cf_req_fail(req, CF_ERR_NOT_FOUND,
                         "no handler for route \"%.200s\". route entry "
                         "not found.", req->path);
        goto out;
    }
    for (p = m->engine->paths; p->pattern != NULL; p++) {
        if (cf_router_match(p->pattern, rest))
            break;
    }
    if (p->pattern == NULL) {
        rc = cf_req_fail(req, CF_ERR_NOT_FOUND,
                         "unsupported path");
        goto out;
    }
    if ((p->ops & (unsigned) req->op) == 0) {
        rc = cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
        goto out;
    }
    req->mount = m;
    req->rest = rest;
    rc = p->handler(req);
    if (rc != CF_OK && req->errors == NULL)
        cf_req_fail(req, rc, "%s", cf_err_message(rc));
    req->mount = NULL;      /* the snapshot is released below */
    req->rest = NULL;
out:
    cf_mount_table_release(t);
    return rc;
}

/* ---- storage views ---------------------------------------------------- */

static char *
cf_view_path(cf_req_t *req, const char *key)
{
    const char  *v = req->mount->view;
    size_t       lv = strlen(v), lk = strlen(key);
    char        *p;

    if ((p = malloc(lv + lk + 1)) == NULL)
        return NULL;
    memcpy(p, v, lv);
    memcpy(p + lv, key, lk + 1);
    return p;
}

/* Whether the mount's engine lets key be served from the barrier cache. */
static bool
cf_view_cached(const cf_req_t *req, const char *key)
{
    const char *const  *c = req->mount->engine != NULL
                            ? req->mount->engine->cached : NULL;

    for (; c != NULL && *c != NULL; c++) {
        if (strncmp(key, *c, strlen(*c)) == 0)
            return true;
    }
    return false;
}

cf_err_t
cf_view_get(cf_req_t *req, const char *key, cf_buf_t **out)
{
    char      *p = cf_view_path(req, key);
    cf_err_t   rc;

    *out = NULL;
    if (p == NULL)
        return CF_ERR_NOMEM;
    rc = cf_view_cached(req, key)
         ? cf_barrier_get_cached(req->srv->barrier, p, out)
         : cf_barrier_get(req->srv->barrier, p, out);
    free(p);
    return rc;
}

cf_err_t
cf_view_put(cf_req_t *req, const char *key, const void *data, size_t len)
{
    char      *p = cf_view_path(req, key);
    cf_err_t   rc;

    if (p == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_put(req->srv->barrier, p, data, len);
    free(p);
    return rc;
}

cf_err_t
cf_view_delete(cf_req_t *req, const char *key)
{
    char      *p = cf_view_path(req, key);
    cf_err_t   rc;

    if (p == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_delete(req->srv->barrier, p);
    free(p);
    return rc;
}

int
cf_view_exists(cf_req_t *req, const char *key)
{
    cf_buf_t  *b = NULL;
    cf_err_t   rc = cf_view_get(req, key, &b);

    cf_buf_free(b);
    return rc == CF_OK ? 1 : rc == CF_ERR_NOT_FOUND ? 0 : -1;
}

cf_err_t
cf_view_reply_list(cf_req_t *req, const char *prefix)
{
    cf_strlist_t  *l = NULL;
    cf_err_t       rc;

    if ((rc = cf_view_list(req, prefix, &l)) != CF_OK)
        return rc;
    return cf_req_reply_keys(req, l);
}

cf_err_t
cf_req_reply_keys(cf_req_t *req, cf_strlist_t *l)
{
    json_t  *keys;
    size_t   i;

    if (l->len == 0) {
        cf_strlist_free(l);
        return cf_req_reply_not_found(req, NULL);
    }
    if ((keys = json_array()) == NULL) {
        cf_strlist_free(l);
        return CF_ERR_NOMEM;
    }
    for (i = 0; i < l->len; i++)
        json_array_append_new(keys, json_string(l->items[i]));
    cf_strlist_free(l);
    return cf_req_reply_data(req, json_pack("{s:o}", "keys", keys));
}

cf_err_t
cf_view_delete_prefix(cf_req_t *req, const char *prefix)
{
    char      *p;
    cf_err_t   rc;

    if (*prefix == '\0')               /* never the whole view by accident */
        return CF_ERR_INVALID;
    if ((p = cf_view_path(req, prefix)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_delete_prefix(req->srv->barrier, p);
    free(p);
    return rc;
}

cf_err_t
cf_view_list(cf_req_t *req, const char *prefix, cf_strlist_t **out)
{
    char      *p = cf_view_path(req, prefix);
    cf_err_t   rc;

    *out = NULL;
    if (p == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_list(req->srv->barrier, p, out);
    free(p);
    return rc;
}

cf_err_t
cf_view_get_json(cf_req_t *req, const char *key, json_t **out)
{
    cf_buf_t      *b = NULL;
    json_error_t   jerr;
    cf_err_t       rc;

    *out = NULL;
    if (cf_view_cached(req, key)) {
        /* Settings: a copy of the cached parse, no decrypt, no parse. */
        char  *p = cf_view_path(req, key);

        if (p == NULL)
            return CF_ERR_NOMEM;
        rc = cf_barrier_get_json_cached(req->srv->barrier, p, out);
        free(p);
        return rc;
    }
    if ((rc = cf_view_get(req, key, &b)) != CF_OK)
        return rc;
    *out = json_loadb((const char *) b->data, b->len, 0, &jerr);
    cf_buf_free(b);
    if (*out == NULL) {
        cf_log_error("router", "entry %s%s does not parse",
                     req->mount->view, key);
        return CF_ERR_INTEGRITY;
    }
    return CF_OK;
}

cf_err_t
cf_view_put_json_many(cf_req_t *req, size_t n, const char *const *keys,
                      const json_t *const *values)
{
    char      **paths = calloc(n, sizeof(char *));
    char      **texts = calloc(n, sizeof(char *));
    size_t     *lens = calloc(n, sizeof(size_t)), i;
    cf_err_t    rc = CF_OK;

    if (paths == NULL || texts == NULL || lens == NULL)
        rc = CF_ERR_NOMEM;
    for (i = 0; rc == CF_OK && i < n; i++) {
        paths[i] = cf_view_path(req, keys[i]);
        texts[i] = json_dumps(values[i], JSON_COMPACT);
        if (paths[i] == NULL || texts[i] == NULL)
            rc = CF_ERR_NOMEM;
        else
            lens[i] = strlen(texts[i]);
    }
    if (rc == CF_OK)
        rc = cf_barrier_put_many(req->srv->barrier, n,
                                 (const char *const *) paths,
                                 (const void *const *) texts, lens);
    for (i = 0; i < n; i++) {
        if (paths != NULL)
            free(paths[i]);
        if (texts != NULL)
            cf_mem_free(texts[i]);      /* jansson's zeroing allocator */
    }
    free(paths);
    free(texts);
    free(lens);
    return rc;
}

cf_err_t
cf_view_put_json(cf_req_t *req, const char *key, const json_t *v)
{
    char      *s;
    cf_err_t   rc;

    if ((s = json_dumps(v, JSON_COMPACT)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_view_put(req, key, s, strlen(s));
    cf_mem_free(s);
    return rc;
}
