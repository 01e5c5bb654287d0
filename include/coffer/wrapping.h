/*
 * wrapping: response wrapping (X-Vault-Wrap-TTL and the sys/wrapping
 * routes).
 */
#ifndef COFFER_WRAPPING_H
#define COFFER_WRAPPING_H

#include "coffer/err.h"
#include "coffer/req.h"

/* Parse an X-Vault-Wrap-TTL header value (may be NULL) into
 * req->wrap_ttl; 400 for junk or more than 720h. */
cf_err_t cf_wrap_parse_ttl(cf_req_t *req, const char *header);

/* Replace req's successful response with a wrapping token holding it. */
cf_err_t cf_wrap_response(cf_req_t *req);

/* sys/wrapping/{wrap,unwrap,lookup,rewrap} */
cf_err_t cf_sys_wrapping_wrap(cf_req_t *req);
cf_err_t cf_sys_wrapping_unwrap(cf_req_t *req);
cf_err_t cf_sys_wrapping_lookup(cf_req_t *req);
cf_err_t cf_sys_wrapping_rewrap(cf_req_t *req);

#endif
