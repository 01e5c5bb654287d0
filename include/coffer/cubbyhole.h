/*
 * cubbyhole: the per-token private storage engine mounted at cubbyhole/.
 */
#ifndef COFFER_CUBBYHOLE_H
#define COFFER_CUBBYHOLE_H

#include <jansson.h>

#include "coffer/engine.h"
#include "coffer/server.h"

extern const cf_engine_t  cf_cubbyhole_engine;

/* Delete everything the token with this id HMAC stored in its cubbyhole.
 * The token store calls it when it revokes the token. */
cf_err_t cf_cubbyhole_purge(cf_server_t *srv, const char *token_hmac);

/* Store v at key in the cubbyhole of the token with this id HMAC. */
cf_err_t cf_cubbyhole_put_json(cf_server_t *srv, const char *token_hmac,
                               const char *key, const json_t *v);

/* Read and delete key from that cubbyhole: *out owned; CF_ERR_NOT_FOUND
 * when absent. The caller serialises takes of the same key. */
cf_err_t cf_cubbyhole_take_json(cf_server_t *srv, const char *token_hmac,
                                const char *key, json_t **out);

#endif
