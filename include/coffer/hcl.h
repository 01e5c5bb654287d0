/*
 * hcl: a small, strict parser for the HCL subset Vault's config and policy
 * files use (and for their JSON form, which HCL accepts too).
 *
 * Grammar: body := (attribute | block)* ; attribute := key '=' value ;
 * block := key label* '{' body '}' ; key/label := identifier | "string" ;
 * value := "string" | <<EOT heredoc | number | true | false | '[' values ']'
 * | '{' body '}' (object; key = value pairs, commas optional).
 * Comments: '#', '//' and C-style block comments. Strings support \" \\ \n
 * \t \uXXXX (and \/ \b \f \r, as in JSON).
 * JSON text (a top-level '{') is parsed into the same tree.
 *
 * Every node carries its 1-based line for error messages. The tree is
 * owned by the caller (cf_hcl_free). Stateless and thread-safe.
 * Limits: input 1 MiB, nesting depth 32, string 64 KiB.
 *
 * HCL details: newlines separate items (a ',' may too); keys, labels and
 * strings are UTF-8; numbers are JSON-shaped decimals; there is no null
 * and no ${} interpolation (text is kept literally). <<EOT keeps lines as
 * written, <<-EOT removes the common leading whitespace; both end with
 * the anchor alone on a line and include the last newline.
 *
 * JSON mapping: a top-level '{' means the whole text is strict JSON (no
 * comments, heredocs or trailing commas). Member "k": {...} becomes a
 * CF_HCL_OBJECT with key k, "k": [...] a CF_HCL_LIST, scalars as in HCL;
 * JSON never yields CF_HCL_BLOCK and null is refused. So a block may come
 * in three shapes, which consumers must all accept:
 *   path "x" { .. }            BLOCK key=path labels=[x], children = body
 *   path = { "x" = { .. } }    OBJECT key=path > OBJECT key=x = body
 *   {"path": {"x": { .. }}}    the same OBJECT > OBJECT tree
 *   {"path": [{"x": {..}}]}    LIST key=path > OBJECT > OBJECT key=x
 * cf_hcl_blocks() walks all of them uniformly.
 */
#ifndef COFFER_HCL_H
#define COFFER_HCL_H

#include <stdbool.h>
#include <stddef.h>

#include "coffer/err.h"

typedef enum {
    CF_HCL_STRING,
    CF_HCL_NUMBER,
    CF_HCL_BOOL,
    CF_HCL_LIST,        /* children are values (key NULL) */
    CF_HCL_OBJECT,      /* children are attributes and blocks */
    CF_HCL_BLOCK        /* key + labels; children = its body */
} cf_hcl_type_t;

typedef struct cf_hcl_node_s cf_hcl_node_t;

struct cf_hcl_node_s {
    cf_hcl_type_t   type;
    int             line;
    char           *key;        /* attribute or block name; NULL in lists */
    char          **labels;     /* block labels, nlabels of them */
    size_t          nlabels;
    char           *str;        /* CF_HCL_STRING; also the text of NUMBER */
    double          num;        /* CF_HCL_NUMBER */
    bool            boolean;    /* CF_HCL_BOOL */
    cf_hcl_node_t  *child;      /* first child (LIST, OBJECT, BLOCK) */
    cf_hcl_node_t  *next;       /* next sibling */
};

/* Parse text into a root CF_HCL_OBJECT. On CF_ERR_INVALID, err receives
 * "line N: what is wrong" (never the offending value). */
cf_err_t cf_hcl_parse(const char *text, size_t len, cf_hcl_node_t **out,
                      char *err, size_t errlen);

/* NULL-safe, frees the whole tree (strings are zeroed first). */
void cf_hcl_free(cf_hcl_node_t *root);

/* Called once per one-label block; body's children are the block body and
 * body->line is where it starts. A non-CF_OK return stops the walk. */
typedef cf_err_t (*cf_hcl_block_fn)(const char *label,
                                     const cf_hcl_node_t *body, void *arg);

/* Visit every block `name "label" {..}` directly under parent, in any of
 * the shapes listed above, in file order. A child named `name` of another
 * shape (no label or two labels, a string, a list of non-objects) gives
 * CF_ERR_INVALID; then, and when fn fails, *line (if not NULL) receives
 * the line of the node at fault. Returns CF_OK or the first error. */
cf_err_t cf_hcl_blocks(const cf_hcl_node_t *parent, const char *name,
                       cf_hcl_block_fn fn, void *arg, int *line);

#endif
