/*
 * policy_internal: what policy.c (parsing), policy_acl.c (the ACL) and
 * policy_template.c (identity templates) share. Not a public header.
 */
#ifndef COFFER_POLICY_INTERNAL_H
#define COFFER_POLICY_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coffer/policy.h"

/* One path rule as written. Parameter maps are owned JSON: allowed and
 * denied are objects (lowercased name -> array of values), required an
 * array of lowercased names; each NULL when the key was absent. */
typedef struct {
    char      *path;        /* leading '/' removed; may hold {{...}} */
    int        line;
    unsigned   caps;        /* cf_policy_cap_t; DENY alone when denied */
    int64_t    min_wrap;    /* seconds, 0 = none */
    int64_t    max_wrap;
    json_t    *allowed;
    json_t    *denied;
    json_t    *required;
    bool       templated;
} cf_policy_rule_t;

struct cf_policy_s {
    atomic_uint        refs;
    char              *name;
    char              *text;
    bool               templated;
    cf_policy_rule_t  *rules;
    size_t             nrules;
};

/* Is s a well-formed template string ("{{" and "}}" balanced, as Vault's
 * identitytpl checks)? Sets *templated when it holds a template. */
bool cf_policy_tpl_valid(const char *s, bool *templated);

/* Render the templates of s with identity (may be NULL) into a new
 * malloc'd string (*out, free with free()). CF_ERR_NOT_FOUND when a
 * template does not resolve or a value holds '/', '+' or '*';
 * CF_ERR_NOMEM. */
cf_err_t cf_policy_tpl_render(const char *s, const json_t *identity,
                              char **out);

#endif
