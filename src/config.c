/* config: the server configuration from a Vault-shaped HCL (or JSON) file. */
#include "coffer/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coffer/hcl.h"
#include "coffer/log.h"

#define CF_CONFIG_MAX_FILE      (1u << 20)      /* cf_hcl_parse's limit */
#define CF_CONFIG_MAX_PARALLEL  1024
#define CF_CONFIG_DEFAULT_TTL   (32L * 24 * 3600)
#define CF_CONFIG_MAX_KEYS      16

typedef enum {
    CF_CONFIG_K_STRING,         /* non-empty string -> char * */
    CF_CONFIG_K_BOOL,           /* true/false, "true"/"false", 1/0 */
    CF_CONFIG_K_PARALLEL,       /* unsigned, 1..CF_CONFIG_MAX_PARALLEL */
    CF_CONFIG_K_SIZE,           /* size_t > 0 */
    CF_CONFIG_K_DURATION,       /* long seconds */
    CF_CONFIG_K_LOG_LEVEL,      /* int cf_log_level_t */
    CF_CONFIG_K_PIN,            /* cf_secret_t * */
    CF_CONFIG_K_SLOT,           /* decimal string */
    CF_CONFIG_K_MECHANISM,      /* checked, CKM_AES_GCM only; not kept */
    CF_CONFIG_K_IGNORE_STRING,  /* checked, not kept */
    CF_CONFIG_K_IGNORE_BOOL     /* checked, not kept */
} cf_config_kind_t;

typedef struct {
    const char        *name;
    cf_config_kind_t   kind;
    size_t             off;     /* into cf_config_t */
} cf_config_key_t;

#define CF_CONFIG_OFF(f)  offsetof(cf_config_t, f)

static const cf_config_key_t  cf_config_top_keys[] = {
    { "api_addr",          CF_CONFIG_K_STRING,    CF_CONFIG_OFF(api_addr) },
    { "cluster_addr",      CF_CONFIG_K_IGNORE_STRING, 0 },
    { "cluster_name",      CF_CONFIG_K_STRING,
      CF_CONFIG_OFF(cluster_name) },
    { "disable_mlock",     CF_CONFIG_K_BOOL,
      CF_CONFIG_OFF(disable_mlock) },
    { "log_level",         CF_CONFIG_K_LOG_LEVEL, CF_CONFIG_OFF(log_level) },
    { "ui",                CF_CONFIG_K_IGNORE_BOOL, 0 },
    { "default_lease_ttl", CF_CONFIG_K_DURATION,
      CF_CONFIG_OFF(default_lease_ttl) },
    { "max_lease_ttl",     CF_CONFIG_K_DURATION,
      CF_CONFIG_OFF(max_lease_ttl) },
};

static const cf_config_key_t  cf_config_storage_keys[] = {
    { "path",              CF_CONFIG_K_STRING,
      CF_CONFIG_OFF(storage_path) },
};

static const cf_config_key_t  cf_config_listener_keys[] = {
    { "address",           CF_CONFIG_K_STRING,    CF_CONFIG_OFF(listen_addr) },
    { "tls_disable",       CF_CONFIG_K_BOOL,      CF_CONFIG_OFF(tls_disable) },
    { "tls_cert_file",     CF_CONFIG_K_STRING,
      CF_CONFIG_OFF(tls_cert_file) },
    { "tls_key_file",      CF_CONFIG_K_STRING,
      CF_CONFIG_OFF(tls_key_file) },
    { "max_request_size",  CF_CONFIG_K_SIZE,
      CF_CONFIG_OFF(max_request_size) },
};

/* The first seven are shared with the hsm stanza (seal "shamir"). */
static const cf_config_key_t  cf_config_pkcs11_keys[] = {
    { "lib",               CF_CONFIG_K_STRING,    CF_CONFIG_OFF(hsm_lib) },
    { "token_label",       CF_CONFIG_K_STRING,
      CF_CONFIG_OFF(hsm_token_label) },
    { "slot",              CF_CONFIG_K_SLOT,      CF_CONFIG_OFF(hsm_slot) },
    { "pin",               CF_CONFIG_K_PIN,       CF_CONFIG_OFF(hsm_pin) },
    { "key_label",         CF_CONFIG_K_STRING,    CF_CONFIG_OFF(key_label) },
    { "generate_key",      CF_CONFIG_K_BOOL,
      CF_CONFIG_OFF(generate_key) },
    { "max_parallel",      CF_CONFIG_K_PARALLEL,
      CF_CONFIG_OFF(max_parallel) },
    /* Vault's: keys are found by label, sessions are always R/W. */
    { "key_id",            CF_CONFIG_K_IGNORE_STRING, 0 },
    { "mechanism",         CF_CONFIG_K_MECHANISM, 0 },
    { "force_rw_session",  CF_CONFIG_K_IGNORE_BOOL, 0 },
};
#define CF_CONFIG_HSM_NKEYS  7

#define CF_CONFIG_N(a)  (sizeof(a) / sizeof((a)[0]))

/* Environment names after the VAULT_HSM_ / COFFER_HSM_ prefix. */
static const cf_config_key_t  cf_config_env_keys[] = {
    { "LIB",               CF_CONFIG_K_STRING,    CF_CONFIG_OFF(hsm_lib) },
    { "TOKEN_LABEL",       CF_CONFIG_K_STRING,
      CF_CONFIG_OFF(hsm_token_label) },
    { "SLOT",              CF_CONFIG_K_SLOT,      CF_CONFIG_OFF(hsm_slot) },
    { "PIN",               CF_CONFIG_K_PIN,       CF_CONFIG_OFF(hsm_pin) },
    { "KEY_LABEL",         CF_CONFIG_K_STRING,    CF_CONFIG_OFF(key_label) },
    { "GENERATE_KEY",      CF_CONFIG_K_BOOL,
      CF_CONFIG_OFF(generate_key) },
    { "MAX_PARALLEL",      CF_CONFIG_K_PARALLEL,
      CF_CONFIG_OFF(max_parallel) },
};

typedef struct {
    cf_config_t  *cfg;
    char         *err;
    size_t        errlen;
    int           storage_line;
    int           listener_line;
    int           seal_line;
    int           hsm_line;
    bool          seal_has_params;  /* seal "pkcs11" sets HSM keys */
} cf_config_ctx_t;

static cf_err_t
cf_config_fail(char *err, size_t errlen, cf_err_t rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static cf_err_t
cf_config_fail(char *err, size_t errlen, cf_err_t rc, const char *fmt, ...)
{
    va_list  ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A key or label as it may appear in a message. Only short lower_snake
 * names, the shape of every real key and type: an operator may paste a
 * PIN where a key belongs, and that must not reach a log. */
static const char *
cf_config_show(const char *s)
{
    size_t  i;

    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return "?";
    for (i = 0; s[i] != '\0'; i++) {
        if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z')
                         || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return "?";
    }
    return s;
}

/* ---- scalar conversions (shared by the file and the environment) ------- */

static bool
cf_config_str_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return false;
    return true;
}

/* Decimal digits only: no sign, blanks, or exponent. */
static bool
cf_config_str_uint(const char *s, unsigned long long max,
                   unsigned long long *out)
{
    unsigned long long  v;
    char               *end;
    size_t              i;

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    if (i == 0 || i > 20)
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* Decimal or 0x-hex slot id, returned as a new decimal string. */
static bool
cf_config_str_slot(const char *s, char **out)
{
    unsigned long long  v;
    char                buf[24], *end;
    size_t              i;

    *out = NULL;
    if ((s[0] == '0') && (s[1] == 'x' || s[1] == 'X')) {
        for (i = 2; s[i] != '\0'; i++) {
            if (!isxdigit((unsigned char) s[i]))
                return false;
        }
        if (i == 2 || i > 18)
            return false;
        errno = 0;
        v = strtoull(s + 2, &end, 16);
        if (errno != 0 || *end != '\0')
            return false;
    } else if (!cf_config_str_uint(s, ULLONG_MAX, &v)) {
        return false;
    }
    snprintf(buf, sizeof(buf), "%llu", v);
    *out = strdup(buf);
    return true;
}

static bool
cf_config_str_mechanism(const char *s)
{
    return strcasecmp(s, "0x1087") == 0 || strcmp(s, "4231") == 0
           || strcmp(s, "CKM_AES_GCM") == 0;
}

cf_err_t
cf_config_parse_duration(const char *s, long *out)
{
    unsigned long long  n;
    long                total = 0, unit;
    const char         *p;

    *out = 0;
    if (s == NULL || *s == '\0')
        return CF_ERR_INVALID;
    if (cf_config_str_uint(s, LONG_MAX, &n)) {
        *out = (long) n;
        return CF_OK;
    }
    /* <digits><unit> repeated, like Go's "1h30m"; whole units only. */
    for (p = s; *p != '\0';) {
        if (*p < '0' || *p > '9')
            return CF_ERR_INVALID;
        n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n > (unsigned long long) LONG_MAX / 10)
                return CF_ERR_INVALID;
            n = n * 10 + (unsigned long long) (*p++ - '0');
        }
        switch (*p++) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default:  return CF_ERR_INVALID;
        }
        if (n > (unsigned long long) (LONG_MAX / unit)
            || (long) n * unit > LONG_MAX - total)
            return CF_ERR_INVALID;
        total += (long) n * unit;
    }
    *out = total;
    return CF_OK;
}

/* ---- one value into the config ------------------------------------------ */

/* Store text s for key k; false when it is not acceptable. Used for the
 * environment, where every value is a string. */
static cf_err_t
cf_config_set_str(cf_config_t *cfg, const cf_config_key_t *k, const char *s,
                  bool *ok)
{
    unsigned long long   v;
    char               **dst = (char **) ((char *) cfg + k->off);
    char                *copy;
    cf_secret_t         *pin;
    bool                 b;

    *ok = false;
    switch (k->kind) {
    case CF_CONFIG_K_STRING:
        if (*s == '\0')
            return CF_OK;
        if ((copy = strdup(s)) == NULL)
            return CF_ERR_NOMEM;
        free(*dst);
        *dst = copy;
        break;
    case CF_CONFIG_K_SLOT:
        if (!cf_config_str_slot(s, &copy))
            return CF_OK;
        if (copy == NULL)
            return CF_ERR_NOMEM;
        free(*dst);
        *dst = copy;
        break;
    case CF_CONFIG_K_PIN:
        if (*s == '\0')
            return CF_OK;
        /* Straight onto the secure heap: no other copy is made. */
        if ((pin = cf_secret_new_copy(s, strlen(s))) == NULL)
            return CF_ERR_NOMEM;
        cf_secret_free(cfg->hsm_pin);
        cfg->hsm_pin = pin;
        break;
    case CF_CONFIG_K_BOOL:
        if (!cf_config_str_bool(s, &b))
            return CF_OK;
        *(bool *) ((char *) cfg + k->off) = b;
        break;
    case CF_CONFIG_K_PARALLEL:
        if (!cf_config_str_uint(s, CF_CONFIG_MAX_PARALLEL, &v) || v == 0)
            return CF_OK;
        *(unsigned *) ((char *) cfg + k->off) = (unsigned) v;
        break;
    default:
        return CF_ERR_INTERNAL;
    }
    *ok = true;
    return CF_OK;
}

/* What a key of this kind must be, for messages. */
static const char *
cf_config_want(cf_config_kind_t kind)
{
    switch (kind) {
    case CF_CONFIG_K_BOOL:
    case CF_CONFIG_K_IGNORE_BOOL:
        return "must be true or false";
    case CF_CONFIG_K_PARALLEL:
        return "must be a whole number from 1 to 1024";
    case CF_CONFIG_K_SIZE:
        return "must be a whole number of bytes above 0";
    case CF_CONFIG_K_DURATION:
        return "must be a duration such as \"30s\", \"5m\", \"768h\", "
               "\"2d\" or whole seconds";
    case CF_CONFIG_K_LOG_LEVEL:
        return "must be one of \"trace\", \"debug\", \"info\", \"warn\", "
               "\"error\"";
    case CF_CONFIG_K_SLOT:
        return "must be a slot number";
    case CF_CONFIG_K_MECHANISM:
        return "must be CKM_AES_GCM (0x1087), the only mechanism supported";
    default:
        return "must be a non-empty string";
    }
}

/* A scalar node's text, or NULL for lists, objects and blocks. */
static const char *
cf_config_text(const cf_hcl_node_t *n)
{
    if (n->type == CF_HCL_STRING || n->type == CF_HCL_NUMBER)
        return n->str;
    if (n->type == CF_HCL_BOOL)
        return n->boolean ? "true" : "false";
    return NULL;
}

/* Node n is the value of key k in `where` ("" at the top level). */
static cf_err_t
cf_config_set(cf_config_ctx_t *c, const cf_config_key_t *k,
              const cf_hcl_node_t *n, const char *where)
{
    unsigned long long  v;
    const char         *s = cf_config_text(n);
    long                d;
    int                 lvl;
    bool                ok = false, b;
    cf_err_t            rc = CF_OK;

    /* Strings must be written as strings; the rest may be quoted, as
     * Vault's own configs often are ("true", "768h", "2"). */
    switch (k->kind) {
    case CF_CONFIG_K_STRING:
    case CF_CONFIG_K_PIN:
    case CF_CONFIG_K_IGNORE_STRING:
    case CF_CONFIG_K_LOG_LEVEL:
        if (n->type != CF_HCL_STRING)
            s = NULL;
        break;
    case CF_CONFIG_K_BOOL:
    case CF_CONFIG_K_IGNORE_BOOL:
        break;
    default:
        if (n->type == CF_HCL_BOOL)
            s = NULL;
        break;
    }
    if (s == NULL)
        goto out;
    switch (k->kind) {
    case CF_CONFIG_K_STRING:
    case CF_CONFIG_K_SLOT:
    case CF_CONFIG_K_PIN:
    case CF_CONFIG_K_BOOL:
    case CF_CONFIG_K_PARALLEL:
        rc = cf_config_set_str(c->cfg, k, s, &ok);
        break;
    case CF_CONFIG_K_IGNORE_STRING:
        ok = *s != '\0';
        break;
    case CF_CONFIG_K_IGNORE_BOOL:
        ok = cf_config_str_bool(s, &b);
        break;
    case CF_CONFIG_K_MECHANISM:
        ok = cf_config_str_mechanism(s);
        break;
    case CF_CONFIG_K_SIZE:
        if ((ok = cf_config_str_uint(s, SIZE_MAX, &v) && v > 0))
            *(size_t *) ((char *) c->cfg + k->off) = (size_t) v;
        break;
    case CF_CONFIG_K_DURATION:
        if ((ok = cf_config_parse_duration(s, &d) == CF_OK))
            *(long *) ((char *) c->cfg + k->off) = d;
        break;
    case CF_CONFIG_K_LOG_LEVEL:
        if ((ok = (lvl = cf_log_parse_level(s)) >= 0))
            *(int *) ((char *) c->cfg + k->off) = lvl;
        break;
    }
out:
    if (rc != CF_OK)
        return cf_config_fail(c->err, c->errlen, rc, "out of memory");
    if (!ok)
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: '%s'%s%s %s", n->line, k->name,
                              *where ? " in " : "", where,
                              cf_config_want(k->kind));
    return CF_OK;
}

/* Every child of body against the keys table; where names the stanza. */
static cf_err_t
cf_config_body(cf_config_ctx_t *c, const cf_hcl_node_t *body,
               const cf_config_key_t *keys, size_t nkeys, const char *where)
{
    const cf_hcl_node_t  *n;
    int                   seen[CF_CONFIG_MAX_KEYS] = { 0 };
    size_t                i;
    cf_err_t              rc;

    for (n = body->child; n != NULL; n = n->next) {
        for (i = 0; i < nkeys; i++) {
            if (n->key != NULL && strcmp(n->key, keys[i].name) == 0)
                break;
        }
        if (i == nkeys)
            return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                                  "line %d: unknown %s '%s' in %s", n->line,
                                  n->type == CF_HCL_BLOCK ? "stanza" : "key",
                                  cf_config_show(n->key), where);
        if (seen[i] != 0)
            return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                                  "line %d: '%s' is set twice in %s (first "
                                  "on line %d)", n->line, keys[i].name,
                                  where, seen[i]);
        seen[i] = n->line;
        if ((rc = cf_config_set(c, &keys[i], n, where)) != CF_OK)
            return rc;
    }
    return CF_OK;
}

/* ---- stanzas ------------------------------------------------------------ */

static cf_err_t
cf_config_twice(cf_config_ctx_t *c, const cf_hcl_node_t *body,
                const char *what, int first)
{
    return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                          "line %d: a second %s stanza (the first is on "
                          "line %d); only one is allowed", body->line, what,
                          first);
}

static cf_err_t
cf_config_storage(const char *label, const cf_hcl_node_t *body, void *arg)
{
    cf_config_ctx_t  *c = arg;
    cf_err_t          rc;

    if (c->storage_line != 0)
        return cf_config_twice(c, body, "storage", c->storage_line);
    c->storage_line = body->line;
    if (strcmp(label, "sqlite") != 0)
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: unsupported storage \"%s\" (only "
                              "\"sqlite\" is)", body->line,
                              cf_config_show(label));
    if ((rc = cf_config_body(c, body, cf_config_storage_keys,
                             CF_CONFIG_N(cf_config_storage_keys),
                             "storage \"sqlite\"")) != CF_OK)
        return rc;
    if (c->cfg->storage_path == NULL)
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: storage \"sqlite\" needs a path",
                              body->line);
    free(c->cfg->storage_type);
    if ((c->cfg->storage_type = strdup("sqlite")) == NULL)
        return cf_config_fail(c->err, c->errlen, CF_ERR_NOMEM,
                              "out of memory");
    return CF_OK;
}

static cf_err_t
cf_config_listener(const char *label, const cf_hcl_node_t *body, void *arg)
{
    cf_config_ctx_t  *c = arg;
    cf_config_t      *cfg = c->cfg;
    cf_err_t          rc;

    if (c->listener_line != 0)
        return cf_config_twice(c, body, "listener", c->listener_line);
    c->listener_line = body->line;
    if (strcmp(label, "tcp") != 0)
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: unsupported listener \"%s\" (only "
                              "\"tcp\" is)", body->line,
                              cf_config_show(label));
    if ((rc = cf_config_body(c, body, cf_config_listener_keys,
                             CF_CONFIG_N(cf_config_listener_keys),
                             "listener \"tcp\"")) != CF_OK)
        return rc;
    if (!cfg->tls_disable
        && (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL))
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: listener \"tcp\" needs tls_cert_file "
                              "and tls_key_file, or tls_disable = true",
                              body->line);
    return CF_OK;
}

static cf_err_t
cf_config_seal(const char *label, const cf_hcl_node_t *body, void *arg)
{
    cf_config_ctx_t  *c = arg;

    if (c->seal_line != 0)
        return cf_config_twice(c, body, "seal", c->seal_line);
    c->seal_line = body->line;
    if (strcmp(label, "shamir") == 0) {
        c->cfg->seal_type = CF_SEAL_SHAMIR;
        return cf_config_body(c, body, NULL, 0, "seal \"shamir\"");
    }
    if (strcmp(label, "pkcs11") == 0) {
        c->cfg->seal_type = CF_SEAL_PKCS11;
        c->seal_has_params = body->child != NULL;
        return cf_config_body(c, body, cf_config_pkcs11_keys,
                              CF_CONFIG_N(cf_config_pkcs11_keys),
                              "seal \"pkcs11\"");
    }
    return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                          "line %d: unsupported seal \"%s\" (only "
                          "\"pkcs11\" and \"shamir\" are)", body->line,
                          cf_config_show(label));
}

/* hsm { .. } or hsm = { .. } (also JSON "hsm": {..}). */
static cf_err_t
cf_config_hsm(cf_config_ctx_t *c, const cf_hcl_node_t *n)
{
    if ((n->type != CF_HCL_BLOCK || n->nlabels != 0)
        && n->type != CF_HCL_OBJECT)
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: hsm must be a stanza without a "
                              "label: hsm { lib = \"...\" ... }", n->line);
    if (c->hsm_line != 0)
        return cf_config_twice(c, n, "hsm", c->hsm_line);
    c->hsm_line = n->line;
    return cf_config_body(c, n, cf_config_pkcs11_keys, CF_CONFIG_HSM_NKEYS,
                          "hsm");
}

/* Labelled stanzas of one name, in any shape cf_hcl_blocks knows. */
static cf_err_t
cf_config_stanzas(cf_config_ctx_t *c, const cf_hcl_node_t *root,
                  const char *name, cf_hcl_block_fn fn)
{
    int       line = 0;
    cf_err_t  rc;

    rc = cf_hcl_blocks(root, name, fn, c, &line);
    if (rc == CF_ERR_INVALID)
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: %s must be a stanza with one label, "
                              "like %s \"type\" { ... }", line, name, name);
    return rc;
}

static cf_err_t
cf_config_walk(cf_config_ctx_t *c, const cf_hcl_node_t *root)
{
    static const char *const  stanzas[] = { "storage", "listener", "seal" };
    static const cf_hcl_block_fn  fns[] = {
        cf_config_storage, cf_config_listener, cf_config_seal
    };
    const cf_hcl_node_t  *n;
    int                   seen[CF_CONFIG_N(cf_config_top_keys)] = { 0 };
    size_t                i;
    cf_err_t              rc;

    for (n = root->child; n != NULL; n = n->next) {
        if (n->key == NULL)
            continue;
        for (i = 0; i < CF_CONFIG_N(stanzas); i++) {
            if (strcmp(n->key, stanzas[i]) == 0)
                break;
        }
        if (i < CF_CONFIG_N(stanzas))
            continue;               /* below, with cf_hcl_blocks */
        if (strcmp(n->key, "hsm") == 0) {
            if ((rc = cf_config_hsm(c, n)) != CF_OK)
                return rc;
            continue;
        }
        for (i = 0; i < CF_CONFIG_N(cf_config_top_keys); i++) {
            if (strcmp(n->key, cf_config_top_keys[i].name) == 0)
                break;
        }
        if (i == CF_CONFIG_N(cf_config_top_keys))
            return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                                  "line %d: unknown %s '%s'", n->line,
                                  n->type == CF_HCL_BLOCK ? "stanza" : "key",
                                  cf_config_show(n->key));
        if (seen[i] != 0)
            return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                                  "line %d: '%s' is set twice (first on "
                                  "line %d)", n->line,
                                  cf_config_top_keys[i].name, seen[i]);
        seen[i] = n->line;
        if ((rc = cf_config_set(c, &cf_config_top_keys[i], n, "")) != CF_OK)
            return rc;
    }
    for (i = 0; i < CF_CONFIG_N(stanzas); i++) {
        if ((rc = cf_config_stanzas(c, root, stanzas[i], fns[i])) != CF_OK)
            return rc;
    }
    if (c->hsm_line != 0 && c->cfg->seal_type == CF_SEAL_PKCS11
        && c->seal_has_params)
        return cf_config_fail(c->err, c->errlen, CF_ERR_CONFIG,
                              "line %d: HSM settings are in both seal "
                              "\"pkcs11\" (line %d) and hsm; keep one",
                              c->hsm_line, c->seal_line);
    return CF_OK;
}

/* ---- public ------------------------------------------------------------- */

cf_config_t *
cf_config_new(void)
{
    cf_config_t  *cfg;

    if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
        return NULL;
    cfg->listen_addr = strdup("127.0.0.1:8200");
    cfg->key_label = strdup("coffer-barrier");
    if (cfg->listen_addr == NULL || cfg->key_label == NULL) {
        cf_config_free(cfg);
        return NULL;
    }
    cfg->max_request_size = 32u << 20;
    cfg->seal_type = CF_SEAL_PKCS11;
    cfg->max_parallel = 2;
    cfg->log_level = CF_LOG_INFO;
    cfg->default_lease_ttl = CF_CONFIG_DEFAULT_TTL;
    cfg->max_lease_ttl = CF_CONFIG_DEFAULT_TTL;
    return cfg;
}

cf_err_t
cf_config_parse(const char *text, size_t len, cf_config_t **out, char *err,
                size_t errlen)
{
    cf_config_ctx_t   c;
    cf_hcl_node_t    *root = NULL;
    cf_err_t          rc;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    if ((rc = cf_hcl_parse(text, len, &root, err, errlen)) != CF_OK) {
        /* err already says "line N: ..." */
        if (rc == CF_ERR_INVALID)
            rc = CF_ERR_CONFIG;
        goto out;
    }
    if ((c.cfg = cf_config_new()) == NULL) {
        rc = cf_config_fail(err, errlen, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = cf_config_walk(&c, root);
out:
    cf_hcl_free(root);              /* zeroes the PIN's text in the tree */
    if (rc != CF_OK) {
        cf_config_free(c.cfg);
        return rc;
    }
    *out = c.cfg;
    return CF_OK;
}

cf_err_t
cf_config_apply_env(cf_config_t *cfg, char *err, size_t errlen)
{
    static const char *const  prefixes[] = { "COFFER_HSM_", "VAULT_HSM_" };
    const char               *v;
    char                      name[48];
    size_t                    i, j;
    bool                      ok;
    cf_err_t                  rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    for (i = 0; i < CF_CONFIG_N(cf_config_env_keys); i++) {
        /* COFFER_ first: it wins over VAULT_. Empty means unset. */
        for (j = 0; j < CF_CONFIG_N(prefixes); j++) {
            snprintf(name, sizeof(name), "%s%s", prefixes[j],
                     cf_config_env_keys[i].name);
            if ((v = getenv(name)) != NULL && *v != '\0')
                break;
        }
        if (j == CF_CONFIG_N(prefixes))
            continue;
        rc = cf_config_set_str(cfg, &cf_config_env_keys[i], v, &ok);
        if (rc != CF_OK)
            return cf_config_fail(err, errlen, rc, "out of memory");
        if (!ok)
            return cf_config_fail(err, errlen, CF_ERR_CONFIG, "%s %s", name,
                                  cf_config_want(cf_config_env_keys[i].kind));
    }
    return CF_OK;
}

/* Whole file into a NUL-terminated buffer; the caller zeroes and frees. */
static cf_err_t
cf_config_read(const char *path, char **out, size_t *len, char *err,
               size_t errlen)
{
    struct stat   st = { 0 };
    char         *buf = NULL;
    size_t        n = 0;
    ssize_t       r;
    int           fd;
    cf_err_t      rc = CF_OK;

    *out = NULL;
    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return cf_config_fail(err, errlen, CF_ERR_CONFIG, "cannot open %s: "
                              "%s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cf_config_fail(err, errlen, CF_ERR_CONFIG, "%s is not a "
                            "readable file", path);
        goto out;
    }
    if (st.st_size > (off_t) CF_CONFIG_MAX_FILE) {
        rc = cf_config_fail(err, errlen, CF_ERR_CONFIG, "%s is larger than "
                            "1 MiB", path);
        goto out;
    }
    if ((buf = malloc((size_t) st.st_size + 1)) == NULL) {
        rc = cf_config_fail(err, errlen, CF_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Read no more than fstat promised, so a growing file cannot
     * overflow the buffer. */
    while (n < (size_t) st.st_size) {
        r = read(fd, buf + n, (size_t) st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cf_config_fail(err, errlen, CF_ERR_CONFIG, "cannot read "
                                "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t) r;
    }
    buf[n] = '\0';
out:
    close(fd);
    if (rc != CF_OK) {
        if (buf != NULL)
            OPENSSL_cleanse(buf, (size_t) st.st_size + 1);
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return CF_OK;
}

cf_err_t
cf_config_load(const char *path, cf_config_t **out, char *err, size_t errlen)
{
    cf_config_t  *cfg = NULL;
    char         *text = NULL;
    size_t        len = 0;
    cf_err_t      rc;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (path == NULL) {
        rc = cf_config_fail(err, errlen, CF_ERR_CONFIG, "no configuration "
                            "file given");
        goto out;
    }
    if ((rc = cf_config_read(path, &text, &len, err, errlen)) != CF_OK
        || (rc = cf_config_parse(text, len, &cfg, err, errlen)) != CF_OK
        || (rc = cf_config_apply_env(cfg, err, errlen)) != CF_OK)
        goto out;
    /* What the server cannot start without, once the env had its say. */
    rc = CF_ERR_CONFIG;
    if (cfg->storage_type == NULL)
        cf_config_fail(err, errlen, rc, "no storage stanza: add storage "
                       "\"sqlite\" { path = \"...\" }");
    else if (!cfg->tls_disable
             && (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL))
        cf_config_fail(err, errlen, rc, "no listener \"tcp\" stanza with "
                       "tls_cert_file and tls_key_file (or tls_disable = "
                       "true)");
    else if (cfg->hsm_lib == NULL)
        cf_config_fail(err, errlen, rc, "no HSM library: set lib in seal "
                       "\"pkcs11\" (or in hsm, for seal \"shamir\"), or "
                       "VAULT_HSM_LIB");
    else if (cfg->hsm_token_label == NULL && cfg->hsm_slot == NULL)
        cf_config_fail(err, errlen, rc, "no HSM token: set token_label or "
                       "slot in seal \"pkcs11\" (or in hsm, for seal "
                       "\"shamir\"), or VAULT_HSM_TOKEN_LABEL or "
                       "VAULT_HSM_SLOT");
    else
        rc = CF_OK;
out:
    if (text != NULL) {
        OPENSSL_cleanse(text, len);     /* may hold the PIN */
        free(text);
    }
    if (rc != CF_OK) {
        cf_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return CF_OK;
}

void
cf_config_free(cf_config_t *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->storage_type);
    free(cfg->storage_path);
    free(cfg->listen_addr);
    free(cfg->tls_cert_file);
    free(cfg->tls_key_file);
    free(cfg->hsm_lib);
    free(cfg->hsm_token_label);
    free(cfg->hsm_slot);
    cf_secret_free(cfg->hsm_pin);
    free(cfg->key_label);
    free(cfg->api_addr);
    free(cfg->cluster_name);
    OPENSSL_cleanse(cfg, sizeof(*cfg));
    free(cfg);
}
