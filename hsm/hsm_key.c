/* hsm_key: the CKA_ID -> handle cache with session copies, and secret key
 * generation, lookup, destruction and introspection. */
#include "hsm_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "coffer/log.h"


/* ---- cache --------------------------------------------------------------- */

/* CKA_IDs are random, so their first byte spreads them evenly. */
static cf_hsm_key_t **
cf_hsm_cache_bucket(cf_hsm_t *h, const cf_hsm_id_t *id)
{
    return &h->cache[id->b[0] % CF_HSM_CACHE_BUCKETS];
}

static bool
cf_hsm_cache_get(cf_hsm_t *h, const cf_hsm_id_t *id, CK_OBJECT_HANDLE *obj,
                 CK_OBJECT_HANDLE *copy)
{
    cf_hsm_key_t  *k;
    bool           hit = false;

    pthread_mutex_lock(&h->cache_mu);
    for (k = *cf_hsm_cache_bucket(h, id); k != NULL; k = k->next) {
        if (memcmp(k->id.b, id->b, CF_HSM_ID_LEN) == 0) {
            *obj = k->obj;
            *copy = k->copy;
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&h->cache_mu);
    return hit;
}

/* Unlink id's entry; returns it (caller frees) or NULL. */
static cf_hsm_key_t *
cf_hsm_cache_take(cf_hsm_t *h, const cf_hsm_id_t *id)
{
    cf_hsm_key_t  **pp, *k = NULL;

    pthread_mutex_lock(&h->cache_mu);
    for (pp = cf_hsm_cache_bucket(h, id); *pp != NULL; pp = &(*pp)->next) {
        if (memcmp((*pp)->id.b, id->b, CF_HSM_ID_LEN) == 0) {
            k = *pp;
            *pp = k->next;
            break;
        }
    }
    pthread_mutex_unlock(&h->cache_mu);
    return k;
}

void
cf_hsm_cache_clear(cf_hsm_t *h)
{
    cf_hsm_key_t  *k, *next;
    size_t         i;

    pthread_mutex_lock(&h->cache_mu);
    for (i = 0; i < CF_HSM_CACHE_BUCKETS; i++) {
        for (k = h->cache[i]; k != NULL; k = next) {
            next = k->next;
            free(k);
        }
        h->cache[i] = NULL;
    }
    pthread_mutex_unlock(&h->cache_mu);
}

/* ---- lookups ------------------------------------------------------------- */

/* The one object matching tmpl: CF_ERR_NOT_FOUND for none, and
 * CF_ERR_INTEGRITY for several (labels and ids must be unique). Private
 * objects are invisible when the login is gone, so "none" is checked
 * against the session state before it is believed. */
static cf_err_t
cf_hsm_find_one(cf_hsm_call_t *c, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                CK_OBJECT_HANDLE *out)
{
    CK_FUNCTION_LIST_PTR  f = c->h->f;
    CK_OBJECT_HANDLE      found[2];
    CK_SESSION_INFO       si;
    CK_ULONG              count = 0;
    CK_RV                 rv;

    if ((rv = f->C_FindObjectsInit(c->s, tmpl, n)) != CKR_OK)
        return cf_hsm_call_fail(c, "C_FindObjectsInit", rv);
    rv = f->C_FindObjects(c->s, found, 2, &count);
    f->C_FindObjectsFinal(c->s);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_FindObjects", rv);
    if (count == 0) {
        rv = f->C_GetSessionInfo(c->s, &si);
        if (rv != CKR_OK)
            return cf_hsm_call_fail(c, "C_GetSessionInfo", rv);
        if (si.state != CKS_RW_USER_FUNCTIONS)
            return cf_hsm_call_fail(c, "C_FindObjects",
                                    CKR_USER_NOT_LOGGED_IN);
        return CF_ERR_NOT_FOUND;
    }
    if (count > 1)
        return CF_ERR_INTEGRITY;
    *out = found[0];
    return CF_OK;
}

/* The secret key, or else the private key, with CKA_ID id. */
static cf_err_t
cf_hsm_find_by_id(cf_hsm_call_t *c, const cf_hsm_id_t *id,
                  CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS  cls = CKO_SECRET_KEY;
    CK_BBOOL         yes = CK_TRUE;
    CK_ATTRIBUTE     tmpl[] = {          /* not our session copies */
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_ID, (void *) id->b, CF_HSM_ID_LEN },
    };
    cf_err_t         rc;

    rc = cf_hsm_find_one(c, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), out);
    if (rc == CF_ERR_NOT_FOUND) {
        /* A key pair's private half (hsm_asym.c) goes through the same
         * cache; its public half shares the CKA_ID but is never used
         * here. */
        cls = CKO_PRIVATE_KEY;
        rc = cf_hsm_find_one(c, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), out);
    }
    if (rc == CF_ERR_INTEGRITY) {
        char  hex[2 * CF_HSM_ID_LEN + 1];

        cf_hsm_id_hex(id, hex);
        cf_log_error("hsm", "several token keys have CKA_ID %s", hex);
    }
    return rc;
}

/* Cache miss: find the token object, make its session copy in the keeper
 * session (it lives while logged in), and cache both. Under obj_mu, so
 * two threads missing together make one copy. */
static cf_err_t
cf_hsm_key_load(cf_hsm_call_t *c, const cf_hsm_id_t *id,
                CK_OBJECT_HANDLE *obj, CK_OBJECT_HANDLE *copy)
{
    cf_hsm_t          *h = c->h;
    CK_BBOOL           no = CK_FALSE;
    CK_ATTRIBUTE       tmpl[] = { { CKA_TOKEN, &no, sizeof(no) } };
    CK_OBJECT_HANDLE   o, cp = CK_INVALID_HANDLE;
    cf_hsm_key_t      *k = NULL;
    CK_RV              rv;
    cf_err_t           rc;

    pthread_mutex_lock(&h->obj_mu);
    if (cf_hsm_cache_get(h, id, obj, copy)) {
        c->held = true;
        rc = CF_OK;
        goto out;
    }
    if ((rc = cf_hsm_find_by_id(c, id, &o)) != CF_OK)
        goto out;
    rv = h->f->C_CopyObject(h->keeper, o, tmpl, 1, &cp);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_READ_ONLY
        && rv != CKR_ACTION_PROHIBITED && rv != CKR_TEMPLATE_INCONSISTENT
        && rv != CKR_FUNCTION_NOT_SUPPORTED) {
        rc = cf_hsm_call_fail(c, "C_CopyObject", rv);
        goto out;
    }
    if (rv != CKR_OK) {
        /* Slower but correct: crypto on the token object itself. SoftHSM
         * refuses to copy a CKA_MODIFIABLE=false object with any template
         * (CKR_ATTRIBUTE_READ_ONLY), so our keys get no copies there. It
         * costs one refused call per key per connection; say so once. */
        cp = CK_INVALID_HANDLE;
        if (!atomic_exchange(&h->no_copies, true))
            cf_log_info("hsm", "the token refuses session copies of keys "
                        "(C_CopyObject: %s); crypto uses the token objects",
                        cf_hsm_rv_name(rv) != NULL ? cf_hsm_rv_name(rv)
                                                   : "?");
    }
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        if (cp != CK_INVALID_HANDLE)
            h->f->C_DestroyObject(h->keeper, cp);
        rc = CF_ERR_NOMEM;
        goto out;
    }
    k->id = *id;
    k->obj = o;
    k->copy = cp;
    pthread_mutex_lock(&h->cache_mu);
    k->next = *cf_hsm_cache_bucket(h, id);
    *cf_hsm_cache_bucket(h, id) = k;
    pthread_mutex_unlock(&h->cache_mu);
    *obj = o;
    *copy = cp;
out:
    pthread_mutex_unlock(&h->obj_mu);
    return rc;
}

cf_err_t
cf_hsm_key_handles(cf_hsm_call_t *c, const cf_hsm_id_t *id,
                   CK_OBJECT_HANDLE *obj, CK_OBJECT_HANDLE *use)
{
    CK_OBJECT_HANDLE  o = CK_INVALID_HANDLE, cp = CK_INVALID_HANDLE;
    cf_err_t          rc;

    if (cf_hsm_cache_get(c->h, id, &o, &cp))
        c->held = true;
    else if ((rc = cf_hsm_key_load(c, id, &o, &cp)) != CF_OK)
        return rc;
    *obj = o;
    *use = cp != CK_INVALID_HANDLE ? cp : o;
    return CF_OK;
}

/* The token object's handle: cached if we have it, else found (and not
 * cached, so introspection and destruction make no session copy). */
static cf_err_t
cf_hsm_key_object(cf_hsm_call_t *c, const cf_hsm_id_t *id,
                  CK_OBJECT_HANDLE *obj)
{
    CK_OBJECT_HANDLE  cp;

    if (cf_hsm_cache_get(c->h, id, obj, &cp)) {
        c->held = true;
        return CF_OK;
    }
    return cf_hsm_find_by_id(c, id, obj);
}

/* ---- generate ------------------------------------------------------------ */

typedef struct {
    cf_hsm_key_type_t   type;
    const char         *label;
    cf_hsm_id_t         id;
} cf_hsm_gen_arg_t;

static cf_err_t
cf_hsm_key_generate_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_gen_arg_t  *a = arg;
    cf_hsm_t          *h = c->h;
    CK_OBJECT_CLASS    cls = CKO_SECRET_KEY;
    CK_KEY_TYPE        kt;
    CK_ULONG           len;
    CK_BBOOL           yes = CK_TRUE, no = CK_FALSE, aes, mac;
    CK_BBOOL           modifiable = CF_HSM_KEY_MODIFIABLE;
    CK_MECHANISM       mech = { 0, NULL, 0 };
    CK_OBJECT_HANDLE   o;
    CK_RV              rv;

    switch (a->type) {
    case CF_HSM_KEY_AES128:
    case CF_HSM_KEY_AES256:
        kt = CKK_AES;
        len = a->type == CF_HSM_KEY_AES128 ? 16 : 32;
        mech.mechanism = CKM_AES_KEY_GEN;
        break;
    default:
        kt = CKK_GENERIC_SECRET;
        len = 32;
        mech.mechanism = CKM_GENERIC_SECRET_KEY_GEN;
        break;
    }
    aes = kt == CKK_AES ? CK_TRUE : CK_FALSE;
    mac = kt == CKK_AES ? CK_FALSE : CK_TRUE;
    {
        /* Every usage attribute explicit: SoftHSM's defaults turn on
         * usages nobody asked for (e.g. CKA_VERIFY on an AES key). */
        CK_ATTRIBUTE  tmpl[] = {
            { CKA_CLASS, &cls, sizeof(cls) },
            { CKA_KEY_TYPE, &kt, sizeof(kt) },
            { CKA_VALUE_LEN, &len, sizeof(len) },
            { CKA_TOKEN, &yes, sizeof(yes) },
            { CKA_PRIVATE, &yes, sizeof(yes) },
            { CKA_SENSITIVE, &yes, sizeof(yes) },
            { CKA_EXTRACTABLE, &no, sizeof(no) },
            { CKA_MODIFIABLE, &modifiable, sizeof(modifiable) },
            { CKA_LABEL, (void *) a->label, strlen(a->label) },
            { CKA_ID, a->id.b, CF_HSM_ID_LEN },
            { CKA_ENCRYPT, &aes, sizeof(aes) },
            { CKA_DECRYPT, &aes, sizeof(aes) },
            { CKA_SIGN, &mac, sizeof(mac) },
            { CKA_VERIFY, &mac, sizeof(mac) },
            { CKA_WRAP, &no, sizeof(no) },
            { CKA_UNWRAP, &no, sizeof(no) },
            { CKA_DERIVE, &no, sizeof(no) },
        };

        rv = h->f->C_GenerateRandom(c->s, a->id.b, CF_HSM_ID_LEN);
        if (rv != CKR_OK)
            return cf_hsm_call_fail(c, "C_GenerateRandom", rv);
        pthread_mutex_lock(&h->obj_mu);
        rv = h->f->C_GenerateKey(c->s, &mech, tmpl,
                                 sizeof(tmpl) / sizeof(tmpl[0]), &o);
        pthread_mutex_unlock(&h->obj_mu);
    }
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GenerateKey", rv);
    return CF_OK;
}

cf_err_t
cf_hsm_key_generate(cf_hsm_t *h, cf_hsm_key_type_t type, const char *label,
                    cf_hsm_id_t *id_out)
{
    cf_hsm_gen_arg_t  a;
    cf_err_t          rc;

    memset(id_out, 0, sizeof(*id_out));
    if (h == NULL || label == NULL || *label == '\0'
        || (type != CF_HSM_KEY_AES128 && type != CF_HSM_KEY_AES256
            && type != CF_HSM_KEY_HMAC256))
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    a.type = type;
    a.label = label;
    rc = cf_hsm_run(h, "generate key", cf_hsm_key_generate_op, &a);
    if (rc == CF_OK) {
        *id_out = a.id;
        cf_log_debug("hsm", "generated key '%s'", label);
    }
    return rc;
}

/* ---- find ---------------------------------------------------------------- */

typedef struct {
    const char   *label;
    cf_hsm_id_t   id;
} cf_hsm_find_arg_t;

static cf_err_t
cf_hsm_key_find_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_find_arg_t  *a = arg;
    CK_OBJECT_CLASS     cls = CKO_SECRET_KEY;
    CK_BBOOL            yes = CK_TRUE;
    CK_ATTRIBUTE        tmpl[] = {      /* not our session copies */
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_LABEL, (void *) a->label, strlen(a->label) },
    };
    unsigned char       buf[64];
    CK_ATTRIBUTE        attr = { CKA_ID, buf, sizeof(buf) };
    CK_OBJECT_HANDLE    o;
    CK_RV               rv;
    cf_err_t            rc;

    rc = cf_hsm_find_one(c, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &o);
    if (rc == CF_ERR_INTEGRITY)
        cf_log_error("hsm", "several secret keys are labelled '%s'",
                     a->label);
    if (rc != CF_OK)
        return rc;
    rv = c->h->f->C_GetAttributeValue(c->s, o, &attr, 1);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GetAttributeValue", rv);
    if (attr.ulValueLen != CF_HSM_ID_LEN) {
        cf_log_error("hsm", "key '%s' has a CKA_ID of %lu bytes, not %d",
                     a->label, (unsigned long) attr.ulValueLen,
                     CF_HSM_ID_LEN);
        return CF_ERR_INTEGRITY;
    }
    memcpy(a->id.b, buf, CF_HSM_ID_LEN);
    return CF_OK;
}

cf_err_t
cf_hsm_key_find(cf_hsm_t *h, const char *label, cf_hsm_id_t *id_out)
{
    cf_hsm_find_arg_t  a;
    cf_err_t           rc;

    memset(id_out, 0, sizeof(*id_out));
    if (h == NULL || label == NULL || *label == '\0')
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    a.label = label;
    rc = cf_hsm_run(h, "find key", cf_hsm_key_find_op, &a);
    if (rc == CF_OK)
        *id_out = a.id;
    return rc;
}

/* ---- destroy ------------------------------------------------------------- */

static cf_err_t
cf_hsm_key_destroy_op(cf_hsm_call_t *c, void *arg)
{
    const cf_hsm_id_t  *id = arg;
    cf_hsm_t           *h = c->h;
    cf_hsm_key_t       *k;
    CK_OBJECT_HANDLE    o;
    CK_RV               rv;
    cf_err_t            rc;

    if ((rc = cf_hsm_key_object(c, id, &o)) != CF_OK)
        return rc;
    pthread_mutex_lock(&h->obj_mu);
    if ((k = cf_hsm_cache_take(h, id)) != NULL) {
        if (k->copy != CK_INVALID_HANDLE)
            h->f->C_DestroyObject(h->keeper, k->copy);
        free(k);
    }
    rv = h->f->C_DestroyObject(c->s, o);
    pthread_mutex_unlock(&h->obj_mu);
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_DestroyObject", rv);
    return CF_OK;
}

cf_err_t
cf_hsm_key_destroy(cf_hsm_t *h, const cf_hsm_id_t *id)
{
    if (h == NULL || id == NULL)
        return CF_ERR_INVALID;
    return cf_hsm_run(h, "destroy key", cf_hsm_key_destroy_op,
                      (void *) id);
}

/* ---- info ---------------------------------------------------------------- */

typedef struct {
    const cf_hsm_id_t  *id;
    cf_hsm_key_info_t   info;
} cf_hsm_info_arg_t;

static cf_err_t
cf_hsm_key_info_op(cf_hsm_call_t *c, void *arg)
{
    cf_hsm_info_arg_t  *a = arg;
    CK_BBOOL            sens = CK_FALSE, ext = CK_TRUE, tok = CK_FALSE;
    CK_BBOOL            priv = CK_FALSE;
    CK_ATTRIBUTE        attrs[] = {     /* never CKA_VALUE */
        { CKA_SENSITIVE, &sens, sizeof(sens) },
        { CKA_EXTRACTABLE, &ext, sizeof(ext) },
        { CKA_TOKEN, &tok, sizeof(tok) },
        { CKA_PRIVATE, &priv, sizeof(priv) },
    };
    CK_OBJECT_HANDLE    o;
    CK_RV               rv;
    cf_err_t            rc;

    if ((rc = cf_hsm_key_object(c, a->id, &o)) != CF_OK)
        return rc;
    rv = c->h->f->C_GetAttributeValue(c->s, o, attrs,
                                      sizeof(attrs) / sizeof(attrs[0]));
    if (rv != CKR_OK)
        return cf_hsm_call_fail(c, "C_GetAttributeValue", rv);
    a->info.sensitive = sens == CK_TRUE;
    a->info.extractable = ext == CK_TRUE;
    a->info.token = tok == CK_TRUE;
    a->info.is_private = priv == CK_TRUE;
    return CF_OK;
}

cf_err_t
cf_hsm_key_info(cf_hsm_t *h, const cf_hsm_id_t *id, cf_hsm_key_info_t *out)
{
    cf_hsm_info_arg_t  a;
    cf_err_t           rc;

    memset(out, 0, sizeof(*out));
    if (h == NULL || id == NULL)
        return CF_ERR_INVALID;
    memset(&a, 0, sizeof(a));
    a.id = id;
    rc = cf_hsm_run(h, "key info", cf_hsm_key_info_op, &a);
    if (rc == CF_OK)
        *out = a.info;
    return rc;
}
