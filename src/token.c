/*
 * token: the token store's core: create (root and child tokens), look up
 * (expiry, num_uses), renew and revoke (whole child trees) tokens kept
 * only by their HMAC. The auth/token/ routes are in token_api.c.
 *
 * Storage (all behind the barrier):
 *   sys/token/id/<hmac>                 the entry
 *   sys/token/accessor/<hmac(acc)>      {"id_hmac": ...}
 *   sys/token/parent/<parent>/<child>   {} (child index, for revocation)
 */
#include "coffer/token.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/barrier.h"
#include "coffer/cubbyhole.h"
#include "coffer/lease.h"
#include "coffer/engine.h"
#include "coffer/hsm.h"
#include "coffer/log.h"
#include "coffer/token_cache.h"

#define CF_TOKEN_RAND_CHARS  32     /* ~190 bits of base62 */
#define CF_TOKEN_MAX_LEN     512

/* Read-modify-write of one token's entry (num_uses, renew, revoke) holds
 * the token's stripe. */
#define cf_token_lock(srv, id_hmac) \
    cf_keylock(&(srv)->keylocks, "token", (id_hmac))

/* prefix + n base62 chars from the HSM's random, rejection-sampled so
 * every character is uniform. *out malloc'd. */
static cf_err_t
cf_token_random_string(cf_server_t *srv, const char *prefix, size_t n,
                       char **out)
{
    unsigned char  rnd[64];
    size_t         pl = strlen(prefix), got = 0;
    char          *s;
    cf_err_t       rc = CF_OK;

    *out = NULL;
    if ((s = malloc(pl + n + 1)) == NULL)
        return CF_ERR_NOMEM;
    memcpy(s, prefix, pl);
    while (got < n) {
        if ((rc = cf_hsm_random(srv->hsm, rnd, sizeof(rnd))) != CF_OK)
            break;
        cf_base62_take(rnd, sizeof(rnd), s + pl, &got, n);
    }
    OPENSSL_cleanse(rnd, sizeof(rnd));
    if (rc != CF_OK) {
        cf_mem_free_str(s);
        return rc;
    }
    s[pl + n] = '\0';
    *out = s;
    return CF_OK;
}

/* Hex HMAC of a token or accessor under the token HMAC key. */
static cf_err_t
cf_token_hmac_hex(cf_server_t *srv, const char *token, char **out)
{
    unsigned char  mac[32];
    cf_err_t       rc;

    *out = NULL;
    rc = cf_hsm_hmac_sha256(srv->hsm, &srv->token_hmac_key, token,
                            strlen(token), mac);
    if (rc != CF_OK)
        return rc;
    *out = cf_hex_encode(mac, sizeof(mac));
    return *out != NULL ? CF_OK : CF_ERR_NOMEM;
}

static cf_err_t
cf_token_put(cf_server_t *srv, const char *prefix, const char *hmac,
             const json_t *v)
{
    char      path[1024];
    cf_err_t  rc;

    snprintf(path, sizeof(path), "%s%s", prefix, hmac);
    rc = cf_barrier_put_json(srv->barrier, path, v);
    if (strcmp(prefix, "sys/token/id/") == 0)
        cf_token_cache_forget(srv->tokens, hmac);   /* entry changed */
    return rc;
}

static cf_err_t
cf_token_get_json(cf_server_t *srv, const char *path, json_t **out)
{
    return cf_barrier_get_json(srv->barrier, path, out);
}

cf_err_t
cf_token_load(cf_server_t *srv, const char *id_hmac, json_t **entry)
{
    char  path[256];

    snprintf(path, sizeof(path), "sys/token/id/%s", id_hmac);
    return cf_token_get_json(srv, path, entry);
}

static cf_err_t
cf_token_store_new(cf_server_t *srv, const char *th, const char *ah,
                   const char *parent, const json_t *entry,
                   const json_t *idx, const json_t *empty)
{
    char          paths[3][600], *texts[3] = { NULL, NULL, NULL };
    const char   *pp[3];
    const void   *vv[3];
    size_t        ll[3], n = 0, i;
    cf_err_t      rc = CF_OK;

    snprintf(paths[n], sizeof(paths[n]), "sys/token/id/%s", th);
    texts[n++] = json_dumps(entry, JSON_COMPACT);
    snprintf(paths[n], sizeof(paths[n]), "sys/token/accessor/%s", ah);
    texts[n++] = json_dumps(idx, JSON_COMPACT);
    if (parent != NULL) {
        snprintf(paths[n], sizeof(paths[n]), "sys/token/parent/%s/%s",
                 parent, th);
        texts[n++] = json_dumps(empty, JSON_COMPACT);
    }
    for (i = 0; i < n; i++) {
        if (texts[i] == NULL)
            rc = CF_ERR_NOMEM;
        pp[i] = paths[i];
        vv[i] = texts[i];
        ll[i] = texts[i] != NULL ? strlen(texts[i]) : 0;
    }
    if (rc == CF_OK)
        rc = cf_barrier_put_many(srv->barrier, n, pp, vv, ll);
    for (i = 0; i < n; i++)
        cf_mem_free(texts[i]);
    return rc;
}

cf_err_t
cf_token_create(cf_server_t *srv, const cf_token_params_t *p,
                char **token_out, char **id_hmac_out, json_t **entry_out)
{
    char      *token = NULL, *accessor = NULL, *th = NULL, *ah = NULL;
    json_t    *entry = NULL, *idx = NULL, *empty = NULL;
    time_t     now = time(NULL);
    cf_err_t   rc;

    *token_out = NULL;
    if (id_hmac_out != NULL)
        *id_hmac_out = NULL;
    if (entry_out != NULL)
        *entry_out = NULL;
    if (p->id != NULL) {
        if (*p->id == '\0' || strlen(p->id) > CF_TOKEN_MAX_LEN)
            return CF_ERR_INVALID;
        if ((token = strdup(p->id)) == NULL)
            return CF_ERR_NOMEM;
    } else if ((rc = cf_token_random_string(srv, "hvs.",
                                            CF_TOKEN_RAND_CHARS, &token))
               != CF_OK) {
        return rc;
    }
    if ((rc = cf_token_random_string(srv, "", 24, &accessor)) != CF_OK
        || (rc = cf_token_hmac_hex(srv, token, &th)) != CF_OK
        || (rc = cf_token_hmac_hex(srv, accessor, &ah)) != CF_OK)
        goto out;
    entry = json_pack("{s:s, s:O, s:s, s:O, s:s, s:I, s:I, s:I, s:I, "
                      "s:I, s:I, s:b, s:b, s:s, s:s, s:s}",
                      "accessor", accessor, "policies", p->policies,
                      "path", p->path ? p->path : "auth/token/create",
                      "meta", p->meta ? p->meta : json_null(),
                      "display_name", p->display_name ? p->display_name
                                                      : "token",
                      "num_uses", (json_int_t) p->num_uses,
                      "creation_time", (json_int_t) now,
                      "ttl", (json_int_t) p->ttl,
                      "explicit_max_ttl", (json_int_t) p->explicit_max_ttl,
                      "period", (json_int_t) p->period,
                      "expire_time", (json_int_t) (p->ttl > 0 ? now + p->ttl
                                                              : 0),
                      "orphan", p->parent_hmac == NULL,
                      "renewable", p->renewable, "type", "service",
                      "entity_id", p->entity_id ? p->entity_id : "",
                      "parent", p->parent_hmac ? p->parent_hmac : "");
    if (entry != NULL && json_array_size(p->bound_cidrs) > 0)
        json_object_set_new(entry, "bound_cidrs",
                            json_deep_copy(p->bound_cidrs));
    idx = json_pack("{s:s}", "id_hmac", th);
    if (entry == NULL || idx == NULL || (empty = json_object()) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    /* The entry and its indexes in one transaction: never a token that
     * cannot be found by accessor or revoked with its parent. */
    if ((rc = cf_token_store_new(srv, th, ah, p->parent_hmac, entry, idx,
                                 empty)) != CF_OK)
        goto out;
    *token_out = token;
    token = NULL;
    if (id_hmac_out != NULL) {
        *id_hmac_out = th;
        th = NULL;
    }
    if (entry_out != NULL) {
        *entry_out = entry;
        entry = NULL;
    }
out:
    json_decref(entry);
    json_decref(idx);
    json_decref(empty);
    cf_mem_free_str(token);
    cf_mem_free_str(accessor);
    free(th);
    free(ah);
    return rc;
}

cf_err_t
cf_token_create_root(cf_server_t *srv, const char *id, char **token_out)
{
    cf_token_params_t  p = { .id = id, .display_name = "root",
                             .path = "auth/token/root" };
    cf_err_t           rc;

    if ((p.policies = json_pack("[s]", "root")) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_token_create(srv, &p, token_out, NULL, NULL);
    json_decref(p.policies);
    return rc;
}

/* Delete one token's own records (not its children). Lock held. */
static cf_err_t
cf_token_delete_locked(cf_server_t *srv, const char *th, json_t *entry)
{
    char         path[512], *ah = NULL;
    const char  *acc = json_string_value(json_object_get(entry, "accessor"));
    const char  *parent = json_string_value(json_object_get(entry,
                                                            "parent"));
    cf_err_t     rc;

    snprintf(path, sizeof(path), "sys/token/id/%s", th);
    rc = cf_barrier_delete(srv->barrier, path);
    cf_token_cache_forget(srv->tokens, th);
    if (rc != CF_OK)
        return rc;
    if (acc != NULL && cf_token_hmac_hex(srv, acc, &ah) == CF_OK) {
        snprintf(path, sizeof(path), "sys/token/accessor/%s", ah);
        (void) cf_barrier_delete(srv->barrier, path);
        free(ah);
    }
    if (parent != NULL && *parent != '\0') {
        snprintf(path, sizeof(path), "sys/token/parent/%s/%s", parent, th);
        (void) cf_barrier_delete(srv->barrier, path);
    }
    if ((rc = cf_cubbyhole_purge(srv, th)) != CF_OK)
        cf_log_warn("token", "could not purge a revoked token's cubbyhole: "
                    "%s", cf_err_name(rc));
    return CF_OK;
}

/* Revoke th and, with tree, every descendant (depth-first); without tree
 * its children become orphans. */
static cf_err_t
cf_token_revoke_depth(cf_server_t *srv, const char *th, bool tree,
                      unsigned depth)
{
    char              prefix[512], path[600];
    cf_strlist_t     *kids = NULL;
    json_t           *entry = NULL, *child;
    pthread_mutex_t  *mu;
    size_t            i;
    cf_err_t          rc;

    if (depth > 64)                     /* a cycle can only be corruption */
        return CF_ERR_INTEGRITY;
    snprintf(prefix, sizeof(prefix), "sys/token/parent/%s/", th);
    if ((rc = cf_barrier_list(srv->barrier, prefix, &kids)) != CF_OK)
        return rc;
    for (i = 0; i < kids->len && rc == CF_OK; i++) {
        if (tree) {
            rc = cf_token_revoke_depth(srv, kids->items[i], true, depth + 1);
        } else {
            mu = cf_token_lock(srv, kids->items[i]);
            if (cf_token_load(srv, kids->items[i], &child) == CF_OK) {
                json_object_set_new(child, "parent", json_string(""));
                json_object_set_new(child, "orphan", json_true());
                rc = cf_token_put(srv, "sys/token/id/", kids->items[i],
                                  child);
                json_decref(child);
            }
            pthread_mutex_unlock(mu);
        }
        snprintf(path, sizeof(path), "%s%s", prefix, kids->items[i]);
        if (rc == CF_OK)
            rc = cf_barrier_delete(srv->barrier, path);
    }
    cf_strlist_free(kids);
    if (rc != CF_OK)
        return rc;
    /* Its leases go first, outside the token's stripe (lease revocation
     * calls engines). One that fails stays and expires on its own. */
    if ((rc = cf_lease_revoke_token(srv, th)) != CF_OK)
        cf_log_warn("token", "revoking a revoked token's leases: %s",
                    cf_err_name(rc));
    mu = cf_token_lock(srv, th);
    rc = cf_token_load(srv, th, &entry);
    if (rc == CF_OK)
        rc = cf_token_delete_locked(srv, th, entry);
    else if (rc == CF_ERR_NOT_FOUND)
        rc = CF_OK;             /* already gone: revoke is idempotent */
    pthread_mutex_unlock(mu);
    json_decref(entry);
    return rc;
}

cf_err_t
cf_token_revoke(cf_server_t *srv, const char *id_hmac, bool tree)
{
    return cf_token_revoke_depth(srv, id_hmac, tree, 0);
}

cf_err_t
cf_token_hmac_of(cf_server_t *srv, const char *token, char **id_hmac)
{
    *id_hmac = NULL;
    if (token == NULL || *token == '\0' || strlen(token) > CF_TOKEN_MAX_LEN)
        return CF_ERR_NOT_FOUND;
    return cf_token_hmac_hex(srv, token, id_hmac);
}

cf_err_t
cf_token_by_accessor(cf_server_t *srv, const char *accessor, char **id_hmac)
{
    char       path[256], *ah = NULL;
    json_t    *idx = NULL;
    const char *h;
    cf_err_t   rc;

    *id_hmac = NULL;
    if (accessor == NULL || *accessor == '\0' || strlen(accessor) > 128)
        return CF_ERR_NOT_FOUND;
    if ((rc = cf_token_hmac_hex(srv, accessor, &ah)) != CF_OK)
        return rc;
    snprintf(path, sizeof(path), "sys/token/accessor/%s", ah);
    free(ah);
    if ((rc = cf_token_get_json(srv, path, &idx)) != CF_OK)
        return rc;
    if ((h = json_string_value(json_object_get(idx, "id_hmac"))) == NULL)
        rc = CF_ERR_INTEGRITY;
    else if ((*id_hmac = strdup(h)) == NULL)
        rc = CF_ERR_NOMEM;
    json_decref(idx);
    return rc;
}

/* Vault's "auth" block for a token just made or renewed. */
json_t *
cf_token_auth_block(const json_t *e, const char *client_token)
{
    json_int_t  exp = json_integer_value(json_object_get(e, "expire_time"));
    json_int_t  left = exp > 0 ? exp - (json_int_t) time(NULL) : 0;
    json_t      *meta = json_object_get(e, "meta");

    return json_pack("{s:s, s:s, s:O, s:O, s:O, s:I, s:b, s:s, s:s, s:b, "
                     "s:n, s:I}",
                     "client_token", client_token,
                     "accessor", json_string_value(json_object_get(e,
                                                                "accessor")),
                     "policies", json_object_get(e, "policies"),
                     "token_policies", json_object_get(e, "policies"),
                     "metadata", meta ? meta : json_null(),
                     "lease_duration", left > 0 ? left : 0,
                     "renewable", json_is_true(json_object_get(e,
                                                               "renewable")),
                     "entity_id", json_string_value(json_object_get(e,
                                                               "entity_id")),
                     "token_type", "service",
                     "orphan", json_is_true(json_object_get(e, "orphan")),
                     "mfa_requirement",
                     "num_uses", json_integer_value(json_object_get(e,
                                                               "num_uses")));
}

json_t *
cf_token_policies_normalise(const json_t *names, bool no_default)
{
    cf_strlist_t  *l = cf_strlist_new();
    json_t        *out = NULL, *e;
    size_t         i;
    cf_err_t       rc = l != NULL ? CF_OK : CF_ERR_NOMEM;

    json_array_foreach(names, i, e) {
        if (rc == CF_OK && json_is_string(e))
            rc = cf_strlist_add(l, json_string_value(e));
    }
    if (rc == CF_OK && !no_default)
        rc = cf_strlist_add(l, "default");
    if (rc == CF_OK && (out = json_array()) != NULL) {
        cf_strlist_sort_unique(l);
        for (i = 0; i < l->len; i++)
            json_array_append_new(out, json_string(l->items[i]));
    }
    cf_strlist_free(l);
    return out;
}

cf_err_t
cf_token_tidy(cf_server_t *srv, unsigned *removed)
{
    cf_strlist_t  *l = NULL, *kids = NULL;
    json_t        *e = NULL, *x = NULL;
    const char    *th;
    char           path[600];
    time_t         now = time(NULL);
    json_int_t     exp;
    size_t         i, j;
    cf_err_t       rc;

    *removed = 0;
    /* Expired tokens (and their trees). */
    if ((rc = cf_barrier_list(srv->barrier, "sys/token/id/", &l)) != CF_OK)
        return rc;
    for (i = 0; i < l->len; i++) {
        if (cf_token_load(srv, l->items[i], &e) != CF_OK)
            continue;
        exp = json_integer_value(json_object_get(e, "expire_time"));
        json_decref(e);
        if (exp > 0 && now >= exp
            && cf_token_revoke(srv, l->items[i], true) == CF_OK)
            (*removed)++;
    }
    cf_strlist_free(l);
    /* Accessor indexes whose token is gone. */
    if ((rc = cf_barrier_list(srv->barrier, "sys/token/accessor/", &l))
        != CF_OK)
        return rc;
    for (i = 0; i < l->len; i++) {
        snprintf(path, sizeof(path), "sys/token/accessor/%s", l->items[i]);
        if (cf_token_get_json(srv, path, &e) != CF_OK)
            continue;
        th = json_string_value(json_object_get(e, "id_hmac"));
        if (th != NULL && cf_token_load(srv, th, &x) == CF_ERR_NOT_FOUND)
            (void) cf_barrier_delete(srv->barrier, path);
        json_decref(x);
        x = NULL;
        json_decref(e);
    }
    cf_strlist_free(l);
    /* Child indexes of parents or children that are gone. */
    if ((rc = cf_barrier_list(srv->barrier, "sys/token/parent/", &l))
        != CF_OK)
        return rc;
    for (i = 0; i < l->len; i++) {
        snprintf(path, sizeof(path), "sys/token/parent/%s", l->items[i]);
        if (cf_barrier_list(srv->barrier, path, &kids) != CF_OK)
            continue;
        for (j = 0; j < kids->len; j++) {
            if (cf_token_load(srv, kids->items[j], &e) == CF_OK) {
                json_decref(e);
                continue;
            }
            snprintf(path, sizeof(path), "sys/token/parent/%s%s",
                     l->items[i], kids->items[j]);
            (void) cf_barrier_delete(srv->barrier, path);
        }
        cf_strlist_free(kids);
        kids = NULL;
    }
    cf_strlist_free(l);
    return CF_OK;
}

cf_err_t
cf_token_list_ids(cf_server_t *srv, cf_strlist_t **out)
{
    return cf_barrier_list(srv->barrier, "sys/token/id/", out);
}

cf_err_t
cf_token_renew(cf_server_t *srv, const char *id_hmac, int64_t increment,
               json_t **entry_out)
{
    pthread_mutex_t  *mu = cf_token_lock(srv, id_hmac);
    json_t           *e = NULL;
    json_int_t        ctime, ttl, max, period;
    time_t            now = time(NULL);
    int64_t           want, cap;
    cf_err_t          rc;

    *entry_out = NULL;
    if ((rc = cf_token_load(srv, id_hmac, &e)) != CF_OK)
        goto out;
    if (!json_is_true(json_object_get(e, "renewable"))) {
        rc = CF_ERR_INVALID;
        goto out;
    }
    ctime = json_integer_value(json_object_get(e, "creation_time"));
    ttl = json_integer_value(json_object_get(e, "ttl"));
    max = json_integer_value(json_object_get(e, "explicit_max_ttl"));
    period = json_integer_value(json_object_get(e, "period"));
    want = period > 0 ? period : increment > 0 ? increment : ttl;
    /* Non-periodic tokens never outlive the system max TTL from their
     * creation; an explicit max caps everything. */
    cap = period > 0 ? 0 : ctime + CF_TOKEN_SYSTEM_MAX_TTL - now;
    if (max > 0 && (cap == 0 || ctime + max - now < cap))
        cap = ctime + max - now;
    if (cap != 0 && want > cap)
        want = cap;
    if (want <= 0) {
        rc = CF_ERR_PERMISSION;
        goto out;
    }
    json_object_set_new(e, "expire_time", json_integer(now + want));
    json_object_set_new(e, "last_renewal_time", json_integer(now));
    if ((rc = cf_token_put(srv, "sys/token/id/", id_hmac, e)) != CF_OK)
        goto out;
    *entry_out = e;
    e = NULL;
out:
    pthread_mutex_unlock(mu);
    json_decref(e);
    return rc;
}

cf_err_t
cf_token_lookup(cf_server_t *srv, const char *token, cf_token_t **out)
{
    char              *th = NULL;
    json_t            *entry = NULL, *pol, *v;
    json_int_t         exp, uses;
    pthread_mutex_t   *mu = NULL;
    cf_token_t        *t;
    size_t             i;
    bool               expired = false, last_use = false;
    uint64_t           gen;
    cf_err_t           rc;

    *out = NULL;
    if (token == NULL || *token == '\0' || strlen(token) > CF_TOKEN_MAX_LEN)
        return CF_ERR_PERMISSION;
    if (cf_token_cache_get(srv->tokens, token, &th, &entry)) {
        rc = CF_OK;                     /* never a num_uses token */
    } else {
        gen = cf_token_cache_gen(srv->tokens);
        if ((rc = cf_token_hmac_hex(srv, token, &th)) != CF_OK)
            return rc;
        rc = cf_token_load(srv, th, &entry);
        if (rc == CF_OK
            && json_integer_value(json_object_get(entry, "num_uses")) == 0)
            cf_token_cache_put(srv->tokens, token, th, entry, gen);
    }
    if (rc == CF_OK
        && json_integer_value(json_object_get(entry, "num_uses")) > 0) {
        /* Count a use under the token's lock, re-reading the entry so
         * concurrent requests each see the previous one's count. */
        json_decref(entry);
        entry = NULL;
        mu = cf_token_lock(srv, th);
        rc = cf_token_load(srv, th, &entry);
    }
    if (rc == CF_ERR_NOT_FOUND) {
        rc = CF_ERR_PERMISSION;
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    exp = json_integer_value(json_object_get(entry, "expire_time"));
    if (exp > 0 && time(NULL) >= exp) {
        expired = true;
        rc = CF_ERR_PERMISSION;
        goto out;
    }
    uses = json_integer_value(json_object_get(entry, "num_uses"));
    if (mu != NULL && uses > 0) {
        if (uses == 1) {
            /* The last use: this request runs, the token is gone (its
             * children follow once the lock is released). */
            rc = cf_token_delete_locked(srv, th, entry);
            last_use = true;
        } else {
            json_object_set_new(entry, "num_uses", json_integer(uses - 1));
            rc = cf_token_put(srv, "sys/token/id/", th, entry);
        }
        if (rc != CF_OK)
            goto out;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    pol = json_object_get(entry, "policies");
    json_array_foreach(pol, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "root") == 0)
            t->root = true;
    }
    t->id_hmac = th;
    t->entry = entry;
    t->used_up = last_use;
    th = NULL;
    entry = NULL;
    *out = t;
out:
    if (mu != NULL)
        pthread_mutex_unlock(mu);
    if (expired && th != NULL)
        (void) cf_token_revoke(srv, th, true);      /* clean up */
    if (last_use && *out != NULL)
        (void) cf_token_revoke(srv, (*out)->id_hmac, true);
    json_decref(entry);
    free(th);
    return rc;
}

void
cf_token_free(cf_token_t *t)
{
    if (t == NULL)
        return;
    free(t->id_hmac);
    json_decref(t->entry);
    free(t);
}

json_t *
cf_token_describe(const json_t *e, const char *client_token)
{
    json_int_t   ctime = json_integer_value(json_object_get(e,
                                                            "creation_time"));
    json_int_t   exp = json_integer_value(json_object_get(e, "expire_time"));
    json_int_t   left = 0;
    json_t      *meta = json_object_get(e, "meta"), *d;
    char         buf[40];
    struct timespec  ts = { .tv_sec = (time_t) ctime, .tv_nsec = 0 };

    if (exp > 0)
        left = exp > time(NULL) ? exp - time(NULL) : 0;
    d = json_pack("{s:s, s:I, s:I, s:s, s:s, s:n, s:I, s:s?, s:[], s:s, "
                  "s:O, s:I, s:b, s:s, s:O, s:b, s:I, s:s}",
                  "accessor", json_string_value(json_object_get(e,
                                                               "accessor")),
                  "creation_time", ctime,
                  "creation_ttl", json_integer_value(json_object_get(e,
                                                                   "ttl")),
                  "display_name", json_string_value(json_object_get(e,
                                                        "display_name")),
                  "entity_id", json_string_value(json_object_get(e,
                                                        "entity_id")),
                  "expire_time",
                  "explicit_max_ttl", json_integer_value(json_object_get(e,
                                                        "explicit_max_ttl")),
                  "id", client_token, "identity_policies",
                  "issue_time", "",
                  "meta", meta ? meta : json_null(),
                  "num_uses", json_integer_value(json_object_get(e,
                                                               "num_uses")),
                  "orphan", json_is_true(json_object_get(e, "orphan")),
                  "path", json_string_value(json_object_get(e, "path")),
                  "policies", json_object_get(e, "policies"),
                  "renewable", json_is_true(json_object_get(e, "renewable")),
                  "ttl", left, "type", "service");
    if (d == NULL)
        return NULL;
    if (json_array_size(json_object_get(e, "bound_cidrs")) > 0)
        json_object_set(d, "bound_cidrs", json_object_get(e, "bound_cidrs"));
    cf_time_rfc3339(&ts, buf);
    json_object_set_new(d, "issue_time", json_string(buf));
    if (exp > 0) {
        ts.tv_sec = (time_t) exp;
        cf_time_rfc3339(&ts, buf);
        json_object_set_new(d, "expire_time", json_string(buf));
    }
    if (json_integer_value(json_object_get(e, "period")) > 0)
        json_object_set(d, "period", json_object_get(e, "period"));
    return d;
}

