/*
 * pki_role: roles (roles/<name>) and the name checks Vault applies to a
 * certificate request against its role (validateNames and friends in
 * Vault's builtin/logical/pki/cert_util.go).
 */
#include "pki.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    CF_PKI_F_BOOL, CF_PKI_F_INT, CF_PKI_F_DUR, CF_PKI_F_STR, CF_PKI_F_LIST
} cf_pki_ftype_t;

typedef struct {
    const char      *name;
    cf_pki_ftype_t   type;
    const char      *def;       /* default: "true", "30", "rsa", "a,b" */
} cf_pki_field_t;

static const cf_pki_field_t  cf_pki_role_fields[] = {
    { "ttl", CF_PKI_F_DUR, "0" },
    { "max_ttl", CF_PKI_F_DUR, "0" },
    { "allow_localhost", CF_PKI_F_BOOL, "true" },
    { "allowed_domains", CF_PKI_F_LIST, "" },
    { "allowed_domains_template", CF_PKI_F_BOOL, "false" },
    { "allow_bare_domains", CF_PKI_F_BOOL, "false" },
    { "allow_subdomains", CF_PKI_F_BOOL, "false" },
    { "allow_glob_domains", CF_PKI_F_BOOL, "false" },
    { "allow_wildcard_certificates", CF_PKI_F_BOOL, "true" },
    { "allow_any_name", CF_PKI_F_BOOL, "false" },
    { "enforce_hostnames", CF_PKI_F_BOOL, "true" },
    { "allow_ip_sans", CF_PKI_F_BOOL, "true" },
    { "allowed_uri_sans", CF_PKI_F_LIST, "" },
    { "allowed_uri_sans_template", CF_PKI_F_BOOL, "false" },
    { "allowed_other_sans", CF_PKI_F_LIST, "" },
    { "allowed_serial_numbers", CF_PKI_F_LIST, "" },
    { "server_flag", CF_PKI_F_BOOL, "true" },
    { "client_flag", CF_PKI_F_BOOL, "true" },
    { "code_signing_flag", CF_PKI_F_BOOL, "false" },
    { "email_protection_flag", CF_PKI_F_BOOL, "false" },
    { "key_type", CF_PKI_F_STR, "rsa" },
    { "key_bits", CF_PKI_F_INT, "0" },
    { "signature_bits", CF_PKI_F_INT, "0" },
    { "use_pss", CF_PKI_F_BOOL, "false" },
    { "key_usage", CF_PKI_F_LIST,
      "DigitalSignature,KeyAgreement,KeyEncipherment" },
    { "ext_key_usage", CF_PKI_F_LIST, "" },
    { "ext_key_usage_oids", CF_PKI_F_LIST, "" },
    { "use_csr_common_name", CF_PKI_F_BOOL, "true" },
    { "use_csr_sans", CF_PKI_F_BOOL, "true" },
    { "ou", CF_PKI_F_LIST, "" },
    { "organization", CF_PKI_F_LIST, "" },
    { "country", CF_PKI_F_LIST, "" },
    { "locality", CF_PKI_F_LIST, "" },
    { "province", CF_PKI_F_LIST, "" },
    { "street_address", CF_PKI_F_LIST, "" },
    { "postal_code", CF_PKI_F_LIST, "" },
    { "generate_lease", CF_PKI_F_BOOL, "false" },
    { "no_store", CF_PKI_F_BOOL, "false" },
    { "require_cn", CF_PKI_F_BOOL, "true" },
    { "policy_identifiers", CF_PKI_F_LIST, "" },
    { "basic_constraints_valid_for_non_ca", CF_PKI_F_BOOL, "false" },
    { "not_before_duration", CF_PKI_F_DUR, "30" },
    { "not_after", CF_PKI_F_STR, "" },
    { "cn_validations", CF_PKI_F_LIST, "email,hostname" },
    { "allowed_user_ids", CF_PKI_F_LIST, "" },
    { "issuer_ref", CF_PKI_F_STR, "default" },
    { NULL, 0, NULL }
};

static json_t *
cf_pki_field_default(const cf_pki_field_t *f)
{
    json_t  *a;

    switch (f->type) {
    case CF_PKI_F_BOOL:
        return json_boolean(strcmp(f->def, "true") == 0);
    case CF_PKI_F_INT:
    case CF_PKI_F_DUR:
        return json_integer(strtoll(f->def, NULL, 10));
    case CF_PKI_F_STR:
        return json_string(f->def);
    default:
        if ((a = json_array()) == NULL)
            return NULL;
        for (const char *p = f->def, *e; *p != '\0'; p = *e ? e + 1 : e) {
            e = strchr(p, ',');
            if (e == NULL)
                e = p + strlen(p);
            json_array_append_new(a, json_stringn(p, (size_t) (e - p)));
        }
        return a;
    }
}

/* A dotted OID: digits and dots, at least two arcs. */
static bool
cf_pki_is_oid(const char *s)
{
    size_t  i, dots = 0;

    if (s == NULL || !isdigit((unsigned char) s[0]))
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] == '.') {
            if (!isdigit((unsigned char) s[i + 1]))
                return false;
            dots++;
        } else if (!isdigit((unsigned char) s[i])) {
            return false;
        }
    }
    return dots > 0 && i < 100;
}

/* The settings a role may hold that Coffer applies, checked; the ones it
 * cannot apply are refused rather than stored and ignored. */
static cf_err_t
cf_pki_role_validate(cf_req_t *req, json_t *r)
{
    static const char *const  oid_lists[] = {
        "policy_identifiers", "ext_key_usage_oids", NULL
    };
    static const char *const  templates[] = {
        "allowed_domains_template", "allowed_uri_sans_template",
        NULL
    };
    json_t                   *v;
    const char               *s, *semi;
    int64_t                   bits;
    size_t                    i, k, n;
    bool                      disabled = false;

    for (k = 0; oid_lists[k] != NULL; k++) {
        json_array_foreach(json_object_get(r, oid_lists[k]), i, v) {
            if (!cf_pki_is_oid(json_string_value(v)))
                return cf_req_fail(req, CF_ERR_INVALID, "%s: '%.100s' is "
                                   "not an OID (only dotted OIDs are "
                                   "supported)", oid_lists[k],
                                   json_string_value(v));
        }
    }
    for (k = 0; templates[k] != NULL; k++) {
        if (json_is_true(json_object_get(r, templates[k])))
            return cf_req_fail(req, CF_ERR_INVALID, "%s is not supported: "
                               "templated role values are not rendered",
                               templates[k]);
    }
    if (json_is_true(json_object_get(r, "use_pss")))
        return cf_req_fail(req, CF_ERR_INVALID, "use_pss is not supported: "
                           "certificates are signed with PKCS#1 v1.5 or "
                           "ECDSA");
    bits = json_integer_value(json_object_get(r, "signature_bits"));
    if (bits != 0 && bits != 256 && bits != 384 && bits != 512)
        return cf_req_fail(req, CF_ERR_INVALID, "signature_bits must be 0, "
                           "256, 384 or 512");
    json_array_foreach(json_object_get(r, "allowed_other_sans"), i, v) {
        s = json_string_value(v);
        if (strcmp(s, "*") != 0
            && ((semi = strchr(s, ';')) == NULL
                || strncasecmp(semi + 1, "UTF8:", 5) != 0))
            return cf_req_fail(req, CF_ERR_INVALID, "allowed_other_sans: "
                               "'%.100s' is not \"*\" or "
                               "<oid>;UTF8:<value>", s);
    }
    n = json_array_size(json_object_get(r, "cn_validations"));
    json_array_foreach(json_object_get(r, "cn_validations"), i, v) {
        s = json_string_value(v);
        if (strcmp(s, "disabled") == 0)
            disabled = true;
        else if (strcmp(s, "email") != 0 && strcmp(s, "hostname") != 0)
            return cf_req_fail(req, CF_ERR_INVALID, "cn_validations: "
                               "unknown value '%.32s' (email, hostname or "
                               "disabled)", s);
    }
    if (disabled && n > 1)
        return cf_req_fail(req, CF_ERR_INVALID, "cn_validations: "
                           "\"disabled\" cannot be combined with other "
                           "values");
    return CF_OK;
}

static cf_err_t
cf_pki_role_write(cf_req_t *req, const char *key, json_t *old)
{
    const cf_pki_field_t  *f;
    json_t                *r, *v = NULL;
    const char            *s;
    int64_t                i, ttl, max;
    bool                   b, present, patch = req->op == CF_OP_PATCH;
    cf_err_t               rc = CF_OK;

    if ((r = patch && old != NULL ? json_deep_copy(old) : json_object())
        == NULL)
        return CF_ERR_NOMEM;
    for (f = cf_pki_role_fields; f->name != NULL && rc == CF_OK; f++) {
        present = false;
        v = NULL;
        switch (f->type) {
        case CF_PKI_F_BOOL:
            if ((rc = cf_req_param_bool(req, f->name, &b, &present))
                == CF_OK && present)
                v = json_boolean(b);
            break;
        case CF_PKI_F_INT:
            if ((rc = cf_req_param_int(req, f->name, &i, &present))
                == CF_OK && present)
                v = json_integer(i);
            break;
        case CF_PKI_F_DUR:
            if ((rc = cf_req_param_duration(req, f->name, &i, &present))
                == CF_OK && present)
                v = json_integer(i);
            break;
        case CF_PKI_F_STR:
            if ((rc = cf_req_param_str(req, f->name, &s, &present))
                == CF_OK && present)
                v = json_string(s);
            break;
        default:
            if (json_object_get(req->body, f->name) != NULL
                || cf_req_query(req, f->name) != NULL) {
                present = true;
                rc = cf_pki_param_list(req, f->name, &v);
            }
        }
        if (rc != CF_OK)
            break;
        if (present && v != NULL)
            json_object_set_new(r, f->name, v);
        else if (json_object_get(r, f->name) == NULL)
            json_object_set_new(r, f->name, cf_pki_field_default(f));
    }
    if (rc != CF_OK)
        goto out;

    /* key type and bits as Vault normalises them */
    s = json_string_value(json_object_get(r, "key_type"));
    i = json_integer_value(json_object_get(r, "key_bits"));
    if (strcmp(s, "rsa") == 0) {
        if (i == 0)
            i = 2048;
        if (i != 2048 && i != 3072 && i != 4096 && i != 8192)
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "unsupported bit length for RSA key: %lld",
                             (long long) i);
    } else if (strcmp(s, "ec") == 0) {
        if (i == 0)
            i = 256;
        if (i != 224 && i != 256 && i != 384 && i != 521)
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "unsupported bit length for EC key: %lld",
                             (long long) i);
    } else if (strcmp(s, "ed25519") == 0 || strcmp(s, "any") == 0) {
        i = 0;
    } else {
        rc = cf_req_fail(req, CF_ERR_INVALID, "unknown key type '%s'", s);
    }
    if (rc != CF_OK)
        goto out;
    json_object_set_new(r, "key_bits", json_integer(i));
    if ((rc = cf_pki_role_validate(req, r)) != CF_OK)
        goto out;
    /* A lease revokes its certificate by serial, which needs the stored
     * certificate: the two settings contradict each other. */
    if (json_is_true(json_object_get(r, "generate_lease"))
        && json_is_true(json_object_get(r, "no_store"))) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "generate_lease needs the "
                         "certificates stored: it cannot be combined with "
                         "no_store");
        goto out;
    }
    ttl = json_integer_value(json_object_get(r, "ttl"));
    max = json_integer_value(json_object_get(r, "max_ttl"));
    if (ttl < 0 || max < 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "ttl must not be negative");
        goto out;
    }
    if (max > 0 && ttl > max) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "\"ttl\" value must be less than \"max_ttl\" "
                         "value");
        goto out;
    }
    if ((rc = cf_view_put_json(req, key, r)) == CF_OK)
        rc = cf_req_reply_data(req, json_incref(r));
out:
    json_decref(r);
    return rc;
}

cf_err_t
cf_pki_roles_list(cf_req_t *req)
{
    return cf_pki_reply_list(req, "role/", false);
}

cf_err_t
cf_pki_role(cf_req_t *req)
{
    json_t    *r = NULL;
    char       name[128], key[160];
    cf_err_t   rc;

    if (!cf_pki_seg(req, 1, name, sizeof(name)))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid role name");
    snprintf(key, sizeof(key), "role/%s", name);
    switch (req->op) {
    case CF_OP_READ:
        rc = cf_view_get_json(req, key, &r);
        if (rc == CF_ERR_NOT_FOUND)
            return cf_pki_reply_404(req);
        if (rc != CF_OK)
            return rc;
        return cf_req_reply_data(req, r);
    case CF_OP_DELETE:
        if ((rc = cf_view_delete(req, key)) != CF_OK)
            return rc;
        return cf_req_reply_none(req);
    default:
        rc = cf_view_get_json(req, key, &r);
        if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
            return rc;
        rc = cf_pki_role_write(req, key, r);
        json_decref(r);
        return rc;
    }
}

/* ---- name checks -------------------------------------------------------- */

static bool
cf_pki_role_bool(json_t *role, const char *name)
{
    return json_is_true(json_object_get(role, name));
}

/* go-glob: only '*' is special and matches any run of characters. */
static bool
cf_pki_glob(const char *pat, const char *s)
{
    const char  *star = NULL, *ss = s;

    while (*s != '\0') {
        if (*pat == '*') {
            star = pat++;
            ss = s;
        } else if (*pat != '\0' && tolower((unsigned char) *pat)
                                   == tolower((unsigned char) *s)) {
            pat++;
            s++;
        } else if (star != NULL) {
            pat = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static bool
cf_pki_has_suffix(const char *s, const char *suffix)
{
    size_t  a = strlen(s), b = strlen(suffix);

    return a > b && s[a - b - 1] == '.'
           && strcasecmp(s + a - b, suffix) == 0;
}

/* One name (CN, DNS SAN or e-mail) against the role; Vault's order. */
static bool
cf_pki_name_ok(json_t *role, const char *name)
{
    const char  *at = strchr(name, '@'), *san = name, *star;
    json_t      *doms = json_object_get(role, "allowed_domains"), *d;
    bool         email = at != NULL, wildcard = false;
    char         buf[512];
    size_t       i;

    if (email)
        san = at + 1;
    if ((star = strchr(san, '*')) != NULL) {
        const char  *dot = strchr(san, '.');

        /* only in the leftmost label */
        if (email || dot == NULL || star > dot
            || !cf_pki_role_bool(role, "allow_wildcard_certificates"))
            return false;
        san = dot + 1;
        wildcard = true;
    }
    if (cf_pki_role_bool(role, "allow_localhost")
        && (strcmp(san, "localhost") == 0 || strcmp(san, "localdomain") == 0)
        && !wildcard)
        return true;
    if (cf_pki_role_bool(role, "enforce_hostnames")
        && !cf_pki_is_hostname(san))
        return false;
    if (cf_pki_role_bool(role, "allow_any_name"))
        return true;
    json_array_foreach(doms, i, d) {
        const char  *dom = json_string_value(d);

        if (*dom == '\0')
            continue;
        if (cf_pki_role_bool(role, "allow_bare_domains")
            && strcasecmp(san, dom) == 0)
            return true;
        if (cf_pki_role_bool(role, "allow_subdomains")) {
            if (cf_pki_has_suffix(san, dom))
                return true;
            /* *.example.com is a subdomain certificate of example.com */
            if (wildcard && strcasecmp(san, dom) == 0)
                return true;
        }
        if (cf_pki_role_bool(role, "allow_glob_domains")
            && strchr(dom, '*') != NULL) {
            snprintf(buf, sizeof(buf), "%s", email ? san : name);
            if (cf_pki_glob(dom, buf))
                return true;
        }
    }
    return false;
}

/* Does s match one of the role list's globs? */
static bool
cf_pki_role_glob_any(json_t *role, const char *list, const char *s)
{
    json_t  *v;
    size_t   i;

    json_array_foreach(json_object_get(role, list), i, v) {
        if (cf_pki_glob(json_string_value(v), s))
            return true;
    }
    return false;
}

/* One "<oid>;UTF8:<value>" against allowed_other_sans ("*", or the same
 * shape with a glob as value). */
static bool
cf_pki_other_san_ok(json_t *role, const char *san)
{
    const char  *semi = strchr(san, ';'), *a, *asemi;
    json_t      *v;
    size_t       i;

    if (semi == NULL || strncasecmp(semi + 1, "UTF8:", 5) != 0)
        return false;
    json_array_foreach(json_object_get(role, "allowed_other_sans"), i, v) {
        a = json_string_value(v);
        if (strcmp(a, "*") == 0)
            return true;
        if ((asemi = strchr(a, ';')) != NULL && asemi - a == semi - san
            && memcmp(a, san, (size_t) (semi - san)) == 0
            && strncasecmp(asemi + 1, "UTF8:", 5) == 0
            && cf_pki_glob(asemi + 6, semi + 6))
            return true;
    }
    return false;
}

/* cn_validations: "disabled" skips the CN; otherwise the CN must have a
 * form the list names before it meets allowed_domains. */
static bool
cf_pki_cn_ok(json_t *role, const char *cn)
{
    json_t  *l = json_object_get(role, "cn_validations");
    bool     email = false, host = false;
    json_t  *v;
    size_t   i;

    if (json_array_size(l) == 0) {
        email = host = true;            /* Vault's default */
    } else {
        json_array_foreach(l, i, v) {
            if (strcmp(json_string_value(v), "disabled") == 0)
                return true;
            email |= strcmp(json_string_value(v), "email") == 0;
            host |= strcmp(json_string_value(v), "hostname") == 0;
        }
    }
    if (strchr(cn, '@') != NULL ? !email : !host)
        return false;
    return cf_pki_name_ok(role, cn);
}

cf_err_t
cf_pki_role_check(json_t *role, const cf_pki_tmpl_t *t, char *msg,
                  size_t mlen)
{
    json_t  *v, *allowed;
    size_t   i, k;

    if (t->cn != NULL && *t->cn != '\0' && !cf_pki_cn_ok(role, t->cn)) {
        snprintf(msg, mlen, "common name %s not allowed by this role",
                 t->cn);
        return CF_ERR_INVALID;
    }
    json_array_foreach(t->other_sans, i, v) {
        if (!cf_pki_other_san_ok(role, json_string_value(v))) {
            snprintf(msg, mlen, "other SAN %s not allowed by this role "
                     "(allowed_other_sans)", json_string_value(v));
            return CF_ERR_INVALID;
        }
    }
    json_array_foreach(t->user_ids, i, v) {
        if (!cf_pki_role_glob_any(role, "allowed_user_ids",
                                  json_string_value(v))) {
            snprintf(msg, mlen, "user_id %s is not allowed by this role "
                     "(allowed_user_ids)", json_string_value(v));
            return CF_ERR_INVALID;
        }
    }
    if (t->subject_serial != NULL && *t->subject_serial != '\0'
        && !cf_pki_role_glob_any(role, "allowed_serial_numbers",
                                 t->subject_serial)) {
        snprintf(msg, mlen, "serial_number %s is not allowed by this role "
                 "(allowed_serial_numbers)", t->subject_serial);
        return CF_ERR_INVALID;
    }
    json_array_foreach(t->dns, i, v) {
        if (!cf_pki_name_ok(role, json_string_value(v))) {
            snprintf(msg, mlen, "subject alternate name %s not allowed by "
                     "this role", json_string_value(v));
            return CF_ERR_INVALID;
        }
    }
    json_array_foreach(t->emails, i, v) {
        if (!cf_pki_name_ok(role, json_string_value(v))) {
            snprintf(msg, mlen, "subject alternate name %s not allowed by "
                     "this role", json_string_value(v));
            return CF_ERR_INVALID;
        }
    }
    if (json_array_size(t->ips) > 0
        && !cf_pki_role_bool(role, "allow_ip_sans")) {
        snprintf(msg, mlen, "IP Subject Alternative Names are not allowed "
                 "in this role, but was provided %s",
                 json_string_value(json_array_get(t->ips, 0)));
        return CF_ERR_INVALID;
    }
    allowed = json_object_get(role, "allowed_uri_sans");
    json_array_foreach(t->uris, i, v) {
        bool  ok = false;

        for (k = 0; k < json_array_size(allowed) && !ok; k++)
            ok = cf_pki_glob(json_string_value(json_array_get(allowed, k)),
                             json_string_value(v));
        if (!ok) {
            snprintf(msg, mlen, "URI Subject Alternative Name %s not "
                     "allowed by this role", json_string_value(v));
            return CF_ERR_INVALID;
        }
    }
    return CF_OK;
}
