/*
 * jwt_http: fetch a JSON document (JWKS, OIDC discovery, a Kubernetes
 * TokenReview) with libcurl. One easy handle per call, so calls from any
 * handler thread are independent; curl_global_init runs once.
 */
#include "jwt_verify.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>


#define CF_JWT_HTTP_MAX      (1024 * 1024)   /* response body cap */
#define CF_JWT_HTTP_TIMEOUT  10L             /* seconds, whole exchange */

static pthread_once_t  cf_jwt_http_once = PTHREAD_ONCE_INIT;
static CURLcode        cf_jwt_http_init_rc = CURLE_FAILED_INIT;

static void
cf_jwt_http_init(void)
{
    cf_jwt_http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct {
    cf_buf_t  *buf;
    bool       too_large;
} cf_jwt_http_sink_t;

static size_t
cf_jwt_http_write(char *data, size_t size, size_t n, void *arg)
{
    cf_jwt_http_sink_t  *sink = arg;
    size_t               len = size * n;

    if (sink->buf->len + len > CF_JWT_HTTP_MAX) {
        sink->too_large = true;
        return 0;                       /* makes libcurl stop */
    }
    if (cf_buf_append(sink->buf, data, len) != CF_OK)
        return 0;
    return len;
}

cf_err_t
cf_jwt_http(const cf_jwt_http_t *r, long *status, json_t **out,
            const char **why)
{
    CURL                *c = NULL;
    struct curl_slist   *hdrs = NULL, *h;
    struct curl_blob     ca;
    cf_jwt_http_sink_t   sink = { NULL, false };
    json_error_t         jerr;
    char                *auth = NULL;
    size_t               alen;
    CURLcode             cc;
    cf_err_t             rc = CF_ERR_UNAVAILABLE;

    *status = 0;
    *out = NULL;
    *why = "HTTP client unavailable";
    pthread_once(&cf_jwt_http_once, cf_jwt_http_init);
    if (cf_jwt_http_init_rc != CURLE_OK)
        return CF_ERR_INTERNAL;
    if ((sink.buf = cf_buf_new(4096)) == NULL)
        return CF_ERR_NOMEM;
    if ((c = curl_easy_init()) == NULL)
        goto out;
    h = curl_slist_append(hdrs, "Accept: application/json");
    if (h != NULL && r->body != NULL) {
        hdrs = h;
        h = curl_slist_append(hdrs, "Content-Type: application/json");
    }
    if (h != NULL && r->bearer != NULL) {
        hdrs = h;
        alen = strlen(r->bearer) + sizeof("Authorization: Bearer ");
        if ((auth = malloc(alen)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        snprintf(auth, alen, "Authorization: Bearer %s", r->bearer);
        h = curl_slist_append(hdrs, auth);
    }
    if (h == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    hdrs = h;
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, CF_JWT_HTTP_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CF_JWT_HTTP_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cf_jwt_http_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    if (r->ca_pem != NULL && *r->ca_pem != '\0') {
        ca.data = (void *) r->ca_pem;
        ca.len = strlen(r->ca_pem);
        ca.flags = CURL_BLOB_COPY;
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (r->body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    if ((cc = curl_easy_perform(c)) != CURLE_OK) {
        if (sink.too_large) {
            *why = "response body too large";
            rc = CF_ERR_TOO_LARGE;
        } else {
            *why = curl_easy_strerror(cc);  /* static text */
        }
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    *out = json_loadb((const char *) sink.buf->data, sink.buf->len, 0,
                      &jerr);
    *why = *out == NULL ? "response is not JSON" : "ok";
    rc = CF_OK;
out:
    curl_slist_free_all(hdrs);
    if (auth != NULL) {
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    if (c != NULL)
        curl_easy_cleanup(c);
    cf_buf_free(sink.buf);
    return rc;
}
