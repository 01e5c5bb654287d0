/*
 * keylock: lock stripes picked by FNV-1a of (domain, key).
 */
#include "coffer/keylock.h"

#include <stdint.h>

void
cf_keylock_init(cf_keylock_t *k)
{
    size_t  i;

    for (i = 0; i < CF_KEYLOCK_STRIPES; i++)
        pthread_mutex_init(&k->mu[i], NULL);
}

void
cf_keylock_destroy(cf_keylock_t *k)
{
    size_t  i;

    for (i = 0; i < CF_KEYLOCK_STRIPES; i++)
        pthread_mutex_destroy(&k->mu[i]);
}

pthread_mutex_t *
cf_keylock(cf_keylock_t *k, const char *domain, const char *key)
{
    uint32_t          h = 2166136261u;
    pthread_mutex_t  *mu;

    for (; *domain != '\0'; domain++)
        h = (h ^ (unsigned char) *domain) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    for (; *key != '\0'; key++)
        h = (h ^ (unsigned char) *key) * 16777619u;
    mu = &k->mu[h & (CF_KEYLOCK_STRIPES - 1)];
    pthread_mutex_lock(mu);
    return mu;
}
