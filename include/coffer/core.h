/*
 * core: the request pipeline. http.c hands every parsed request here:
 * unauthenticated seal endpoints first; then, under the seal read lock,
 * sealed -> 503, token -> 403, policy -> 403, router -> engine.
 */
#ifndef COFFER_CORE_H
#define COFFER_CORE_H

#include "coffer/err.h"
#include "coffer/req.h"

/* Run req through the pipeline; the response is left in req. */
void cf_core_handle(cf_req_t *req);

#endif
