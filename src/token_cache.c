/*
 * token_cache: a direct-mapped cache of resolved tokens (see the header
 * for what it keys on and when entries go).
 */
#include "coffer/token_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CF_TOKEN_CACHE_SLOTS  4096      /* power of two */

typedef struct {
    unsigned char   key[32];            /* SHA-256 of the token */
    char           *id_hmac;            /* NULL: empty slot */
    json_t         *entry;
} cf_token_slot_t;

struct cf_token_cache_s {
    pthread_rwlock_t  lock;
    uint64_t          gen;              /* bumped by forget/clear; lock */
    cf_token_slot_t   slots[CF_TOKEN_CACHE_SLOTS];
};

static void
cf_token_slot_clear(cf_token_slot_t *s)
{
    free(s->id_hmac);
    json_decref(s->entry);
    OPENSSL_cleanse(s->key, sizeof(s->key));
    s->id_hmac = NULL;
    s->entry = NULL;
}

static bool
cf_token_cache_key(const char *token, unsigned char key[32], size_t *slot)
{
    unsigned int  n = 32;

    if (EVP_Digest(token, strlen(token), key, &n, EVP_sha256(), NULL) != 1)
        return false;
    *slot = ((size_t) key[0] | (size_t) key[1] << 8)
            & (CF_TOKEN_CACHE_SLOTS - 1);
    return true;
}

cf_err_t
cf_token_cache_new(cf_token_cache_t **out)
{
    if ((*out = calloc(1, sizeof(**out))) == NULL)
        return CF_ERR_NOMEM;
    pthread_rwlock_init(&(*out)->lock, NULL);
    return CF_OK;
}

void
cf_token_cache_free(cf_token_cache_t *c)
{
    if (c == NULL)
        return;
    cf_token_cache_clear(c);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

bool
cf_token_cache_get(cf_token_cache_t *c, const char *token, char **id_hmac,
                   json_t **entry)
{
    unsigned char     key[32];
    cf_token_slot_t  *s;
    size_t            i;
    bool              hit = false;

    *id_hmac = NULL;
    *entry = NULL;
    if (!cf_token_cache_key(token, key, &i))
        return false;
    pthread_rwlock_rdlock(&c->lock);
    s = &c->slots[i];
    if (s->id_hmac != NULL && CRYPTO_memcmp(s->key, key, 32) == 0) {
        *id_hmac = strdup(s->id_hmac);
        *entry = json_deep_copy(s->entry);
        hit = *id_hmac != NULL && *entry != NULL;
    }
    pthread_rwlock_unlock(&c->lock);
    OPENSSL_cleanse(key, sizeof(key));
    if (!hit) {
        free(*id_hmac);
        json_decref(*entry);
        *id_hmac = NULL;
        *entry = NULL;
    }
    return hit;
}

uint64_t
cf_token_cache_gen(cf_token_cache_t *c)
{
    uint64_t  g;

    pthread_rwlock_rdlock(&c->lock);
    g = c->gen;
    pthread_rwlock_unlock(&c->lock);
    return g;
}

void
cf_token_cache_put(cf_token_cache_t *c, const char *token,
                   const char *id_hmac, const json_t *entry, uint64_t gen)
{
    unsigned char     key[32];
    cf_token_slot_t  *s;
    char             *h;
    json_t           *e;
    size_t            i;

    if (!cf_token_cache_key(token, key, &i))
        return;
    h = strdup(id_hmac);
    e = json_deep_copy(entry);
    if (h == NULL || e == NULL) {
        free(h);
        json_decref(e);
        return;
    }
    pthread_rwlock_wrlock(&c->lock);
    if (c->gen == gen) {
        s = &c->slots[i];
        cf_token_slot_clear(s);
        memcpy(s->key, key, sizeof(key));
        s->id_hmac = h;
        s->entry = e;
        h = NULL;
        e = NULL;
    }
    pthread_rwlock_unlock(&c->lock);
    free(h);
    json_decref(e);
    OPENSSL_cleanse(key, sizeof(key));
}

void
cf_token_cache_forget(cf_token_cache_t *c, const char *id_hmac)
{
    size_t  i;

    /* A scan: forgetting happens on token changes, not per request. */
    pthread_rwlock_wrlock(&c->lock);
    c->gen++;
    for (i = 0; i < CF_TOKEN_CACHE_SLOTS; i++) {
        if (c->slots[i].id_hmac != NULL
            && strcmp(c->slots[i].id_hmac, id_hmac) == 0)
            cf_token_slot_clear(&c->slots[i]);
    }
    pthread_rwlock_unlock(&c->lock);
}

void
cf_token_cache_clear(cf_token_cache_t *c)
{
    size_t  i;

    pthread_rwlock_wrlock(&c->lock);
    c->gen++;
    for (i = 0; i < CF_TOKEN_CACHE_SLOTS; i++)
        cf_token_slot_clear(&c->slots[i]);
    pthread_rwlock_unlock(&c->lock);
}
