/* policy_acl: a token's merged rules and Vault's ACL check
 * (vault/acl.go: NewACL, AllowOperation, CheckAllowedFromNonExactPaths). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

typedef enum {
    CF_ACL_EXACT,       /* "secret/foo" */
    CF_ACL_PREFIX,      /* "secret/" + '*': path holds "secret/" */
    CF_ACL_SEGMENT      /* has a "+" segment; path keeps a final '*' */
} cf_acl_kind_t;

/* The merged permissions of one path pattern. */
typedef struct {
    char           *path;
    cf_acl_kind_t   kind;
    unsigned        caps;
    int64_t         min_wrap;
    int64_t         max_wrap;
    json_t         *allowed;    /* owned; see cf_policy_rule_t */
    json_t         *denied;
    json_t         *required;
    size_t          wclen;      /* path length without a final '*' */
    /* CF_ACL_SEGMENT only */
    size_t          first_wc;   /* offset of the first '+' */
    size_t          nsegs;      /* '/'-separated parts of those wclen */
    size_t          wildcards;  /* parts that are exactly "+" */
    bool            glob;       /* pattern ends in '*' */
} cf_acl_entry_t;

struct cf_acl_s {
    atomic_uint      refs;
    bool             root;
    cf_acl_entry_t  *e;
    size_t           n;
    size_t           nsegment;
};

/* A matching non-exact pattern, ranked by Vault's priority rules. */
typedef struct {
    const cf_acl_entry_t  *e;
    size_t                 first;
    bool                   glob;
    size_t                 wildcards;
    const char            *wcpath;
    size_t                 wclen;
} cf_acl_cand_t;

static const char *const  cf_acl_reasons[] = {
    [CF_ACL_OK] = "allowed",
    [CF_ACL_NO_RULE] = "no policy rule matches the path",
    [CF_ACL_EXPLICIT_DENY] = "the matching rule denies the path",
    [CF_ACL_NO_CAPABILITY] = "the matching rule lacks the capability",
    [CF_ACL_REQUIRED_PARAMETER] = "a required parameter is missing",
    [CF_ACL_DENIED_PARAMETER] = "a parameter is denied",
    [CF_ACL_PARAMETER_NOT_ALLOWED] = "a parameter is not allowed",
    [CF_ACL_WRAPPING_TTL] = "the response wrapping TTL is out of bounds",
};

const char *
cf_acl_reason_str(cf_acl_reason_t reason)
{
    if ((size_t) reason >= sizeof(cf_acl_reasons) / sizeof(cf_acl_reasons[0])
        || cf_acl_reasons[reason] == NULL)
        return "unknown";
    return cf_acl_reasons[reason];
}

/* ---- building --------------------------------------------------------- */

static void
cf_acl_entry_cleanup(cf_acl_entry_t *e)
{
    free(e->path);
    json_decref(e->allowed);
    json_decref(e->denied);
    json_decref(e->required);
}

cf_acl_t *
cf_acl_ref(cf_acl_t *acl)
{
    if (acl != NULL)
        atomic_fetch_add(&acl->refs, 1);
    return acl;
}

void
cf_acl_free(cf_acl_t *acl)
{
    size_t  i;

    if (acl == NULL || atomic_fetch_sub(&acl->refs, 1) != 1)
        return;
    for (i = 0; i < acl->n; i++)
        cf_acl_entry_cleanup(&acl->e[i]);
    free(acl->e);
    free(acl);
}

bool
cf_acl_is_root(const cf_acl_t *acl)
{
    return acl != NULL && acl->root;
}

/* Vault's HasSegmentWildcards test. */
static bool
cf_acl_has_segment_wc(const char *p)
{
    return strcmp(p, "+") == 0 || strstr(p, "/+") != NULL
           || strncmp(p, "+/", 2) == 0;
}

/* Classify path (taken) into e. */
static void
cf_acl_entry_init(cf_acl_entry_t *e, char *path)
{
    size_t       len = strlen(path), i;
    const char  *s, *plus;

    memset(e, 0, sizeof(*e));
    e->path = path;
    if (cf_acl_has_segment_wc(path)) {
        e->kind = CF_ACL_SEGMENT;
        e->glob = len > 0 && path[len - 1] == '*';
        e->wclen = e->glob ? len - 1 : len;
        plus = strchr(path, '+');
        e->first_wc = plus != NULL ? (size_t) (plus - path) : len;
        e->nsegs = 1;
        for (i = 0; i < e->wclen; i++) {
            if (path[i] == '/')
                e->nsegs++;
        }
        /* Count parts that are exactly "+". */
        for (s = path; s < path + e->wclen;) {
            const char  *end = memchr(s, '/', (size_t) (path + e->wclen - s));

            if (end == NULL)
                end = path + e->wclen;
            if (end - s == 1 && *s == '+')
                e->wildcards++;
            s = end + 1;
        }
    } else if (len > 0 && path[len - 1] == '*') {
        e->kind = CF_ACL_PREFIX;
        path[len - 1] = '\0';
        e->wclen = len - 1;
    } else {
        e->kind = CF_ACL_EXACT;
        e->wclen = len;
    }
}

/* Vault's merge of allowed/denied maps: an empty list (any value) wins,
 * otherwise the value lists are concatenated. */
static cf_err_t
cf_acl_merge_params(json_t **have, const json_t *add)
{
    const char  *key;
    json_t      *val, *cur, *merged;

    if (json_object_size(add) == 0)
        return CF_OK;
    if (*have == NULL)
        return (*have = json_deep_copy(add)) != NULL ? CF_OK : CF_ERR_NOMEM;
    json_object_foreach((json_t *) add, key, val) {
        cur = json_object_get(*have, key);
        if (json_array_size(val) == 0
            || (cur != NULL && json_array_size(cur) == 0)) {
            merged = json_array();
        } else {
            merged = json_deep_copy(val);
            if (merged != NULL && cur != NULL
                && json_array_extend(merged, cur) != 0) {
                json_decref(merged);
                merged = NULL;
            }
        }
        if (merged == NULL || json_object_set_new(*have, key, merged) != 0)
            return CF_ERR_NOMEM;
    }
    return CF_OK;
}

static cf_err_t
cf_acl_merge_required(json_t **have, const json_t *add)
{
    size_t   i, j;
    json_t  *v, *w;
    bool     dup;

    if (json_array_size(add) == 0)
        return CF_OK;
    if (*have == NULL)
        return (*have = json_deep_copy(add)) != NULL ? CF_OK : CF_ERR_NOMEM;
    json_array_foreach((json_t *) add, i, v) {
        dup = false;
        json_array_foreach(*have, j, w) {
            if (json_equal(v, w)) {
                dup = true;
                break;
            }
        }
        if (!dup && json_array_append(*have, v) != 0)
            return CF_ERR_NOMEM;
    }
    return CF_OK;
}

/* Merge rule r into the existing entry e, as NewACL does. */
static cf_err_t
cf_acl_merge(cf_acl_entry_t *e, const cf_policy_rule_t *r)
{
    cf_err_t  rc;

    if (e->caps & CF_POLICY_CAP_DENY)
        return CF_OK;
    if (r->caps & CF_POLICY_CAP_DENY) {
        e->caps = CF_POLICY_CAP_DENY;
        json_decref(e->allowed);
        json_decref(e->denied);
        e->allowed = e->denied = NULL;
        return CF_OK;
    }
    e->caps |= r->caps;
    /* The smaller of two given TTLs, to keep wrapping tokens short. */
    if (r->max_wrap > 0 && (e->max_wrap == 0 || r->max_wrap < e->max_wrap))
        e->max_wrap = r->max_wrap;
    if (r->min_wrap > 0 && (e->min_wrap == 0 || r->min_wrap < e->min_wrap))
        e->min_wrap = r->min_wrap;
    if ((rc = cf_acl_merge_params(&e->allowed, r->allowed)) != CF_OK
        || (rc = cf_acl_merge_params(&e->denied, r->denied)) != CF_OK)
        return rc;
    return cf_acl_merge_required(&e->required, r->required);
}

/* Add rule r, its path (taken) already rendered. */
static cf_err_t
cf_acl_add(cf_acl_t *acl, const cf_policy_rule_t *r, char *path,
           size_t *cap)
{
    cf_acl_entry_t   ne, *grown, *e;
    size_t           i;

    cf_acl_entry_init(&ne, path);
    for (i = 0; i < acl->n; i++) {
        if (acl->e[i].kind == ne.kind && strcmp(acl->e[i].path, path) == 0) {
            free(path);
            return cf_acl_merge(&acl->e[i], r);
        }
    }
    if (acl->n == *cap) {
        *cap = *cap == 0 ? 16 : *cap * 2;
        if ((grown = realloc(acl->e, *cap * sizeof(*grown))) == NULL) {
            free(path);
            return CF_ERR_NOMEM;
        }
        acl->e = grown;
    }
    ne.caps = r->caps;
    ne.min_wrap = r->min_wrap;
    ne.max_wrap = r->max_wrap;
    e = &acl->e[acl->n++];
    *e = ne;
    if (ne.kind == CF_ACL_SEGMENT)
        acl->nsegment++;
    if ((r->allowed != NULL
         && (e->allowed = json_deep_copy(r->allowed)) == NULL)
        || (r->denied != NULL
            && (e->denied = json_deep_copy(r->denied)) == NULL)
        || (r->required != NULL
            && (e->required = json_deep_copy(r->required)) == NULL))
        return CF_ERR_NOMEM;
    return CF_OK;
}

cf_acl_t *
cf_acl_new_identity(const cf_policy_t *const *policies, size_t n,
                    const json_t *identity)
{
    const cf_policy_rule_t  *r;
    cf_acl_t                *acl;
    char                    *path;
    size_t                   i, j, cap = 0;
    cf_err_t                 rc = CF_OK;

    if ((acl = calloc(1, sizeof(*acl))) == NULL)
        return NULL;
    atomic_init(&acl->refs, 1);
    for (i = 0; i < n && rc == CF_OK; i++) {
        if (policies[i] == NULL)
            continue;
        if (strcmp(policies[i]->name, CF_POLICY_ROOT) == 0)
            acl->root = true;
        for (j = 0; j < policies[i]->nrules && rc == CF_OK; j++) {
            r = &policies[i]->rules[j];
            if (!r->templated) {
                path = strdup(r->path);
            } else {
                rc = cf_policy_tpl_render(r->path, identity, &path);
                if (rc == CF_ERR_NOT_FOUND) {
                    rc = CF_OK;     /* unresolved: the rule is dropped */
                    continue;
                }
                if (rc != CF_OK)
                    break;
                if (path[0] == '/')
                    memmove(path, path + 1, strlen(path));
                if (strstr(path, "+*") != NULL) {
                    free(path);
                    continue;
                }
            }
            rc = path == NULL ? CF_ERR_NOMEM : cf_acl_add(acl, r, path, &cap);
        }
    }
    if (rc != CF_OK) {
        cf_acl_free(acl);
        return NULL;
    }
    return acl;
}

cf_acl_t *
cf_acl_new(const cf_policy_t *const *policies, size_t n)
{
    return cf_acl_new_identity(policies, n, NULL);
}

/* ---- matching --------------------------------------------------------- */

static const cf_acl_entry_t *
cf_acl_exact(const cf_acl_t *acl, const char *path, size_t len)
{
    size_t  i;

    for (i = 0; i < acl->n; i++) {
        if (acl->e[i].kind == CF_ACL_EXACT && acl->e[i].wclen == len
            && memcmp(acl->e[i].path, path, len) == 0)
            return &acl->e[i];
    }
    return NULL;
}

/* Does segment pattern e match path[0..len)? (Vault's SWCPATH loop.) */
static bool
cf_acl_segment_match(const cf_acl_entry_t *e, const char *path, size_t len)
{
    const char  *pp = e->path, *pend = e->path + e->wclen;
    const char  *sp = path, *send = path + len, *pe, *se;
    size_t       nparts = 1, i, plen, slen;

    for (i = 0; i < len; i++) {
        if (path[i] == '/')
            nparts++;
    }
    if (nparts < e->nsegs || (!e->glob && nparts != e->nsegs))
        return false;
    for (i = 0; i < e->nsegs; i++) {
        pe = memchr(pp, '/', (size_t) (pend - pp));
        if (pe == NULL)
            pe = pend;
        se = memchr(sp, '/', (size_t) (send - sp));
        if (se == NULL)
            se = send;
        plen = (size_t) (pe - pp);
        slen = (size_t) (se - sp);
        if (!(plen == 1 && *pp == '+')
            && !(plen == slen && memcmp(pp, sp, plen) == 0)
            && !(e->glob && i == e->nsegs - 1 && slen >= plen
                 && memcmp(pp, sp, plen) == 0))
            return false;
        pp = pe + 1;
        sp = se + 1;
    }
    return true;
}

/* Is a of lower priority than b? Vault's documented order. */
static bool
cf_acl_lower(const cf_acl_cand_t *a, const cf_acl_cand_t *b)
{
    int  c;

    if (a->first != b->first)
        return a->first < b->first;
    if (a->glob != b->glob)
        return a->glob;
    if (a->wildcards != b->wildcards)
        return a->wildcards > b->wildcards;
    if (a->wclen != b->wclen)
        return a->wclen < b->wclen;
    c = memcmp(a->wcpath, b->wcpath, a->wclen);
    return c < 0;
}

static const cf_acl_entry_t *
cf_acl_nonexact(const cf_acl_t *acl, const char *path, size_t len)
{
    const cf_acl_entry_t  *pre = NULL, *e;
    cf_acl_cand_t          best = { 0 }, c;
    size_t                 i, plen, prelen = 0;
    bool                   have = false;

    /* The longest glob prefix. */
    for (i = 0; i < acl->n; i++) {
        e = &acl->e[i];
        if (e->kind != CF_ACL_PREFIX)
            continue;
        plen = e->wclen;
        if (plen <= len && memcmp(e->path, path, plen) == 0
            && (pre == NULL || plen > prelen)) {
            pre = e;
            prelen = plen;
        }
    }
    if (acl->nsegment == 0)
        return pre;
    if (pre != NULL) {
        best = (cf_acl_cand_t) { pre, prelen, true, 0, pre->path, prelen };
        have = true;
    }
    for (i = 0; i < acl->n; i++) {
        e = &acl->e[i];
        if (e->kind != CF_ACL_SEGMENT || !cf_acl_segment_match(e, path, len))
            continue;
        c = (cf_acl_cand_t) { e, e->first_wc, e->glob, e->wildcards,
                              e->path, e->wclen };
        if (!have || cf_acl_lower(&best, &c)) {
            best = c;
            have = true;
        }
    }
    return have ? best.e : NULL;
}

/* The entry governing path, with Vault's LIST fallbacks. */
static const cf_acl_entry_t *
cf_acl_lookup(const cf_acl_t *acl, const char *path, bool list)
{
    const cf_acl_entry_t  *e;
    size_t                 len = strlen(path);
    bool                   slash = len > 0 && path[len - 1] == '/';

    if ((e = cf_acl_exact(acl, path, len)) != NULL)
        return e;
    if (list && slash && (e = cf_acl_exact(acl, path, len - 1)) != NULL)
        return e;
    /* A LIST of "a/" first tries the rules for "a": a deny there holds. */
    if (list && slash && (e = cf_acl_nonexact(acl, path, len - 1)) != NULL)
        return e;
    return cf_acl_nonexact(acl, path, len);
}

/* ---- mount visibility ------------------------------------------------- */

#define CF_ACL_GRANTS  (CF_POLICY_CAP_CREATE | CF_POLICY_CAP_READ \
                        | CF_POLICY_CAP_UPDATE | CF_POLICY_CAP_DELETE \
                        | CF_POLICY_CAP_LIST | CF_POLICY_CAP_SUDO \
                        | CF_POLICY_CAP_PATCH)

static bool
cf_acl_grants(const cf_acl_entry_t *e)
{
    return (e->caps & CF_POLICY_CAP_DENY) == 0
           && (e->caps & CF_ACL_GRANTS) != 0;
}

/* Could segment rule e match some path under mount (Vault's
 * CheckAllowedFromNonExactPaths with bareMount)? Each of the mount's
 * segments must meet '+' or its equal in e. */
static bool
cf_acl_segment_under(const cf_acl_entry_t *e, const char *mount, size_t len)
{
    const char  *pp = e->path, *pend = e->path + e->wclen;
    const char  *sp = mount, *send = mount + len, *pe, *se;

    while (sp < send) {
        if (pp >= pend)
            return e->glob;
        pe = memchr(pp, '/', (size_t) (pend - pp));
        se = memchr(sp, '/', (size_t) (send - sp));
        if (pe == NULL)
            pe = pend;
        if (se == NULL)
            se = send;
        if (!((size_t) (pe - pp) == 1 && *pp == '+')
            && !((pe - pp) == (se - sp)
                 && memcmp(pp, sp, (size_t) (se - sp)) == 0)
            && !(e->glob && pe == pend && (se - sp) >= (pe - pp)
                 && memcmp(pp, sp, (size_t) (pe - pp)) == 0))
            return false;
        pp = pe + 1;
        sp = se + 1;
    }
    return true;
}

bool
cf_acl_mount_access(const cf_acl_t *acl, const char *mount_path)
{
    const cf_acl_entry_t  *e;
    size_t                 len = strlen(mount_path), i;

    if (acl->root)
        return true;
    if ((e = cf_acl_lookup(acl, mount_path, false)) != NULL
        && cf_acl_grants(e))
        return true;
    for (i = 0; i < acl->n; i++) {
        e = &acl->e[i];
        if (!cf_acl_grants(e))
            continue;
        if (e->kind == CF_ACL_SEGMENT) {
            if (cf_acl_segment_under(e, mount_path, len))
                return true;
        } else if (e->wclen >= len
                   && memcmp(e->path, mount_path, len) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- parameters ------------------------------------------------------- */

/* Vault's strutil.GlobbedStringsMatch: '*' at the start and/or end. */
static bool
cf_acl_glob(const char *pat, size_t plen, const char *v, size_t vlen)
{
    bool  pre, suf;

    if (plen < 2)
        return plen == vlen && memcmp(pat, v, plen) == 0;
    pre = pat[0] == '*';
    suf = pat[plen - 1] == '*';
    if (pre && suf)
        return plen == 2 || memmem(v, vlen, pat + 1, plen - 2) != NULL;
    if (pre)
        return vlen >= plen - 1
               && memcmp(v + vlen - (plen - 1), pat + 1, plen - 1) == 0;
    if (suf)
        return vlen >= plen - 1 && memcmp(v, pat, plen - 1) == 0;
    return plen == vlen && memcmp(pat, v, plen) == 0;
}

/* Deep equality; numbers compare by value (1 == 1.0). */
static bool
cf_acl_value_eq(const json_t *a, const json_t *b)
{
    const char  *key;
    json_t      *v;
    size_t       i;

    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b)
               && memcmp(json_string_value(a), json_string_value(b),
                         json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (i = 0; i < json_array_size(a); i++) {
            if (!cf_acl_value_eq(json_array_get(a, i), json_array_get(b, i)))
                return false;
        }
        return true;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach((json_t *) a, key, v) {
            const json_t  *w = json_object_get(b, key);

            if (w == NULL || !cf_acl_value_eq(v, w))
                return false;
        }
        return true;
    default:
        return true;        /* true, false, null */
    }
}

/* Is the string s[0..n) in list (string entries are globs)? */
static bool
cf_acl_in_list_str(const char *s, size_t n, const json_t *list)
{
    const json_t  *el;
    size_t         i;

    json_array_foreach((json_t *) list, i, el) {
        if (json_is_string(el)
            && cf_acl_glob(json_string_value(el), json_string_length(el),
                           s, n))
            return true;
    }
    return false;
}

/* Vault's valueInParameterList. */
static bool
cf_acl_in_list(const json_t *v, const json_t *list)
{
    const json_t  *el;
    size_t         i;

    if (json_is_string(v))
        return cf_acl_in_list_str(json_string_value(v),
                                  json_string_length(v), list);
    json_array_foreach((json_t *) list, i, el) {
        if (!json_is_string(el) && cf_acl_value_eq(el, v))
            return true;
    }
    return false;
}

static bool
cf_acl_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
}

/*
 * Vault 1.21's list rule: a list value, or a string read as a comma-
 * separated list (pieces trimmed), is checked element by element. With
 * all_in, every element must be in list (allowed_parameters); otherwise
 * one is enough (denied_parameters). As in Vault, "" is an empty list,
 * so all_in holds for it.
 */
static bool
cf_acl_elements_in(const json_t *v, const json_t *list, bool all_in)
{
    const json_t  *el;
    const char    *s, *end, *b, *e;
    size_t         i;
    bool           in;

    if (json_is_array(v)) {
        json_array_foreach((json_t *) v, i, el) {
            in = cf_acl_in_list(el, list);
            if (in != all_in)
                return in;
        }
        return all_in;
    }
    if (!json_is_string(v))
        return false;
    s = json_string_value(v);
    end = s + json_string_length(v);
    if (s == end)
        return all_in;
    for (;;) {
        e = memchr(s, ',', (size_t) (end - s));
        if (e == NULL)
            e = end;
        for (b = s; b < e && cf_acl_space(*b); b++)
            ;
        while (e > b && cf_acl_space(e[-1]))
            e--;
        in = cf_acl_in_list_str(b, (size_t) (e - b), list);
        if (in != all_in)
            return in;
        s = memchr(s, ',', (size_t) (end - s));
        if (s == NULL)
            return all_in;
        s++;
    }
}

static bool
cf_acl_value_allowed(const json_t *v, const json_t *list)
{
    return json_array_size(list) == 0 || cf_acl_in_list(v, list)
           || cf_acl_elements_in(v, list, true);
}

static bool
cf_acl_value_denied(const json_t *v, const json_t *list)
{
    return json_array_size(list) == 0 || cf_acl_in_list(v, list)
           || cf_acl_elements_in(v, list, false);
}

/* map[lowercase(name)]: the policy's names are lowercased already. */
static const json_t *
cf_acl_param_get(const json_t *map, const char *name)
{
    const char  *key, *a, *b;
    json_t      *v;
    char         c;

    json_object_foreach((json_t *) map, key, v) {
        for (a = key, b = name; *a != '\0' && *b != '\0'; a++, b++) {
            c = *b >= 'A' && *b <= 'Z' ? (char) (*b - 'A' + 'a') : *b;
            if (*a != c)
                break;
        }
        if (*a == '\0' && *b == '\0')
            return v;
    }
    return NULL;
}

static bool
cf_acl_deny_param(cf_acl_result_t *out, cf_acl_reason_t reason,
                  const char *name)
{
    out->allowed = false;
    out->reason = reason;
    snprintf(out->param, sizeof(out->param), "%s", name);
    return false;
}

/* The parameter part of AllowOperation. */
static bool
cf_acl_check_params(const cf_acl_entry_t *e, const json_t *params,
                    cf_acl_result_t *out)
{
    const json_t  *vals, *rq;
    const char    *key;
    json_t        *v;
    size_t         i;
    bool           all;

    json_array_foreach(e->required, i, rq) {
        if (json_object_get(params, json_string_value(rq)) == NULL)
            return cf_acl_deny_param(out, CF_ACL_REQUIRED_PARAMETER,
                                     json_string_value(rq));
    }
    if (json_object_size(params) == 0)
        return true;
    if (json_object_size(e->denied) > 0) {
        json_object_foreach((json_t *) params, key, v) {
            if (json_object_get(e->denied, "*") != NULL)
                return cf_acl_deny_param(out, CF_ACL_DENIED_PARAMETER, key);
            vals = cf_acl_param_get(e->denied, key);
            if (vals != NULL && cf_acl_value_denied(v, vals))
                return cf_acl_deny_param(out, CF_ACL_DENIED_PARAMETER, key);
        }
    }
    if (json_object_size(e->allowed) == 0)
        return true;
    all = json_object_get(e->allowed, "*") != NULL;
    if (all && json_object_size(e->allowed) == 1)
        return true;
    json_object_foreach((json_t *) params, key, v) {
        vals = cf_acl_param_get(e->allowed, key);
        if ((vals == NULL && !all)
            || (vals != NULL && !cf_acl_value_allowed(v, vals)))
            return cf_acl_deny_param(out, CF_ACL_PARAMETER_NOT_ALLOWED, key);
    }
    return true;
}

/* ---- the check -------------------------------------------------------- */

static unsigned
cf_acl_op_cap(cf_op_t op)
{
    switch (op) {
    case CF_OP_READ:    return CF_POLICY_CAP_READ;
    case CF_OP_CREATE:  return CF_POLICY_CAP_CREATE;
    case CF_OP_UPDATE:  return CF_POLICY_CAP_UPDATE;
    case CF_OP_DELETE:  return CF_POLICY_CAP_DELETE;
    case CF_OP_LIST:    return CF_POLICY_CAP_LIST;
    case CF_OP_PATCH:   return CF_POLICY_CAP_PATCH;
    default:            return 0;
    }
}

bool
cf_acl_allowed(const cf_acl_t *acl, const char *path, cf_op_t op,
               const json_t *params, cf_acl_result_t *out)
{
    const cf_acl_entry_t  *e;
    unsigned               need;

    memset(out, 0, sizeof(*out));
    out->reason = CF_ACL_NO_RULE;
    if (acl == NULL || path == NULL)
        return false;
    if (acl->root) {
        out->allowed = out->sudo = out->root = true;
        out->caps = ~(unsigned) CF_POLICY_CAP_DENY & 0x3ffu;
        out->reason = CF_ACL_OK;
        return true;
    }
    while (*path == '/')
        path++;
    if ((e = cf_acl_lookup(acl, path, op == CF_OP_LIST)) == NULL)
        return false;
    out->caps = e->caps;
    out->sudo = (e->caps & CF_POLICY_CAP_SUDO) != 0;
    out->min_wrapping_ttl = e->min_wrap;
    out->max_wrapping_ttl = e->max_wrap;
    need = cf_acl_op_cap(op);
    if (need == 0 || (e->caps & need) == 0) {
        out->reason = (e->caps & CF_POLICY_CAP_DENY) ? CF_ACL_EXPLICIT_DENY
                                                     : CF_ACL_NO_CAPABILITY;
        return false;
    }
    if ((op == CF_OP_READ || op == CF_OP_CREATE || op == CF_OP_UPDATE
         || op == CF_OP_PATCH) && !cf_acl_check_params(e, params, out))
        return false;
    out->allowed = true;
    out->reason = CF_ACL_OK;
    return true;
}

bool
cf_acl_wrap_ttl_ok(cf_acl_result_t *r, int64_t wrap_ttl)
{
    int64_t  min = r->min_wrapping_ttl, max = r->max_wrapping_ttl;

    if (!r->allowed)
        return false;
    if (r->root)
        return true;
    if ((max > 0 && (wrap_ttl <= 0 || wrap_ttl > max))
        || (min > 0 && (wrap_ttl <= 0 || wrap_ttl < min))
        || (min != 0 && max != 0 && max < min)) {
        r->allowed = false;
        r->reason = CF_ACL_WRAPPING_TTL;
        return false;
    }
    return true;
}

json_t *
cf_acl_capabilities(const cf_acl_t *acl, const char *path)
{
    static const struct {
        unsigned     cap;
        const char  *name;
    } order[] = {
        { CF_POLICY_CAP_SUDO, "sudo" },     { CF_POLICY_CAP_READ, "read" },
        { CF_POLICY_CAP_LIST, "list" },     { CF_POLICY_CAP_UPDATE, "update" },
        { CF_POLICY_CAP_DELETE, "delete" }, { CF_POLICY_CAP_CREATE, "create" },
        { CF_POLICY_CAP_PATCH, "patch" },
        { CF_POLICY_CAP_SUBSCRIBE, "subscribe" },
        { CF_POLICY_CAP_RECOVER, "recover" },
    };
    const cf_acl_entry_t  *e = NULL;
    json_t                *arr;
    unsigned               caps = 0;
    size_t                 i;

    if ((arr = json_array()) == NULL)
        return NULL;
    if (acl != NULL && acl->root) {
        if (json_array_append_new(arr, json_string("root")) != 0)
            goto nomem;
        return arr;
    }
    if (acl != NULL && path != NULL) {
        while (*path == '/')
            path++;
        if ((e = cf_acl_lookup(acl, path, true)) != NULL)
            caps = e->caps;
    }
    if (!(caps & CF_POLICY_CAP_DENY)) {
        for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
            if ((caps & order[i].cap)
                && json_array_append_new(arr, json_string(order[i].name))
                   != 0)
                goto nomem;
        }
    }
    if (json_array_size(arr) == 0
        && json_array_append_new(arr, json_string("deny")) != 0)
        goto nomem;
    return arr;
nomem:
    json_decref(arr);
    return NULL;
}
