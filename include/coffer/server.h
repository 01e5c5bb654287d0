/*
 * server: the one process state object, reached as req->srv. Built by
 * server.c at start from the config; torn down at exit. There are no
 * other mutable globals.
 *
 * Guards (lock order: seal_lock, then router's mounts lock, then the token
 * cache, then the HSM pool, then storage):
 *   seal_lock  rwlock. Requests that need the unsealed state hold it for
 *              reading for their whole run; init/unseal/seal hold it for
 *              writing while they change state.
 *   unseal_mu  mutex over the Shamir progress (shares collected so far).
 */
#ifndef COFFER_SERVER_H
#define COFFER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "coffer/barrier.h"
#include "coffer/config.h"
#include "coffer/hsm.h"
#include "coffer/keylock.h"
#include "coffer/mem.h"
#include "coffer/storage.h"

typedef struct cf_router_s  cf_router_t;
typedef struct cf_http_s    cf_http_t;
typedef struct cf_policy_cache_s  cf_policy_cache_t;
typedef struct cf_token_cache_s   cf_token_cache_t;
typedef struct cf_identity_cache_s  cf_identity_cache_t;

#define CF_SEAL_MAX_SHARES  255

typedef struct cf_server_s {
    cf_config_t        *cfg;            /* owned */
    cf_hsm_t           *hsm;            /* owned */
    cf_storage_t       *store;          /* owned */
    cf_barrier_t       *barrier;        /* owned */
    cf_router_t        *router;         /* owned */
    cf_http_t          *http;           /* owned */
    cf_policy_cache_t  *policies;       /* owned; parsed ACL policies */
    cf_token_cache_t   *tokens;         /* owned; resolved tokens */
    cf_identity_cache_t *identities;    /* owned; entity ACL data */
    struct cf_lease_mgr_s *leases;      /* owned; expiration manager */
    struct cf_audit_s  *audit;          /* owned; audit devices */

    pthread_rwlock_t    seal_lock;
    atomic_bool         initialized;    /* core/seal-config exists */
    atomic_bool         sealed;
    char               *seal_reason;    /* why still sealed, or NULL;
                                           under seal_lock */
    cf_hsm_id_t         token_hmac_key; /* valid while unsealed */
    char                cluster_id[37]; /* valid while unsealed */
    char               *cluster_name;   /* valid while unsealed */
    time_t              active_since;

    cf_keylock_t        keylocks;       /* per-key lock stripes */
    pthread_mutex_t     identity_mu;    /* serialises identity changes */
    pthread_mutex_t     wrap_mu;        /* serialises unwraps */

    pthread_mutex_t     unseal_mu;      /* guards the fields below */
    cf_secret_t        *shares[CF_SEAL_MAX_SHARES];
    unsigned            nshares;
    char                unseal_nonce[37];

    bool                dev;            /* started with -dev */
} cf_server_t;

#endif
