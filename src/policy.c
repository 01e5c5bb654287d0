/* policy: parsing Vault ACL policy documents; built-in policies; the
 * root-protected (sudo) paths. The ACL lives in policy_acl.c, identity
 * templates in policy_template.c. */
#include "coffer/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/config.h"
#include "coffer/hcl.h"
#include "policy_internal.h"

/* ---- built-in policies ------------------------------------------------ */

/* The rules of Vault's default policy (vault/policy_store.go), same paths
 * and capabilities in the same order. */
const char  cf_policy_default_text[] =
    "# The token may read its own properties, renew and revoke itself.\n"
    "path \"auth/token/lookup-self\" {\n"
    "    capabilities = [\"read\"]\n"
    "}\n"
    "\n"
    "path \"auth/token/renew-self\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "path \"auth/token/revoke-self\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "# It may ask which capabilities it has on a path.\n"
    "path \"sys/capabilities-self\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "# It may read its own entity, by id or by name.\n"
    "path \"identity/entity/id/{{identity.entity.id}}\" {\n"
    "    capabilities = [\"read\"]\n"
    "}\n"
    "path \"identity/entity/name/{{identity.entity.name}}\" {\n"
    "    capabilities = [\"read\"]\n"
    "}\n"
    "\n"
    "# It may read the ACL resulting from all its policies (for UIs).\n"
    "path \"sys/internal/ui/resultant-acl\" {\n"
    "    capabilities = [\"read\"]\n"
    "}\n"
    "\n"
    "# Lease renewal by lease_id in the body (old and new path) and lease\n"
    "# lookup, which needs the lease ID already.\n"
    "path \"sys/renew\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "path \"sys/leases/renew\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "path \"sys/leases/lookup\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "# The token's own cubbyhole.\n"
    "path \"cubbyhole/*\" {\n"
    "    capabilities = [\"create\", \"read\", \"update\", \"delete\", "
    "\"list\"]\n"
    "}\n"
    "\n"
    "# Response wrapping: wrap values, look up and unwrap wrapping tokens.\n"
    "path \"sys/wrapping/wrap\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "path \"sys/wrapping/lookup\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "path \"sys/wrapping/unwrap\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "# General purpose tools.\n"
    "path \"sys/tools/hash\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "path \"sys/tools/hash/*\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "# Status of a control group request, given its accessor.\n"
    "path \"sys/control-group/request\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n"
    "\n"
    "# The authorization endpoint of identity OIDC providers.\n"
    "path \"identity/oidc/provider/+/authorize\" {\n"
    "    capabilities = [\"read\", \"update\"]\n"
    "}\n";

const char  cf_policy_response_wrapping_text[] =
    "path \"cubbyhole/response\" {\n"
    "    capabilities = [\"create\", \"read\"]\n"
    "}\n"
    "\n"
    "path \"sys/wrapping/unwrap\" {\n"
    "    capabilities = [\"update\"]\n"
    "}\n";

/* ---- sudo-protected paths --------------------------------------------- */

/* PathsSpecial.Root of Vault's system backend (mounted at sys/) and of
 * the token store (auth/token/). A trailing '*' makes a prefix. */
static const char *const  cf_policy_sudo_paths[] = {
    "sys/auth/*",
    "sys/remount",
    "sys/audit",
    "sys/audit/*",
    "sys/raw",
    "sys/raw/*",
    "sys/replication/primary/secondary-token",
    "sys/replication/performance/primary/secondary-token",
    "sys/replication/dr/primary/secondary-token",
    "sys/replication/reindex",
    "sys/replication/dr/reindex",
    "sys/replication/performance/reindex",
    "sys/rotate",
    "sys/config/cors",
    "sys/config/auditing/*",
    "sys/config/ui/headers/*",
    "sys/plugins/catalog/*",
    "sys/plugins/runtimes/catalog/*",
    "sys/revoke-prefix/*",
    "sys/revoke-force/*",
    "sys/leases/revoke-prefix/*",
    "sys/leases/revoke-force/*",
    "sys/leases/lookup/*",
    "sys/storage/raft/snapshot-auto/config/*",
    "sys/leases",
    "sys/internal/inspect/*",
    "sys/seal",
    "sys/step-down",
    "auth/token/revoke-orphan/*",
    "auth/token/accessors*",
    NULL
};

bool
cf_policy_path_needs_sudo(const char *path)
{
    const char  *e;
    size_t       n, i;

    if (path == NULL)
        return false;
    while (*path == '/')
        path++;
    for (i = 0; cf_policy_sudo_paths[i] != NULL; i++) {
        e = cf_policy_sudo_paths[i];
        n = strlen(e);
        if (e[n - 1] == '*') {
            if (strncmp(path, e, n - 1) == 0)
                return true;
        } else if (strcmp(path, e) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- objects ---------------------------------------------------------- */

static void
cf_policy_rule_cleanup(cf_policy_rule_t *r)
{
    free(r->path);
    json_decref(r->allowed);
    json_decref(r->denied);
    json_decref(r->required);
    memset(r, 0, sizeof(*r));
}

cf_policy_t *
cf_policy_ref(cf_policy_t *p)
{
    if (p != NULL)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

void
cf_policy_free(cf_policy_t *p)
{
    size_t  i;

    if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (i = 0; i < p->nrules; i++)
        cf_policy_rule_cleanup(&p->rules[i]);
    free(p->rules);
    free(p->name);
    free(p->text);
    free(p);
}

const char *
cf_policy_name(const cf_policy_t *p)
{
    return p->name;
}

const char *
cf_policy_text(const cf_policy_t *p)
{
    return p->text;
}

bool
cf_policy_templated(const cf_policy_t *p)
{
    return p->templated;
}

size_t
cf_policy_rule_count(const cf_policy_t *p)
{
    return p->nrules;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct {
    cf_policy_t  *pol;
    char         *err;
    size_t        errlen;
    const char   *path;     /* the rule being parsed, for messages */
} cf_policy_ctx_t;

/* Rule keys; each may appear once per rule. */
enum {
    CF_POLICY_K_CAPS      = 1u << 0,
    CF_POLICY_K_POLICY    = 1u << 1,
    CF_POLICY_K_ALLOWED   = 1u << 2,
    CF_POLICY_K_DENIED    = 1u << 3,
    CF_POLICY_K_REQUIRED  = 1u << 4,
    CF_POLICY_K_MIN_WRAP  = 1u << 5,
    CF_POLICY_K_MAX_WRAP  = 1u << 6,
    CF_POLICY_K_COMMENT   = 1u << 7,
    CF_POLICY_K_EVENTS    = 1u << 8
};

static const struct {
    const char  *name;
    unsigned     bit;
} cf_policy_keys[] = {
    { "capabilities",          CF_POLICY_K_CAPS },
    { "policy",                CF_POLICY_K_POLICY },
    { "allowed_parameters",    CF_POLICY_K_ALLOWED },
    { "denied_parameters",     CF_POLICY_K_DENIED },
    { "required_parameters",   CF_POLICY_K_REQUIRED },
    { "min_wrapping_ttl",      CF_POLICY_K_MIN_WRAP },
    { "max_wrapping_ttl",      CF_POLICY_K_MAX_WRAP },
    { "comment",               CF_POLICY_K_COMMENT },
    { "subscribe_event_types", CF_POLICY_K_EVENTS },
};

static const struct {
    const char  *name;
    unsigned     cap;
} cf_policy_caps[] = {
    { "deny",      CF_POLICY_CAP_DENY },
    { "create",    CF_POLICY_CAP_CREATE },
    { "read",      CF_POLICY_CAP_READ },
    { "update",    CF_POLICY_CAP_UPDATE },
    { "delete",    CF_POLICY_CAP_DELETE },
    { "list",      CF_POLICY_CAP_LIST },
    { "sudo",      CF_POLICY_CAP_SUDO },
    { "patch",     CF_POLICY_CAP_PATCH },
    { "subscribe", CF_POLICY_CAP_SUBSCRIBE },
    { "recover",   CF_POLICY_CAP_RECOVER },
};

#define CF_POLICY_CAPS_READ   (CF_POLICY_CAP_READ | CF_POLICY_CAP_LIST)
#define CF_POLICY_CAPS_WRITE  (CF_POLICY_CAP_CREATE | CF_POLICY_CAP_READ \
                               | CF_POLICY_CAP_UPDATE | CF_POLICY_CAP_DELETE \
                               | CF_POLICY_CAP_LIST)

/* "line N: path "p": <message>" (the rule part only inside a rule). */
static cf_err_t
cf_policy_fail(cf_policy_ctx_t *c, int line, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    if (c->err == NULL || c->errlen == 0)
        return CF_ERR_INVALID;
    if (c->path != NULL)
        n = snprintf(c->err, c->errlen, "line %d: path \"%.80s\": ", line,
                     c->path);
    else
        n = snprintf(c->err, c->errlen, "line %d: ", line);
    if (n >= 0 && (size_t) n < c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return CF_ERR_INVALID;
}

static void
cf_policy_lower(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char) (*s - 'A' + 'a');
    }
}

/* Is d a whole number that a double holds exactly (|d| < 2^53)? Done
 * without libm, which coffer_core does not link. */
static bool
cf_policy_is_int(double d)
{
    return d > -9007199254740992.0 && d < 9007199254740992.0
           && d == (double) (int64_t) d;
}

/* An HCL value (list element) as JSON; *out NULL on OOM. */
static cf_err_t
cf_policy_value_json(const cf_hcl_node_t *n, json_t **out)
{
    const cf_hcl_node_t  *c;
    json_t               *j = NULL, *v;
    cf_err_t              rc = CF_OK;

    *out = NULL;
    switch (n->type) {
    case CF_HCL_STRING:
        j = json_string(n->str);
        break;
    case CF_HCL_NUMBER:
        if (cf_policy_is_int(n->num))
            j = json_integer((json_int_t) n->num);
        else
            j = json_real(n->num);
        break;
    case CF_HCL_BOOL:
        j = json_boolean(n->boolean);
        break;
    case CF_HCL_LIST:
        if ((j = json_array()) == NULL)
            break;
        for (c = n->child; c != NULL && rc == CF_OK; c = c->next) {
            if ((rc = cf_policy_value_json(c, &v)) == CF_OK
                && json_array_append_new(j, v) != 0)
                rc = CF_ERR_NOMEM;
        }
        break;
    case CF_HCL_OBJECT:
    case CF_HCL_BLOCK:
        if ((j = json_object()) == NULL)
            break;
        for (c = n->child; c != NULL && rc == CF_OK; c = c->next) {
            if (c->type == CF_HCL_BLOCK)
                continue;       /* a nested block is no value */
            if ((rc = cf_policy_value_json(c, &v)) == CF_OK
                && json_object_set_new(j, c->key, v) != 0)
                rc = CF_ERR_NOMEM;
        }
        break;
    }
    if (j == NULL)
        rc = CF_ERR_NOMEM;
    if (rc != CF_OK) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return CF_OK;
}

/* A map value: `k = { ... }` or a label-less block `k { ... }`. */
static bool
cf_policy_is_map(const cf_hcl_node_t *n)
{
    return n->type == CF_HCL_OBJECT
           || (n->type == CF_HCL_BLOCK && n->nlabels == 0);
}

/* allowed_parameters / denied_parameters: name -> list of values. */
static cf_err_t
cf_policy_parse_params(cf_policy_ctx_t *c, const cf_hcl_node_t *n,
                       json_t **out)
{
    const cf_hcl_node_t  *e;
    json_t               *map, *vals = NULL;
    char                 *name = NULL;
    cf_err_t              rc = CF_OK;

    *out = NULL;
    if (!cf_policy_is_map(n))
        return cf_policy_fail(c, n->line, "'%s' must be a map", n->key);
    if ((map = json_object()) == NULL)
        return CF_ERR_NOMEM;
    for (e = n->child; e != NULL; e = e->next) {
        if (e->type != CF_HCL_LIST) {
            rc = cf_policy_fail(c, e->line, "'%s': each parameter needs a "
                                "list of values", n->key);
            goto out;
        }
        /* Vault allows '*' in a name only as the whole name. */
        if (strchr(e->key, '*') != NULL && strcmp(e->key, "*") != 0) {
            rc = cf_policy_fail(c, e->line, "'%s': a parameter name may "
                                "be '*' but not contain it", n->key);
            goto out;
        }
        if ((name = strdup(e->key)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        cf_policy_lower(name);
        if ((rc = cf_policy_value_json(e, &vals)) != CF_OK)
            goto out;
        if (json_object_set_new(map, name, vals) != 0) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        free(name);
        name = NULL;
    }
out:
    free(name);
    if (rc != CF_OK) {
        json_decref(map);
        return rc;
    }
    *out = map;
    return CF_OK;
}

static cf_err_t
cf_policy_parse_required(cf_policy_ctx_t *c, const cf_hcl_node_t *n,
                         json_t **out)
{
    const cf_hcl_node_t  *e;
    json_t               *arr;
    char                 *name;

    *out = NULL;
    if (n->type != CF_HCL_LIST)
        return cf_policy_fail(c, n->line, "'%s' must be a list of names",
                              n->key);
    for (e = n->child; e != NULL; e = e->next) {
        if (e->type != CF_HCL_STRING)
            return cf_policy_fail(c, e->line, "'%s' must be a list of "
                                  "names", n->key);
        if (strchr(e->str, '*') != NULL)
            return cf_policy_fail(c, e->line, "'%s': no '*' allowed in "
                                  "required parameter names", n->key);
    }
    if ((arr = json_array()) == NULL)
        return CF_ERR_NOMEM;
    for (e = n->child; e != NULL; e = e->next) {
        if ((name = strdup(e->str)) == NULL)
            goto nomem;
        cf_policy_lower(name);
        if (json_array_append_new(arr, json_string(name)) != 0) {
            free(name);
            goto nomem;
        }
        free(name);
    }
    *out = arr;
    return CF_OK;
nomem:
    json_decref(arr);
    return CF_ERR_NOMEM;
}

/* A duration: "90s", "1h", "60" or 60 (seconds), as ParseDurationSecond. */
static cf_err_t
cf_policy_parse_ttl(cf_policy_ctx_t *c, const cf_hcl_node_t *n,
                    int64_t *out)
{
    long  secs;

    if (n->type == CF_HCL_NUMBER && n->num >= 0 && cf_policy_is_int(n->num)) {
        *out = (int64_t) n->num;
        return CF_OK;
    }
    if (n->type == CF_HCL_STRING
        && cf_config_parse_duration(n->str, &secs) == CF_OK && secs >= 0) {
        *out = secs;
        return CF_OK;
    }
    return cf_policy_fail(c, n->line, "'%s' must be a duration such as "
                          "\"90s\" or \"1h\"", n->key);
}

static cf_err_t
cf_policy_parse_caps(cf_policy_ctx_t *c, const cf_hcl_node_t *n,
                     unsigned *caps)
{
    const cf_hcl_node_t  *e;
    size_t                i, idx = 0;

    if (n->type != CF_HCL_LIST)
        return cf_policy_fail(c, n->line, "'capabilities' must be a list");
    for (e = n->child; e != NULL; e = e->next) {
        idx++;
        if (e->type != CF_HCL_STRING)
            return cf_policy_fail(c, e->line, "capability %zu is not a "
                                  "string", idx);
        for (i = 0; i < sizeof(cf_policy_caps) / sizeof(cf_policy_caps[0]);
             i++) {
            if (strcmp(e->str, cf_policy_caps[i].name) == 0)
                break;
        }
        if (i == sizeof(cf_policy_caps) / sizeof(cf_policy_caps[0]))
            return cf_policy_fail(c, e->line, "capability %zu is not one "
                                  "of create, read, update, patch, delete, "
                                  "list, sudo, deny, subscribe, recover",
                                  idx);
        *caps |= cf_policy_caps[i].cap;
    }
    return CF_OK;
}

static cf_err_t
cf_policy_parse_legacy(cf_policy_ctx_t *c, const cf_hcl_node_t *n,
                       unsigned *caps)
{
    if (n->type == CF_HCL_STRING) {
        if (strcmp(n->str, "deny") == 0) {
            *caps |= CF_POLICY_CAP_DENY;
            return CF_OK;
        }
        if (strcmp(n->str, "read") == 0) {
            *caps |= CF_POLICY_CAPS_READ;
            return CF_OK;
        }
        if (strcmp(n->str, "write") == 0) {
            *caps |= CF_POLICY_CAPS_WRITE;
            return CF_OK;
        }
        if (strcmp(n->str, "sudo") == 0) {
            *caps |= CF_POLICY_CAPS_WRITE | CF_POLICY_CAP_SUDO;
            return CF_OK;
        }
    }
    return cf_policy_fail(c, n->line, "'policy' must be one of \"deny\", "
                          "\"read\", \"write\", \"sudo\"");
}

/* One attribute of a rule body into r. */
static cf_err_t
cf_policy_parse_attr(cf_policy_ctx_t *c, const cf_hcl_node_t *n,
                     cf_policy_rule_t *r, unsigned *seen)
{
    size_t  i;

    if (n->key == NULL)
        return cf_policy_fail(c, n->line, "expected a key");
    if (strcmp(n->key, "mfa_methods") == 0
        || strcmp(n->key, "control_group") == 0)
        return cf_policy_fail(c, n->line, "'%s' is not supported", n->key);
    for (i = 0; i < sizeof(cf_policy_keys) / sizeof(cf_policy_keys[0]); i++) {
        if (strcmp(n->key, cf_policy_keys[i].name) == 0)
            break;
    }
    if (i == sizeof(cf_policy_keys) / sizeof(cf_policy_keys[0]))
        return cf_policy_fail(c, n->line, "unknown key '%.64s'", n->key);
    if (*seen & cf_policy_keys[i].bit)
        return cf_policy_fail(c, n->line, "'%s' given twice", n->key);
    *seen |= cf_policy_keys[i].bit;
    switch (cf_policy_keys[i].bit) {
    case CF_POLICY_K_CAPS:
        return cf_policy_parse_caps(c, n, &r->caps);
    case CF_POLICY_K_POLICY:
        return cf_policy_parse_legacy(c, n, &r->caps);
    case CF_POLICY_K_ALLOWED:
        return cf_policy_parse_params(c, n, &r->allowed);
    case CF_POLICY_K_DENIED:
        return cf_policy_parse_params(c, n, &r->denied);
    case CF_POLICY_K_REQUIRED:
        return cf_policy_parse_required(c, n, &r->required);
    case CF_POLICY_K_MIN_WRAP:
        return cf_policy_parse_ttl(c, n, &r->min_wrap);
    case CF_POLICY_K_MAX_WRAP:
        return cf_policy_parse_ttl(c, n, &r->max_wrap);
    case CF_POLICY_K_COMMENT:
        if (n->type != CF_HCL_STRING)
            return cf_policy_fail(c, n->line, "'comment' must be a string");
        return CF_OK;
    default:    /* subscribe_event_types: no events here; restricts only */
        if (n->type != CF_HCL_LIST)
            return cf_policy_fail(c, n->line, "'%s' must be a list",
                                  n->key);
        return CF_OK;
    }
}

/* cf_hcl_blocks callback: one `path "label" { ... }`. */
static cf_err_t
cf_policy_parse_rule(const char *label, const cf_hcl_node_t *body,
                     void *arg)
{
    cf_policy_ctx_t       *c = arg;
    cf_policy_t           *p = c->pol;
    cf_policy_rule_t       r, *grown;
    const cf_hcl_node_t   *n;
    unsigned               seen = 0;
    cf_err_t               rc;

    memset(&r, 0, sizeof(r));
    r.line = body->line;
    c->path = label;
    if (!cf_policy_tpl_valid(label, &r.templated))
        return cf_policy_fail(c, body->line, "unbalanced '{{' or '}}' in "
                              "the path template");
    if (strstr(label, "+*") != NULL)
        return cf_policy_fail(c, body->line, "invalid use of wildcards "
                              "('+*' is forbidden)");
    for (n = body->child; n != NULL; n = n->next) {
        if ((rc = cf_policy_parse_attr(c, n, &r, &seen)) != CF_OK)
            goto bad;
    }
    if ((seen & (CF_POLICY_K_CAPS | CF_POLICY_K_POLICY)) == 0) {
        rc = cf_policy_fail(c, body->line, "'capabilities' is missing");
        goto bad;
    }
    if (r.caps & CF_POLICY_CAP_DENY) {
        /* Deny stands alone: nothing else of the rule matters. */
        json_decref(r.allowed);
        json_decref(r.denied);
        json_decref(r.required);
        r.allowed = r.denied = r.required = NULL;
        r.caps = CF_POLICY_CAP_DENY;
        r.min_wrap = r.max_wrap = 0;
    } else if (r.min_wrap != 0 && r.max_wrap != 0 && r.max_wrap < r.min_wrap) {
        rc = cf_policy_fail(c, body->line, "max_wrapping_ttl cannot be less "
                            "than min_wrapping_ttl");
        goto bad;
    }
    /* Paths in Vault start after the '/' of the API path. */
    if ((r.path = strdup(label[0] == '/' ? label + 1 : label)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto bad;
    }
    grown = realloc(p->rules, (p->nrules + 1) * sizeof(*p->rules));
    if (grown == NULL) {
        rc = CF_ERR_NOMEM;
        goto bad;
    }
    p->rules = grown;
    p->rules[p->nrules++] = r;
    p->templated = p->templated || r.templated;
    c->path = NULL;
    return CF_OK;
bad:
    cf_policy_rule_cleanup(&r);
    return rc;
}

cf_err_t
cf_policy_parse(const char *name, const char *text, size_t len,
                cf_policy_t **out, char *err, size_t errlen)
{
    cf_policy_ctx_t        c;
    cf_hcl_node_t         *root = NULL;
    const cf_hcl_node_t   *n;
    cf_policy_t           *p = NULL;
    int                    line = 1;
    cf_err_t               rc;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    if (name == NULL || (text == NULL && len > 0))
        return cf_policy_fail(&c, 1, "no policy");
    if ((rc = cf_hcl_parse(text, len, &root, err, errlen)) != CF_OK)
        return rc;
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    atomic_init(&p->refs, 1);
    c.pol = p;
    for (n = root->child; n != NULL; n = n->next) {
        if (strcmp(n->key, "name") == 0) {
            if (n->type == CF_HCL_STRING)
                continue;
            rc = cf_policy_fail(&c, n->line, "'name' must be a string");
            goto out;
        }
        if (strcmp(n->key, "path") != 0) {
            rc = cf_policy_fail(&c, n->line, "unknown key '%.64s' (a policy "
                                "holds path blocks)", n->key);
            goto out;
        }
    }
    rc = cf_hcl_blocks(root, "path", cf_policy_parse_rule, &c, &line);
    if (rc == CF_ERR_INVALID && (err == NULL || errlen == 0
                                 || err[0] == '\0')) {
        c.path = NULL;
        rc = cf_policy_fail(&c, line, "'path' must be a block such as "
                            "path \"secret/*\" { ... }");
    }
    if (rc != CF_OK)
        goto out;
    if ((p->name = strdup(name)) == NULL || (p->text = malloc(len + 1))
                                             == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if (len > 0)
        memcpy(p->text, text, len);
    p->text[len] = '\0';
out:
    cf_hcl_free(root);
    if (rc != CF_OK) {
        if (rc == CF_ERR_NOMEM && err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        cf_policy_free(p);
        return rc;
    }
    *out = p;
    return CF_OK;
}

/* ---- templating a whole policy --------------------------------------- */

cf_err_t
cf_policy_render(cf_policy_t *p, const json_t *identity, cf_policy_t **out)
{
    cf_policy_t       *np;
    cf_policy_rule_t  *src, *dst;
    char              *path;
    size_t             i;
    cf_err_t           rc;

    *out = NULL;
    if (!p->templated) {
        *out = cf_policy_ref(p);
        return CF_OK;
    }
    if ((np = calloc(1, sizeof(*np))) == NULL)
        return CF_ERR_NOMEM;
    atomic_init(&np->refs, 1);
    if ((np->name = strdup(p->name)) == NULL
        || (np->text = strdup(p->text)) == NULL
        || (np->rules = calloc(p->nrules + 1, sizeof(*np->rules))) == NULL)
        goto nomem;
    for (i = 0; i < p->nrules; i++) {
        src = &p->rules[i];
        path = NULL;
        if (src->templated) {
            rc = cf_policy_tpl_render(src->path, identity, &path);
            if (rc == CF_ERR_NOT_FOUND)
                continue;               /* dropped, as in Vault */
            if (rc != CF_OK)
                goto nomem;
        } else if ((path = strdup(src->path)) == NULL) {
            goto nomem;
        }
        /* Strip a '/' that a template put in front, as Vault does. */
        if (path[0] == '/')
            memmove(path, path + 1, strlen(path));
        if (strstr(path, "+*") != NULL) {
            free(path);
            continue;
        }
        dst = &np->rules[np->nrules++];
        *dst = *src;
        dst->path = path;
        dst->templated = false;
        /* Deep copies: the two policies may live in different threads. */
        dst->allowed = json_deep_copy(src->allowed);
        dst->denied = json_deep_copy(src->denied);
        dst->required = json_deep_copy(src->required);
        if ((src->allowed != NULL && dst->allowed == NULL)
            || (src->denied != NULL && dst->denied == NULL)
            || (src->required != NULL && dst->required == NULL))
            goto nomem;
    }
    *out = np;
    return CF_OK;
nomem:
    cf_policy_free(np);
    return CF_ERR_NOMEM;
}
