/*
 * policy: Vault ACL policies. Parses a policy document (HCL or JSON, via
 * hcl.h), builds an ACL from a token's policies and answers "may this
 * request (path, operation, parameters) go on?" exactly as Vault's ACL
 * does. Also: identity templating of policy paths, the built-in policy
 * texts and the list of sudo-protected (root) paths.
 *
 * No HTTP, no storage: the caller loads policy text, keeps the cache and
 * turns a denial into 403.
 *
 * Objects: cf_policy_t (one parsed policy) and cf_acl_t (the merged rules
 * of a set of policies) are immutable once returned and refcounted, so a
 * cache may hand them to any thread: take a reference with _ref, drop it
 * with _free (the last one frees). All functions are reentrant; none
 * takes a lock.
 *
 * Matching follows vault/acl.go: an exact rule wins; otherwise among the
 * longest matching glob ("secret/" + '*') and the matching "+" rules the most
 * specific one wins (first wildcard later, not ending in '*', fewer '+',
 * longer, lexically greater). Rules for the same path in several
 * policies are merged (capabilities unioned, deny absorbs everything,
 * parameters merged, smallest wrapping TTLs). A LIST on "a/b/" also
 * consults the rules for "a/b", so a deny on "a/b" cannot be bypassed
 * by listing it.
 */
#ifndef COFFER_POLICY_H
#define COFFER_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coffer/err.h"
#include "coffer/req.h"

/* Capability bits, as in Vault (subscribe and recover parse but no
 * Coffer operation needs them). */
typedef enum {
    CF_POLICY_CAP_DENY      = 1u << 0,
    CF_POLICY_CAP_CREATE    = 1u << 1,
    CF_POLICY_CAP_READ      = 1u << 2,
    CF_POLICY_CAP_UPDATE    = 1u << 3,
    CF_POLICY_CAP_DELETE    = 1u << 4,
    CF_POLICY_CAP_LIST      = 1u << 5,
    CF_POLICY_CAP_SUDO      = 1u << 6,
    CF_POLICY_CAP_PATCH     = 1u << 7,
    CF_POLICY_CAP_SUBSCRIBE = 1u << 8,
    CF_POLICY_CAP_RECOVER   = 1u << 9
} cf_policy_cap_t;

/* Built-in policy names. "root" has no rules: an ACL built from a policy
 * of that name allows everything (with sudo). */
#define CF_POLICY_ROOT     "root"
#define CF_POLICY_DEFAULT  "default"
#define CF_POLICY_RESPONSE_WRAPPING  "response-wrapping"

/* Vault's default policy rules (vault/policy_store.go), HCL text. Two of
 * its rules are templated on identity.entity.id / .name. */
extern const char  cf_policy_default_text[];

/* Vault's fixed policy of response-wrapping tokens. */
extern const char  cf_policy_response_wrapping_text[];

typedef struct cf_policy_s  cf_policy_t;
typedef struct cf_acl_s     cf_acl_t;

/* ---- policies ------------------------------------------------------- */

/*
 * Parse policy text (HCL, or JSON when it starts with '{') named name.
 * Top-level keys: "name" (ignored) and "path" blocks; rule keys:
 * capabilities, policy (legacy deny/read/write/sudo), allowed_parameters,
 * denied_parameters, required_parameters, min_wrapping_ttl,
 * max_wrapping_ttl, comment, subscribe_event_types (ignored).
 * mfa_methods and control_group (Enterprise) are refused.
 *
 * Returns CF_OK and *out (free with cf_policy_free), CF_ERR_INVALID with
 * err = "line N: ..." naming the key or rule at fault (never a value
 * other than the rule's path), or CF_ERR_NOMEM. name and text are copied.
 */
cf_err_t cf_policy_parse(const char *name, const char *text, size_t len,
                         cf_policy_t **out, char *err, size_t errlen);

/* Take one more reference; returns p. */
cf_policy_t *cf_policy_ref(cf_policy_t *p);

/* Drop a reference; the last one frees. NULL-safe. */
void cf_policy_free(cf_policy_t *p);

/* The name and the text as given to cf_policy_parse; borrowed, live as
 * long as p. */
const char *cf_policy_name(const cf_policy_t *p);
const char *cf_policy_text(const cf_policy_t *p);

/* Whether any rule's path holds a {{...}} template. */
bool cf_policy_templated(const cf_policy_t *p);

/* Number of path rules (after parsing; duplicates not merged). */
size_t cf_policy_rule_count(const cf_policy_t *p);

/*
 * Identity data for templated paths, a JSON object (borrowed):
 *   { "entity": { "id": "...", "name": "...", "metadata": {"k": "v"},
 *                 "aliases": [ { "mount_accessor": "auth_userpass_1",
 *                                "id": "...", "name": "...",
 *                                "metadata": {}, "custom_metadata": {} } ] },
 *     "groups": [ { "id": "...", "name": "...", "metadata": {} } ] }
 * Every member is optional. Supported: identity.entity.id, .name,
 * .metadata.<k>, .aliases.<accessor>.id/.name/.metadata.<k>/
 * .custom_metadata.<k>, identity.groups.ids.<id>.id/.name/.metadata.<k>,
 * identity.groups.names.<name>.id/.name/.metadata.<k>.
 *
 * Render every templated rule of p with identity (NULL = none) into a new
 * policy without templates. A rule whose template does not resolve, or
 * whose substituted value contains '/', '+' or '*', is dropped (matches
 * nothing), as in Vault. *out is a new policy (cf_policy_free); it is p
 * itself, with a new reference, when p has no templates.
 * CF_ERR_NOMEM only.
 */
cf_err_t cf_policy_render(cf_policy_t *p, const json_t *identity,
                          cf_policy_t **out);

/*
 * Whether path (a full request path such as "sys/audit/file" or
 * "auth/token/accessors/", no leading '/') is root-protected in Vault:
 * the request also needs the sudo capability (cf_acl_result_t.sudo).
 * The list is Vault's PathsSpecial.Root of the system backend and of the
 * token store; handlers that check sudo themselves in Vault
 * (auth/token/create with no_parent, auth/token/revoke-orphan without a
 * token in the path, ...) still have to do so.
 */
bool cf_policy_path_needs_sudo(const char *path);

/* ---- ACL ------------------------------------------------------------ */

/*
 * Build the ACL of a token from its policies (borrowed; NULL entries are
 * skipped; the ACL copies what it needs). A policy named "root" makes a
 * root ACL. Templated rules are rendered with identity (a JSON object as
 * for cf_policy_render, or NULL): those that do not resolve are dropped,
 * so without identity the default policy's entity rules match nothing.
 * Returns a new ACL (cf_acl_free) or NULL when out of memory.
 */
cf_acl_t *cf_acl_new(const cf_policy_t *const *policies, size_t n);
cf_acl_t *cf_acl_new_identity(const cf_policy_t *const *policies, size_t n,
                              const json_t *identity);

/* Take one more reference; returns acl. */
cf_acl_t *cf_acl_ref(cf_acl_t *acl);

/* Drop a reference; the last one frees. NULL-safe. */
void cf_acl_free(cf_acl_t *acl);

/* Whether the ACL came from the root policy. */
bool cf_acl_is_root(const cf_acl_t *acl);

typedef enum {
    CF_ACL_OK = 0,              /* allowed */
    CF_ACL_NO_RULE,             /* no rule matches the path */
    CF_ACL_EXPLICIT_DENY,       /* the matching rule says deny */
    CF_ACL_NO_CAPABILITY,       /* the rule lacks the operation's cap */
    CF_ACL_REQUIRED_PARAMETER,  /* a required_parameters name is absent */
    CF_ACL_DENIED_PARAMETER,    /* denied_parameters matched */
    CF_ACL_PARAMETER_NOT_ALLOWED, /* not in allowed_parameters */
    CF_ACL_WRAPPING_TTL         /* from cf_acl_wrap_ttl_ok */
} cf_acl_reason_t;

typedef struct {
    bool             allowed;
    bool             sudo;      /* the matching rule grants sudo (or root) */
    bool             root;      /* root ACL: everything allowed */
    unsigned         caps;      /* cf_policy_cap_t bits of the rule */
    int64_t          min_wrapping_ttl;  /* seconds, 0 = none */
    int64_t          max_wrapping_ttl;  /* seconds, 0 = none */
    cf_acl_reason_t  reason;    /* CF_ACL_OK when allowed */
    char             param[64]; /* parameter at fault (truncated), or "" */
} cf_acl_result_t;

/*
 * Check one request. path is the request path without "/v1/" (leading
 * slashes are ignored; a LIST path keeps its trailing '/'); op exactly
 * one CF_OP_* value (the caller decides CREATE vs UPDATE); params the
 * request's JSON body object, or NULL. Parameters are checked for READ,
 * CREATE, UPDATE and PATCH, as in Vault (names case-insensitively, ASCII
 * only; values with '*' prefix/suffix globs, lists and comma-separated
 * strings element by element, as Vault 1.21 does).
 *
 * Fills *out (always) and returns out->allowed. When allowed, the caller
 * must still enforce the wrapping TTLs with cf_acl_wrap_ttl_ok and, on
 * root-protected paths, out->sudo.
 */
bool cf_acl_allowed(const cf_acl_t *acl, const char *path, cf_op_t op,
                    const json_t *params, cf_acl_result_t *out);

/*
 * Vault's wrapping-TTL rule for an allowed result: wrap_ttl is the
 * request's X-Vault-Wrap-TTL in seconds, 0 when not wrapped. With a
 * max_wrapping_ttl the request must be wrapped with ttl <= max, with a
 * min_wrapping_ttl wrapped with ttl >= min. False also when merging left
 * max < min. On false, r->allowed becomes false with CF_ACL_WRAPPING_TTL.
 */
bool cf_acl_wrap_ttl_ok(cf_acl_result_t *r, int64_t wrap_ttl);

/*
 * The capabilities of path for sys/capabilities(-self): a new JSON array
 * of names in Vault's order ("root" for a root ACL, ["deny"] when denied
 * or nothing matches). Uses LIST matching, as Vault does. NULL when out
 * of memory; the caller owns the array.
 */
json_t *cf_acl_capabilities(const cf_acl_t *acl, const char *path);

/*
 * Vault's hasMountAccess, for sys/internal/ui/mounts: whether the ACL
 * grants anything (not only deny) on the mount path ("secret/",
 * "auth/userpass/") or on some path below it, through an exact, prefix
 * or '+' rule. Always true for a root ACL.
 */
bool cf_acl_mount_access(const cf_acl_t *acl, const char *mount_path);

/* Short English text for a reason, for logs. Never NULL. */
const char *cf_acl_reason_str(cf_acl_reason_t reason);

#endif
