/*
 * http: the libmicrohttpd listener. Parses method, path, headers and the
 * JSON body (size limit -> 413, not an object -> 400) into a cf_req_t,
 * runs cf_core_handle, and writes the Vault envelope or error back with
 * Content-Type: application/json and Cache-Control: no-store.
 * Runs on MHD's thread pool (one thread per core).
 */
#ifndef COFFER_HTTP_H
#define COFFER_HTTP_H

#include "coffer/err.h"
#include "coffer/server.h"

/* Listen on cfg->listen_addr (TLS when not tls_disable). */
cf_err_t cf_http_start(cf_server_t *srv, cf_http_t **out);

/* Stop accepting, wait for running requests, free. NULL-safe. */
void cf_http_stop(cf_http_t *h);

#endif
