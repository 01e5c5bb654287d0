/*
 * cubbyhole: the per-token private storage engine mounted at cubbyhole/.
 */
#ifndef COFFER_CUBBYHOLE_H
#define COFFER_CUBBYHOLE_H

#include "coffer/engine.h"
#include "coffer/server.h"

extern const cf_engine_t  cf_cubbyhole_engine;

/* Delete everything the token with this id HMAC stored in its cubbyhole.
 * The token store calls it when it revokes the token. */
cf_err_t cf_cubbyhole_purge(cf_server_t *srv, const char *token_hmac);

#endif
