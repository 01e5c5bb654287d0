/*
 * fuzz_policy: libFuzzer harness for ACL policies. The input is a policy
 * text, optionally followed by a NUL and a request path. Beyond "no
 * crash, leak or hang" it checks the contract: a policy exactly on
 * success, a "line N: ..." message on CF_ERR_INVALID; then it builds
 * ACLs (with and without identity), renders the templates and checks the
 * path with every operation, with and without parameters.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/policy.h"

static const cf_op_t  cf_fuzz_ops[] = {
    CF_OP_READ, CF_OP_CREATE, CF_OP_UPDATE, CF_OP_DELETE, CF_OP_LIST,
    CF_OP_PATCH
};

static void
cf_fuzz_check(const cf_acl_t *acl, const char *path, const json_t *params)
{
    cf_acl_result_t  r;
    json_t          *caps;
    size_t           i;
    bool             ok;

    for (i = 0; i < sizeof(cf_fuzz_ops) / sizeof(cf_fuzz_ops[0]); i++) {
        ok = cf_acl_allowed(acl, path, cf_fuzz_ops[i], params, &r);
        if (ok != r.allowed || ok != (r.reason == CF_ACL_OK)
            || memchr(r.param, '\0', sizeof(r.param)) == NULL)
            abort();
        if (ok && (r.caps & CF_POLICY_CAP_DENY))
            abort();
        (void) cf_acl_wrap_ttl_ok(&r, 60);
        (void) cf_acl_reason_str(r.reason);
    }
    caps = cf_acl_capabilities(acl, path);
    if (caps == NULL || json_array_size(caps) == 0)
        abort();
    json_decref(caps);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char     *text = (const char *) data, *nul;
    cf_policy_t    *p = NULL, *rendered = NULL;
    const cf_policy_t *set[2];
    cf_acl_t       *acl;
    json_t         *identity, *params;
    char            err[256], path[512];
    size_t          tlen = size, plen;
    cf_err_t        rc;

    /* Split off the request path after the first NUL. */
    nul = memchr(data, '\0', size);
    path[0] = '\0';
    if (nul != NULL) {
        tlen = (size_t) (nul - text);
        plen = size - tlen - 1;
        if (plen >= sizeof(path))
            plen = sizeof(path) - 1;
        memcpy(path, nul + 1, plen);
        path[plen] = '\0';
    }
    (void) cf_policy_path_needs_sudo(path);

    memset(err, 'x', sizeof(err));
    rc = cf_policy_parse("fuzz", text, tlen, &p, err, sizeof(err));
    if (rc != CF_OK) {
        if (p != NULL || memchr(err, '\0', sizeof(err)) == NULL)
            abort();
        if (rc == CF_ERR_INVALID && strncmp(err, "line ", 5) != 0)
            abort();
        return 0;
    }
    if (p == NULL || err[0] != '\0' || strcmp(cf_policy_name(p), "fuzz") != 0
        || strlen(cf_policy_text(p)) > tlen)
        abort();

    identity = json_pack("{s:{s:s, s:s, s:{s:s}, s:[{s:s, s:s}]},"
                         " s:[{s:s, s:s}]}",
                         "entity", "id", "e1", "name", "n",
                         "metadata", "k", "v",
                         "aliases", "mount_accessor", "acc", "name", "a",
                         "groups", "id", "g1", "name", "grp");
    params = json_pack("{s:s, s:[s, i], s:b, s:n}", "foo", "bar,baz",
                       "list", "a", 1, "Flag", 1, "nothing");
    set[0] = p;
    set[1] = NULL;
    if ((acl = cf_acl_new(set, 2)) != NULL) {
        cf_fuzz_check(acl, path, NULL);
        cf_fuzz_check(acl, path, params);
        cf_acl_free(acl);
    }
    if ((acl = cf_acl_new_identity(set, 1, identity)) != NULL) {
        cf_fuzz_check(acl, path, params);
        cf_acl_free(acl);
    }
    if (cf_policy_render(p, identity, &rendered) == CF_OK) {
        if (cf_policy_templated(rendered)
            || cf_policy_rule_count(rendered) > cf_policy_rule_count(p))
            abort();
        cf_policy_free(rendered);
    }
    json_decref(params);
    json_decref(identity);
    cf_policy_free(p);
    return 0;
}
