/*
 * ticker: the background thread (see the header for what it does).
 */
#include "coffer/ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "coffer/log.h"
#include "coffer/router.h"
#include "coffer/token.h"

#define CF_TICK_DEFAULT_SECONDS  60

struct cf_ticker_s {
    cf_server_t      *srv;          /* borrowed */
    pthread_t         thread;
    pthread_mutex_t   mu;           /* guards stop */
    pthread_cond_t    cond;         /* signalled by cf_ticker_stop */
    bool              stop;
    long              interval;     /* seconds */
};

static void
cf_ticker_once(cf_server_t *srv)
{
    unsigned  n = 0;

    pthread_rwlock_rdlock(&srv->seal_lock);
    if (!atomic_load(&srv->sealed)) {
        if (cf_token_tidy(srv, &n) == CF_OK && n > 0)
            cf_log_info("ticker", "revoked %u expired tokens", n);
        cf_router_tick(srv);
    }
    pthread_rwlock_unlock(&srv->seal_lock);
}

static void *
cf_ticker_main(void *arg)
{
    cf_ticker_t      *t = arg;
    struct timespec   until;
    bool              stop = false;

    while (!stop) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += t->interval;
        pthread_mutex_lock(&t->mu);
        while (!t->stop && pthread_cond_timedwait(&t->cond, &t->mu, &until)
                           != ETIMEDOUT)
            ;
        stop = t->stop;
        pthread_mutex_unlock(&t->mu);
        if (!stop)
            cf_ticker_once(t->srv);
    }
    return NULL;
}

cf_err_t
cf_ticker_start(cf_server_t *srv, cf_ticker_t **out)
{
    cf_ticker_t  *t;
    const char   *env = getenv("COFFER_TICK_SECONDS");
    long          s = env != NULL ? strtol(env, NULL, 10) : 0;

    *out = NULL;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return CF_ERR_NOMEM;
    t->srv = srv;
    t->interval = s > 0 && s <= 86400 ? s : CF_TICK_DEFAULT_SECONDS;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (pthread_create(&t->thread, NULL, cf_ticker_main, t) != 0) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return CF_ERR_INTERNAL;
    }
    *out = t;
    return CF_OK;
}

void
cf_ticker_stop(cf_ticker_t *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
