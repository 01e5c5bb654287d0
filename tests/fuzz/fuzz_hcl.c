/*
 * fuzz_hcl: libFuzzer harness for cf_hcl_parse (config files and ACL
 * policies, HCL and JSON). Beyond "no crash, leak or hang" it checks the
 * contract: a tree exactly on success, an error message always in the
 * documented shape otherwise, and cf_hcl_blocks on any tree.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/hcl.h"

static cf_err_t
cf_fuzz_block(const char *label, const cf_hcl_node_t *body, void *arg)
{
    size_t  *n = arg;

    /* Touch what a policy engine would read. */
    if (label == NULL || body == NULL || body->line < 1)
        abort();
    *n += strlen(label);
    return CF_OK;
}

/* Check every node: keys where they belong, lines positive. */
static void
cf_fuzz_check(const cf_hcl_node_t *n, int depth)
{
    size_t  i;

    if (depth > 40)
        abort();
    for (; n != NULL; n = n->next) {
        if (n->line < 1)
            abort();
        if ((n->type == CF_HCL_STRING || n->type == CF_HCL_NUMBER)
            && n->str == NULL)
            abort();
        if (n->type == CF_HCL_BLOCK && n->key == NULL)
            abort();
        for (i = 0; i < n->nlabels; i++) {
            if (n->labels[i] == NULL)
                abort();
        }
        if (n->type == CF_HCL_LIST) {
            const cf_hcl_node_t  *c;

            for (c = n->child; c != NULL; c = c->next) {
                if (c->key != NULL)
                    abort();
            }
        }
        cf_fuzz_check(n->child, depth + 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_hcl_node_t  *root = NULL;
    char            err[256];
    size_t          n = 0;
    int             line;
    cf_err_t        rc;

    memset(err, 'x', sizeof(err));
    rc = cf_hcl_parse((const char *) data, size, &root, err, sizeof(err));
    if (rc == CF_OK) {
        if (root == NULL || root->type != CF_HCL_OBJECT || err[0] != '\0')
            abort();
        cf_fuzz_check(root->child, 1);
        (void) cf_hcl_blocks(root, "path", cf_fuzz_block, &n, &line);
        (void) cf_hcl_blocks(root, "seal", cf_fuzz_block, &n, NULL);
    } else {
        if (root != NULL || memchr(err, '\0', sizeof(err)) == NULL)
            abort();
        if (rc == CF_ERR_INVALID && strncmp(err, "line ", 5) != 0)
            abort();
    }
    cf_hcl_free(root);
    return 0;
}
