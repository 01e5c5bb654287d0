/*
 * barrier_cache: the barrier's cache of decrypted entries (see the header).
 *
 * A fixed array of buckets, each a generation counter and a short list.
 * A forget raises its bucket's generation; a prefix forget or a clear
 * raises them all, since a prefix spans buckets.
 */
#include "coffer/barrier_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CF_BCACHE_BUCKETS  256

typedef struct cf_bcache_entry_s {
    char                        *path;
    cf_buf_t                    *val;       /* NULL: known absent */
    json_t                      *json;      /* val parsed, on demand */
    struct cf_bcache_entry_s    *next;
} cf_bcache_entry_t;

typedef struct {
    uint64_t            gen;
    cf_bcache_entry_t  *head;
} cf_bcache_bucket_t;

struct cf_bcache_s {
    pthread_mutex_t     lock;       /* guards everything below */
    size_t              max;
    size_t              n;
    cf_bcache_bucket_t  buckets[CF_BCACHE_BUCKETS];
};

static cf_bcache_bucket_t *
cf_bcache_bucket(cf_bcache_t *c, const char *path)
{
    uint32_t  h = 2166136261u;              /* FNV-1a */

    for (; *path != '\0'; path++)
        h = (h ^ (unsigned char) *path) * 16777619u;
    return &c->buckets[h % CF_BCACHE_BUCKETS];
}

static void
cf_bcache_entry_free(cf_bcache_entry_t *e)
{
    free(e->path);
    cf_buf_free(e->val);                    /* zeroes */
    json_decref(e->json);                   /* zeroing allocator (mem.h) */
    free(e);
}

/* Unlink and free the entries of b that match (all when prefix is NULL).
 * Caller holds lock. */
static void
cf_bcache_drop_locked(cf_bcache_t *c, cf_bcache_bucket_t *b,
                      const char *prefix, size_t plen)
{
    cf_bcache_entry_t  **pp = &b->head, *e;

    while ((e = *pp) != NULL) {
        if (prefix == NULL || strncmp(e->path, prefix, plen) == 0) {
            *pp = e->next;
            cf_bcache_entry_free(e);
            c->n--;
        } else {
            pp = &e->next;
        }
    }
}

/* Forget every path under prefix (NULL: all) and raise every bucket's
 * generation. Caller holds lock. */
static void
cf_bcache_forget_all_locked(cf_bcache_t *c, const char *prefix)
{
    size_t  i, plen = prefix != NULL ? strlen(prefix) : 0;

    for (i = 0; i < CF_BCACHE_BUCKETS; i++) {
        c->buckets[i].gen++;
        cf_bcache_drop_locked(c, &c->buckets[i], prefix, plen);
    }
}

cf_err_t
cf_bcache_new(size_t max, cf_bcache_t **out)
{
    cf_bcache_t  *c;

    *out = NULL;
    if (max == 0)
        return CF_ERR_INVALID;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return CF_ERR_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    c->max = max;
    *out = c;
    return CF_OK;
}

void
cf_bcache_free(cf_bcache_t *c)
{
    if (c == NULL)
        return;
    cf_bcache_forget_all_locked(c, NULL);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

bool
cf_bcache_lookup(cf_bcache_t *c, const char *path, cf_buf_t **out,
                 uint64_t *gen)
{
    cf_bcache_bucket_t  *b = cf_bcache_bucket(c, path);
    cf_bcache_entry_t   *e;
    bool                 hit = false;

    *out = NULL;
    pthread_mutex_lock(&c->lock);
    *gen = b->gen;
    for (e = b->head; e != NULL; e = e->next) {
        if (strcmp(e->path, path) != 0)
            continue;
        if (e->val == NULL)
            hit = true;
        else if ((*out = cf_buf_new_copy(e->val->data, e->val->len))
                 != NULL)
            hit = true;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

bool
cf_bcache_lookup_json(cf_bcache_t *c, const char *path, json_t **out,
                      uint64_t *gen)
{
    cf_bcache_bucket_t  *b = cf_bcache_bucket(c, path);
    cf_bcache_entry_t   *e;
    json_error_t         jerr;
    bool                 hit = false;

    *out = NULL;
    pthread_mutex_lock(&c->lock);
    *gen = b->gen;
    for (e = b->head; e != NULL; e = e->next) {
        if (strcmp(e->path, path) != 0)
            continue;
        if (e->val == NULL) {
            hit = true;
            break;
        }
        /* Parsed once; callers get copies they may change. */
        if (e->json == NULL)
            e->json = json_loadb((const char *) e->val->data, e->val->len,
                                 0, &jerr);
        if (e->json != NULL && (*out = json_deep_copy(e->json)) != NULL)
            hit = true;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void
cf_bcache_fill(cf_bcache_t *c, const char *path, const void *val,
               size_t len, uint64_t gen)
{
    cf_bcache_bucket_t  *b = cf_bcache_bucket(c, path);
    cf_bcache_entry_t   *e;

    if ((e = calloc(1, sizeof(*e))) == NULL
        || (e->path = strdup(path)) == NULL
        || (val != NULL && (e->val = cf_buf_new_copy(val, len)) == NULL)) {
        if (e != NULL)
            cf_bcache_entry_free(e);
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (b->gen != gen) {                    /* changed since the miss */
        pthread_mutex_unlock(&c->lock);
        cf_bcache_entry_free(e);
        return;
    }
    cf_bcache_drop_locked(c, b, path, strlen(path) + 1); /* an older fill */
    if (c->n >= c->max) {
        /* Full: start over. Nothing changed, so no generation moves. */
        for (size_t i = 0; i < CF_BCACHE_BUCKETS; i++)
            cf_bcache_drop_locked(c, &c->buckets[i], NULL, 0);
    }
    e->next = b->head;
    b->head = e;
    c->n++;
    pthread_mutex_unlock(&c->lock);
}

void
cf_bcache_forget(cf_bcache_t *c, const char *path)
{
    cf_bcache_bucket_t  *b = cf_bcache_bucket(c, path);

    pthread_mutex_lock(&c->lock);
    b->gen++;
    cf_bcache_drop_locked(c, b, path, strlen(path) + 1);
    pthread_mutex_unlock(&c->lock);
}

void
cf_bcache_forget_prefix(cf_bcache_t *c, const char *prefix)
{
    pthread_mutex_lock(&c->lock);
    cf_bcache_forget_all_locked(c, prefix);
    pthread_mutex_unlock(&c->lock);
}

void
cf_bcache_clear(cf_bcache_t *c)
{
    cf_bcache_forget_prefix(c, NULL);
}
