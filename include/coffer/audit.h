/*
 * audit: audit devices, as Vault's. Every request that passed its policy
 * check is logged before the engine runs, and its response after; a
 * request refused by the token or policy check is logged with its error
 * (the token it tried, hashed, included). While
 * any device is enabled, an entry must reach at least one of them: when
 * none can write the request entry the request fails (500) before the
 * engine runs; when none can write the response entry the response is
 * replaced by a 500 (the change happened, its secrets are not released).
 *
 * Nothing secret reaches a log: the client token, accessors and every
 * string value of request and response data are written as
 * "hmac-sha256:<hex>", made with the device's own HMAC key on the token
 * (label "coffer/audit/<device uuid>"); sys/audit-hash/<path> gives the
 * same value for an input, so an operator can search a log. log_raw is
 * refused.
 *
 * Devices: type "file" (file_path, or "stdout" / "discard"), JSON lines;
 * stored in the barrier at "core/audit", loaded at unseal, dropped at
 * seal. SIGHUP reopens the files (log rotation). Thread-safe.
 */
#ifndef COFFER_AUDIT_H
#define COFFER_AUDIT_H

#include <jansson.h>

#include "coffer/err.h"
#include "coffer/req.h"

typedef struct cf_audit_s  cf_audit_t;

cf_err_t cf_audit_new(cf_audit_t **out);
void cf_audit_free(cf_audit_t *a);                  /* NULL-safe */

/* Seal transitions (seal lock held for writing). */
cf_err_t cf_audit_load(cf_server_t *srv);
void cf_audit_unload(cf_server_t *srv);

/* Reopen every device's file (SIGHUP). */
void cf_audit_reopen(cf_server_t *srv);

/* The pipeline's two entries. CF_OK when no device is enabled or at least
 * one wrote the entry; otherwise the request is failed (500). */
cf_err_t cf_audit_log_request(cf_req_t *req);
cf_err_t cf_audit_log_response(cf_req_t *req);

/* sys/audit handlers' operations. path is the device path without a
 * trailing '/'. *errmsg (malloc'd) explains a CF_ERR_INVALID. */
cf_err_t cf_audit_enable(cf_server_t *srv, const char *path,
                         const char *type, const char *description,
                         const json_t *options, bool local, char **errmsg);
cf_err_t cf_audit_disable(cf_server_t *srv, const char *path);
/* {"<path>/": {type, description, options, local, path}}; owned. */
json_t *cf_audit_list(cf_server_t *srv);
/* "hmac-sha256:<hex>" of input under the device's key; *out malloc'd.
 * CF_ERR_NOT_FOUND for an unknown device. */
cf_err_t cf_audit_hash(cf_server_t *srv, const char *path,
                       const char *input, char **out);

#endif
