/*
 * lease: the expiration manager (see the header for the storage layout
 * and the rules).
 */
#include "coffer/lease.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/barrier.h"
#include "coffer/log.h"
#include "coffer/router.h"
#include "coffer/server.h"
#include "coffer/token.h"

#define CF_LEASE_ID_PREFIX     "sys/expire/id/"
#define CF_LEASE_TOKEN_PREFIX  "sys/expire/token/"
#define CF_LEASE_RAND_CHARS    24
#define CF_LEASE_ID_MAX        1023
#define CF_LEASE_PATH_MAX      (CF_LEASE_ID_MAX + 160)
#define CF_LEASE_MAX_WAIT      60   /* the thread looks at least this often */
#define CF_LEASE_RETRY         60   /* seconds between failed revocations */
#define CF_LEASE_TRIES         6    /* then the lease waits for an operator */
#define CF_LEASE_WALK_DEPTH    32

typedef struct {
    int64_t    at;                  /* expiry, unix seconds */
    unsigned   tries;               /* failed revocations so far */
    char      *id;
} cf_lease_slot_t;

struct cf_lease_mgr_s {
    pthread_mutex_t    mu;          /* guards heap, n, cap, stop */
    pthread_cond_t     cond;        /* a new earliest expiry, or stop */
    cf_lease_slot_t   *heap;        /* min-heap on `at` */
    size_t             n, cap;
    bool               stop;
    bool               running;
    pthread_t          thread;
    pthread_mutex_t    revoke_mu;   /* one revocation at a time */
};

/* ---- the heap (mu held) ------------------------------------------------- */

static void
cf_lease_heap_swap(cf_lease_mgr_t *m, size_t a, size_t b)
{
    cf_lease_slot_t  t = m->heap[a];

    m->heap[a] = m->heap[b];
    m->heap[b] = t;
}

/* Takes id (malloc'd) even on failure. */
static cf_err_t
cf_lease_heap_push(cf_lease_mgr_t *m, int64_t at, unsigned tries, char *id)
{
    cf_lease_slot_t  *h;
    size_t            i, cap;

    if (m->n == m->cap) {
        cap = m->cap ? m->cap * 2 : 64;
        if ((h = realloc(m->heap, cap * sizeof(*h))) == NULL) {
            free(id);
            return CF_ERR_NOMEM;
        }
        m->heap = h;
        m->cap = cap;
    }
    i = m->n++;
    m->heap[i] = (cf_lease_slot_t) { .at = at, .tries = tries, .id = id };
    while (i > 0 && m->heap[(i - 1) / 2].at > m->heap[i].at) {
        cf_lease_heap_swap(m, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    if (i == 0)
        pthread_cond_signal(&m->cond);
    return CF_OK;
}

static cf_lease_slot_t
cf_lease_heap_pop(cf_lease_mgr_t *m)
{
    cf_lease_slot_t  top = m->heap[0];
    size_t           i = 0, c;

    m->heap[0] = m->heap[--m->n];
    for (;;) {
        c = 2 * i + 1;
        if (c >= m->n)
            break;
        if (c + 1 < m->n && m->heap[c + 1].at < m->heap[c].at)
            c++;
        if (m->heap[i].at <= m->heap[c].at)
            break;
        cf_lease_heap_swap(m, i, c);
        i = c;
    }
    return top;
}

static void
cf_lease_push(cf_server_t *srv, int64_t at, unsigned tries, const char *id)
{
    cf_lease_mgr_t  *m = srv->leases;
    char            *copy = strdup(id);

    pthread_mutex_lock(&m->mu);
    if (copy == NULL || cf_lease_heap_push(m, at, tries, copy) != CF_OK)
        cf_log_error("lease", "out of memory: lease %s will not expire "
                     "until the next unseal", id);
    pthread_mutex_unlock(&m->mu);
}

/* ---- ids and entries ---------------------------------------------------- */

bool
cf_lease_id_valid(const char *id)
{
    size_t       len, seg = 0;
    const char  *p, *start;

    if (id == NULL || (len = strnlen(id, CF_LEASE_ID_MAX + 1)) == 0
        || len > CF_LEASE_ID_MAX || id[0] == '/' || id[len - 1] == '/')
        return false;
    for (p = start = id; ; p++) {
        if (*p == '/' || *p == '\0') {
            seg = (size_t) (p - start);
            if (seg == 0 || (seg == 1 && start[0] == '.')
                || (seg == 2 && start[0] == '.' && start[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            start = p + 1;
        } else if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f) {
            return false;
        }
    }
}

/* The random part of a lease id: base62 from the DRBG. Lease ids name
 * leases; they grant nothing, so a public nonce is enough. */
static cf_err_t
cf_lease_rand(char out[CF_LEASE_RAND_CHARS + 1])
{
    unsigned char  rnd[64];
    size_t         got = 0;
    cf_err_t       rc;

    while (got < CF_LEASE_RAND_CHARS) {
        if ((rc = cf_nonce_new(rnd, sizeof(rnd))) != CF_OK)
            return rc;
        cf_base62_take(rnd, sizeof(rnd), out, &got, CF_LEASE_RAND_CHARS);
    }
    out[got] = '\0';
    return CF_OK;
}

static cf_err_t
cf_lease_load(cf_server_t *srv, const char *id, json_t **entry)
{
    char  path[CF_LEASE_PATH_MAX];

    *entry = NULL;
    if (!cf_lease_id_valid(id))
        return CF_ERR_NOT_FOUND;
    snprintf(path, sizeof(path), CF_LEASE_ID_PREFIX "%s", id);
    return cf_barrier_get_json(srv->barrier, path, entry);
}

static int64_t
cf_lease_int(const json_t *entry, const char *field)
{
    return (int64_t) json_integer_value(json_object_get(entry, field));
}

static const char *
cf_lease_str(const json_t *entry, const char *field)
{
    const char  *s = json_string_value(json_object_get(entry, field));

    return s != NULL ? s : "";
}

/* JSON text of v for the barrier, from jansson's zeroing allocator (an
 * entry may hold what revokes a credential): free with cf_mem_free. */
static char *
cf_lease_dump(const json_t *v, size_t *len)
{
    char  *s = json_dumps(v, JSON_COMPACT);

    *len = s != NULL ? strlen(s) : 0;
    return s;
}

/* ---- the manager -------------------------------------------------------- */

cf_err_t
cf_lease_mgr_new(cf_server_t *srv)
{
    cf_lease_mgr_t  *m;

    if ((m = calloc(1, sizeof(*m))) == NULL)
        return CF_ERR_NOMEM;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cond, NULL);
    pthread_mutex_init(&m->revoke_mu, NULL);
    srv->leases = m;
    return CF_OK;
}

void
cf_lease_clear(cf_server_t *srv)
{
    cf_lease_mgr_t  *m = srv->leases;
    size_t           i;

    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->n; i++)
        free(m->heap[i].id);
    m->n = 0;
    pthread_mutex_unlock(&m->mu);
}

void
cf_lease_mgr_free(cf_lease_mgr_t *m)
{
    size_t  i;

    if (m == NULL)
        return;
    for (i = 0; i < m->n; i++)
        free(m->heap[i].id);
    free(m->heap);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->revoke_mu);
    free(m);
}

/* Call fn for every lease id under prefix ("" or ending in '/'), depth
 * first. Stops at the first failure fn returns. */
typedef cf_err_t (*cf_lease_walk_fn)(cf_server_t *srv, const char *id,
                                     void *arg);

static cf_err_t
cf_lease_walk(cf_server_t *srv, const char *prefix, unsigned depth,
              cf_lease_walk_fn fn, void *arg)
{
    char           path[CF_LEASE_PATH_MAX], id[CF_LEASE_PATH_MAX];
    cf_strlist_t  *l = NULL;
    size_t         i, n;
    cf_err_t       rc;

    if (depth > CF_LEASE_WALK_DEPTH)
        return CF_OK;                   /* ids are never that deep */
    if ((size_t) snprintf(path, sizeof(path), CF_LEASE_ID_PREFIX "%s",
                          prefix) >= sizeof(path))
        return CF_ERR_INVALID;
    if ((rc = cf_barrier_list(srv->barrier, path, &l)) != CF_OK)
        return rc;
    for (i = 0; i < l->len && rc == CF_OK; i++) {
        if ((size_t) snprintf(id, sizeof(id), "%s%s", prefix, l->items[i])
            >= sizeof(id))
            continue;
        n = strlen(id);
        if (n > 0 && id[n - 1] == '/')
            rc = cf_lease_walk(srv, id, depth + 1, fn, arg);
        else
            rc = fn(srv, id, arg);
    }
    cf_strlist_free(l);
    return rc;
}

static cf_err_t
cf_lease_restore_one(cf_server_t *srv, const char *id, void *arg)
{
    json_t  *e = NULL;
    size_t  *count = arg;

    if (cf_lease_load(srv, id, &e) == CF_OK) {
        cf_lease_push(srv, cf_lease_int(e, "expire_time"), 0, id);
        (*count)++;
    }
    json_decref(e);
    return CF_OK;                       /* one bad entry must not stop boot */
}

cf_err_t
cf_lease_restore(cf_server_t *srv)
{
    size_t    count = 0;
    cf_err_t  rc;

    cf_lease_clear(srv);
    rc = cf_lease_walk(srv, "", 0, cf_lease_restore_one, &count);
    if (rc == CF_OK && count > 0)
        cf_log_info("lease", "restored %zu leases", count);
    return rc;
}

/* ---- registration -------------------------------------------------------- */

cf_err_t
cf_req_set_lease(cf_req_t *req, int64_t ttl, json_t *internal_take)
{
    json_t  *l;

    if (req->mount == NULL || ttl <= 0 || !json_is_object(internal_take)) {
        json_decref(internal_take);
        return cf_req_fail(req, CF_ERR_INTERNAL, "invalid lease");
    }
    l = json_pack("{s:I, s:o, s:s, s:s}", "ttl", (json_int_t) ttl,
                  "internal", internal_take, "mount_uuid", req->mount->uuid,
                  "mount_path", req->mount->path);
    if (l == NULL)
        return CF_ERR_NOMEM;
    json_decref(req->lease);
    req->lease = l;
    return CF_OK;
}

cf_err_t
cf_lease_register(cf_req_t *req)
{
    cf_server_t  *srv = req->srv;
    const char   *uuid = cf_lease_str(req->lease, "mount_uuid");
    json_t       *internal = json_object_get(req->lease, "internal");
    json_t       *entry = NULL, *idx = NULL;
    int64_t       ttl = cf_lease_int(req->lease, "ttl");
    int64_t       now = (int64_t) time(NULL);
    const char   *th = req->token != NULL ? req->token->id_hmac : NULL;
    char          rnd[CF_LEASE_RAND_CHARS + 1], id[CF_LEASE_ID_MAX + 1];
    char          p0[CF_LEASE_PATH_MAX], p1[CF_LEASE_PATH_MAX];
    const char   *paths[2] = { p0, p1 };
    const void   *vals[2];
    char         *d0 = NULL, *d1 = NULL;
    size_t        lens[2], n = th != NULL ? 2 : 1;
    cf_err_t      rc;

    if (req->resp == NULL || !json_is_object(req->resp))
        return CF_OK;                   /* nothing was handed out */
    if ((rc = cf_lease_rand(rnd)) != CF_OK)
        goto fail;
    if ((size_t) snprintf(id, sizeof(id), "%s/%s", req->path, rnd)
        > CF_LEASE_ID_MAX || !cf_lease_id_valid(id)) {
        rc = CF_ERR_INVALID;
        goto fail;
    }
    snprintf(p0, sizeof(p0), CF_LEASE_ID_PREFIX "%s", id);
    snprintf(p1, sizeof(p1), CF_LEASE_TOKEN_PREFIX "%s/%s",
             th != NULL ? th : "", rnd);
    entry = json_pack("{s:s, s:s, s:s, s:O, s:s, s:I, s:I, s:I, s:b}",
                      "lease_id", id, "mount_uuid", uuid, "mount_path",
                      cf_lease_str(req->lease, "mount_path"), "internal",
                      internal, "token", th != NULL ? th : "",
                      "issue_time", (json_int_t) now,
                      "expire_time", (json_int_t) (now + ttl),
                      "last_renewal", (json_int_t) 0, "renewable", 0);
    idx = json_pack("{s:s}", "lease_id", id);
    rc = CF_ERR_NOMEM;
    if (entry == NULL || idx == NULL
        || (d0 = cf_lease_dump(entry, &lens[0])) == NULL
        || (d1 = cf_lease_dump(idx, &lens[1])) == NULL)
        goto fail;
    vals[0] = d0;
    vals[1] = d1;
    if ((rc = cf_barrier_put_many(srv->barrier, n, paths, vals, lens))
        != CF_OK)
        goto fail;
    cf_lease_push(srv, now + ttl, 0, id);
    json_object_set_new(req->resp, "lease_id", json_string(id));
    json_object_set_new(req->resp, "lease_duration", json_integer(ttl));
    json_object_set_new(req->resp, "renewable", json_false());
    rc = CF_OK;
    goto out;
fail:
    /* Nobody may hold a secret that nothing will revoke. */
    cf_log_error("lease", "cannot register a lease for %s: %s; revoking "
                 "the secret", req->path, cf_err_name(rc));
    if (cf_router_revoke_secret(srv, uuid, internal) != CF_OK)
        cf_log_error("lease", "and revoking it failed too");
    json_decref(req->resp);
    req->resp = NULL;
    rc = cf_req_fail(req, CF_ERR_INTERNAL, "failed to register the lease "
                     "of the response; the secret was revoked");
out:
    cf_mem_free(d0);
    cf_mem_free(d1);
    json_decref(entry);
    json_decref(idx);
    return rc;
}

/* ---- lookup and revocation ------------------------------------------------ */

static void
cf_lease_time(int64_t t, char buf[40])
{
    struct timespec  ts = { .tv_sec = (time_t) t, .tv_nsec = 0 };

    cf_time_rfc3339(&ts, buf);
}

cf_err_t
cf_lease_lookup(cf_server_t *srv, const char *lease_id, json_t **out)
{
    json_t   *e = NULL;
    char      issued[40], expires[40], renewed[40];
    int64_t   exp, ren, left;
    cf_err_t  rc;

    *out = NULL;
    if ((rc = cf_lease_load(srv, lease_id, &e)) != CF_OK)
        return rc;
    exp = cf_lease_int(e, "expire_time");
    ren = cf_lease_int(e, "last_renewal");
    left = exp - (int64_t) time(NULL);
    cf_lease_time(cf_lease_int(e, "issue_time"), issued);
    cf_lease_time(exp, expires);
    cf_lease_time(ren, renewed);
    *out = json_pack("{s:s, s:s, s:s, s:o, s:b, s:I}",
                     "id", cf_lease_str(e, "lease_id"),
                     "issue_time", issued, "expire_time", expires,
                     "last_renewal", ren > 0 ? json_string(renewed)
                                             : json_null(),
                     "renewable", json_is_true(json_object_get(e,
                                                               "renewable")),
                     "ttl", (json_int_t) (left > 0 ? left : 0));
    json_decref(e);
    return *out != NULL ? CF_OK : CF_ERR_NOMEM;
}

/* Delete the lease and its token index entry; revoke_mu held. */
static cf_err_t
cf_lease_delete(cf_server_t *srv, const char *id, const json_t *e)
{
    const char  *th = cf_lease_str(e, "token"), *slash;
    char         path[CF_LEASE_PATH_MAX];

    slash = strrchr(id, '/');
    if (*th != '\0' && slash != NULL) {
        snprintf(path, sizeof(path), CF_LEASE_TOKEN_PREFIX "%s/%s", th,
                 slash + 1);
        (void) cf_barrier_delete(srv->barrier, path);
    }
    snprintf(path, sizeof(path), CF_LEASE_ID_PREFIX "%s", id);
    return cf_barrier_delete(srv->barrier, path);
}

/* revoke_mu held. With `expiring`, a lease renewed meanwhile is put back
 * on the heap instead. */
static cf_err_t
cf_lease_revoke_locked(cf_server_t *srv, const char *id, bool force,
                       bool expiring)
{
    json_t    *e = NULL;
    int64_t    exp;
    cf_err_t   rc;

    rc = cf_lease_load(srv, id, &e);
    if (rc == CF_ERR_NOT_FOUND)
        return CF_OK;                   /* already revoked */
    if (rc != CF_OK)
        return rc;
    exp = cf_lease_int(e, "expire_time");
    if (expiring && exp > (int64_t) time(NULL)) {
        cf_lease_push(srv, exp, 0, id);
        json_decref(e);
        return CF_OK;
    }
    rc = cf_router_revoke_secret(srv, cf_lease_str(e, "mount_uuid"),
                                 json_object_get(e, "internal"));
    if (rc == CF_ERR_NOT_FOUND)
        rc = CF_OK;                     /* its mount (and secret) is gone */
    if (rc != CF_OK && force) {
        cf_log_warn("lease", "revoke-force: the engine failed to revoke "
                    "%s (%s); deleting the lease anyway", id,
                    cf_err_name(rc));
        rc = CF_OK;
    }
    if (rc == CF_OK)
        rc = cf_lease_delete(srv, id, e);
    json_decref(e);
    return rc;
}

cf_err_t
cf_lease_revoke(cf_server_t *srv, const char *lease_id, bool force)
{
    cf_lease_mgr_t  *m = srv->leases;
    cf_err_t         rc;

    if (!cf_lease_id_valid(lease_id))
        return CF_OK;                   /* no such lease can exist */
    pthread_mutex_lock(&m->revoke_mu);
    rc = cf_lease_revoke_locked(srv, lease_id, force, false);
    pthread_mutex_unlock(&m->revoke_mu);
    return rc;
}

static cf_err_t
cf_lease_collect(cf_server_t *srv, const char *id, void *arg)
{
    (void) srv;
    return cf_strlist_add(arg, id);
}

cf_err_t
cf_lease_revoke_prefix(cf_server_t *srv, const char *prefix, bool force,
                       unsigned *n)
{
    cf_strlist_t  *ids = cf_strlist_new();
    size_t         i;
    unsigned       done = 0;
    cf_err_t       rc, first = CF_OK;

    if (n != NULL)
        *n = 0;
    if (ids == NULL)
        return CF_ERR_NOMEM;
    /* Collect first: revoking deletes entries under the walk. */
    if ((rc = cf_lease_walk(srv, prefix, 0, cf_lease_collect, ids))
        == CF_OK) {
        for (i = 0; i < ids->len; i++) {
            if ((rc = cf_lease_revoke(srv, ids->items[i], force)) == CF_OK) {
                done++;
            } else if (first == CF_OK) {
                first = rc;
                if (!force)
                    break;
            }
        }
        rc = first;
    }
    cf_strlist_free(ids);
    if (n != NULL)
        *n = done;
    return rc;
}

cf_err_t
cf_lease_revoke_token(cf_server_t *srv, const char *token_hmac)
{
    char           prefix[CF_LEASE_PATH_MAX], path[CF_LEASE_PATH_MAX];
    cf_strlist_t  *l = NULL;
    json_t        *idx;
    size_t         i;
    cf_err_t       rc, first = CF_OK;

    snprintf(prefix, sizeof(prefix), CF_LEASE_TOKEN_PREFIX "%s/",
             token_hmac);
    if ((rc = cf_barrier_list(srv->barrier, prefix, &l)) != CF_OK)
        return rc;
    for (i = 0; i < l->len; i++) {
        snprintf(path, sizeof(path), "%s%s", prefix, l->items[i]);
        if (cf_barrier_get_json(srv->barrier, path, &idx) != CF_OK)
            continue;
        rc = cf_lease_revoke(srv, cf_lease_str(idx, "lease_id"), false);
        if (rc != CF_OK && first == CF_OK)
            first = rc;
        json_decref(idx);
    }
    cf_strlist_free(l);
    return first;
}

cf_err_t
cf_lease_list(cf_server_t *srv, const char *prefix, cf_strlist_t **out)
{
    char  path[CF_LEASE_PATH_MAX];

    *out = NULL;
    if ((size_t) snprintf(path, sizeof(path), CF_LEASE_ID_PREFIX "%s",
                          prefix) >= sizeof(path))
        return CF_ERR_INVALID;
    return cf_barrier_list(srv->barrier, path, out);
}

static cf_err_t
cf_lease_tidy_one(cf_server_t *srv, const char *id, void *arg)
{
    json_t       *e = NULL, *tok = NULL;
    const char   *th;
    unsigned     *n = arg;

    if (cf_lease_load(srv, id, &e) != CF_OK)
        return CF_OK;
    th = cf_lease_str(e, "token");
    if (*th != '\0' && cf_token_load(srv, th, &tok) == CF_ERR_NOT_FOUND
        && cf_lease_revoke(srv, id, false) == CF_OK)
        (*n)++;
    json_decref(tok);
    json_decref(e);
    return CF_OK;
}

cf_err_t
cf_lease_tidy(cf_server_t *srv, unsigned *n)
{
    *n = 0;
    return cf_lease_walk(srv, "", 0, cf_lease_tidy_one, n);
}

/* ---- the expiration thread ------------------------------------------------ */

static void
cf_lease_expire(cf_server_t *srv, cf_lease_slot_t *s)
{
    cf_lease_mgr_t  *m = srv->leases;
    cf_err_t         rc;

    pthread_rwlock_rdlock(&srv->seal_lock);
    if (atomic_load(&srv->sealed)) {    /* the heap is rebuilt at unseal */
        pthread_rwlock_unlock(&srv->seal_lock);
        return;
    }
    pthread_mutex_lock(&m->revoke_mu);
    rc = cf_lease_revoke_locked(srv, s->id, false, true);
    pthread_mutex_unlock(&m->revoke_mu);
    if (rc != CF_OK) {
        if (++s->tries < CF_LEASE_TRIES) {
            cf_log_warn("lease", "revoking expired lease %s failed (%s); "
                        "retrying in %d s", s->id, cf_err_name(rc),
                        CF_LEASE_RETRY);
            cf_lease_push(srv, (int64_t) time(NULL) + CF_LEASE_RETRY,
                          s->tries, s->id);
        } else {
            cf_log_error("lease", "giving up revoking expired lease %s "
                         "(%s); revoke it with sys/leases/revoke-force",
                         s->id, cf_err_name(rc));
        }
    }
    pthread_rwlock_unlock(&srv->seal_lock);
}

static void *
cf_lease_main(void *arg)
{
    cf_server_t      *srv = arg;
    cf_lease_mgr_t   *m = srv->leases;
    cf_lease_slot_t   s;
    struct timespec   until;
    int64_t           now, wake;

    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        now = (int64_t) time(NULL);
        if (m->n == 0 || m->heap[0].at > now) {
            wake = now + CF_LEASE_MAX_WAIT;
            if (m->n > 0 && m->heap[0].at < wake)
                wake = m->heap[0].at;
            until.tv_sec = (time_t) wake;
            until.tv_nsec = 0;
            (void) pthread_cond_timedwait(&m->cond, &m->mu, &until);
            continue;
        }
        s = cf_lease_heap_pop(m);
        pthread_mutex_unlock(&m->mu);
        cf_lease_expire(srv, &s);
        free(s.id);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

cf_err_t
cf_lease_mgr_start(cf_server_t *srv)
{
    cf_lease_mgr_t  *m = srv->leases;

    if (pthread_create(&m->thread, NULL, cf_lease_main, srv) != 0)
        return CF_ERR_INTERNAL;
    m->running = true;
    return CF_OK;
}

void
cf_lease_mgr_stop(cf_server_t *srv)
{
    cf_lease_mgr_t  *m = srv->leases;

    if (m == NULL || !m->running)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    m->running = false;
}
