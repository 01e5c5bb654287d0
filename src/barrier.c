/*
 * barrier: AES-256-GCM on the token for every storage entry.
 *
 * Entry: version(1)=1 | term(4, BE) | iv(12) | ct || tag(16); AAD = path.
 * The keyring (term -> CKA_ID, install time) lives at "core/keyring" as
 * an entry under the newest term. While unsealed it is kept in memory as
 * an array ascending by term, its last element being the current term.
 */
#include "coffer/barrier.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/barrier_cache.h"
#include "coffer/log.h"

#define CF_BARRIER_VERSION      1
#define CF_BARRIER_HDR          (1 + 4 + CF_HSM_GCM_IV)
#define CF_BARRIER_OVERHEAD     (CF_BARRIER_HDR + CF_HSM_GCM_TAG)
#define CF_BARRIER_PATH_MAX     4096
#define CF_BARRIER_KEYRING      "core/keyring"
#define CF_BARRIER_LABEL        "coffer-barrier"
/* "<key_label>/<u32>" must fit: cf_barrier_new keeps key_label at most
 * CF_BARRIER_LABEL_MAX - 12 bytes ('/', 10 digits, NUL). */
#define CF_BARRIER_LABEL_MAX    256
/* Settings entries on hot paths are few (roles, issuers, configs per
 * mount); the bound only keeps a pathological mount table in check. */
#define CF_BARRIER_CACHE_MAX    4096

typedef struct {
    uint32_t              term;
    cf_hsm_id_t           id;
    time_t                install_time;
    atomic_uint_fast64_t  encryptions;  /* since unseal; atomic because
                                         * puts bump it under the read
                                         * lock */
} cf_barrier_term_t;

struct cf_barrier_s {
    cf_storage_t       *store;          /* borrowed */
    cf_hsm_t           *hsm;            /* borrowed */
    char               *label;

    /* Serialises rotations. Held across HSM key generation and the
     * keyring write on purpose: that is what it exists to serialise.
     * Taken before `lock`. */
    pthread_mutex_t     rotate_lock;

    /* Guards terms, nterms and sealed. Readers (get/put/...) hold it only
     * to copy a term's id; no HSM or storage I/O happens under it. */
    pthread_rwlock_t    lock;
    cf_barrier_term_t  *terms;
    size_t              nterms;
    bool                sealed;

    /* Decrypted settings entries (cf_barrier_get_cached); every write
     * and delete below forgets what it changed, sealing forgets all. */
    cf_bcache_t        *cache;
};

cf_err_t
cf_barrier_new(cf_storage_t *store, cf_hsm_t *hsm, const char *key_label,
               cf_barrier_t **out)
{
    cf_barrier_t  *b;

    *out = NULL;
    if (store == NULL || hsm == NULL)
        return CF_ERR_INVALID;
    if (key_label == NULL)
        key_label = CF_BARRIER_LABEL;
    if (*key_label == '\0' || strlen(key_label) > CF_BARRIER_LABEL_MAX - 12)
        return CF_ERR_INVALID;
    if ((b = calloc(1, sizeof(*b))) == NULL)
        return CF_ERR_NOMEM;
    if ((b->label = strdup(key_label)) == NULL
        || cf_bcache_new(CF_BARRIER_CACHE_MAX, &b->cache) != CF_OK) {
        free(b->label);
        free(b);
        return CF_ERR_NOMEM;
    }
    b->store = store;
    b->hsm = hsm;
    b->sealed = true;
    pthread_mutex_init(&b->rotate_lock, NULL);
    pthread_rwlock_init(&b->lock, NULL);
    *out = b;
    return CF_OK;
}

void
cf_barrier_free(cf_barrier_t *b)
{
    if (b == NULL)
        return;
    cf_barrier_seal(b);
    cf_bcache_free(b->cache);
    pthread_rwlock_destroy(&b->lock);
    pthread_mutex_destroy(&b->rotate_lock);
    free(b->label);
    free(b);
}

static cf_err_t
cf_barrier_check_path(const char *path, bool allow_empty)
{
    size_t  len;

    if (path == NULL)
        return CF_ERR_INVALID;
    len = strnlen(path, CF_BARRIER_PATH_MAX + 1);
    if (len > CF_BARRIER_PATH_MAX || (len == 0 && !allow_empty))
        return CF_ERR_INVALID;
    return CF_OK;
}

static void
cf_barrier_term_label(const cf_barrier_t *b, uint32_t term,
                      char buf[CF_BARRIER_LABEL_MAX])
{
    snprintf(buf, CF_BARRIER_LABEL_MAX, "%s/%lu", b->label,
             (unsigned long) term);
}

/* One opaque failure for anything wrong with a stored entry; the path is
 * logged, never the data. */
static cf_err_t
cf_barrier_integrity(const char *path, const char *why)
{
    cf_log_error("barrier", "entry '%s' failed integrity check: %s", path,
                 why);
    return CF_ERR_INTEGRITY;
}

/* Encrypt data under (term, id) into a new entry. */
static cf_err_t
cf_barrier_seal_entry(cf_barrier_t *b, uint32_t term, const cf_hsm_id_t *id,
                      const char *path, const void *data, size_t len,
                      cf_buf_t **out)
{
    cf_buf_t       *e = NULL;
    unsigned char  *p;
    size_t          ct_len = 0;
    cf_err_t        rc;

    *out = NULL;
    if (len > SIZE_MAX - CF_BARRIER_OVERHEAD - 1)
        return CF_ERR_TOO_LARGE;
    if ((e = cf_buf_new(CF_BARRIER_OVERHEAD + len + 1)) == NULL)
        return CF_ERR_NOMEM;
    p = e->data;
    p[0] = CF_BARRIER_VERSION;
    p[1] = (unsigned char) (term >> 24);
    p[2] = (unsigned char) (term >> 16);
    p[3] = (unsigned char) (term >> 8);
    p[4] = (unsigned char) term;
    /* A fresh 96-bit random IV per entry: the token never makes one. */
    if ((rc = cf_hsm_random(b->hsm, p + 5, CF_HSM_GCM_IV)) != CF_OK)
        goto out;
    rc = cf_hsm_gcm_encrypt(b->hsm, id, p + 5, path, strlen(path),
                            data != NULL ? data : "", len,
                            p + CF_BARRIER_HDR, &ct_len);
    if (rc != CF_OK)
        goto out;
    if (ct_len != len + CF_HSM_GCM_TAG) {
        cf_log_error("barrier", "encrypt '%s': unexpected length", path);
        rc = CF_ERR_HSM;
        goto out;
    }
    e->len = CF_BARRIER_HDR + ct_len;
    *out = e;
    e = NULL;
out:
    cf_buf_free(e);
    return rc;
}

/* Header of a raw entry: its term, or INTEGRITY for a short or unknown
 * version entry. */
static cf_err_t
cf_barrier_entry_term(const char *path, const cf_buf_t *raw, uint32_t *term)
{
    const unsigned char  *p = raw->data;

    if (raw->len < CF_BARRIER_OVERHEAD)
        return cf_barrier_integrity(path, "too short");
    if (p[0] != CF_BARRIER_VERSION)
        return cf_barrier_integrity(path, "unknown version");
    *term = (uint32_t) p[1] << 24 | (uint32_t) p[2] << 16
            | (uint32_t) p[3] << 8 | (uint32_t) p[4];
    return CF_OK;
}

/* Decrypt a raw entry whose header was checked with id. */
static cf_err_t
cf_barrier_open_entry(cf_barrier_t *b, const cf_hsm_id_t *id,
                      const char *path, const cf_buf_t *raw, cf_buf_t **out)
{
    cf_buf_t  *pt = NULL;
    size_t     ct_len = raw->len - CF_BARRIER_HDR, pt_len = 0;
    cf_err_t   rc;

    *out = NULL;
    /* SoftHSM wants room for ct_len bytes; +1 for a trailing NUL. */
    if ((pt = cf_buf_new(ct_len + 1)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_hsm_gcm_decrypt(b->hsm, id, raw->data + 5, path, strlen(path),
                            raw->data + CF_BARRIER_HDR, ct_len, pt->data,
                            &pt_len);
    if (rc == CF_ERR_CRYPTO || rc == CF_ERR_INVALID) {
        rc = cf_barrier_integrity(path, "does not decrypt");
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    if (pt_len != ct_len - CF_HSM_GCM_TAG) {
        rc = cf_barrier_integrity(path, "unexpected length");
        goto out;
    }
    pt->len = pt_len;
    pt->data[pt_len] = '\0';        /* convenient for JSON; not counted */
    *out = pt;
    pt = NULL;
out:
    cf_buf_free(pt);
    return rc;
}

/* ---- keyring ----------------------------------------------------------- */

/* Serialise terms[0..n) to JSON bytes (plain malloc'd buffer). */
static cf_err_t
cf_barrier_keyring_dump(const cf_barrier_t *b, const cf_barrier_term_t *terms,
                        size_t n, cf_buf_t **out)
{
    json_t    *doc = NULL, *arr, *t;
    char       hex[2 * CF_HSM_ID_LEN + 1], label[CF_BARRIER_LABEL_MAX];
    size_t     i, need;
    cf_buf_t  *buf = NULL;
    cf_err_t   rc = CF_ERR_NOMEM;

    *out = NULL;
    if ((arr = json_array()) == NULL
        || (doc = json_pack("{s:o}", "terms", arr)) == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        cf_hsm_id_hex(&terms[i].id, hex);
        cf_barrier_term_label(b, terms[i].term, label);
        t = json_pack("{s:I, s:s, s:s, s:I}", "term",
                      (json_int_t) terms[i].term, "key_id", hex,
                      "label", label, "install_time",
                      (json_int_t) terms[i].install_time);
        if (t == NULL || json_array_append_new(arr, t) != 0)
            goto out;
    }
    /* json_dumpb writes into our buffer: no allocator mismatch. */
    need = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    if (need == 0 || (buf = cf_buf_new(need + 1)) == NULL)
        goto out;
    buf->len = json_dumpb(doc, (char *) buf->data, need, JSON_COMPACT);
    if (buf->len != need)
        goto out;
    *out = buf;
    buf = NULL;
    rc = CF_OK;
out:
    cf_buf_free(buf);
    json_decref(doc);
    return rc;
}

/* Parse keyring JSON into a new array ascending by term. INTEGRITY for
 * anything malformed. *out freed with free(). */
static cf_err_t
cf_barrier_keyring_parse(const cf_buf_t *pt, cf_barrier_term_t **out,
                         size_t *nout)
{
    json_t             *doc, *arr, *t;
    json_error_t        jerr;
    json_int_t          term, when;
    const char         *hex;
    cf_barrier_term_t  *terms = NULL;
    size_t              i, n;
    cf_err_t            rc = CF_ERR_INTEGRITY;

    *out = NULL;
    *nout = 0;
    doc = json_loadb((const char *) pt->data, pt->len, 0, &jerr);
    arr = json_object_get(doc, "terms");
    n = json_array_size(arr);
    if (n == 0)
        goto out;
    if ((terms = calloc(n, sizeof(*terms))) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    json_array_foreach(arr, i, t) {
        if (json_unpack(t, "{s:I, s:s, s:I}", "term", &term, "key_id", &hex,
                        "install_time", &when) != 0
            || term < 1 || term > (json_int_t) UINT32_MAX
            || (i > 0 && (uint32_t) term <= terms[i - 1].term)
            || cf_hsm_id_parse(hex, &terms[i].id) != CF_OK)
            goto out;
        terms[i].term = (uint32_t) term;
        terms[i].install_time = (time_t) when;
        atomic_init(&terms[i].encryptions, 0);
    }
    *out = terms;
    *nout = n;
    terms = NULL;
    rc = CF_OK;
out:
    if (rc == CF_ERR_INTEGRITY)
        cf_barrier_integrity(CF_BARRIER_KEYRING, "keyring does not parse");
    free(terms);
    json_decref(doc);
    return rc;
}

/* Write terms[0..n) as the keyring, encrypted under terms[n-1]. */
static cf_err_t
cf_barrier_keyring_write(cf_barrier_t *b, const cf_barrier_term_t *terms,
                         size_t n)
{
    cf_buf_t  *js = NULL, *e = NULL;
    cf_err_t   rc;

    if ((rc = cf_barrier_keyring_dump(b, terms, n, &js)) != CF_OK)
        goto out;
    rc = cf_barrier_seal_entry(b, terms[n - 1].term, &terms[n - 1].id,
                               CF_BARRIER_KEYRING, js->data, js->len, &e);
    if (rc != CF_OK)
        goto out;
    rc = cf_storage_put(b->store, CF_BARRIER_KEYRING, e->data, e->len);
out:
    cf_buf_free(js);
    cf_buf_free(e);
    return rc;
}

/* Replace the in-memory keyring (taking terms) and unseal. */
static void
cf_barrier_install(cf_barrier_t *b, cf_barrier_term_t *terms, size_t n)
{
    cf_barrier_term_t  *old;

    pthread_rwlock_wrlock(&b->lock);
    old = b->terms;
    b->terms = terms;
    b->nterms = n;
    b->sealed = false;
    pthread_rwlock_unlock(&b->lock);
    free(old);
}

cf_err_t
cf_barrier_initialize(cf_barrier_t *b, bool generate_key)
{
    char                label[CF_BARRIER_LABEL_MAX];
    cf_barrier_term_t  *terms = NULL;
    bool                made = false;
    cf_err_t            rc;

    cf_barrier_term_label(b, 1, label);
    if ((terms = calloc(1, sizeof(*terms))) == NULL)
        return CF_ERR_NOMEM;
    terms[0].term = 1;
    terms[0].install_time = time(NULL);
    atomic_init(&terms[0].encryptions, 1);      /* the keyring itself */
    if (generate_key) {
        rc = cf_hsm_key_generate(b->hsm, CF_HSM_KEY_AES256, label,
                                 &terms[0].id);
        made = rc == CF_OK;
    } else {
        rc = cf_hsm_key_find(b->hsm, label, &terms[0].id);
        if (rc == CF_ERR_NOT_FOUND)
            cf_log_error("barrier", "no key labelled '%s' on the token "
                         "(generate_key is false)", label);
    }
    if (rc != CF_OK)
        goto out;
    if ((rc = cf_barrier_keyring_write(b, terms, 1)) != CF_OK) {
        /* Do not leave an unreferenced key behind. */
        if (made)
            cf_hsm_key_destroy(b->hsm, &terms[0].id);
        goto out;
    }
    cf_barrier_install(b, terms, 1);
    terms = NULL;
    cf_log_info("barrier", "initialised with key '%s'", label);
out:
    free(terms);
    return rc;
}

cf_err_t
cf_barrier_unseal(cf_barrier_t *b)
{
    char                label[CF_BARRIER_LABEL_MAX];
    cf_buf_t           *raw = NULL, *pt = NULL;
    cf_barrier_term_t  *terms = NULL;
    cf_hsm_id_t         id;
    uint32_t            term;
    size_t              n = 0;
    cf_err_t            rc;

    rc = cf_storage_get(b->store, CF_BARRIER_KEYRING, &raw);
    if (rc != CF_OK)
        goto out;
    if ((rc = cf_barrier_entry_term(CF_BARRIER_KEYRING, raw, &term))
        != CF_OK)
        goto out;
    cf_barrier_term_label(b, term, label);
    rc = cf_hsm_key_find(b->hsm, label, &id);
    if (rc == CF_ERR_NOT_FOUND) {
        /* Not "uninitialised": the data exists, its key does not. */
        cf_log_error("barrier", "keyring is under term %lu but no key "
                     "labelled '%s' is on the token", (unsigned long) term,
                     label);
        rc = CF_ERR_INTEGRITY;
    }
    if (rc != CF_OK)
        goto out;
    if ((rc = cf_barrier_open_entry(b, &id, CF_BARRIER_KEYRING, raw, &pt))
        != CF_OK
        || (rc = cf_barrier_keyring_parse(pt, &terms, &n)) != CF_OK)
        goto out;
    /* The keyring is written under its newest term, and that term's key
     * must be the object we found by label. */
    if (terms[n - 1].term != term
        || CRYPTO_memcmp(terms[n - 1].id.b, id.b, CF_HSM_ID_LEN) != 0) {
        rc = cf_barrier_integrity(CF_BARRIER_KEYRING,
                                  "key id or term does not match the token");
        goto out;
    }
    cf_barrier_install(b, terms, n);
    terms = NULL;
out:
    free(terms);
    cf_buf_free(raw);
    cf_buf_free(pt);
    return rc;
}

void
cf_barrier_seal(cf_barrier_t *b)
{
    cf_barrier_term_t  *old;

    pthread_rwlock_wrlock(&b->lock);
    old = b->terms;
    b->terms = NULL;
    b->nterms = 0;
    b->sealed = true;
    pthread_rwlock_unlock(&b->lock);
    free(old);
    cf_bcache_clear(b->cache);
}

bool
cf_barrier_sealed(cf_barrier_t *b)
{
    bool  sealed;

    pthread_rwlock_rdlock(&b->lock);
    sealed = b->sealed;
    pthread_rwlock_unlock(&b->lock);
    return sealed;
}

/* Key id of `term` (0 = current, counting one encryption). SEALED, or
 * NOT_FOUND for a term not in the keyring. */
static cf_err_t
cf_barrier_term_id(cf_barrier_t *b, uint32_t *term, cf_hsm_id_t *id)
{
    cf_barrier_term_t  *t = NULL;
    size_t              i;
    cf_err_t            rc = CF_ERR_NOT_FOUND;

    pthread_rwlock_rdlock(&b->lock);
    if (b->sealed) {
        rc = CF_ERR_SEALED;
    } else if (*term == 0) {
        t = &b->terms[b->nterms - 1];
        atomic_fetch_add(&t->encryptions, 1);
    } else {
        for (i = 0; i < b->nterms && t == NULL; i++)
            if (b->terms[i].term == *term)
                t = &b->terms[i];
    }
    if (t != NULL) {
        *term = t->term;
        *id = t->id;
        rc = CF_OK;
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

static cf_err_t
cf_barrier_check_unsealed(cf_barrier_t *b)
{
    return cf_barrier_sealed(b) ? CF_ERR_SEALED : CF_OK;
}

cf_err_t
cf_barrier_get(cf_barrier_t *b, const char *path, cf_buf_t **out)
{
    cf_buf_t     *raw = NULL;
    cf_hsm_id_t   id;
    uint32_t      term;
    cf_err_t      rc;

    *out = NULL;
    if ((rc = cf_barrier_check_unsealed(b)) != CF_OK
        || (rc = cf_barrier_check_path(path, false)) != CF_OK
        || (rc = cf_storage_get(b->store, path, &raw)) != CF_OK
        || (rc = cf_barrier_entry_term(path, raw, &term)) != CF_OK)
        goto out;
    if (term == 0) {
        rc = cf_barrier_integrity(path, "term 0");
        goto out;
    }
    rc = cf_barrier_term_id(b, &term, &id);
    if (rc == CF_ERR_NOT_FOUND)
        rc = cf_barrier_integrity(path, "unknown term");
    if (rc != CF_OK)
        goto out;
    rc = cf_barrier_open_entry(b, &id, path, raw, out);
out:
    cf_buf_free(raw);
    return rc;
}

/* A cache miss: read path from storage and remember the answer, value or
 * absence, for the lookup that returned gen. */
static cf_err_t
cf_barrier_get_fill(cf_barrier_t *b, const char *path, uint64_t gen,
                    cf_buf_t **out)
{
    cf_err_t  rc = cf_barrier_get(b, path, out);

    if (rc == CF_OK)
        cf_bcache_fill(b->cache, path, (*out)->data, (*out)->len, gen);
    else if (rc == CF_ERR_NOT_FOUND)
        cf_bcache_fill(b->cache, path, NULL, 0, gen);
    return rc;
}

cf_err_t
cf_barrier_get_cached(cf_barrier_t *b, const char *path, cf_buf_t **out)
{
    uint64_t  gen;
    cf_err_t  rc;

    *out = NULL;
    if ((rc = cf_barrier_check_unsealed(b)) != CF_OK
        || (rc = cf_barrier_check_path(path, false)) != CF_OK)
        return rc;
    if (cf_bcache_lookup(b->cache, path, out, &gen))
        return *out != NULL ? CF_OK : CF_ERR_NOT_FOUND;
    return cf_barrier_get_fill(b, path, gen, out);
}

cf_err_t
cf_barrier_get_json_cached(cf_barrier_t *b, const char *path, json_t **out)
{
    cf_buf_t      *raw = NULL;
    json_error_t   jerr;
    uint64_t       gen;
    cf_err_t       rc;

    *out = NULL;
    if ((rc = cf_barrier_check_unsealed(b)) != CF_OK
        || (rc = cf_barrier_check_path(path, false)) != CF_OK)
        return rc;
    if (cf_bcache_lookup_json(b->cache, path, out, &gen))
        return *out != NULL ? CF_OK : CF_ERR_NOT_FOUND;
    if ((rc = cf_barrier_get_fill(b, path, gen, &raw)) != CF_OK)
        return rc;
    *out = json_loadb((const char *) raw->data, raw->len, 0, &jerr);
    cf_buf_free(raw);
    if (*out == NULL)
        return cf_barrier_integrity(path, "not JSON");
    return CF_OK;
}

cf_err_t
cf_barrier_put(cf_barrier_t *b, const char *path, const void *data,
               size_t len)
{
    cf_buf_t     *e = NULL;
    cf_hsm_id_t   id;
    uint32_t      term = 0;
    cf_err_t      rc;

    if ((rc = cf_barrier_check_path(path, false)) != CF_OK)
        return rc;
    if (data == NULL && len > 0)
        return CF_ERR_INVALID;
    if ((rc = cf_barrier_term_id(b, &term, &id)) != CF_OK
        || (rc = cf_barrier_seal_entry(b, term, &id, path, data, len, &e))
           != CF_OK)
        goto out;
    rc = cf_storage_put(b->store, path, e->data, e->len);
    cf_bcache_forget(b->cache, path);
out:
    cf_buf_free(e);
    return rc;
}

cf_err_t
cf_barrier_get_json(cf_barrier_t *b, const char *path, json_t **out)
{
    cf_buf_t      *raw = NULL;
    json_error_t   jerr;
    cf_err_t       rc;

    *out = NULL;
    if ((rc = cf_barrier_get(b, path, &raw)) != CF_OK)
        return rc;
    *out = json_loadb((const char *) raw->data, raw->len, 0, &jerr);
    cf_buf_free(raw);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        cf_log_error("barrier", "entry %s is not a JSON object", path);
        return CF_ERR_INTEGRITY;
    }
    return CF_OK;
}

cf_err_t
cf_barrier_put_json(cf_barrier_t *b, const char *path, const json_t *v)
{
    char      *s;
    cf_err_t   rc;

    if (v == NULL || (s = json_dumps(v, JSON_COMPACT)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_put(b, path, s, strlen(s));
    cf_mem_free(s);                     /* jansson's zeroing allocator */
    return rc;
}

cf_err_t
cf_barrier_put_many(cf_barrier_t *b, size_t n, const char *const *paths,
                    const void *const *data, const size_t *lens)
{
    cf_buf_t     **e;
    const void   **vals;
    size_t        *elens, i;
    cf_hsm_id_t    id;
    uint32_t       term = 0;
    cf_err_t       rc;

    if (n == 0)
        return CF_OK;
    e = calloc(n, sizeof(*e));
    vals = calloc(n, sizeof(*vals));
    elens = calloc(n, sizeof(*elens));
    if (e == NULL || vals == NULL || elens == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_barrier_term_id(b, &term, &id)) != CF_OK)
        goto out;
    for (i = 0; i < n; i++) {
        if ((rc = cf_barrier_check_path(paths[i], false)) != CF_OK
            || (data[i] == NULL && lens[i] > 0 && (rc = CF_ERR_INVALID))
            || (rc = cf_barrier_seal_entry(b, term, &id, paths[i], data[i],
                                           lens[i], &e[i])) != CF_OK)
            goto out;
        vals[i] = e[i]->data;
        elens[i] = e[i]->len;
    }
    rc = cf_storage_put_many(b->store, n, paths, vals, elens);
    for (i = 0; i < n; i++)
        cf_bcache_forget(b->cache, paths[i]);
out:
    for (i = 0; e != NULL && i < n; i++)
        cf_buf_free(e[i]);
    free(e);
    free(vals);
    free(elens);
    return rc;
}

cf_err_t
cf_barrier_delete(cf_barrier_t *b, const char *path)
{
    cf_err_t  rc;

    if ((rc = cf_barrier_check_unsealed(b)) != CF_OK
        || (rc = cf_barrier_check_path(path, false)) != CF_OK)
        return rc;
    rc = cf_storage_delete(b->store, path);
    cf_bcache_forget(b->cache, path);
    return rc;
}

cf_err_t
cf_barrier_delete_prefix(cf_barrier_t *b, const char *prefix)
{
    cf_err_t  rc;

    if ((rc = cf_barrier_check_unsealed(b)) != CF_OK
        || (rc = cf_barrier_check_path(prefix, false)) != CF_OK)
        return rc;
    rc = cf_storage_delete_prefix(b->store, prefix);
    cf_bcache_forget_prefix(b->cache, prefix);
    return rc;
}

cf_err_t
cf_barrier_list(cf_barrier_t *b, const char *prefix, cf_strlist_t **out)
{
    cf_err_t  rc;

    *out = NULL;
    if ((rc = cf_barrier_check_unsealed(b)) != CF_OK
        || (rc = cf_barrier_check_path(prefix, true)) != CF_OK)
        return rc;
    /* Paths are not secret: the listing comes straight from storage. */
    return cf_storage_list(b->store, prefix, out);
}

cf_err_t
cf_barrier_rotate(cf_barrier_t *b)
{
    char                label[CF_BARRIER_LABEL_MAX];
    cf_barrier_term_t  *next = NULL, *old = NULL;
    size_t              i, n = 0;
    cf_err_t            rc = CF_OK;

    pthread_mutex_lock(&b->rotate_lock);
    /* Only a rotation changes the terms, and we hold rotate_lock: the
     * snapshot below stays valid until we publish. */
    pthread_rwlock_rdlock(&b->lock);
    if (b->sealed)
        rc = CF_ERR_SEALED;
    else if (b->terms[b->nterms - 1].term == UINT32_MAX)
        rc = CF_ERR_INTERNAL;           /* logged below, outside the lock */
    else if ((next = calloc(b->nterms + 1, sizeof(*next))) == NULL)
        rc = CF_ERR_NOMEM;
    if (rc == CF_OK) {
        n = b->nterms;
        for (i = 0; i < n; i++) {
            next[i].term = b->terms[i].term;
            next[i].id = b->terms[i].id;
            next[i].install_time = b->terms[i].install_time;
        }
    }
    pthread_rwlock_unlock(&b->lock);
    if (rc == CF_ERR_INTERNAL)
        cf_log_error("barrier", "cannot rotate: term numbers exhausted");
    if (rc != CF_OK)
        goto out;
    next[n].term = next[n - 1].term + 1;
    next[n].install_time = time(NULL);
    atomic_init(&next[n].encryptions, 1);       /* the keyring itself */
    cf_barrier_term_label(b, next[n].term, label);
    rc = cf_hsm_key_generate(b->hsm, CF_HSM_KEY_AES256, label, &next[n].id);
    if (rc != CF_OK)
        goto out;
    if ((rc = cf_barrier_keyring_write(b, next, n + 1)) != CF_OK) {
        /* The stored keyring still names the old terms: drop the new
         * key and keep the old keyring. */
        cf_hsm_key_destroy(b->hsm, &next[n].id);
        goto out;
    }
    /* Publish; carry the live counters over. */
    pthread_rwlock_wrlock(&b->lock);
    for (i = 0; i < n; i++)
        atomic_init(&next[i].encryptions,
                    atomic_load(&b->terms[i].encryptions));
    old = b->terms;
    b->terms = next;
    b->nterms = n + 1;
    next = NULL;
    pthread_rwlock_unlock(&b->lock);
    cf_log_info("barrier", "rotated to key '%s'", label);
out:
    pthread_mutex_unlock(&b->rotate_lock);
    free(next);
    free(old);
    return rc;
}

cf_err_t
cf_barrier_key_status(cf_barrier_t *b, uint32_t *term, time_t *install_time,
                      uint64_t *encryptions)
{
    cf_barrier_term_t  *t;
    cf_err_t            rc = CF_ERR_SEALED;

    *term = 0;
    *install_time = 0;
    *encryptions = 0;
    pthread_rwlock_rdlock(&b->lock);
    if (!b->sealed) {
        t = &b->terms[b->nterms - 1];
        *term = t->term;
        *install_time = t->install_time;
        *encryptions = atomic_load(&t->encryptions);
        rc = CF_OK;
    }
    pthread_rwlock_unlock(&b->lock);
    return rc;
}

cf_err_t
cf_barrier_key_ids(cf_barrier_t *b, cf_strlist_t **out)
{
    cf_strlist_t  *l;
    char           hex[2 * CF_HSM_ID_LEN + 1];
    size_t         i;
    cf_err_t       rc = CF_ERR_SEALED;

    *out = NULL;
    if ((l = cf_strlist_new()) == NULL)
        return CF_ERR_NOMEM;
    pthread_rwlock_rdlock(&b->lock);
    if (!b->sealed) {
        rc = CF_OK;
        for (i = 0; i < b->nterms && rc == CF_OK; i++) {
            cf_hsm_id_hex(&b->terms[i].id, hex);
            rc = cf_strlist_add(l, hex);
        }
    }
    pthread_rwlock_unlock(&b->lock);
    if (rc == CF_OK) {
        *out = l;
        l = NULL;
    }
    cf_strlist_free(l);
    return rc;
}
