/*
 * req: one HTTP request and its response, as the pipeline and engines see
 * it. Built by http.c, passed down the pipeline, serialised back by
 * http.c. One request belongs to one thread; nothing here is shared.
 *
 * Ownership: every string in cf_req_t is owned by the request and lives
 * until the request completes. Response setters take ownership of the
 * json_t they are given ("_take"), even on error.
 */
#ifndef COFFER_REQ_H
#define COFFER_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coffer/err.h"

typedef struct cf_server_s  cf_server_t;
typedef struct cf_mount_s   cf_mount_t;
typedef struct cf_token_s   cf_token_t;

typedef enum {
    CF_OP_READ   = 1 << 0,      /* GET, HEAD */
    CF_OP_CREATE = 1 << 1,      /* POST/PUT on a path that does not exist */
    CF_OP_UPDATE = 1 << 2,      /* POST/PUT */
    CF_OP_DELETE = 1 << 3,      /* DELETE */
    CF_OP_LIST   = 1 << 4,      /* LIST, GET ?list=true */
    CF_OP_PATCH  = 1 << 5       /* PATCH */
} cf_op_t;

/* Vault's name of an operation ("read", "create", ...), as audit logs
 * and policies spell it; "unknown" for anything else. */
static inline const char *
cf_op_name(cf_op_t op)
{
    switch (op) {
    case CF_OP_READ:   return "read";
    case CF_OP_CREATE: return "create";
    case CF_OP_UPDATE: return "update";
    case CF_OP_DELETE: return "delete";
    case CF_OP_LIST:   return "list";
    case CF_OP_PATCH:  return "patch";
    }
    return "unknown";
}

#define CF_OP_WRITE  (CF_OP_CREATE | CF_OP_UPDATE)
#define CF_OP_ALL    (CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE | CF_OP_LIST \
                      | CF_OP_PATCH)

typedef struct cf_req_s {
    cf_server_t        *srv;
    cf_op_t             op;
    const char         *method;     /* as sent: "GET", "LIST", ... */
    bool                head;       /* HEAD: reply without a body */
    char               *path;       /* normalised, without "/v1/" */
    json_t             *body;       /* JSON object, never NULL */
    const unsigned char *body_raw;  /* binary body (OCSP), else NULL;
                                       borrowed for the request */
    size_t              body_raw_len;
    const char         *content_type;
    char               *client_token;   /* X-Vault-Token / Bearer, or NULL */
    cf_token_t         *token;      /* resolved token, or NULL */
    const cf_mount_t   *mount;      /* routed mount (router sets it) */
    const char         *rest;       /* path inside the mount */
    void               *conn;       /* struct MHD_Connection *, http.c only */
    char                request_id[37];
    int64_t             wrap_ttl;   /* X-Vault-Wrap-TTL seconds, 0 = none */
    json_t             *lease;      /* asked for by cf_req_set_lease (core
                                       registers it), or NULL; owned */
    char                remote_addr[48];    /* cf_req_remote_addr's */
    json_t             *audit_memo; /* audit.c's HMACs of this request's
                                       strings, per device; owned */

    /* response, set through the cf_req_reply_* functions */
    int                 status;
    json_t             *resp;       /* whole response body object */
    json_t             *warnings;   /* array or NULL */
    json_t             *errors;     /* array or NULL */
    unsigned char      *raw;        /* raw body (PEM etc.) */
    size_t              raw_len;
    const char         *raw_type;
} cf_req_t;

/* Query parameter of the URL, or NULL. Borrowed. */
const char *cf_req_query(cf_req_t *req, const char *name);

/* The client's address ("127.0.0.1"), or "" when unknown. Borrowed
 * (valid for the request). */
const char *cf_req_remote_addr(cf_req_t *req);

/* Request header (case-insensitive), or NULL. Borrowed. */
const char *cf_req_header(cf_req_t *req, const char *name);

/* Record a client error message and return err. fmt names fields, never
 * values. The first failure's err decides the status. */
cf_err_t cf_req_fail(cf_req_t *req, cf_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add a warning to the envelope. */
void cf_req_warn(cf_req_t *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 200 with the Vault envelope around data (may be NULL for null). */
cf_err_t cf_req_reply_data(cf_req_t *req, json_t *data_take);

/* 200 envelope with data both under "data" and merged at the top level
 * (the legacy sys routes in API-NOTES.md §2.2). */
cf_err_t cf_req_reply_data_top(cf_req_t *req, json_t *data_take);

/* 200 envelope carrying an "auth" block and null data. */
cf_err_t cf_req_reply_auth(cf_req_t *req, json_t *auth_take);

/* A bare JSON object (sys/health, sys/seal-status, ...) with status. */
cf_err_t cf_req_reply_bare(cf_req_t *req, int status, json_t *obj_take);

/* Vault's bare 404: {"errors":[]}, plus the envelope around data_take
 * when given (a KV v2 version that is deleted still shows its metadata).
 * Returns CF_ERR_NOT_FOUND. */
cf_err_t cf_req_reply_not_found(cf_req_t *req, json_t *data_take);

/* 204 No Content (or 200 + warnings if warnings were added). */
cf_err_t cf_req_reply_none(cf_req_t *req);

/* Non-JSON body (copied), e.g. PEM. */
cf_err_t cf_req_reply_raw(cf_req_t *req, int status, const char *type,
                          const void *data, size_t len);

/*
 * Parameters: looked up in the JSON body first, then in the query string.
 * Absent and JSON null both mean "not given": *present = false and the out
 * value untouched. Vault's lenient typing is kept: bools accept true/false,
 * "true"/"false", 1/0, "1"/"0"; integers accept numbers and numeric
 * strings. A wrong type fails the request with 400 naming the field.
 */
cf_err_t cf_req_param_str(cf_req_t *req, const char *name, const char **out,
                          bool *present);
cf_err_t cf_req_param_int(cf_req_t *req, const char *name, int64_t *out,
                          bool *present);
cf_err_t cf_req_param_bool(cf_req_t *req, const char *name, bool *out,
                           bool *present);
/* A list of strings: a JSON array of strings or one comma-separated
 * string (Vault's comma-string slice); items trimmed, empty ones dropped.
 * *out owned by the caller. */
cf_err_t cf_req_param_strlist(cf_req_t *req, const char *name, json_t **out,
                              bool *present);
/* A list of CIDR blocks (as strlist), checked and normalised (cidr.h)
 * and stored under `name` in `into` when given; an empty list removes a
 * binding. 400 naming the field and the bad block. */
cf_err_t cf_req_param_cidrs(cf_req_t *req, const char *name, json_t *into);
/* A duration: "30s", "5m", "1h", or integer seconds. */
cf_err_t cf_req_param_duration(cf_req_t *req, const char *name, int64_t *out,
                               bool *present);

/* Fill buf with a random RFC 4122 v4 UUID string (37 bytes). */
void cf_uuid_new(char buf[37]);

/* len bytes (at most 4096) from the DRBG for a public nonce such as a
 * GCM IV: uniformly random, never reused, served from a per-thread
 * buffer. Not for keys or other secrets. */
cf_err_t cf_nonce_new(unsigned char *out, size_t len);

/* Append to out[*got..want) the base62 characters random bytes rnd[0..n)
 * give, rejection-sampled so each is uniform (bytes >= 248 are skipped);
 * call again with fresh bytes until *got == want. For token and lease
 * ids. */
void cf_base62_take(const unsigned char *rnd, size_t n, char *out,
                    size_t *got, size_t want);

/* A request id shaped like a v4 UUID: unique, not unpredictable (from a
 * per-thread generator seeded by the DRBG). Only for request ids. */
void cf_request_id_new(char buf[37]);

/* RFC 3339 UTC time with nanoseconds, e.g. 2026-11-23T01:02:03.123456789Z,
 * into buf (40 bytes). */
void cf_time_rfc3339(const struct timespec *ts, char buf[40]);

#endif
