/* policy_template: identity templates in policy paths, after Vault's
 * sdk/helper/identitytpl in ACL mode. */
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

bool
cf_policy_tpl_valid(const char *s, bool *templated)
{
    const char  *open, *close;

    *templated = false;
    /* Text before the first "{{" may not close one. */
    open = strstr(s, "{{");
    close = strstr(s, "}}");
    if (close != NULL && (open == NULL || close < open))
        return false;
    while (open != NULL) {
        /* Each "{{" piece holds exactly one "}}" before the next "{{". */
        const char  *next = strstr(open + 2, "{{");

        close = strstr(open + 2, "}}");
        if (close == NULL || (next != NULL && close > next))
            return false;
        close = strstr(close + 2, "}}");
        if (close != NULL && (next == NULL || close < next))
            return false;
        *templated = true;
        open = next;
    }
    return true;
}

/* A non-empty string member of obj, or NULL. */
static const char *
cf_policy_tpl_str(const json_t *obj, const char *key)
{
    const char  *s = json_string_value(json_object_get(obj, key));

    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* metadata.<key> of obj: a string, which may be empty (as Vault's map
 * lookup). */
static const char *
cf_policy_tpl_meta(const json_t *obj, const char *member, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, member),
                                             key));
}

/* id, name, metadata.<k> (and custom_metadata.<k> when custom) of an
 * entity, alias or group. */
static const char *
cf_policy_tpl_field(const json_t *obj, const char *sel, bool custom)
{
    if (strcmp(sel, "id") == 0 || strcmp(sel, "name") == 0)
        return cf_policy_tpl_str(obj, sel);
    if (strncmp(sel, "metadata.", 9) == 0)
        return cf_policy_tpl_meta(obj, "metadata", sel + 9);
    if (custom && strncmp(sel, "custom_metadata.", 16) == 0)
        return cf_policy_tpl_meta(obj, "custom_metadata", sel + 16);
    return NULL;
}

static const char *
cf_policy_tpl_alias(const json_t *entity, const char *sel)
{
    const json_t  *aliases, *a, *found = NULL;
    const char    *dot, *acc;
    size_t         i, acclen;

    /* <mount accessor>.<field> */
    if ((dot = strchr(sel, '.')) == NULL)
        return NULL;
    acclen = (size_t) (dot - sel);
    aliases = json_object_get(entity, "aliases");
    json_array_foreach(aliases, i, a) {
        acc = json_string_value(json_object_get(a, "mount_accessor"));
        if (acc != NULL && strlen(acc) == acclen
            && memcmp(acc, sel, acclen) == 0) {
            found = a;
            break;
        }
    }
    return found != NULL ? cf_policy_tpl_field(found, dot + 1, true) : NULL;
}

static const char *
cf_policy_tpl_entity(const json_t *entity, const char *sel)
{
    if (!json_is_object(entity))
        return NULL;
    if (strncmp(sel, "aliases.", 8) == 0)
        return cf_policy_tpl_alias(entity, sel + 8);
    return cf_policy_tpl_field(entity, sel, false);
}

/* ids.<id>.<field> or names.<name>.<field> */
static const char *
cf_policy_tpl_groups(const json_t *groups, const char *sel)
{
    const json_t  *g, *found = NULL;
    const char    *by, *dot, *v;
    size_t         i, klen;

    if (json_array_size(groups) == 0)
        return NULL;
    if (strncmp(sel, "ids.", 4) == 0)
        by = "id";
    else if (strncmp(sel, "names.", 6) == 0)
        by = "name";
    else
        return NULL;
    sel += by[0] == 'i' ? 4 : 6;
    if ((dot = strchr(sel, '.')) == NULL)
        return NULL;
    klen = (size_t) (dot - sel);
    json_array_foreach(groups, i, g) {
        v = json_string_value(json_object_get(g, by));
        if (v != NULL && strlen(v) == klen && memcmp(v, sel, klen) == 0) {
            found = g;
            break;
        }
    }
    return found != NULL ? cf_policy_tpl_field(found, dot + 1, false) : NULL;
}

/* The value of one template expression (already trimmed), or NULL. */
static const char *
cf_policy_tpl_value(const char *expr, const json_t *identity)
{
    if (strncmp(expr, "identity.entity.", 16) == 0)
        return cf_policy_tpl_entity(json_object_get(identity, "entity"),
                                    expr + 16);
    if (strncmp(expr, "identity.groups.", 16) == 0)
        return cf_policy_tpl_groups(json_object_get(identity, "groups"),
                                    expr + 16);
    return NULL;
}

static bool
cf_policy_tpl_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
}

/* Append k bytes of v to the growing, NUL-terminated buf. */
static cf_err_t
cf_policy_tpl_append(char **buf, size_t *n, size_t *cap, const char *v,
                     size_t k)
{
    char    *grown;
    size_t   want = *n + k + 1;

    if (want > *cap) {
        if ((grown = realloc(*buf, want * 2)) == NULL)
            return CF_ERR_NOMEM;
        *buf = grown;
        *cap = want * 2;
    }
    memcpy(*buf + *n, v, k);
    *n += k;
    (*buf)[*n] = '\0';
    return CF_OK;
}

cf_err_t
cf_policy_tpl_render(const char *s, const json_t *identity, char **out)
{
    const char  *open, *close, *b, *e, *v;
    char        *buf = NULL, *expr;
    size_t       n = 0, cap = 0;
    bool         templated;
    cf_err_t     rc;

    *out = NULL;
    if (!cf_policy_tpl_valid(s, &templated))
        return CF_ERR_NOT_FOUND;
    if ((rc = cf_policy_tpl_append(&buf, &n, &cap, "", 0)) != CF_OK)
        goto out;
    while ((open = strstr(s, "{{")) != NULL) {
        if ((rc = cf_policy_tpl_append(&buf, &n, &cap, s,
                                       (size_t) (open - s))) != CF_OK)
            goto out;
        close = strstr(open + 2, "}}");     /* there: s is valid */
        for (b = open + 2; b < close && cf_policy_tpl_space(*b); b++)
            ;
        for (e = close; e > b && cf_policy_tpl_space(e[-1]); e--)
            ;
        if ((expr = strndup(b, (size_t) (e - b))) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        v = cf_policy_tpl_value(expr, identity);
        free(expr);
        /* Unresolved, or a value that would widen the path: the rule
         * must not match anything. */
        if (v == NULL || strpbrk(v, "/+*") != NULL) {
            rc = CF_ERR_NOT_FOUND;
            goto out;
        }
        if ((rc = cf_policy_tpl_append(&buf, &n, &cap, v, strlen(v)))
            != CF_OK)
            goto out;
        s = close + 2;
    }
    if ((rc = cf_policy_tpl_append(&buf, &n, &cap, s, strlen(s))) != CF_OK)
        goto out;
    *out = buf;
    buf = NULL;
out:
    free(buf);
    return rc;
}
