/*
 * ticker: one background thread for the periodic work Vault's managers
 * do — revoking expired tokens, and each mount's engine tick (transit
 * auto-rotation). It runs every COFFER_TICK_SECONDS (default 60) while
 * the server is unsealed, under the seal read lock like a request.
 */
#ifndef COFFER_TICKER_H
#define COFFER_TICKER_H

#include "coffer/err.h"
#include "coffer/server.h"

typedef struct cf_ticker_s  cf_ticker_t;

cf_err_t cf_ticker_start(cf_server_t *srv, cf_ticker_t **out);

/* Stop and join the thread; NULL-safe. */
void cf_ticker_stop(cf_ticker_t *t);

#endif
