/*
 * keylock: the server's table of lock stripes. Work that must not run
 * twice at once for the same thing (a token's use count, a KV key's
 * check-and-set, an AppRole's secret ids) locks the stripe of
 * (domain, key); different keys rarely share a stripe. No caller holds
 * two stripes at once, so the shared table cannot deadlock.
 */
#ifndef COFFER_KEYLOCK_H
#define COFFER_KEYLOCK_H

#include <pthread.h>

#include "coffer/err.h"

#define CF_KEYLOCK_STRIPES  256     /* power of two */

typedef struct cf_keylock_s {
    pthread_mutex_t  mu[CF_KEYLOCK_STRIPES];
} cf_keylock_t;

void cf_keylock_init(cf_keylock_t *k);
void cf_keylock_destroy(cf_keylock_t *k);

/* Lock and return the stripe of (domain, key); unlock it with
 * pthread_mutex_unlock. Never fails. */
pthread_mutex_t *cf_keylock(cf_keylock_t *k, const char *domain,
                            const char *key);

#endif
