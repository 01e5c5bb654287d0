/* hsm: module loading, token lookup, login, session pool, CKR mapping
 * and recovery. Keys and crypto are in hsm_key.c and hsm_crypto.c. */
#include "hsm_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "coffer/log.h"

#define CF_HSM_REASON  256

/* ---- CK_RV names and the one mapping ----------------------------------- */

#define CF_HSM_RV(x)  { x, #x }

static const struct {
    CK_RV        rv;
    const char  *name;
} cf_hsm_rv_names[] = {
    CF_HSM_RV(CKR_OK),
    CF_HSM_RV(CKR_HOST_MEMORY),
    CF_HSM_RV(CKR_SLOT_ID_INVALID),
    CF_HSM_RV(CKR_GENERAL_ERROR),
    CF_HSM_RV(CKR_FUNCTION_FAILED),
    CF_HSM_RV(CKR_ARGUMENTS_BAD),
    CF_HSM_RV(CKR_ATTRIBUTE_READ_ONLY),
    CF_HSM_RV(CKR_ATTRIBUTE_SENSITIVE),
    CF_HSM_RV(CKR_ATTRIBUTE_TYPE_INVALID),
    CF_HSM_RV(CKR_ATTRIBUTE_VALUE_INVALID),
    CF_HSM_RV(CKR_DATA_INVALID),
    CF_HSM_RV(CKR_DATA_LEN_RANGE),
    CF_HSM_RV(CKR_DEVICE_ERROR),
    CF_HSM_RV(CKR_DEVICE_MEMORY),
    CF_HSM_RV(CKR_DEVICE_REMOVED),
    CF_HSM_RV(CKR_ENCRYPTED_DATA_INVALID),
    CF_HSM_RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
    CF_HSM_RV(CKR_FUNCTION_NOT_SUPPORTED),
    CF_HSM_RV(CKR_KEY_HANDLE_INVALID),
    CF_HSM_RV(CKR_KEY_SIZE_RANGE),
    CF_HSM_RV(CKR_KEY_TYPE_INCONSISTENT),
    CF_HSM_RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    CF_HSM_RV(CKR_KEY_UNEXTRACTABLE),
    CF_HSM_RV(CKR_MECHANISM_INVALID),
    CF_HSM_RV(CKR_MECHANISM_PARAM_INVALID),
    CF_HSM_RV(CKR_OBJECT_HANDLE_INVALID),
    CF_HSM_RV(CKR_OPERATION_ACTIVE),
    CF_HSM_RV(CKR_OPERATION_NOT_INITIALIZED),
    CF_HSM_RV(CKR_PIN_INCORRECT),
    CF_HSM_RV(CKR_PIN_INVALID),
    CF_HSM_RV(CKR_PIN_LEN_RANGE),
    CF_HSM_RV(CKR_PIN_EXPIRED),
    CF_HSM_RV(CKR_PIN_LOCKED),
    CF_HSM_RV(CKR_SESSION_CLOSED),
    CF_HSM_RV(CKR_SESSION_COUNT),
    CF_HSM_RV(CKR_SESSION_HANDLE_INVALID),
    CF_HSM_RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    CF_HSM_RV(CKR_SESSION_READ_ONLY),
    CF_HSM_RV(CKR_SESSION_EXISTS),
    CF_HSM_RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
    CF_HSM_RV(CKR_SIGNATURE_INVALID),
    CF_HSM_RV(CKR_SIGNATURE_LEN_RANGE),
    CF_HSM_RV(CKR_TEMPLATE_INCOMPLETE),
    CF_HSM_RV(CKR_TEMPLATE_INCONSISTENT),
    CF_HSM_RV(CKR_TOKEN_NOT_PRESENT),
    CF_HSM_RV(CKR_TOKEN_NOT_RECOGNIZED),
    CF_HSM_RV(CKR_TOKEN_WRITE_PROTECTED),
    CF_HSM_RV(CKR_USER_ALREADY_LOGGED_IN),
    CF_HSM_RV(CKR_USER_NOT_LOGGED_IN),
    CF_HSM_RV(CKR_USER_PIN_NOT_INITIALIZED),
    CF_HSM_RV(CKR_USER_TYPE_INVALID),
    CF_HSM_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    CF_HSM_RV(CKR_RANDOM_NO_RNG),
    CF_HSM_RV(CKR_BUFFER_TOO_SMALL),
    CF_HSM_RV(CKR_CRYPTOKI_NOT_INITIALIZED),
    CF_HSM_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
};

const char *
cf_hsm_rv_name(CK_RV rv)
{
    size_t  i;

    for (i = 0; i < sizeof(cf_hsm_rv_names) / sizeof(cf_hsm_rv_names[0]);
         i++) {
        if (cf_hsm_rv_names[i].rv == rv)
            return cf_hsm_rv_names[i].name;
    }
    return NULL;
}

/* "CKR_X" or "CKR 0x..." into buf, for log lines and status. */
static const char *
cf_hsm_rv_str(CK_RV rv, char *buf, size_t len)
{
    const char  *name = cf_hsm_rv_name(rv);

    if (name != NULL)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "CKR 0x%lx", (unsigned long) rv);
    return buf;
}

/* A CKR that means the session, login, token or module state is gone, so
 * the only cure is to start over. OBJECT/KEY_HANDLE_INVALID count only for
 * a handle we kept: after a re-initialisation handle numbers restart and a
 * kept one may now name another object. */
static bool
cf_hsm_rv_lost(CK_RV rv, bool held)
{
    switch (rv) {
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
        return true;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        return held;
    default:
        return false;
    }
}

cf_err_t
cf_hsm_rv_map(CK_RV rv, const char *what, const char *fn)
{
    char      name[48];
    cf_err_t  rc;
    bool      quiet = false;    /* the caller's input, not our failure */

    switch (rv) {
    case CKR_OK:
        return CF_OK;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_INVALID:
        rc = CF_ERR_PIN;
        quiet = true;
        break;
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
        rc = CF_ERR_PIN;
        break;
    case CKR_HOST_MEMORY:
        rc = CF_ERR_NOMEM;
        break;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_SIGNATURE_INVALID:
    case CKR_SIGNATURE_LEN_RANGE:
        rc = CF_ERR_CRYPTO;
        quiet = true;
        break;
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_DATA_LEN_RANGE:
        rc = CF_ERR_INVALID;
        quiet = true;
        break;
    default:
        rc = cf_hsm_rv_lost(rv, false) ? CF_ERR_UNAVAILABLE : CF_ERR_HSM;
        break;
    }
    cf_log(quiet ? CF_LOG_WARN : CF_LOG_ERROR, "hsm", "%s: %s failed: %s",
           what, fn != NULL ? fn : "PKCS#11 call",
           cf_hsm_rv_str(rv, name, sizeof(name)));
    return rc;
}

cf_err_t
cf_hsm_call_fail(cf_hsm_call_t *c, const char *fn, CK_RV rv)
{
    c->fn = fn;
    c->rv = rv;
    return CF_ERR_HSM;
}

/* ---- status ------------------------------------------------------------ */

static void
cf_hsm_status_set(cf_hsm_t *h, const char *reason)
{
    char  *copy = reason != NULL ? strdup(reason) : NULL;

    pthread_mutex_lock(&h->status_mu);
    free(h->status);
    h->status = copy;
    pthread_mutex_unlock(&h->status_mu);
}

char *
cf_hsm_status(cf_hsm_t *h)
{
    char  *s = NULL;

    if (h == NULL)
        return NULL;
    pthread_mutex_lock(&h->status_mu);
    if (h->status != NULL)
        s = strdup(h->status);
    pthread_mutex_unlock(&h->status_mu);
    return s;
}

/* ---- module and token lookup ------------------------------------------- */

bool
cf_hsm_label_pad(const char *label, unsigned char out[32])
{
    size_t  n = strlen(label);

    if (n > 32)
        return false;
    memset(out, ' ', 32);
    memcpy(out, label, n);
    return true;
}

static cf_err_t
cf_hsm_module_load(const char *lib, void **dl_out,
                   CK_FUNCTION_LIST_PTR *f_out)
{
    CK_RV                 (*get)(CK_FUNCTION_LIST_PTR_PTR);
    CK_FUNCTION_LIST_PTR  f = NULL;
    void                 *dl;
    const char           *err;
    char                  name[48];
    CK_RV                 rv;

    *dl_out = NULL;
    *f_out = NULL;
    dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        err = dlerror();
        cf_log_error("hsm", "cannot load PKCS#11 module %s: %s", lib,
                     err != NULL ? err : "unknown error");
        return CF_ERR_CONFIG;
    }
    /* POSIX blesses this conversion for dlsym results. */
    *(void **) &get = dlsym(dl, "C_GetFunctionList");
    if (get == NULL) {
        cf_log_error("hsm", "PKCS#11 module %s has no C_GetFunctionList",
                     lib);
        dlclose(dl);
        return CF_ERR_CONFIG;
    }
    rv = get(&f);
    if (rv != CKR_OK || f == NULL) {
        cf_log_error("hsm", "PKCS#11 module %s: C_GetFunctionList "
                     "failed: %s", lib, cf_hsm_rv_str(rv, name,
                                                      sizeof(name)));
        dlclose(dl);
        return CF_ERR_CONFIG;
    }
    *dl_out = dl;
    *f_out = f;
    return CF_OK;
}

/* C_Initialize with OS locking: the module's own mutexes protect its
 * state, our pool keeps sessions one thread each. */
static CK_RV
cf_hsm_module_init(CK_FUNCTION_LIST_PTR f)
{
    CK_C_INITIALIZE_ARGS  args;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    return f->C_Initialize(&args);
}

/* The one slot whose token label is exactly `label` (32-byte padded
 * compare; the module offers no lookup and tools match prefixes). With
 * want_free, instead the first slot whose token is not initialised.
 * On failure reason says why. */
static cf_err_t
cf_hsm_slot_find(CK_FUNCTION_LIST_PTR f, const char *label, bool want_free,
                 CK_SLOT_ID *out, char *reason, size_t rlen)
{
    CK_SLOT_ID     *slots = NULL;
    CK_ULONG        n = 0, i, found = 0;
    CK_TOKEN_INFO   ti;
    unsigned char   want[32];
    bool            have_free = false;
    char            name[48];
    CK_RV           rv;
    cf_err_t        rc = CF_ERR_CONFIG;

    if (label != NULL && !cf_hsm_label_pad(label, want)) {
        snprintf(reason, rlen, "token label '%s' is longer than 32 bytes",
                 label);
        goto out;
    }
    rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv == CKR_OK && n > 0) {
        if ((slots = calloc(n, sizeof(*slots))) == NULL) {
            rc = CF_ERR_NOMEM;
            snprintf(reason, rlen, "out of memory");
            goto out;
        }
        rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    }
    if (rv != CKR_OK) {
        snprintf(reason, rlen, "C_GetSlotList failed: %s",
                 cf_hsm_rv_str(rv, name, sizeof(name)));
        rc = cf_hsm_rv_lost(rv, false) ? CF_ERR_UNAVAILABLE : CF_ERR_CONFIG;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            if (want_free && !have_free) {
                have_free = true;
                *out = slots[i];
            }
            continue;
        }
        if (label != NULL && memcmp(ti.label, want, 32) == 0) {
            found++;
            if (!want_free)
                *out = slots[i];
        }
    }
    if (want_free) {
        if (found > 0)
            snprintf(reason, rlen, "a token labelled '%s' already exists",
                     label);
        else if (!have_free)
            snprintf(reason, rlen, "no free slot for a new token");
        else
            rc = CF_OK;
    } else if (found == 0) {
        snprintf(reason, rlen, "no token labelled '%s'", label);
    } else if (found > 1) {
        snprintf(reason, rlen, "%lu tokens are labelled '%s'",
                 (unsigned long) found, label);
    } else {
        rc = CF_OK;
    }
out:
    free(slots);
    return rc;
}

/* The configured slot id, which must hold an initialised token. */
static cf_err_t
cf_hsm_slot_check(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID slot, char *reason,
                  size_t rlen)
{
    CK_TOKEN_INFO  ti;
    char           name[48];
    CK_RV          rv;

    rv = f->C_GetTokenInfo(slot, &ti);
    if (rv != CKR_OK) {
        snprintf(reason, rlen, "slot %lu: C_GetTokenInfo failed: %s",
                 (unsigned long) slot, cf_hsm_rv_str(rv, name,
                                                      sizeof(name)));
        return CF_ERR_CONFIG;
    }
    if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
        snprintf(reason, rlen, "the token in slot %lu is not initialised",
                 (unsigned long) slot);
        return CF_ERR_CONFIG;
    }
    return CF_OK;
}

static cf_err_t
cf_hsm_slot_locate(cf_hsm_t *h, char *reason, size_t rlen)
{
    CK_SLOT_ID  slot = 0;
    cf_err_t    rc;

    if (h->label != NULL) {
        rc = cf_hsm_slot_find(h->f, h->label, false, &slot, reason, rlen);
    } else {
        slot = h->cfg_slot;
        rc = cf_hsm_slot_check(h->f, slot, reason, rlen);
    }
    if (rc == CF_OK)
        h->slot = slot;
    return rc;
}

/* ---- session pool ------------------------------------------------------- */

/* Borrow a crypto session; opens one when fewer than max_parallel exist.
 * Caller holds conn_lock (any mode). */
static CK_RV
cf_hsm_pool_borrow(cf_hsm_t *h, CK_SESSION_HANDLE *s)
{
    CK_RV  rv;

    pthread_mutex_lock(&h->pool_mu);
    while (h->pool_nfree == 0 && h->pool_total >= h->max_parallel)
        pthread_cond_wait(&h->pool_cv, &h->pool_mu);
    if (h->pool_nfree > 0) {
        *s = h->pool_free[--h->pool_nfree];
        pthread_mutex_unlock(&h->pool_mu);
        return CKR_OK;
    }
    h->pool_total++;
    pthread_mutex_unlock(&h->pool_mu);
    rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                             NULL, NULL, s);
    if (rv != CKR_OK) {
        pthread_mutex_lock(&h->pool_mu);
        h->pool_total--;
        pthread_cond_signal(&h->pool_cv);
        pthread_mutex_unlock(&h->pool_mu);
    }
    return rv;
}

/* Give a session back. A poisoned one (an operation may still be active
 * in it, or the token failed in it) is closed; the next borrower opens a
 * fresh one in its place. */
static void
cf_hsm_pool_return(cf_hsm_t *h, CK_SESSION_HANDLE s, bool poisoned)
{
    if (poisoned)
        h->f->C_CloseSession(s);
    pthread_mutex_lock(&h->pool_mu);
    if (poisoned)
        h->pool_total--;
    else
        h->pool_free[h->pool_nfree++] = s;
    pthread_cond_signal(&h->pool_cv);
    pthread_mutex_unlock(&h->pool_mu);
}

/* Close every pooled session. Caller holds conn_lock for writing, so none
 * is borrowed. */
static void
cf_hsm_pool_drop_locked(cf_hsm_t *h)
{
    pthread_mutex_lock(&h->pool_mu);
    while (h->pool_nfree > 0)
        h->f->C_CloseSession(h->pool_free[--h->pool_nfree]);
    h->pool_total = 0;
    pthread_mutex_unlock(&h->pool_mu);
}

/* ---- connect, drop, recover -------------------------------------------- */

/* Forget sessions, cached handles and (with logout) the login. The
 * session copies die with the keeper session. Caller holds conn_lock for
 * writing. */
static void
cf_hsm_drop_locked(cf_hsm_t *h, bool logout)
{
    cf_hsm_cache_clear(h);
    cf_hsm_pool_drop_locked(h);
    if (h->keeper != CK_INVALID_HANDLE) {
        if (logout)
            h->f->C_Logout(h->keeper);
        h->f->C_CloseSession(h->keeper);
        h->keeper = CK_INVALID_HANDLE;
    }
    h->logged_in = false;
    h->gen++;
}

/* Open the keeper, log in, fill the pool. With reinit first C_Finalize +
 * C_Initialize (SoftHSM rescans its token dir only then) and find the
 * token again. *lost tells whether the failure means the connection is
 * gone (so a reinit may help). Caller holds conn_lock for writing. */
static cf_err_t
cf_hsm_connect_locked(cf_hsm_t *h, const cf_secret_t *pin, bool reinit,
                      char *reason, size_t rlen, bool *lost)
{
    CK_SESSION_HANDLE  s;
    const char        *fn = "C_Initialize";
    char               name[48];
    unsigned           i;
    CK_RV              rv = CKR_OK;
    cf_err_t           rc = CF_OK;

    *lost = false;
    if (reinit) {
        if (h->initialized)
            h->f->C_Finalize(NULL);
        h->initialized = false;
        if ((rv = cf_hsm_module_init(h->f)) != CKR_OK)
            goto out;
        h->initialized = true;
        if ((rc = cf_hsm_slot_locate(h, reason, rlen)) != CF_OK) {
            *lost = true;
            goto out;
        }
    }
    fn = "C_OpenSession";
    rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                             NULL, NULL, &h->keeper);
    if (rv != CKR_OK) {
        h->keeper = CK_INVALID_HANDLE;
        goto out;
    }
    fn = "C_Login";
    rv = h->f->C_Login(h->keeper, CKU_USER, cf_secret_data(pin),
                       cf_secret_len(pin));
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    if (rv != CKR_OK)
        goto out;
    fn = "C_OpenSession";
    for (i = 0; i < h->max_parallel; i++) {
        rv = h->f->C_OpenSession(h->slot,
                                 CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                 NULL, NULL, &s);
        if (rv != CKR_OK)
            goto out;
        pthread_mutex_lock(&h->pool_mu);
        h->pool_free[h->pool_nfree++] = s;
        h->pool_total++;
        pthread_mutex_unlock(&h->pool_mu);
    }
    h->logged_in = true;
    h->broken = false;
    h->gen++;
out:
    if (rv != CKR_OK) {
        snprintf(reason, rlen, "%s failed: %s", fn,
                 cf_hsm_rv_str(rv, name, sizeof(name)));
        *lost = cf_hsm_rv_lost(rv, false) || rv == CKR_GENERAL_ERROR
                || rv == CKR_SLOT_ID_INVALID;
        rc = cf_hsm_rv_map(rv, "login", fn);
    }
    if (rc != CF_OK)
        cf_hsm_drop_locked(h, false);
    return rc;
}

/* Start over after the connection was lost: drop everything, re-init,
 * log in with the kept PIN. seen_gen is the generation the caller saw;
 * if it moved, another thread has already tried, and its result stands.
 * Takes conn_lock for writing; caller holds no lock of this layer. */
static cf_err_t
cf_hsm_recover(cf_hsm_t *h, uint64_t seen_gen, const char *why)
{
    char      reason[CF_HSM_REASON] = "", msg[CF_HSM_REASON + 64];
    bool      lost;
    cf_err_t  rc;

    pthread_rwlock_wrlock(&h->conn_lock);
    if (h->gen != seen_gen) {
        rc = h->logged_in ? CF_OK
             : h->pin != NULL ? CF_ERR_UNAVAILABLE : CF_ERR_SEALED;
        goto out;
    }
    if (h->pin == NULL) {
        rc = CF_ERR_SEALED;     /* logged out meanwhile */
        goto out;
    }
    cf_log_warn("hsm", "token '%s': %s; reconnecting",
                h->label != NULL ? h->label : "(by slot)", why);
    cf_hsm_drop_locked(h, false);
    rc = cf_hsm_connect_locked(h, h->pin, true, reason, sizeof(reason),
                               &lost);
    if (rc != CF_OK) {
        h->broken = true;
        snprintf(msg, sizeof(msg), "HSM unavailable: cannot reconnect to "
                 "token '%s' of %s: %s",
                 h->label != NULL ? h->label : "(by slot)", h->lib, reason);
        cf_log_error("hsm", "%s", msg);
        cf_hsm_status_set(h, msg);
        rc = CF_ERR_UNAVAILABLE;
        goto out;
    }
    cf_hsm_status_set(h, NULL);
    cf_log_info("hsm", "reconnected to token '%s'",
                h->label != NULL ? h->label : "(by slot)");
out:
    pthread_rwlock_unlock(&h->conn_lock);
    return rc;
}

cf_err_t
cf_hsm_run(cf_hsm_t *h, const char *what, cf_hsm_op_fn op, void *arg)
{
    cf_hsm_call_t  c;
    uint64_t       gen;
    char           why[CF_HSM_REASON], name[48];
    bool           kept;
    int            attempt;
    cf_err_t       rc = CF_ERR_UNAVAILABLE;

    for (attempt = 0; attempt < 2; attempt++) {
        memset(&c, 0, sizeof(c));
        c.h = h;
        pthread_rwlock_rdlock(&h->conn_lock);
        gen = h->gen;
        if (!h->logged_in) {
            kept = h->pin != NULL;
            pthread_rwlock_unlock(&h->conn_lock);
            if (!kept)
                return CF_ERR_SEALED;
            if (attempt > 0)
                return CF_ERR_UNAVAILABLE;
            /* An earlier recovery failed: this call tries once more. */
            if ((rc = cf_hsm_recover(h, gen, "retrying after a failed "
                                     "reconnect")) != CF_OK)
                return rc;
            continue;
        }
        c.rv = cf_hsm_pool_borrow(h, &c.s);
        if (c.rv != CKR_OK) {
            c.fn = "C_OpenSession";
            rc = CF_ERR_HSM;
        } else {
            rc = op(&c, arg);
            cf_hsm_pool_return(h, c.s, c.poisoned || rc == CF_ERR_HSM);
        }
        pthread_rwlock_unlock(&h->conn_lock);
        if (rc != CF_ERR_HSM || c.rv == CKR_OK)
            return rc;
        if (attempt > 0 || !cf_hsm_rv_lost(c.rv, c.held))
            return cf_hsm_rv_map(c.rv, what, c.fn);
        snprintf(why, sizeof(why), "%s: %s returned %s", what, c.fn,
                 cf_hsm_rv_str(c.rv, name, sizeof(name)));
        if ((rc = cf_hsm_recover(h, gen, why)) != CF_OK)
            return rc;
    }
    return rc;
}

/* ---- public: open, login, logout, close -------------------------------- */

static cf_err_t
cf_hsm_parse_slot(const char *s, CK_SLOT_ID *out)
{
    unsigned long long  v;
    char               *end;

    if (s == NULL || *s < '0' || *s > '9')
        return CF_ERR_CONFIG;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > (CK_SLOT_ID) -1)
        return CF_ERR_CONFIG;
    *out = (CK_SLOT_ID) v;
    return CF_OK;
}

cf_err_t
cf_hsm_open(const cf_hsm_config_t *cfg, cf_hsm_t **out)
{
    cf_hsm_t              *h = NULL;
    pthread_rwlockattr_t   ra;
    char                   reason[CF_HSM_REASON], name[48];
    CK_RV                  rv;
    cf_err_t               rc = CF_ERR_CONFIG;

    *out = NULL;
    if (cfg == NULL || cfg->lib == NULL || *cfg->lib == '\0') {
        cf_log_error("hsm", "no PKCS#11 module path configured");
        return CF_ERR_CONFIG;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return CF_ERR_NOMEM;
    /* Writers first: under steady load a reader-preferring lock would
     * keep a recovery waiting forever. No thread takes it twice. */
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&h->conn_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&h->obj_mu, NULL);
    pthread_mutex_init(&h->pool_mu, NULL);
    pthread_cond_init(&h->pool_cv, NULL);
    pthread_mutex_init(&h->cache_mu, NULL);
    pthread_mutex_init(&h->status_mu, NULL);
    h->keeper = CK_INVALID_HANDLE;
    h->max_parallel = cfg->max_parallel != 0 ? cfg->max_parallel : 2;
    h->lib = strdup(cfg->lib);
    h->pool_free = calloc(h->max_parallel, sizeof(*h->pool_free));
    if (h->lib == NULL || h->pool_free == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if (cfg->token_label != NULL && *cfg->token_label != '\0') {
        if ((h->label = strdup(cfg->token_label)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
    } else if (cf_hsm_parse_slot(cfg->slot, &h->cfg_slot) != CF_OK) {
        cf_log_error("hsm", "PKCS#11 module %s: give a token label or a "
                     "decimal slot id (slot '%s')", h->lib,
                     cfg->slot != NULL ? cfg->slot : "");
        goto out;
    }
    if ((rc = cf_hsm_module_load(h->lib, &h->dl, &h->f)) != CF_OK)
        goto out;
    rv = cf_hsm_module_init(h->f);
    if (rv != CKR_OK) {
        cf_log_error("hsm", "PKCS#11 module %s: C_Initialize failed: %s "
                     "(for SoftHSM check SOFTHSM2_CONF and its tokendir)",
                     h->lib, cf_hsm_rv_str(rv, name, sizeof(name)));
        rc = CF_ERR_CONFIG;
        goto out;
    }
    h->initialized = true;
    if ((rc = cf_hsm_slot_locate(h, reason, sizeof(reason))) != CF_OK) {
        cf_log_error("hsm", "PKCS#11 module %s: %s", h->lib, reason);
        goto out;
    }
    *out = h;
    h = NULL;
out:
    cf_hsm_close(h);
    return rc;
}

cf_err_t
cf_hsm_login(cf_hsm_t *h, const cf_secret_t *pin)
{
    cf_secret_t  *copy = NULL;
    char          reason[CF_HSM_REASON] = "";
    bool          lost;
    cf_err_t      rc;

    if (h == NULL || pin == NULL)
        return CF_ERR_INVALID;
    pthread_rwlock_wrlock(&h->conn_lock);
    if (h->logged_in && cf_secret_len(h->pin) == cf_secret_len(pin)
        && CRYPTO_memcmp(cf_secret_data(h->pin), cf_secret_data(pin),
                         cf_secret_len(pin)) == 0) {
        rc = CF_OK;
        goto out;
    }
    /* Another PIN, or a broken connection: start from scratch. */
    if (h->logged_in || h->pin != NULL) {
        cf_hsm_drop_locked(h, true);
        cf_secret_free(h->pin);
        h->pin = NULL;
    }
    copy = cf_secret_new_copy(cf_secret_data(pin), cf_secret_len(pin));
    if (copy == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    rc = cf_hsm_connect_locked(h, copy, h->broken || !h->initialized,
                               reason, sizeof(reason), &lost);
    if (rc != CF_OK && rc != CF_ERR_PIN && lost)
        rc = cf_hsm_connect_locked(h, copy, true, reason, sizeof(reason),
                                   &lost);
    if (rc == CF_OK) {
        h->pin = copy;
        copy = NULL;
        cf_hsm_status_set(h, NULL);
    } else if (rc != CF_ERR_PIN) {
        cf_log_error("hsm", "token '%s' of %s: login failed: %s",
                     h->label != NULL ? h->label : "(by slot)", h->lib,
                     reason);
        if (lost)
            rc = CF_ERR_UNAVAILABLE;
    }
    h->broken = false;
out:
    pthread_rwlock_unlock(&h->conn_lock);
    cf_secret_free(copy);
    return rc;
}

/* Runs C_SetPIN in the keeper session (obj_mu guards it). */
cf_err_t
cf_hsm_set_pin(cf_hsm_t *h, const cf_secret_t *old_pin,
               const cf_secret_t *new_pin)
{
    cf_secret_t  *copy = NULL;
    CK_RV         rv;
    cf_err_t      rc;

    if (h == NULL || old_pin == NULL || new_pin == NULL)
        return CF_ERR_INVALID;
    copy = cf_secret_new_copy(cf_secret_data(new_pin),
                              cf_secret_len(new_pin));
    if (copy == NULL)
        return CF_ERR_NOMEM;
    pthread_rwlock_wrlock(&h->conn_lock);
    if (!h->logged_in) {
        rc = h->pin != NULL ? CF_ERR_UNAVAILABLE : CF_ERR_SEALED;
        goto out;
    }
    pthread_mutex_lock(&h->obj_mu);
    rv = h->f->C_SetPIN(h->keeper, cf_secret_data(old_pin),
                        cf_secret_len(old_pin), cf_secret_data(new_pin),
                        cf_secret_len(new_pin));
    pthread_mutex_unlock(&h->obj_mu);
    if ((rc = cf_hsm_rv_map(rv, "set PIN", "C_SetPIN")) != CF_OK)
        goto out;
    /* Reconnects must log in with the PIN the token now has. */
    cf_secret_free(h->pin);
    h->pin = copy;
    copy = NULL;
out:
    pthread_rwlock_unlock(&h->conn_lock);
    cf_secret_free(copy);
    return rc;
}

void
cf_hsm_logout(cf_hsm_t *h)
{
    if (h == NULL)
        return;
    pthread_rwlock_wrlock(&h->conn_lock);
    if (h->logged_in || h->keeper != CK_INVALID_HANDLE)
        cf_hsm_drop_locked(h, true);
    cf_secret_free(h->pin);
    h->pin = NULL;
    h->broken = false;
    pthread_rwlock_unlock(&h->conn_lock);
    cf_hsm_status_set(h, NULL);
}

bool
cf_hsm_logged_in(cf_hsm_t *h)
{
    bool  in;

    if (h == NULL)
        return false;
    pthread_rwlock_rdlock(&h->conn_lock);
    in = h->logged_in;
    pthread_rwlock_unlock(&h->conn_lock);
    return in;
}

void
cf_hsm_close(cf_hsm_t *h)
{
    if (h == NULL)
        return;
    if (h->f != NULL) {
        cf_hsm_logout(h);
        if (h->initialized)
            h->f->C_Finalize(NULL);
    }
    if (h->dl != NULL)
        dlclose(h->dl);
    pthread_rwlock_destroy(&h->conn_lock);
    pthread_mutex_destroy(&h->obj_mu);
    pthread_mutex_destroy(&h->pool_mu);
    pthread_cond_destroy(&h->pool_cv);
    pthread_mutex_destroy(&h->cache_mu);
    pthread_mutex_destroy(&h->status_mu);
    free(h->lib);
    free(h->label);
    free(h->pool_free);
    free(h->status);
    free(h);
}

/* ---- token initialisation (dev mode, tests) ---------------------------- */

cf_err_t
cf_hsm_init_token(const char *lib, const char *label,
                  const cf_secret_t *so_pin, const cf_secret_t *user_pin)
{
    CK_FUNCTION_LIST_PTR  f = NULL;
    CK_SESSION_HANDLE     s = CK_INVALID_HANDLE;
    CK_SLOT_ID            slot = 0;
    unsigned char         padded[32];
    const char           *fn = "C_Initialize";
    char                  reason[CF_HSM_REASON], name[48];
    void                 *dl = NULL;
    bool                  inited = false, so_in = false;
    CK_RV                 rv = CKR_OK;
    cf_err_t              rc;

    if (lib == NULL || label == NULL || *label == '\0' || so_pin == NULL
        || user_pin == NULL || !cf_hsm_label_pad(label, padded)) {
        cf_log_error("hsm", "init token: need a module, a label of 1-32 "
                     "bytes and both PINs");
        return CF_ERR_CONFIG;
    }
    if ((rc = cf_hsm_module_load(lib, &dl, &f)) != CF_OK)
        return rc;
    rc = CF_ERR_CONFIG;
    if ((rv = cf_hsm_module_init(f)) != CKR_OK)
        goto out;
    inited = true;
    if (cf_hsm_slot_find(f, label, true, &slot, reason, sizeof(reason))
        != CF_OK) {
        cf_log_error("hsm", "PKCS#11 module %s: cannot create token '%s': "
                     "%s", lib, label, reason);
        goto out;
    }
    fn = "C_InitToken";
    rv = f->C_InitToken(slot, cf_secret_data(so_pin), cf_secret_len(so_pin),
                        padded);
    if (rv != CKR_OK)
        goto out;
    /* The token may have moved to another slot id: look it up again. */
    if (cf_hsm_slot_find(f, label, false, &slot, reason, sizeof(reason))
        != CF_OK) {
        cf_log_error("hsm", "PKCS#11 module %s: token '%s' made but not "
                     "found: %s", lib, label, reason);
        goto out;
    }
    fn = "C_OpenSession";
    rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                          NULL, &s);
    if (rv != CKR_OK)
        goto out;
    fn = "C_Login";
    if ((rv = f->C_Login(s, CKU_SO, cf_secret_data(so_pin),
                         cf_secret_len(so_pin))) != CKR_OK)
        goto out;
    so_in = true;
    fn = "C_InitPIN";
    if ((rv = f->C_InitPIN(s, cf_secret_data(user_pin),
                           cf_secret_len(user_pin))) != CKR_OK)
        goto out;
    rc = CF_OK;
out:
    if (rv != CKR_OK)
        cf_log_error("hsm", "PKCS#11 module %s: init token '%s': %s failed: "
                     "%s", lib, label, fn, cf_hsm_rv_str(rv, name,
                                                         sizeof(name)));
    if (so_in)
        f->C_Logout(s);
    if (s != CK_INVALID_HANDLE)
        f->C_CloseSession(s);
    if (inited)
        f->C_Finalize(NULL);
    dlclose(dl);
    return rc;
}

/* ---- ids ---------------------------------------------------------------- */

void
cf_hsm_id_hex(const cf_hsm_id_t *id, char buf[2 * CF_HSM_ID_LEN + 1])
{
    static const char  digits[] = "0123456789abcdef";
    size_t             i;

    for (i = 0; i < CF_HSM_ID_LEN; i++) {
        buf[2 * i] = digits[id->b[i] >> 4];
        buf[2 * i + 1] = digits[id->b[i] & 0x0f];
    }
    buf[2 * CF_HSM_ID_LEN] = '\0';
}

static int
cf_hsm_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

cf_err_t
cf_hsm_id_parse(const char *hex, cf_hsm_id_t *out)
{
    cf_hsm_id_t  id;
    size_t       i;
    int          hi, lo;

    memset(out, 0, sizeof(*out));
    if (hex == NULL || strlen(hex) != 2 * CF_HSM_ID_LEN)
        return CF_ERR_INVALID;
    for (i = 0; i < CF_HSM_ID_LEN; i++) {
        hi = cf_hsm_hex_digit(hex[2 * i]);
        lo = cf_hsm_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return CF_ERR_INVALID;
        id.b[i] = (unsigned char) (hi << 4 | lo);
    }
    *out = id;
    return CF_OK;
}

/* ---- test hooks ---------------------------------------------------------- */

cf_err_t
cf_hsm_test_force_reconnect(cf_hsm_t *h)
{
    uint64_t  gen;

    pthread_rwlock_rdlock(&h->conn_lock);
    gen = h->gen;
    pthread_rwlock_unlock(&h->conn_lock);
    return cf_hsm_recover(h, gen, "test: forced reconnect");
}

void
cf_hsm_test_finalize(cf_hsm_t *h)
{
    pthread_rwlock_wrlock(&h->conn_lock);
    h->f->C_Finalize(NULL);
    pthread_rwlock_unlock(&h->conn_lock);
}
