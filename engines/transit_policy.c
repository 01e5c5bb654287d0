/* transit_policy: transit key policies (stored JSON <-> parsed, immutable
 * and cached), key versions generated on the token, key read shape, and
 * the mount hooks. */
#include "transit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "coffer/barrier.h"
#include "coffer/log.h"
#include "coffer/storage.h"
#include "coffer/server.h"

static const cf_transit_type_info_t  cf_transit_types[] = {
    { "aes128-gcm96", CF_TRANSIT_AES128, true, false, false, 0, 16, NULL },
    { "aes256-gcm96", CF_TRANSIT_AES256, true, false, false, 0, 32, NULL },
    { "ecdsa-p256", CF_TRANSIT_ECDSA_P256, false, true, false,
      CF_HSM_PAIR_EC_P256, 0, "P-256" },
    { "ecdsa-p384", CF_TRANSIT_ECDSA_P384, false, true, false,
      CF_HSM_PAIR_EC_P384, 0, "P-384" },
    { "ecdsa-p521", CF_TRANSIT_ECDSA_P521, false, true, false,
      CF_HSM_PAIR_EC_P521, 0, "P-521" },
    { "ed25519", CF_TRANSIT_ED25519, false, true, false,
      CF_HSM_PAIR_ED25519, 0, "ed25519" },
    { "rsa-2048", CF_TRANSIT_RSA2048, false, true, true,
      CF_HSM_PAIR_RSA2048, 0, "rsa-2048" },
    { "rsa-3072", CF_TRANSIT_RSA3072, false, true, true,
      CF_HSM_PAIR_RSA3072, 0, "rsa-3072" },
    { "rsa-4096", CF_TRANSIT_RSA4096, false, true, true,
      CF_HSM_PAIR_RSA4096, 0, "rsa-4096" },
    { "hmac", CF_TRANSIT_HMAC, false, false, false, 0, 0, NULL },
};

const cf_transit_type_info_t *
cf_transit_type_find(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(cf_transit_types) / sizeof(cf_transit_types[0]);
         i++) {
        if (strcmp(cf_transit_types[i].name, name) == 0)
            return &cf_transit_types[i];
    }
    return NULL;
}

/* ---- the change mutex and the cache ------------------------------------- */

/* Process-wide because an engine has no per-mount state slot; entries are
 * keyed by mount uuid, so mounts never see each other's keys. */
#define CF_TRANSIT_BUCKETS  64

typedef struct cf_transit_centry_s {
    struct cf_transit_centry_s  *next;
    char                        *key;       /* "<uuid>/<name>" */
    uint64_t                     gen;       /* cf_hsm_generation at load */
    cf_transit_policy_t         *p;
} cf_transit_centry_t;

static pthread_mutex_t       cf_transit_change_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t      cf_transit_cache_lock =
                                 PTHREAD_RWLOCK_INITIALIZER;
static cf_transit_centry_t  *cf_transit_cache[CF_TRANSIT_BUCKETS];

void
cf_transit_lock(void)
{
    pthread_mutex_lock(&cf_transit_change_mu);
}

void
cf_transit_unlock(void)
{
    pthread_mutex_unlock(&cf_transit_change_mu);
}

static unsigned
cf_transit_hash(const char *s)
{
    unsigned  h = 2166136261u;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h % CF_TRANSIT_BUCKETS;
}

static void
cf_transit_policy_free(cf_transit_policy_t *p)
{
    unsigned  i;

    if (p == NULL)
        return;
    for (i = 0; p->vers != NULL && p->first + i <= p->latest; i++) {
        free(p->vers[i].pem);
        EVP_PKEY_free(p->vers[i].pub);
    }
    free(p->vers);
    free(p->name);
    free(p);
}

void
cf_transit_policy_put(cf_transit_policy_t *p)
{
    if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
        cf_transit_policy_free(p);
}

static char *
cf_transit_cache_key(const char *uuid, const char *name)
{
    size_t  n = strlen(uuid) + strlen(name) + 2;
    char   *k = malloc(n);

    if (k != NULL)
        snprintf(k, n, "%s/%s", uuid, name);
    return k;
}

static cf_transit_policy_t *
cf_transit_cache_get(const char *key, uint64_t gen)
{
    cf_transit_centry_t  *e;
    cf_transit_policy_t  *p = NULL;

    pthread_rwlock_rdlock(&cf_transit_cache_lock);
    for (e = cf_transit_cache[cf_transit_hash(key)]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            if (e->gen == gen) {
                p = e->p;
                atomic_fetch_add(&p->refs, 1);
            }
            break;
        }
    }
    pthread_rwlock_unlock(&cf_transit_cache_lock);
    return p;
}

/* Replace (or with p NULL, drop) the entry for key. Takes a reference. */
static void
cf_transit_cache_set(const char *key, uint64_t gen, cf_transit_policy_t *p)
{
    cf_transit_centry_t  **pp, *e, *n = NULL;
    cf_transit_policy_t   *old = NULL;

    if (p != NULL && (n = calloc(1, sizeof(*n))) != NULL) {
        if ((n->key = strdup(key)) == NULL) {
            free(n);
            n = NULL;
        } else {
            n->gen = gen;
            n->p = p;
            atomic_fetch_add(&p->refs, 1);
        }
    }
    pthread_rwlock_wrlock(&cf_transit_cache_lock);
    for (pp = &cf_transit_cache[cf_transit_hash(key)]; *pp != NULL;
         pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            e = *pp;
            *pp = e->next;
            old = e->p;
            free(e->key);
            free(e);
            break;
        }
    }
    if (n != NULL) {
        n->next = cf_transit_cache[cf_transit_hash(key)];
        cf_transit_cache[cf_transit_hash(key)] = n;
    }
    pthread_rwlock_unlock(&cf_transit_cache_lock);
    cf_transit_policy_put(old);
}

/* Drop every entry of mount uuid. */
static void
cf_transit_cache_drop_mount(const char *uuid)
{
    cf_transit_centry_t  **pp, *e, *dead = NULL;
    size_t                 i, n = strlen(uuid);

    pthread_rwlock_wrlock(&cf_transit_cache_lock);
    for (i = 0; i < CF_TRANSIT_BUCKETS; i++) {
        for (pp = &cf_transit_cache[i]; *pp != NULL;) {
            e = *pp;
            if (strncmp(e->key, uuid, n) == 0 && e->key[n] == '/') {
                *pp = e->next;
                e->next = dead;
                dead = e;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_rwlock_unlock(&cf_transit_cache_lock);
    while (dead != NULL) {
        e = dead;
        dead = e->next;
        cf_transit_policy_put(e->p);
        free(e->key);
        free(e);
    }
}

/* ---- JSON <-> policy ---------------------------------------------------- */

const cf_transit_ver_t *
cf_transit_ver(const cf_transit_policy_t *p, unsigned v)
{
    if (v < p->first || v > p->latest || v == 0)
        return NULL;
    return &p->vers[v - p->first];
}

static unsigned
cf_transit_json_uint(const json_t *o, const char *name)
{
    json_int_t  v = json_integer_value(json_object_get(o, name));

    return v > 0 && v < (json_int_t) 0x7fffffff ? (unsigned) v : 0;
}

static cf_err_t
cf_transit_policy_parse(const json_t *j, cf_transit_policy_t **out)
{
    cf_transit_policy_t  *p;
    const json_t         *vers, *ve;
    const char           *s;
    BIO                  *bio;
    char                  vk[16];
    unsigned              v;
    cf_err_t              rc = CF_ERR_INTEGRITY;

    *out = NULL;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return CF_ERR_NOMEM;
    atomic_init(&p->refs, 1);
    s = json_string_value(json_object_get(j, "name"));
    p->name = strdup(s != NULL ? s : "");
    s = json_string_value(json_object_get(j, "type"));
    if (p->name == NULL || s == NULL
        || (p->ti = cf_transit_type_find(s)) == NULL)
        goto out;
    p->derived = json_is_true(json_object_get(j, "derived"));
    p->convergent = json_is_true(json_object_get(j,
                                                 "convergent_encryption"));
    p->deletion_allowed = json_is_true(json_object_get(j,
                                                       "deletion_allowed"));
    p->imported = json_is_true(json_object_get(j, "imported"));
    p->allow_rotation = json_is_true(json_object_get(j, "allow_rotation"));
    p->key_size = cf_transit_json_uint(j, "key_size");
    p->latest = cf_transit_json_uint(j, "latest_version");
    p->min_dec = cf_transit_json_uint(j, "min_decryption_version");
    p->min_enc = cf_transit_json_uint(j, "min_encryption_version");
    p->min_avail = cf_transit_json_uint(j, "min_available_version");
    p->auto_rotate = json_integer_value(json_object_get(j,
                                                  "auto_rotate_period"));
    p->first = p->min_avail > 1 ? p->min_avail : 1;
    if (p->latest < p->first)
        goto out;
    p->vers = calloc(p->latest - p->first + 1, sizeof(*p->vers));
    if (p->vers == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    vers = json_object_get(j, "versions");
    for (v = p->first; v <= p->latest; v++) {
        cf_transit_ver_t  *x = &p->vers[v - p->first];

        snprintf(vk, sizeof(vk), "%u", v);
        ve = json_object_get(vers, vk);
        x->version = v;
        if (ve == NULL
            || cf_hsm_id_parse(json_string_value(json_object_get(ve,
                                                 "key_id")), &x->key)
               != CF_OK
            || cf_hsm_id_parse(json_string_value(json_object_get(ve,
                                                 "hmac_id")), &x->hmac)
               != CF_OK)
            goto out;
        x->ctime = json_integer_value(json_object_get(ve, "creation_time"));
        s = json_string_value(json_object_get(ve, "public_key"));
        if (p->ti->pair) {
            if (s == NULL || (x->pem = strdup(s)) == NULL)
                goto out;
            bio = BIO_new_mem_buf(s, -1);
            x->pub = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL,
                                                       NULL) : NULL;
            BIO_free(bio);
            if (x->pub == NULL)
                goto out;
        }
    }
    *out = p;
    p = NULL;
    rc = CF_OK;
out:
    if (rc == CF_ERR_INTEGRITY)
        cf_log_error("transit", "stored key policy does not parse");
    cf_transit_policy_free(p);
    return rc;
}

static char *
cf_transit_policy_path(const char *name)
{
    size_t  n = strlen(name) + sizeof("policy/");
    char   *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "policy/%s", name);
    return p;
}

cf_err_t
cf_transit_policy_load_json(cf_req_t *req, const char *name, json_t **out)
{
    char      *path = cf_transit_policy_path(name);
    cf_err_t   rc;

    *out = NULL;
    if (path == NULL)
        return CF_ERR_NOMEM;
    rc = cf_view_get_json(req, path, out);
    free(path);
    if (rc == CF_OK && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = CF_ERR_INTEGRITY;
    }
    return rc;
}

cf_err_t
cf_transit_policy_get(cf_req_t *req, const char *name,
                      cf_transit_policy_t **out)
{
    uint64_t              gen = cf_hsm_generation(req->srv->hsm);
    char                 *key;
    json_t               *j = NULL;
    cf_transit_policy_t  *p;
    cf_err_t              rc;

    *out = NULL;
    if ((key = cf_transit_cache_key(req->mount->uuid, name)) == NULL)
        return CF_ERR_NOMEM;
    if ((p = cf_transit_cache_get(key, gen)) != NULL) {
        *out = p;
        free(key);
        return CF_OK;
    }
    if ((rc = cf_transit_policy_load_json(req, name, &j)) == CF_OK
        && (rc = cf_transit_policy_parse(j, &p)) == CF_OK) {
        cf_transit_cache_set(key, gen, p);
        *out = p;
    }
    json_decref(j);
    free(key);
    return rc;
}

cf_err_t
cf_transit_policy_store_json(cf_req_t *req, const char *name, json_t *pol,
                             cf_transit_policy_t **out)
{
    uint64_t              gen = cf_hsm_generation(req->srv->hsm);
    cf_transit_policy_t  *p = NULL;
    char                 *path = NULL, *key = NULL;
    cf_err_t              rc;

    if (out != NULL)
        *out = NULL;
    if ((rc = cf_transit_policy_parse(pol, &p)) != CF_OK)
        return rc;
    path = cf_transit_policy_path(name);
    key = cf_transit_cache_key(req->mount->uuid, name);
    if (path == NULL || key == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_view_put_json(req, path, pol)) != CF_OK) {
        cf_transit_cache_set(key, 0, NULL);   /* state unknown: reload */
        goto out;
    }
    cf_transit_cache_set(key, gen, p);
    if (out != NULL) {
        *out = p;
        p = NULL;
    }
out:
    cf_transit_policy_put(p);
    free(path);
    free(key);
    return rc;
}

/* ---- token objects of a version ----------------------------------------- */

void
cf_transit_label(const cf_req_t *req, const char *name, unsigned v,
                 const char *suffix, char *buf, size_t len)
{
    snprintf(buf, len, "coffer/transit/%s/%s/%u%s%s", req->mount->uuid,
             name, v, suffix != NULL ? "/" : "", suffix != NULL ? suffix
                                                                : "");
}

char *
cf_transit_pem(EVP_PKEY *pkey)
{
    BIO      *bio = BIO_new(BIO_s_mem());
    char     *data, *s = NULL;
    long      n;

    if (bio == NULL)
        return NULL;
    if (PEM_write_bio_PUBKEY(bio, pkey) == 1
        && (n = BIO_get_mem_data(bio, &data)) > 0
        && (s = malloc((size_t) n + 1)) != NULL) {
        memcpy(s, data, (size_t) n);
        s[n] = '\0';
    }
    BIO_free(bio);
    return s;
}

static void
cf_transit_destroy_id(cf_server_t *srv, const char *hex, bool pair)
{
    cf_hsm_id_t  id;
    cf_err_t     rc;

    if (hex == NULL || cf_hsm_id_parse(hex, &id) != CF_OK)
        return;
    /* The entry that stopped naming the object goes to disk first: a
     * crash may leave an orphan on the token, never an entry naming a
     * destroyed object. */
    if ((rc = cf_storage_sync(srv->store)) != CF_OK) {
        cf_log_error("transit", "kept token key %s: storage not durable",
                     hex);
        return;
    }
    rc = pair ? cf_hsm_pair_destroy(srv->hsm, &id)
              : cf_hsm_key_destroy(srv->hsm, &id);
    if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
        cf_log_error("transit", "could not destroy token key %s: %s", hex,
                     cf_err_name(rc));
}

void
cf_transit_version_destroy(cf_server_t *srv, json_t *ver)
{
    const char  *k = json_string_value(json_object_get(ver, "key_id"));
    const char  *m = json_string_value(json_object_get(ver, "hmac_id"));

    cf_transit_destroy_id(srv, k, json_object_get(ver, "public_key")
                                  != NULL);
    if (m != NULL && (k == NULL || strcmp(k, m) != 0))
        cf_transit_destroy_id(srv, m, false);
}

cf_err_t
cf_transit_version_generate(cf_req_t *req, json_t *pol, unsigned v)
{
    const char                    *name, *tname;
    const cf_transit_type_info_t  *ti;
    cf_hsm_t                      *h = req->srv->hsm;
    cf_hsm_id_t                    key, mac;
    char                           label[512], kh[2 * CF_HSM_ID_LEN + 1];
    char                           mh[2 * CF_HSM_ID_LEN + 1], vk[16];
    char                          *pem = NULL;
    EVP_PKEY                      *pub = NULL;
    json_t                        *ve = NULL;
    bool                           have_key = false;
    cf_err_t                       rc;

    name = json_string_value(json_object_get(pol, "name"));
    tname = json_string_value(json_object_get(pol, "type"));
    if (name == NULL || tname == NULL
        || (ti = cf_transit_type_find(tname)) == NULL)
        return CF_ERR_INTEGRITY;
    cf_transit_label(req, name, v, NULL, label, sizeof(label));
    if (ti->pair) {
        rc = cf_hsm_pair_generate(h, ti->pair_type,
                                  ti->rsa ? CF_HSM_PAIR_SIGN_DECRYPT
                                          : CF_HSM_PAIR_SIGN, label, &key);
        if (rc == CF_ERR_INVALID)
            return cf_req_fail(req, rc, "the HSM cannot generate keys of "
                               "type %s", tname);
        if (rc == CF_OK) {
            have_key = true;
            if ((rc = cf_hsm_pair_public(h, &key, &pub)) == CF_OK
                && (pem = cf_transit_pem(pub)) == NULL)
                rc = CF_ERR_NOMEM;
        }
    } else if (ti->aes && !json_is_true(json_object_get(pol, "derived"))) {
        rc = cf_hsm_secret_generate(h, false, ti->key_bytes, label, &key);
    } else {
        /* hmac keys, and the KDF root of derived AES keys */
        unsigned  size = ti->type == CF_TRANSIT_HMAC
                         ? cf_transit_json_uint(pol, "key_size") : 32;

        rc = cf_hsm_secret_generate(h, true, size, label, &key);
    }
    if (rc != CF_OK)
        goto out;
    have_key = true;
    if (ti->type == CF_TRANSIT_HMAC) {
        mac = key;
    } else {
        cf_transit_label(req, name, v, "hmac", label, sizeof(label));
        /* 64 bytes: SoftHSM refuses HMAC keys shorter than the digest,
         * and the hmac endpoint offers SHA-512. */
        if ((rc = cf_hsm_secret_generate(h, true, 64, label, &mac))
            != CF_OK)
            goto out;
    }
    cf_hsm_id_hex(&key, kh);
    cf_hsm_id_hex(&mac, mh);
    snprintf(vk, sizeof(vk), "%u", v);
    ve = json_pack("{s:s, s:s, s:I}", "key_id", kh, "hmac_id", mh,
                   "creation_time", (json_int_t) time(NULL));
    if (ve == NULL || (pem != NULL
                       && json_object_set_new(ve, "public_key",
                                              json_string(pem)) != 0)
        || json_object_set(json_object_get(pol, "versions"), vk, ve) != 0) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
out:
    if (rc != CF_OK && have_key) {
        cf_hsm_id_hex(&key, kh);
        cf_transit_destroy_id(req->srv, kh, ti->pair);
    }
    json_decref(ve);
    EVP_PKEY_free(pub);
    free(pem);
    return rc;
}

/* ---- create, edit, delete ----------------------------------------------- */

cf_err_t
cf_transit_policy_create(cf_req_t *req, const char *name,
                         const cf_transit_new_t *nk,
                         cf_transit_policy_t **out, bool *created)
{
    json_t    *pol = NULL;
    cf_err_t   rc;

    *out = NULL;
    *created = false;
    cf_transit_lock();
    rc = cf_transit_policy_load_json(req, name, &pol);
    if (rc == CF_OK) {
        json_decref(pol);
        cf_transit_unlock();
        return cf_transit_policy_get(req, name, out);
    }
    if (rc != CF_ERR_NOT_FOUND)
        goto out;
    pol = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:I, "
                    "s:I, s:I, s:I, s:{}}",
                    "name", name, "type", nk->ti->name,
                    "derived", nk->derived,
                    "convergent_encryption", nk->convergent,
                    "deletion_allowed", 0, "imported", 0,
                    "allow_rotation", 0,
                    "key_size", (json_int_t) nk->key_size,
                    "latest_version", (json_int_t) 1,
                    "min_decryption_version", (json_int_t) 1,
                    "min_encryption_version", (json_int_t) 0,
                    "min_available_version", (json_int_t) 0,
                    "auto_rotate_period", (json_int_t) nk->auto_rotate,
                    "versions");
    if (pol == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_transit_version_generate(req, pol, 1)) != CF_OK)
        goto out;
    if ((rc = cf_transit_policy_store_json(req, name, pol, out)) != CF_OK) {
        cf_transit_version_destroy(req->srv,
            json_object_get(json_object_get(pol, "versions"), "1"));
        goto out;
    }
    *created = true;
    cf_log_info("transit", "created key '%s' (%s) on the HSM", name,
                nk->ti->name);
out:
    cf_transit_unlock();
    json_decref(pol);
    return rc;
}

cf_err_t
cf_transit_policy_edit(cf_req_t *req, const char *name,
                       cf_transit_edit_fn edit, void *arg,
                       cf_transit_policy_t **out)
{
    json_t    *pol = NULL;
    cf_err_t   rc;

    if (out != NULL)
        *out = NULL;
    cf_transit_lock();
    if ((rc = cf_transit_policy_load_json(req, name, &pol)) != CF_OK)
        goto out;
    if ((rc = edit(req, pol, arg)) != CF_OK)
        goto out;
    rc = cf_transit_policy_store_json(req, name, pol, out);
out:
    cf_transit_unlock();
    json_decref(pol);
    return rc;
}

cf_err_t
cf_transit_policy_delete(cf_req_t *req, const char *name)
{
    json_t      *pol = NULL, *ve;
    const char  *vk;
    char        *path = NULL, *key = NULL;
    cf_err_t     rc;

    cf_transit_lock();
    rc = cf_transit_policy_load_json(req, name, &pol);
    if (rc == CF_ERR_NOT_FOUND) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "could not delete key; not "
                         "found");
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    if (!json_is_true(json_object_get(pol, "deletion_allowed"))) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "deletion is not allowed for "
                         "this key");
        goto out;
    }
    path = cf_transit_policy_path(name);
    key = cf_transit_cache_key(req->mount->uuid, name);
    if (path == NULL || key == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    /* Storage first: a key whose entry is gone is gone for every caller,
     * and a crash between the two steps leaves orphan objects on the
     * token, never a policy naming destroyed objects. */
    if ((rc = cf_view_delete(req, path)) != CF_OK)
        goto out;
    cf_transit_cache_set(key, 0, NULL);
    json_object_foreach(json_object_get(pol, "versions"), vk, ve)
        cf_transit_version_destroy(req->srv, ve);
    cf_log_info("transit", "deleted key '%s' and its token objects", name);
out:
    cf_transit_unlock();
    json_decref(pol);
    free(path);
    free(key);
    return rc;
}

/* ---- key read ----------------------------------------------------------- */

json_t *
cf_transit_policy_describe(const cf_transit_policy_t *p)
{
    const cf_transit_type_info_t  *ti = p->ti;
    json_t                        *d, *keys, *ids, *mids, *e;
    char                           vk[16], hex[2 * CF_HSM_ID_LEN + 1];
    char                           when[40];
    struct timespec                ts = { 0, 0 };
    unsigned                       v;

    keys = json_object();
    ids = json_object();
    mids = json_object();
    for (v = p->first; v <= p->latest; v++) {
        const cf_transit_ver_t  *x = cf_transit_ver(p, v);

        snprintf(vk, sizeof(vk), "%u", v);
        if (ti->pair) {
            ts.tv_sec = (time_t) x->ctime;
            cf_time_rfc3339(&ts, when);
            e = json_pack("{s:s, s:s, s:s}", "creation_time", when,
                          "name", ti->curve, "public_key", x->pem);
        } else {
            e = json_integer(x->ctime);
        }
        json_object_set_new(keys, vk, e);
        cf_hsm_id_hex(&x->key, hex);
        json_object_set_new(ids, vk, json_string(hex));
        cf_hsm_id_hex(&x->hmac, hex);
        json_object_set_new(mids, vk, json_string(hex));
    }
    d = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:o, s:I, s:I, s:I, s:I, "
                  "s:b, s:b, s:b, s:b, s:b, s:b, s:I, s:b, s:b, s:o, s:o}",
                  "name", p->name, "type", ti->name,
                  "deletion_allowed", p->deletion_allowed,
                  "derived", p->derived, "exportable", 0,
                  "allow_plaintext_backup", 0, "keys", keys,
                  "latest_version", (json_int_t) p->latest,
                  "min_available_version", (json_int_t) p->min_avail,
                  "min_decryption_version", (json_int_t) p->min_dec,
                  "min_encryption_version", (json_int_t) p->min_enc,
                  "supports_encryption", ti->aes || ti->rsa,
                  "supports_decryption", ti->aes || ti->rsa,
                  "supports_derivation", ti->aes,
                  "supports_signing", ti->pair,
                  "imported_key", p->imported,
                  "convergent_encryption", p->convergent,
                  "auto_rotate_period", (json_int_t) p->auto_rotate,
                  "hsm", 1, "auto_rotate_background", 0,
                  "hsm_key_ids", ids, "hsm_hmac_key_ids", mids);
    if (d == NULL)
        return NULL;
    json_object_del(d, "auto_rotate_background");
    if (p->derived)
        json_object_set_new(d, "kdf", json_string(CF_TRANSIT_KDF));
    if (p->convergent)
        json_object_set_new(d, "convergent_encryption_version",
                            json_integer(3));
    if (ti->type == CF_TRANSIT_HMAC)
        json_object_set_new(d, "key_size", json_integer(p->key_size));
    if (p->imported)
        json_object_set_new(d, "allow_rotation",
                            json_boolean(p->allow_rotation));
    return d;
}

/* ---- mount hooks -------------------------------------------------------- */

cf_err_t
cf_transit_mount(cf_server_t *srv, cf_mount_t *m)
{
    (void) srv;
    cf_transit_cache_drop_mount(m->uuid);
    return CF_OK;
}

/* Destroy every token object of the mount's keys (and its wrapping key);
 * the router deletes the storage view afterwards. */
cf_err_t
cf_transit_unmount(cf_server_t *srv, cf_mount_t *m)
{
    cf_strlist_t  *names = NULL;
    cf_buf_t      *raw = NULL;
    json_t        *pol, *ve;
    json_error_t   jerr;
    const char    *vk;
    char           path[512];
    size_t         i;
    cf_err_t       rc;

    cf_transit_lock();
    cf_transit_cache_drop_mount(m->uuid);
    snprintf(path, sizeof(path), "%spolicy/", m->view);
    rc = cf_barrier_list(srv->barrier, path, &names);
    for (i = 0; rc == CF_OK && i < names->len; i++) {
        snprintf(path, sizeof(path), "%spolicy/%s", m->view,
                 names->items[i]);
        if (cf_barrier_get(srv->barrier, path, &raw) != CF_OK)
            continue;
        pol = json_loadb((const char *) raw->data, raw->len, 0, &jerr);
        cf_buf_free(raw);
        raw = NULL;
        json_object_foreach(json_object_get(pol, "versions"), vk, ve)
            cf_transit_version_destroy(srv, ve);
        json_decref(pol);
    }
    cf_strlist_free(names);
    snprintf(path, sizeof(path), "%swrapping_key", m->view);
    if (cf_barrier_get(srv->barrier, path, &raw) == CF_OK) {
        pol = json_loadb((const char *) raw->data, raw->len, 0, &jerr);
        cf_transit_destroy_id(srv, json_string_value(json_object_get(pol,
                              "key_id")), true);
        json_decref(pol);
        cf_buf_free(raw);
    }
    cf_transit_unlock();
    cf_log_info("transit", "destroyed the token keys of mount %s", m->path);
    return CF_OK;
}
