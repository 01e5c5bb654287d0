/*
 * http: libmicrohttpd glue. Collects the body (bounded), builds a cf_req_t,
 * runs the pipeline and serialises the response. Nothing else in the tree
 * sees an MHD type.
 *
 * A response goes out only once every storage commit it could reflect is
 * durable (storage.h): when the newest commit is not yet on disk, the
 * response is held, the connection suspended, and the handler thread goes
 * on to other requests; the syncer's callback resumes the connection and
 * MHD calls the handler again, which sends the held response.
 */
#include "coffer/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "coffer/cidr.h"
#include "coffer/core.h"
#include "coffer/engine.h"
#include "coffer/log.h"
#include "coffer/wrapping.h"
#include "coffer/mem.h"
#include "coffer/path.h"
#include "coffer/req.h"
#include "coffer/storage.h"
#include "coffer/token.h"

struct cf_http_s {
    cf_server_t        *srv;        /* borrowed */
    struct MHD_Daemon  *daemon;
    char               *cert;
    char               *key;
    /* Responses held for durability, and the stop flag that ends holding:
     * both seq_cst, see cf_http_send and cf_http_stop. */
    atomic_uint         held;
    atomic_bool         stopping;
};

/* Per-request state, alive across MHD's handler calls: the upload, then
 * a response held until it may be sent. */
typedef struct {
    cf_http_t             *http;
    struct MHD_Connection *conn;
    cf_buf_t              *body;
    bool                   too_large;
    struct MHD_Response   *held;        /* owned while set */
    unsigned               held_status;
    cf_err_t               durable_rc;  /* syncer's answer */
    cf_syncer_waiter_t     waiter;
} cf_http_conn_t;

/* ---- cf_req_t helpers ---------------------------------------------- */

const char *
cf_req_remote_addr(cf_req_t *req)
{
    const union MHD_ConnectionInfo  *ci;
    const struct sockaddr           *sa;

    if (req->remote_addr[0] != '\0' || req->conn == NULL)
        return req->remote_addr;
    ci = MHD_get_connection_info(req->conn,
                                 MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sa = ci != NULL ? ci->client_addr : NULL;
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
                  req->remote_addr, sizeof(req->remote_addr));
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr,
                  req->remote_addr, sizeof(req->remote_addr));
    return req->remote_addr;
}

const char *
cf_req_query(cf_req_t *req, const char *name)
{
    if (req->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

const char *
cf_req_header(cf_req_t *req, const char *name)
{
    if (req->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static void
cf_req_vfmt_append(json_t **arr, const char *fmt, va_list ap)
{
    char  msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (*arr == NULL)
        *arr = json_array();
    if (*arr != NULL)
        json_array_append_new(*arr, json_string(msg));
}

cf_err_t
cf_req_fail(cf_req_t *req, cf_err_t err, const char *fmt, ...)
{
    va_list  ap;

    if (req->status == 0)
        req->status = cf_err_status(err);
    va_start(ap, fmt);
    cf_req_vfmt_append(&req->errors, fmt, ap);
    va_end(ap);
    return err;
}

void
cf_req_warn(cf_req_t *req, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    cf_req_vfmt_append(&req->warnings, fmt, ap);
    va_end(ap);
}

static json_t *
cf_req_envelope(cf_req_t *req, json_t *data_take, json_t *auth_take)
{
    json_t  *env;

    env = json_pack("{s:s, s:s, s:b, s:i, s:o, s:n, s:n, s:o}",
                    "request_id", req->request_id, "lease_id", "",
                    "renewable", 0, "lease_duration", 0,
                    "data", data_take ? data_take : json_null(),
                    "wrap_info", "warnings",
                    "auth", auth_take ? auth_take : json_null());
    if (env != NULL && req->mount != NULL)
        json_object_set_new(env, "mount_type", json_string(req->mount->type));
    return env;
}

static void
cf_req_set_resp(cf_req_t *req, int status, json_t *resp)
{
    json_decref(req->resp);
    req->resp = resp;
    req->status = status;
}

cf_err_t
cf_req_reply_data(cf_req_t *req, json_t *data_take)
{
    json_t  *env = cf_req_envelope(req, data_take, NULL);

    if (env == NULL)
        return CF_ERR_NOMEM;
    cf_req_set_resp(req, 200, env);
    return CF_OK;
}

cf_err_t
cf_req_reply_data_top(cf_req_t *req, json_t *data_take)
{
    json_t  *env;

    if (data_take != NULL && !json_is_object(data_take)) {
        json_decref(data_take);
        return CF_ERR_INTERNAL;
    }
    if ((env = cf_req_envelope(req, json_incref(data_take), NULL)) == NULL) {
        json_decref(data_take);
        return CF_ERR_NOMEM;
    }
    if (data_take != NULL)
        json_object_update_missing(env, data_take);
    json_decref(data_take);
    cf_req_set_resp(req, 200, env);
    return CF_OK;
}

cf_err_t
cf_req_reply_auth(cf_req_t *req, json_t *auth_take)
{
    json_t  *env = cf_req_envelope(req, NULL, auth_take);

    if (env == NULL)
        return CF_ERR_NOMEM;
    cf_req_set_resp(req, 200, env);
    return CF_OK;
}

cf_err_t
cf_req_reply_bare(cf_req_t *req, int status, json_t *obj_take)
{
    if (obj_take == NULL)
        return CF_ERR_NOMEM;
    cf_req_set_resp(req, status, obj_take);
    return CF_OK;
}

cf_err_t
cf_req_reply_none(cf_req_t *req)
{
    cf_req_set_resp(req, 204, NULL);
    return CF_OK;
}

cf_err_t
cf_req_reply_raw(cf_req_t *req, int status, const char *type,
                 const void *data, size_t len)
{
    unsigned char  *copy;

    if ((copy = malloc(len + 1)) == NULL)
        return CF_ERR_NOMEM;
    memcpy(copy, data, len);
    free(req->raw);
    req->raw = copy;
    req->raw_len = len;
    req->raw_type = type;
    cf_req_set_resp(req, status, NULL);
    return CF_OK;
}

static json_t *
cf_req_param(cf_req_t *req, const char *name, const char **qs)
{
    json_t  *v;

    *qs = NULL;
    v = json_object_get(req->body, name);
    if (v != NULL && !json_is_null(v))
        return v;
    *qs = cf_req_query(req, name);
    return NULL;
}

cf_err_t
cf_req_param_str(cf_req_t *req, const char *name, const char **out,
                 bool *present)
{
    const char  *qs;
    json_t      *v = cf_req_param(req, name, &qs);

    *present = false;
    if (v != NULL) {
        if (!json_is_string(v))
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'%s' must be a string", name);
        *out = json_string_value(v);
        *present = true;
    } else if (qs != NULL) {
        *out = qs;
        *present = true;
    }
    return CF_OK;
}

static bool
cf_req_parse_int(const char *s, int64_t *out)
{
    char       *end;
    long long   n;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = n;
    return true;
}

/* Append the trimmed, non-empty comma-separated items of s to arr. */
static void
cf_req_split_commas(const char *s, json_t *arr)
{
    const char  *q;
    size_t       n;

    for (; *s != '\0'; s = q) {
        q = strchr(s, ',');
        n = q != NULL ? (size_t) (q - s) : strlen(s);
        q = q != NULL ? q + 1 : s + n;
        while (n > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n > 0)
            json_array_append_new(arr, json_stringn(s, n));
    }
}

cf_err_t
cf_req_reply_not_found(cf_req_t *req, json_t *data_take)
{
    if (data_take != NULL && cf_req_reply_data(req, data_take) != CF_OK)
        return CF_ERR_NOMEM;
    /* An empty errors array marks the request failed without a message,
     * as Vault's 404s for reads and lists; cf_http_respond merges the
     * envelope (if any) into the error body. */
    if (req->errors == NULL && (req->errors = json_array()) == NULL)
        return CF_ERR_NOMEM;
    req->status = 404;
    return CF_ERR_NOT_FOUND;
}

cf_err_t
cf_req_param_strlist(cf_req_t *req, const char *name, json_t **out,
                     bool *present)
{
    const char  *qs;
    json_t      *v = cf_req_param(req, name, &qs), *arr, *e;
    size_t       i;

    *present = false;
    *out = NULL;
    if (v == NULL && qs == NULL)
        return CF_OK;
    if ((arr = json_array()) == NULL)
        return CF_ERR_NOMEM;
    if (v == NULL || json_is_string(v)) {
        cf_req_split_commas(v != NULL ? json_string_value(v) : qs, arr);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                json_decref(arr);
                return cf_req_fail(req, CF_ERR_INVALID,
                                   "'%s' must be a list of strings", name);
            }
            cf_req_split_commas(json_string_value(e), arr);
        }
    } else {
        json_decref(arr);
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must be a list of strings", name);
    }
    *out = arr;
    *present = true;
    return CF_OK;
}

cf_err_t
cf_req_param_cidrs(cf_req_t *req, const char *name, json_t *into)
{
    json_t    *list = NULL, *norm = NULL;
    char       err[128];
    bool       has = false;
    cf_err_t   rc;

    if ((rc = cf_req_param_strlist(req, name, &list, &has)) != CF_OK
        || !has)
        return rc;
    rc = cf_cidr_list_parse(list, &norm, err, sizeof(err));
    json_decref(list);
    if (rc == CF_ERR_INVALID)
        return cf_req_fail(req, rc, "%s: %s", name, err);
    if (rc != CF_OK)
        return rc;
    json_object_set_new(into, name, norm);
    return CF_OK;
}

cf_err_t
cf_req_param_int(cf_req_t *req, const char *name, int64_t *out,
                 bool *present)
{
    const char  *qs;
    json_t      *v = cf_req_param(req, name, &qs);
    double       d;

    *present = false;
    if (v != NULL) {
        if (json_is_integer(v)) {
            *out = json_integer_value(v);
        } else if (json_is_real(v)) {
            d = json_real_value(v);
            if (d != (double) (int64_t) d)
                return cf_req_fail(req, CF_ERR_INVALID,
                                   "'%s' must be an integer", name);
            *out = (int64_t) d;
        } else if (!json_is_string(v)
                   || !cf_req_parse_int(json_string_value(v), out)) {
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'%s' must be an integer", name);
        }
        *present = true;
    } else if (qs != NULL) {
        if (!cf_req_parse_int(qs, out))
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'%s' must be an integer", name);
        *present = true;
    }
    return CF_OK;
}

static int
cf_req_parse_bool(const char *s)
{
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0
        || strcasecmp(s, "t") == 0)
        return 1;
    if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0
        || strcasecmp(s, "f") == 0 || *s == '\0')
        return 0;
    return -1;
}

cf_err_t
cf_req_param_bool(cf_req_t *req, const char *name, bool *out,
                  bool *present)
{
    const char  *qs, *s = NULL;
    json_t      *v = cf_req_param(req, name, &qs);
    int          b;

    *present = false;
    if (v != NULL) {
        if (json_is_boolean(v)) {
            *out = json_is_true(v);
            *present = true;
            return CF_OK;
        }
        if (json_is_integer(v) && (json_integer_value(v) == 0
                                   || json_integer_value(v) == 1)) {
            *out = json_integer_value(v) == 1;
            *present = true;
            return CF_OK;
        }
        if (!json_is_string(v))
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'%s' must be a boolean", name);
        s = json_string_value(v);
    } else {
        s = qs;
    }
    if (s == NULL)
        return CF_OK;
    if ((b = cf_req_parse_bool(s)) < 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must be a boolean", name);
    *out = b == 1;
    *present = true;
    return CF_OK;
}

cf_err_t
cf_req_param_duration(cf_req_t *req, const char *name, int64_t *out,
                      bool *present)
{
    const char  *qs, *s;
    json_t      *v = cf_req_param(req, name, &qs);
    long         secs;

    *present = false;
    if (v != NULL && json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'%s' must not be negative", name);
        *out = json_integer_value(v);
        *present = true;
        return CF_OK;
    }
    if (v != NULL && !json_is_string(v))
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must be a duration", name);
    s = v != NULL ? json_string_value(v) : qs;
    if (s == NULL)
        return CF_OK;
    if (cf_config_parse_duration(s, &secs) != CF_OK || secs < 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'%s' must be a duration", name);
    *out = secs;
    *present = true;
    return CF_OK;
}

/* ---- MHD glue ------------------------------------------------------- */

static cf_op_t
cf_http_method_op(const char *method, bool *head, bool *known)
{
    *head = false;
    *known = true;
    if (strcmp(method, "GET") == 0)
        return CF_OP_READ;
    if (strcmp(method, "HEAD") == 0) {
        *head = true;
        return CF_OP_READ;
    }
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        return CF_OP_UPDATE;
    if (strcmp(method, "DELETE") == 0)
        return CF_OP_DELETE;
    if (strcmp(method, "LIST") == 0)
        return CF_OP_LIST;
    if (strcmp(method, "PATCH") == 0)
        return CF_OP_PATCH;
    *known = false;
    return CF_OP_READ;
}

static enum MHD_Result cf_http_error(cf_http_conn_t *hc, int status,
                                     const char *msg);

/* The syncer's answer for a held response: wake its connection. */
static void
cf_http_durable(void *arg, cf_err_t rc)
{
    cf_http_conn_t  *hc = arg;
    cf_http_t       *h = hc->http;

    hc->durable_rc = rc;
    MHD_resume_connection(hc->conn);
    atomic_fetch_sub(&h->held, 1);
}

/* Queue resp (taken) now that the syncer has answered: the 500 instead
 * when it could not make the commits durable. That error response passes
 * the gate in cf_http_send because durable_rc is set. */
static enum MHD_Result
cf_http_answer(cf_http_conn_t *hc, unsigned status, struct MHD_Response *resp)
{
    enum MHD_Result  ret;

    if (hc->durable_rc != CF_OK) {
        MHD_destroy_response(resp);
        return cf_http_error(hc, 500, cf_err_message(hc->durable_rc));
    }
    ret = MHD_queue_response(hc->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * Queue resp (taken) once every commit made so far is durable: at once
 * when it already is, else hold it and suspend the connection until the
 * syncer answers (cf_http_durable). A request that read or wrote a commit
 * not yet on disk never sees it acknowledged before it is.
 */
static enum MHD_Result
cf_http_send(cf_http_conn_t *hc, unsigned status, struct MHD_Response *resp)
{
    cf_http_t        *h = hc->http;
    cf_storage_t     *st = h->srv->store;
    uint64_t          mark = cf_storage_mark(st);
    enum MHD_Result   ret;

    if (hc->durable_rc == CF_OK && !cf_storage_is_durable(st, mark)) {
        /* Count first, then look at stopping: cf_http_stop sets stopping,
         * then waits for the count, so one of the two sees the other. */
        atomic_fetch_add(&h->held, 1);
        if (!atomic_load(&h->stopping)) {
            hc->held = resp;
            hc->held_status = status;
            hc->waiter.mark = mark;
            hc->waiter.fn = cf_http_durable;
            hc->waiter.arg = hc;
            MHD_suspend_connection(hc->conn);
            cf_storage_when_durable(st, &hc->waiter);
            return MHD_YES;
        }
        atomic_fetch_sub(&h->held, 1);
        hc->durable_rc = cf_storage_sync(st);       /* stopping: block */
        return cf_http_answer(hc, status, resp);
    }
    ret = MHD_queue_response(hc->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Called again after a resume: send what was held, or the failure. */
static enum MHD_Result
cf_http_release(cf_http_conn_t *hc)
{
    struct MHD_Response  *resp = hc->held;

    hc->held = NULL;
    return cf_http_answer(hc, hc->held_status, resp);
}

static enum MHD_Result
cf_http_queue(cf_http_conn_t *hc, int status, const char *type,
              void *body, size_t len, bool free_body)
{
    struct MHD_Response  *resp;

    resp = MHD_create_response_from_buffer(
        len, body, free_body ? MHD_RESPMEM_MUST_FREE
                             : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    if (type != NULL)
        MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return cf_http_send(hc, (unsigned) status, resp);
}

static enum MHD_Result
cf_http_queue_json(cf_http_conn_t *hc, int status, json_t *obj)
{
    char  *s;

    s = json_dumps(obj, JSON_COMPACT);
    if (s == NULL)
        return MHD_NO;
    /* json_dumps uses the zeroing allocator; copy into plain malloc so MHD
     * can free() it, and wipe ours. */
    {
        size_t  n = strlen(s);
        char   *m = malloc(n + 1);

        if (m == NULL) {
            cf_mem_free(s);
            return MHD_NO;
        }
        memcpy(m, s, n + 1);
        cf_mem_free(s);
        return cf_http_queue(hc, status, "application/json", m, n, true);
    }
}

static enum MHD_Result
cf_http_error(cf_http_conn_t *hc, int status, const char *msg)
{
    json_t           *o;
    enum MHD_Result   ret;

    o = json_pack("{s:[s]}", "errors", msg);
    ret = cf_http_queue_json(hc, status, o);
    json_decref(o);
    return ret;
}

static char *
cf_http_client_token(struct MHD_Connection *conn)
{
    const char  *t;

    t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vault-Token");
    if (t != NULL && *t != '\0')
        return strdup(t);
    t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (t != NULL && strncasecmp(t, "Bearer ", 7) == 0 && t[7] != '\0')
        return strdup(t + 7);
    return NULL;
}

static bool
cf_http_query_true(struct MHD_Connection *conn, const char *name)
{
    const char  *v;

    v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    return v != NULL && cf_req_parse_bool(v) == 1;
}

/* Serialise what the pipeline left in req. */
static enum MHD_Result
cf_http_respond(cf_http_conn_t *hc, cf_req_t *req)
{
    json_t           *obj;
    enum MHD_Result   ret;

    if (req->errors != NULL || req->status >= 400) {
        obj = json_object();
        if (req->errors != NULL)
            json_object_set(obj, "errors", req->errors);
        else
            json_object_set_new(obj, "errors", json_array());
        if (req->resp != NULL && json_is_object(req->resp)) {
            /* e.g. KV v2 404 that still carries data */
            json_object_update_missing(obj, req->resp);
        }
        ret = cf_http_queue_json(hc, req->status >= 400 ? req->status
                                                          : 500, obj);
        json_decref(obj);
        return ret;
    }
    if (req->raw != NULL) {
        ret = cf_http_queue(hc, req->status, req->raw_type, req->raw,
                            req->raw_len, true);
        if (ret == MHD_YES)
            req->raw = NULL;   /* MHD owns it now */
        return ret;
    }
    if (req->status == 204 || req->resp == NULL) {
        if (req->warnings != NULL) {
            obj = json_pack("{s:s, s:s, s:b, s:i, s:n, s:n, s:O, s:n}",
                            "request_id", req->request_id, "lease_id", "",
                            "renewable", 0, "lease_duration", 0, "data",
                            "wrap_info", "warnings", req->warnings, "auth");
            ret = cf_http_queue_json(hc, 200, obj);
            json_decref(obj);
            return ret;
        }
        return cf_http_queue(hc, 204, NULL, (void *) "", 0, false);
    }
    if (req->warnings != NULL && json_object_get(req->resp, "warnings"))
        json_object_set(req->resp, "warnings", req->warnings);
    return cf_http_queue_json(hc, req->status ? req->status : 200,
                              req->resp);
}

static void
cf_http_req_cleanup(cf_req_t *req)
{
    free(req->path);
    json_decref(req->body);
    cf_mem_free_str(req->client_token);
    cf_token_free(req->token);
    json_decref(req->resp);
    json_decref(req->lease);
    json_decref(req->audit_memo);
    json_decref(req->warnings);
    json_decref(req->errors);
    if (req->raw != NULL) {
        OPENSSL_cleanse(req->raw, req->raw_len);
        free(req->raw);
    }
}

/* Content types whose bodies are passed to the engine as bytes instead of
 * being parsed as JSON. */
static bool
cf_http_raw_type(const char *ct)
{
    return ct != NULL
           && strncasecmp(ct, "application/ocsp-request", 24) == 0;
}

static enum MHD_Result
cf_http_run(cf_http_conn_t *hc, const char *url, const char *method)
{
    struct MHD_Connection  *conn = hc->conn;
    cf_buf_t               *body = hc->body;
    cf_req_t          req;
    json_error_t      jerr;
    enum MHD_Result   ret;
    bool              known;
    cf_err_t          rc;

    memset(&req, 0, sizeof(req));
    req.srv = hc->http->srv;
    req.conn = conn;
    req.method = method;
    req.op = cf_http_method_op(method, &req.head, &known);
    cf_request_id_new(req.request_id);
    if (!known)
        return cf_http_error(hc, 405, "unsupported operation");
    rc = cf_path_normalize(url, &req.path);
    if (rc == CF_ERR_INVALID)
        return cf_http_error(hc, 400,
                             "invalid path: relative paths not supported");
    if (rc == CF_ERR_NOT_FOUND)
        return cf_http_error(hc, 404, "no handler for route");
    if (rc != CF_OK)
        return cf_http_error(hc, 500, cf_err_message(rc));
    if (req.op == CF_OP_READ && !req.head
        && (cf_http_query_true(conn, "list")))
        req.op = CF_OP_LIST;
    req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   "Content-Type");
    if (body != NULL && body->len > 0 && cf_http_raw_type(req.content_type)) {
        /* A binary protocol body (OCSP): the engine reads the bytes. */
        req.body_raw = body->data;
        req.body_raw_len = body->len;
        req.body = json_object();
    } else if (body != NULL && body->len > 0) {
        req.body = json_loadb((const char *) body->data, body->len,
                              JSON_REJECT_DUPLICATES, &jerr);
        if (req.body == NULL || !json_is_object(req.body)) {
            ret = cf_http_error(hc, 400, req.body == NULL
                                ? "failed to parse JSON input"
                                : "request body must be a JSON object");
            cf_http_req_cleanup(&req);
            return ret;
        }
    } else {
        req.body = json_object();
    }
    req.client_token = cf_http_client_token(conn);
    if (cf_wrap_parse_ttl(&req, MHD_lookup_connection_value(conn,
                          MHD_HEADER_KIND, "X-Vault-Wrap-TTL")) == CF_OK)
        cf_core_handle(&req);
    ret = cf_http_respond(hc, &req);
    cf_http_req_cleanup(&req);
    return ret;
}

static enum MHD_Result
cf_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                const char *method, const char *version,
                const char *upload_data, size_t *upload_data_size,
                void **con_cls)
{
    cf_http_t       *h = cls;
    cf_http_conn_t  *hc = *con_cls;
    const char      *cl;
    size_t           limit = h->srv->cfg->max_request_size;

    (void) version;
    if (hc == NULL) {
        if ((hc = calloc(1, sizeof(*hc))) == NULL)
            return MHD_NO;
        hc->http = h;
        hc->conn = conn;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > limit)
            hc->too_large = true;
        *con_cls = hc;
        return MHD_YES;
    }
    if (hc->held != NULL)
        return cf_http_release(hc);
    if (*upload_data_size > 0) {
        if (!hc->too_large) {
            if (hc->body == NULL)
                hc->body = cf_buf_new(*upload_data_size + 1);
            if (hc->body == NULL
                || hc->body->len + *upload_data_size > limit
                || cf_buf_append(hc->body, upload_data, *upload_data_size)
                   != CF_OK)
                hc->too_large = true;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (hc->too_large)
        return cf_http_error(hc, 413, "request body too large");
    return cf_http_run(hc, url, method);
}

static void
cf_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                  enum MHD_RequestTerminationCode toe)
{
    cf_http_conn_t  *hc = *con_cls;

    (void) cls; (void) conn; (void) toe;
    if (hc == NULL)
        return;
    if (hc->held != NULL)       /* resumed, then closed before sending */
        MHD_destroy_response(hc->held);
    cf_buf_free(hc->body);      /* zeroes the request body */
    free(hc);
    *con_cls = NULL;
}

static cf_err_t
cf_http_parse_addr(const char *addr, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    char                 host[256];
    const char          *colon;
    struct sockaddr_in  *sin = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    long                 port;
    char                *end;
    size_t               hl;

    memset(ss, 0, sizeof(*ss));
    colon = strrchr(addr, ':');
    if (colon == NULL)
        return CF_ERR_CONFIG;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return CF_ERR_CONFIG;
    hl = (size_t) (colon - addr);
    if (hl >= sizeof(host))
        return CF_ERR_CONFIG;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
            return CF_ERR_CONFIG;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        *len = sizeof(*sin6);
        return CF_OK;
    }
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return CF_ERR_CONFIG;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    *len = sizeof(*sin);
    return CF_OK;
}

static char *
cf_http_read_file(const char *path)
{
    FILE    *f;
    char    *buf = NULL;
    long     n;

    if ((f = fopen(path, "rb")) == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20)
        && fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t) n + 1))
        && fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

cf_err_t
cf_http_start(cf_server_t *srv, cf_http_t **out)
{
    struct sockaddr_storage  ss;
    socklen_t                sl;
    cf_http_t               *h;
    unsigned                 flags, threads;
    long                     ncpu;
    cf_err_t                 rc;

    *out = NULL;
    if (cf_http_parse_addr(srv->cfg->listen_addr, &ss, &sl) != CF_OK) {
        cf_log_error("http", "invalid listener address '%s'",
                     srv->cfg->listen_addr);
        return CF_ERR_CONFIG;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return CF_ERR_NOMEM;
    h->srv = srv;
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    threads = ncpu > 0 ? (unsigned) ncpu : 2;
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
            | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (!srv->cfg->tls_disable) {
        h->cert = cf_http_read_file(srv->cfg->tls_cert_file
                                    ? srv->cfg->tls_cert_file : "");
        h->key = cf_http_read_file(srv->cfg->tls_key_file
                                   ? srv->cfg->tls_key_file : "");
        if (h->cert == NULL || h->key == NULL) {
            cf_log_error("http", "cannot read tls_cert_file/tls_key_file");
            rc = CF_ERR_CONFIG;
            goto fail;
        }
        flags |= MHD_USE_TLS;
        h->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, cf_http_handler, h,
            MHD_OPTION_SOCK_ADDR, &ss,
            MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_NOTIFY_COMPLETED, cf_http_completed, NULL,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 60,
            MHD_OPTION_HTTPS_MEM_CERT, h->cert,
            MHD_OPTION_HTTPS_MEM_KEY, h->key,
            MHD_OPTION_END);
    } else {
        h->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, cf_http_handler, h,
            MHD_OPTION_SOCK_ADDR, &ss,
            MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_NOTIFY_COMPLETED, cf_http_completed, NULL,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 60,
            MHD_OPTION_END);
    }
    if (h->daemon == NULL) {
        cf_log_error("http", "cannot listen on %s", srv->cfg->listen_addr);
        rc = CF_ERR_CONFIG;
        goto fail;
    }
    (void) sl;
    *out = h;
    return CF_OK;
fail:
    cf_http_stop(h);
    return rc;
}

void
cf_http_stop(cf_http_t *h)
{
    if (h == NULL)
        return;
    if (h->daemon != NULL) {
        /* MHD must not be stopped with a connection suspended: from now
         * on responses wait for durability on their own thread, and the
         * held ones are let go by the syncer, which runs until storage
         * closes after us. */
        atomic_store(&h->stopping, true);
        while (atomic_load(&h->held) > 0) {
            (void) cf_storage_sync(h->srv->store);
            (void) nanosleep(&(struct timespec){ .tv_nsec = 1000000 },
                             NULL);
        }
        MHD_stop_daemon(h->daemon);
    }
    if (h->key != NULL) {
        OPENSSL_cleanse(h->key, strlen(h->key));
        free(h->key);
    }
    free(h->cert);
    free(h);
}
