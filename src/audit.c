/*
 * audit: audit devices (see the header for the rules).
 */
#include "coffer/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coffer/barrier.h"
#include "coffer/hsm.h"
#include "coffer/log.h"
#include "coffer/storage.h"
#include "coffer/server.h"
#include "coffer/token.h"

#define CF_AUDIT_PATH        "core/audit"
#define CF_AUDIT_LABEL       "coffer/audit/"
#define CF_AUDIT_FD_DISCARD  (-1)
#define CF_AUDIT_FD_BROKEN   (-2)
#define CF_AUDIT_HASH_LEN    (12 + 64 + 1)   /* "hmac-sha256:" + hex */

typedef struct {
    char             *path;         /* "file/" */
    char             *type;
    char             *description;
    json_t           *options;      /* as enabled (string values) */
    bool              local;
    char              uuid[37];
    cf_hsm_id_t       key;          /* HMAC key on the token */
    char             *file_path;
    char             *prefix;       /* written before each line */
    bool              hmac_accessor;
    mode_t            mode;
    pthread_mutex_t   mu;           /* guards fd */
    int               fd;           /* or CF_AUDIT_FD_* */
} cf_audit_dev_t;

struct cf_audit_s {
    pthread_rwlock_t   lock;        /* guards devs and n */
    cf_audit_dev_t   **devs;
    size_t             n;
};

/* ---- devices ------------------------------------------------------------ */

/* Open (or reopen) the device's file; dev->mu held or not yet shared. */
static void
cf_audit_dev_open(cf_audit_dev_t *d)
{
    if (d->fd >= 0 && d->fd != STDOUT_FILENO)
        close(d->fd);
    if (strcmp(d->file_path, "discard") == 0) {
        d->fd = CF_AUDIT_FD_DISCARD;
        return;
    }
    if (strcmp(d->file_path, "stdout") == 0) {
        d->fd = STDOUT_FILENO;
        return;
    }
    d->fd = open(d->file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                 d->mode);
    if (d->fd < 0) {
        cf_log_error("audit", "device %s cannot open %s: %s", d->path,
                     d->file_path, strerror(errno));
        d->fd = CF_AUDIT_FD_BROKEN;
    }
}

static void
cf_audit_dev_free(cf_audit_dev_t *d)
{
    if (d == NULL)
        return;
    if (d->fd >= 0 && d->fd != STDOUT_FILENO)
        close(d->fd);
    pthread_mutex_destroy(&d->mu);
    free(d->path);
    free(d->type);
    free(d->description);
    free(d->file_path);
    free(d->prefix);
    json_decref(d->options);
    free(d);
}

/* One string option ("" when absent). */
static const char *
cf_audit_opt(const json_t *options, const char *name)
{
    const char  *s = json_string_value(json_object_get(options, name));

    return s != NULL ? s : "";
}

/* Check the options and fill d from them; *why on CF_ERR_INVALID. */
static cf_err_t
cf_audit_dev_config(cf_audit_dev_t *d, const json_t *options,
                    const char **why)
{
    const char  *key, *fp, *hm, *mode, *raw, *fmt;
    json_t      *v;
    char        *end;
    long         m;

    json_object_foreach((json_t *) options, key, v) {
        if (!json_is_string(v)) {
            *why = "audit options must be strings";
            return CF_ERR_INVALID;
        }
        if (strcmp(key, "file_path") != 0 && strcmp(key, "path") != 0
            && strcmp(key, "log_raw") != 0
            && strcmp(key, "hmac_accessor") != 0
            && strcmp(key, "mode") != 0 && strcmp(key, "format") != 0
            && strcmp(key, "prefix") != 0 && strcmp(key, "elide_list_responses")
            != 0) {
            *why = "unknown audit option";
            return CF_ERR_INVALID;
        }
    }
    fp = cf_audit_opt(options, "file_path");
    if (*fp == '\0')
        fp = cf_audit_opt(options, "path");
    raw = cf_audit_opt(options, "log_raw");
    hm = cf_audit_opt(options, "hmac_accessor");
    mode = cf_audit_opt(options, "mode");
    fmt = cf_audit_opt(options, "format");
    if (*fp == '\0') {
        *why = "file_path is required";
        return CF_ERR_INVALID;
    }
    if (strcmp(raw, "true") == 0 || strcmp(raw, "1") == 0) {
        *why = "log_raw is not supported: secrets never reach a log";
        return CF_ERR_INVALID;
    }
    if (*fmt != '\0' && strcmp(fmt, "json") != 0) {
        *why = "format must be json";
        return CF_ERR_INVALID;
    }
    m = 0600;
    if (*mode != '\0') {
        m = strtol(mode, &end, 8);
        if (*end != '\0' || m <= 0 || m > 0777) {
            *why = "mode must be an octal file mode such as 0600";
            return CF_ERR_INVALID;
        }
    }
    d->mode = (mode_t) m;
    d->hmac_accessor = strcmp(hm, "false") != 0 && strcmp(hm, "0") != 0;
    d->file_path = strdup(fp);
    d->prefix = strdup(cf_audit_opt(options, "prefix"));
    return d->file_path != NULL && d->prefix != NULL ? CF_OK
                                                     : CF_ERR_NOMEM;
}

/* A device from its stored record (key_id set) or a new one. */
static cf_err_t
cf_audit_dev_new(const json_t *rec, cf_audit_dev_t **out, const char **why)
{
    cf_audit_dev_t  *d;
    const char      *kid = json_string_value(json_object_get(rec,
                                                             "key_id"));
    const char      *uuid = json_string_value(json_object_get(rec, "uuid"));
    cf_err_t         rc;

    *out = NULL;
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return CF_ERR_NOMEM;
    pthread_mutex_init(&d->mu, NULL);
    d->fd = CF_AUDIT_FD_BROKEN;
    d->path = strdup(json_string_value(json_object_get(rec, "path")));
    d->type = strdup(json_string_value(json_object_get(rec, "type")));
    d->description = strdup(json_string_value(json_object_get(
                                rec, "description")));
    d->options = json_deep_copy(json_object_get(rec, "options"));
    d->local = json_is_true(json_object_get(rec, "local"));
    if (d->path == NULL || d->type == NULL || d->description == NULL
        || d->options == NULL) {
        cf_audit_dev_free(d);
        return CF_ERR_NOMEM;
    }
    if (uuid != NULL && strlen(uuid) == 36)
        memcpy(d->uuid, uuid, 37);
    if (kid != NULL && cf_hsm_id_parse(kid, &d->key) != CF_OK) {
        cf_audit_dev_free(d);
        return CF_ERR_INTEGRITY;
    }
    if ((rc = cf_audit_dev_config(d, d->options, why)) != CF_OK) {
        cf_audit_dev_free(d);
        return rc;
    }
    *out = d;
    return CF_OK;
}

static json_t *
cf_audit_dev_record(const cf_audit_dev_t *d)
{
    char  hex[2 * CF_HSM_ID_LEN + 1];

    cf_hsm_id_hex(&d->key, hex);
    return json_pack("{s:s, s:s, s:s, s:O, s:b, s:s, s:s}", "path", d->path,
                     "type", d->type, "description", d->description,
                     "options", d->options, "local", d->local, "uuid",
                     d->uuid, "key_id", hex);
}

/* Write the device list (a lock held). */
static cf_err_t
cf_audit_store(cf_server_t *srv)
{
    cf_audit_t  *a = srv->audit;
    json_t      *list = json_array(), *doc;
    size_t       i;
    cf_err_t     rc;

    if (list == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; i < a->n; i++)
        json_array_append_new(list, cf_audit_dev_record(a->devs[i]));
    if ((doc = json_pack("{s:o}", "devices", list)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_put_json(srv->barrier, CF_AUDIT_PATH, doc);
    json_decref(doc);
    return rc;
}

cf_err_t
cf_audit_new(cf_audit_t **out)
{
    cf_audit_t  *a;

    if ((a = calloc(1, sizeof(*a))) == NULL)
        return CF_ERR_NOMEM;
    pthread_rwlock_init(&a->lock, NULL);
    *out = a;
    return CF_OK;
}

static void
cf_audit_drop_all(cf_audit_t *a)
{
    size_t  i;

    for (i = 0; i < a->n; i++)
        cf_audit_dev_free(a->devs[i]);
    free(a->devs);
    a->devs = NULL;
    a->n = 0;
}

void
cf_audit_free(cf_audit_t *a)
{
    if (a == NULL)
        return;
    cf_audit_drop_all(a);
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

void
cf_audit_unload(cf_server_t *srv)
{
    pthread_rwlock_wrlock(&srv->audit->lock);
    cf_audit_drop_all(srv->audit);
    pthread_rwlock_unlock(&srv->audit->lock);
}

cf_err_t
cf_audit_load(cf_server_t *srv)
{
    cf_audit_t      *a = srv->audit;
    json_t          *doc = NULL, *rec;
    cf_audit_dev_t  *d, **devs;
    const char      *why = "";
    size_t           i, n;
    cf_err_t         rc;

    cf_audit_unload(srv);
    rc = cf_barrier_get_json(srv->barrier, CF_AUDIT_PATH, &doc);
    if (rc == CF_ERR_NOT_FOUND)
        return CF_OK;
    if (rc != CF_OK)
        return rc;
    n = json_array_size(json_object_get(doc, "devices"));
    if ((devs = calloc(n > 0 ? n : 1, sizeof(*devs))) == NULL) {
        json_decref(doc);
        return CF_ERR_NOMEM;
    }
    pthread_rwlock_wrlock(&a->lock);
    a->devs = devs;
    json_array_foreach(json_object_get(doc, "devices"), i, rec) {
        if ((rc = cf_audit_dev_new(rec, &d, &why)) != CF_OK) {
            cf_log_error("audit", "stored device %zu is unusable (%s)", i,
                         why);
            break;
        }
        cf_audit_dev_open(d);
        a->devs[a->n++] = d;
    }
    pthread_rwlock_unlock(&a->lock);
    json_decref(doc);
    return rc;
}

void
cf_audit_reopen(cf_server_t *srv)
{
    cf_audit_t  *a = srv->audit;
    size_t       i;

    pthread_rwlock_rdlock(&a->lock);
    for (i = 0; i < a->n; i++) {
        pthread_mutex_lock(&a->devs[i]->mu);
        cf_audit_dev_open(a->devs[i]);
        pthread_mutex_unlock(&a->devs[i]->mu);
    }
    pthread_rwlock_unlock(&a->lock);
    if (a->n > 0)
        cf_log_info("audit", "reopened %zu audit devices", a->n);
}

static cf_audit_dev_t *
cf_audit_find(cf_audit_t *a, const char *path, size_t *idx)
{
    size_t  i, n = strlen(path);

    for (i = 0; i < a->n; i++) {
        if (strncmp(a->devs[i]->path, path, n) == 0
            && (a->devs[i]->path[n] == '\0'
                || (a->devs[i]->path[n] == '/'
                    && a->devs[i]->path[n + 1] == '\0'))) {
            if (idx != NULL)
                *idx = i;
            return a->devs[i];
        }
    }
    return NULL;
}

cf_err_t
cf_audit_enable(cf_server_t *srv, const char *path, const char *type,
                const char *description, const json_t *options, bool local,
                char **errmsg)
{
    cf_audit_t      *a = srv->audit;
    cf_audit_dev_t  *d = NULL, **devs;
    json_t          *rec = NULL;
    char             label[128], full[256];
    const char      *why = "";
    cf_err_t         rc;

    *errmsg = NULL;
    if (strcmp(type, "file") != 0) {
        if (asprintf(errmsg, "unknown audit device type '%.32s' (only "
                     "\"file\")", type) < 0)
            *errmsg = NULL;
        return CF_ERR_INVALID;
    }
    snprintf(full, sizeof(full), "%s/", path);
    pthread_rwlock_wrlock(&a->lock);
    if (cf_audit_find(a, path, NULL) != NULL) {
        rc = CF_ERR_INVALID;
        why = "path already in use";
        goto out;
    }
    rec = json_pack("{s:s, s:s, s:s, s:o, s:b}", "path", full, "type",
                    type, "description", description, "options",
                    options != NULL ? json_deep_copy(options) : json_object(),
                    "local", local);
    if (rec == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_audit_dev_new(rec, &d, &why)) != CF_OK)
        goto out;
    cf_uuid_new(d->uuid);
    cf_audit_dev_open(d);
    if (d->fd == CF_AUDIT_FD_BROKEN) {
        rc = CF_ERR_INVALID;
        why = "sanity check failed; unable to open the audit file";
        goto out;
    }
    snprintf(label, sizeof(label), CF_AUDIT_LABEL "%s", d->uuid);
    if ((rc = cf_hsm_key_generate(srv->hsm, CF_HSM_KEY_HMAC256, label,
                                  &d->key)) != CF_OK)
        goto out;
    if ((devs = realloc(a->devs, (a->n + 1) * sizeof(*devs))) == NULL) {
        (void) cf_hsm_key_destroy(srv->hsm, &d->key);
        rc = CF_ERR_NOMEM;
        goto out;
    }
    a->devs = devs;
    a->devs[a->n++] = d;
    if ((rc = cf_audit_store(srv)) != CF_OK) {
        a->n--;
        (void) cf_hsm_key_destroy(srv->hsm, &d->key);
        goto out;
    }
    cf_log_info("audit", "enabled audit device %s (%s)", d->path,
                d->file_path);
    d = NULL;
out:
    pthread_rwlock_unlock(&a->lock);
    if (rc == CF_ERR_INVALID && *errmsg == NULL
        && (*errmsg = strdup(why)) == NULL)
        rc = CF_ERR_NOMEM;
    cf_audit_dev_free(d);
    json_decref(rec);
    return rc;
}

cf_err_t
cf_audit_disable(cf_server_t *srv, const char *path)
{
    cf_audit_t      *a = srv->audit;
    cf_audit_dev_t  *d;
    size_t           i;
    cf_err_t         rc;

    pthread_rwlock_wrlock(&a->lock);
    if ((d = cf_audit_find(a, path, &i)) == NULL) {
        pthread_rwlock_unlock(&a->lock);
        return CF_OK;                   /* Vault: disabling is idempotent */
    }
    memmove(&a->devs[i], &a->devs[i + 1], (a->n - i - 1) * sizeof(*d));
    a->n--;
    if ((rc = cf_audit_store(srv)) != CF_OK) {
        memmove(&a->devs[i + 1], &a->devs[i], (a->n - i) * sizeof(*d));
        a->devs[i] = d;
        a->n++;
        pthread_rwlock_unlock(&a->lock);
        return rc;
    }
    pthread_rwlock_unlock(&a->lock);
    /* The device list without it is on disk before its key goes. */
    if (cf_storage_sync(srv->store) == CF_OK)
        (void) cf_hsm_key_destroy(srv->hsm, &d->key);
    cf_log_info("audit", "disabled audit device %s", d->path);
    cf_audit_dev_free(d);
    return CF_OK;
}

json_t *
cf_audit_list(cf_server_t *srv)
{
    cf_audit_t  *a = srv->audit;
    json_t      *out = json_object();
    size_t       i;

    pthread_rwlock_rdlock(&a->lock);
    for (i = 0; out != NULL && i < a->n; i++)
        json_object_set_new(out, a->devs[i]->path, json_pack(
            "{s:s, s:s, s:O, s:b, s:s}", "type", a->devs[i]->type,
            "description", a->devs[i]->description, "options",
            a->devs[i]->options, "local", a->devs[i]->local, "path",
            a->devs[i]->path));
    pthread_rwlock_unlock(&a->lock);
    return out;
}

/* ---- hashing ------------------------------------------------------------- */

static cf_err_t
cf_audit_hmac(cf_server_t *srv, const cf_audit_dev_t *d, const char *s,
              char out[CF_AUDIT_HASH_LEN])
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      mac[32];
    size_t             i;
    cf_err_t           rc;

    if ((rc = cf_hsm_hmac_sha256(srv->hsm, &d->key, s, strlen(s), mac))
        != CF_OK)
        return rc;
    memcpy(out, "hmac-sha256:", 12);
    for (i = 0; i < 32; i++) {
        out[12 + 2 * i] = hex[mac[i] >> 4];
        out[13 + 2 * i] = hex[mac[i] & 15];
    }
    out[CF_AUDIT_HASH_LEN - 1] = '\0';
    return CF_OK;
}

cf_err_t
cf_audit_hash(cf_server_t *srv, const char *path, const char *input,
              char **out)
{
    cf_audit_dev_t  *d;
    char             h[CF_AUDIT_HASH_LEN];
    cf_err_t         rc;

    *out = NULL;
    pthread_rwlock_rdlock(&srv->audit->lock);
    d = cf_audit_find(srv->audit, path, NULL);
    rc = d == NULL ? CF_ERR_NOT_FOUND : cf_audit_hmac(srv, d, input, h);
    pthread_rwlock_unlock(&srv->audit->lock);
    if (rc == CF_OK && (*out = strdup(h)) == NULL)
        rc = CF_ERR_NOMEM;
    return rc;
}

/* The HMAC of s, remembered in memo (this request's strings for this
 * device: the token and accessor appear four times per request, and each
 * HMAC is a call to the token). */
static cf_err_t
cf_audit_hmac_memo(cf_server_t *srv, const cf_audit_dev_t *d, json_t *memo,
                   const char *s, char out[CF_AUDIT_HASH_LEN])
{
    const char  *m = json_string_value(json_object_get(memo, s));
    cf_err_t     rc;

    if (m != NULL && strlen(m) == CF_AUDIT_HASH_LEN - 1) {
        memcpy(out, m, CF_AUDIT_HASH_LEN);
        return CF_OK;
    }
    if ((rc = cf_audit_hmac(srv, d, s, out)) != CF_OK)
        return rc;
    if (memo != NULL)
        json_object_set_new(memo, s, json_string(out));
    return CF_OK;
}

/* Replace every string in v (recursively) by its HMAC, in place. */
static cf_err_t
cf_audit_hash_tree(cf_server_t *srv, const cf_audit_dev_t *d, json_t *memo,
                   json_t *v, unsigned depth)
{
    char         h[CF_AUDIT_HASH_LEN];
    const char  *key;
    json_t      *c;
    size_t       i;
    cf_err_t     rc = CF_OK;

    if (depth > 64)
        return CF_ERR_INVALID;
    if (json_is_object(v)) {
        json_object_foreach(v, key, c) {
            if (json_is_string(c)) {
                if ((rc = cf_audit_hmac_memo(srv, d, memo,
                                             json_string_value(c), h))
                    != CF_OK)
                    return rc;
                json_object_set_new(v, key, json_string(h));
            } else if ((rc = cf_audit_hash_tree(srv, d, memo, c, depth + 1))
                       != CF_OK) {
                return rc;
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            if (json_is_string(c)) {
                if ((rc = cf_audit_hmac_memo(srv, d, memo,
                                             json_string_value(c), h))
                    != CF_OK)
                    return rc;
                json_array_set_new(v, i, json_string(h));
            } else if ((rc = cf_audit_hash_tree(srv, d, memo, c, depth + 1))
                       != CF_OK) {
                return rc;
            }
        }
    }
    return rc;
}

/* Hash obj[key] when it is a non-empty string. */
static cf_err_t
cf_audit_hash_field(cf_server_t *srv, const cf_audit_dev_t *d, json_t *memo,
                    json_t *obj, const char *key)
{
    const char  *s = json_string_value(json_object_get(obj, key));
    char         h[CF_AUDIT_HASH_LEN];
    cf_err_t     rc;

    if (s == NULL || *s == '\0')
        return CF_OK;
    if ((rc = cf_audit_hmac_memo(srv, d, memo, s, h)) != CF_OK)
        return rc;
    return json_object_set_new(obj, key, json_string(h)) == 0
           ? CF_OK : CF_ERR_NOMEM;
}

/* The device's copy of an entry: every secret replaced by its HMAC. */
static cf_err_t
cf_audit_hash_entry(cf_server_t *srv, const cf_audit_dev_t *d,
                    json_t *memos, const json_t *entry, json_t **out)
{
    json_t    *e = json_deep_copy(entry), *auth, *rq, *rs, *o, *memo;
    cf_err_t   rc = CF_OK;

    *out = NULL;
    if (e == NULL)
        return CF_ERR_NOMEM;
    if ((memo = json_object_get(memos, d->uuid)) == NULL && memos != NULL
        && (memo = json_object()) != NULL)
        json_object_set_new(memos, d->uuid, memo);
    auth = json_object_get(e, "auth");
    rq = json_object_get(e, "request");
    rs = json_object_get(e, "response");
    if ((rc = cf_audit_hash_field(srv, d, memo, auth, "client_token")) != CF_OK
        || (d->hmac_accessor
            && (rc = cf_audit_hash_field(srv, d, memo, auth, "accessor"))
               != CF_OK)
        || (rc = cf_audit_hash_field(srv, d, memo, rq, "client_token")) != CF_OK
        || (d->hmac_accessor
            && (rc = cf_audit_hash_field(srv, d, memo, rq,
                                         "client_token_accessor"))
               != CF_OK)
        || (rc = cf_audit_hash_tree(srv, d, memo, json_object_get(rq, "data"), 0))
           != CF_OK)
        goto out;
    if (rs != NULL) {
        if ((rc = cf_audit_hash_tree(srv, d, memo, json_object_get(rs, "data"), 0))
            != CF_OK)
            goto out;
        o = json_object_get(rs, "auth");
        if ((rc = cf_audit_hash_field(srv, d, memo, o, "client_token")) != CF_OK
            || (d->hmac_accessor
                && (rc = cf_audit_hash_field(srv, d, memo, o, "accessor"))
                   != CF_OK))
            goto out;
        o = json_object_get(rs, "wrap_info");
        if ((rc = cf_audit_hash_field(srv, d, memo, o, "token")) != CF_OK
            || (d->hmac_accessor
                && ((rc = cf_audit_hash_field(srv, d, memo, o, "accessor"))
                    != CF_OK
                    || (rc = cf_audit_hash_field(srv, d, memo, o,
                                                 "wrapped_accessor"))
                       != CF_OK)))
            goto out;
    }
out:
    if (rc != CF_OK)
        json_decref(e);
    else
        *out = e;
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

static bool
cf_audit_write(cf_audit_dev_t *d, const char *line, size_t len)
{
    size_t   done = 0;
    ssize_t  w;
    bool     ok = true;

    pthread_mutex_lock(&d->mu);
    if (d->fd == CF_AUDIT_FD_DISCARD) {
        pthread_mutex_unlock(&d->mu);
        return true;
    }
    if (d->fd < 0)
        ok = false;
    while (ok && done < len) {
        w = write(d->fd, line + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            ok = false;
        else
            done += (size_t) w;
    }
    pthread_mutex_unlock(&d->mu);
    return ok;
}

/* Hash and write entry to every device; CF_OK when no device is enabled
 * or at least one wrote it. */
static cf_err_t
cf_audit_emit(cf_server_t *srv, json_t *memos, const json_t *entry)
{
    cf_audit_t  *a = srv->audit;
    json_t      *e;
    char        *text, *line;
    size_t       i, ok = 0, tl, pl;

    pthread_rwlock_rdlock(&a->lock);
    if (a->n == 0) {
        pthread_rwlock_unlock(&a->lock);
        return CF_OK;
    }
    for (i = 0; i < a->n; i++) {
        if (cf_audit_hash_entry(srv, a->devs[i], memos, entry, &e) != CF_OK)
            continue;
        text = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        if (text == NULL)
            continue;
        tl = strlen(text);
        pl = strlen(a->devs[i]->prefix);
        if ((line = malloc(pl + tl + 2)) != NULL) {
            memcpy(line, a->devs[i]->prefix, pl);
            memcpy(line + pl, text, tl);
            line[pl + tl] = '\n';
            if (cf_audit_write(a->devs[i], line, pl + tl + 1))
                ok++;
            else
                cf_log_error("audit", "device %s could not write an entry: "
                             "%s", a->devs[i]->path, strerror(errno));
            free(line);
        }
        cf_mem_free(text);
    }
    pthread_rwlock_unlock(&a->lock);
    return ok > 0 ? CF_OK : CF_ERR_UNAVAILABLE;
}

/* ---- entries ------------------------------------------------------------- */

/* No device enabled: nothing to build. */
static bool
cf_audit_idle(cf_server_t *srv)
{
    size_t  n;

    pthread_rwlock_rdlock(&srv->audit->lock);
    n = srv->audit->n;
    pthread_rwlock_unlock(&srv->audit->lock);
    return n == 0;
}

/* The fields every entry of this request has (plaintext; hashed per
 * device). */
static json_t *
cf_audit_base(cf_req_t *req, const char *type)
{
    const json_t     *te = req->token != NULL ? req->token->entry : NULL;
    json_t           *e, *auth = json_object(), *rq;
    struct timespec   ts;
    char              when[40];
    const char       *acc;

    clock_gettime(CLOCK_REALTIME, &ts);
    cf_time_rfc3339(&ts, when);
    acc = te != NULL ? json_string_value(json_object_get(te, "accessor"))
                     : NULL;
    if (auth != NULL && te != NULL) {
        json_object_set_new(auth, "client_token",
                            json_string(req->client_token != NULL
                                        ? req->client_token : ""));
        json_object_set_new(auth, "accessor", json_string(acc ? acc : ""));
        json_object_set(auth, "display_name",
                        json_object_get(te, "display_name"));
        json_object_set(auth, "policies", json_object_get(te, "policies"));
        json_object_set(auth, "token_policies",
                        json_object_get(te, "policies"));
        json_object_set(auth, "metadata", json_object_get(te, "meta"));
        json_object_set(auth, "entity_id", json_object_get(te,
                                                           "entity_id"));
        json_object_set_new(auth, "token_type", json_string("service"));
    }
    rq = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:O, s:s, s:I}",
                   "id", req->request_id,
                   "operation", cf_op_name(req->op),
                   "client_token", req->client_token != NULL
                                   ? req->client_token : "",
                   "client_token_accessor", acc != NULL ? acc : "",
                   "namespace", "id", "root",
                   "path", req->path,
                   "data", req->body != NULL && json_object_size(req->body)
                           ? req->body : json_null(),
                   "remote_address", cf_req_remote_addr(req),
                   "wrap_ttl", (json_int_t) req->wrap_ttl);
    e = json_pack("{s:s, s:s, s:o, s:o}", "time", when, "type", type,
                  "auth", auth != NULL ? auth : json_null(), "request",
                  rq != NULL ? rq : json_null());
    return e;
}

cf_err_t
cf_audit_log_request(cf_req_t *req)
{
    json_t    *e;
    cf_err_t   rc;

    if (cf_audit_idle(req->srv))
        return CF_OK;
    if (req->audit_memo == NULL)
        req->audit_memo = json_object();
    if ((e = cf_audit_base(req, "request")) == NULL)
        rc = CF_ERR_NOMEM;
    else
        rc = cf_audit_emit(req->srv, req->audit_memo, e);
    json_decref(e);
    if (rc != CF_OK)
        return cf_req_fail(req, CF_ERR_INTERNAL, "failed to audit the "
                           "request: no audit device could log it");
    return CF_OK;
}

cf_err_t
cf_audit_log_response(cf_req_t *req)
{
    json_t    *e, *rs, *r = req->resp;
    cf_err_t   rc;

    if (cf_audit_idle(req->srv))
        return CF_OK;
    if ((e = cf_audit_base(req, "response")) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    rs = json_pack("{s:O, s:O, s:O, s:O}",
                   "data", json_is_object(r) && json_object_get(r, "data")
                           ? json_object_get(r, "data") : json_null(),
                   "auth", json_is_object(r) && json_object_get(r, "auth")
                           ? json_object_get(r, "auth") : json_null(),
                   "wrap_info", json_is_object(r)
                                && json_object_get(r, "wrap_info")
                                ? json_object_get(r, "wrap_info")
                                : json_null(),
                   "warnings", req->warnings != NULL ? req->warnings
                                                     : json_null());
    if (rs == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    json_object_set_new(e, "response", rs);
    if (json_is_string(json_array_get(req->errors, 0)))
        json_object_set(e, "error", json_array_get(req->errors, 0));
    if (req->audit_memo == NULL)
        req->audit_memo = json_object();
    rc = cf_audit_emit(req->srv, req->audit_memo, e);
out:
    json_decref(e);
    if (rc != CF_OK) {
        /* The change happened, but its response was not audited: do not
         * release it. */
        json_decref(req->resp);
        req->resp = NULL;
        free(req->raw);
        req->raw = NULL;
        return cf_req_fail(req, CF_ERR_INTERNAL, "failed to audit the "
                           "response: no audit device could log it");
    }
    return CF_OK;
}
