/*
 * path: the one normalisation of a request URL into the path every later
 * step (ACL, routing, storage views, audit) sees. Pure; thread-safe.
 */
#include "coffer/path.h"

#include <stdlib.h>
#include <string.h>

#include "coffer/mem.h"

cf_err_t
cf_path_normalize(const char *url, char **out)
{
    const char  *p, *seg;
    cf_buf_t    *b;
    size_t       n;
    bool         trailing;
    cf_err_t     rc = CF_OK;

    *out = NULL;
    if (url == NULL || strncmp(url, "/v1/", 4) != 0)
        return CF_ERR_NOT_FOUND;
    p = url + 4;
    if (strlen(p) > 8192)
        return CF_ERR_INVALID;
    if ((b = cf_buf_new(strlen(p) + 1)) == NULL)
        return CF_ERR_NOMEM;
    trailing = *p != '\0' && p[strlen(p) - 1] == '/';
    while (*p != '\0') {
        seg = p;
        while (*p != '\0' && *p != '/')
            p++;
        n = (size_t) (p - seg);
        if (*p == '/')
            p++;
        if (n == 0 || (n == 1 && seg[0] == '.'))
            continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            rc = CF_ERR_INVALID;
            goto out;
        }
        if (memchr(seg, '\0', n) != NULL) {
            rc = CF_ERR_INVALID;
            goto out;
        }
        if (b->len > 0 && (rc = cf_buf_append(b, "/", 1)) != CF_OK)
            goto out;
        if ((rc = cf_buf_append(b, seg, n)) != CF_OK)
            goto out;
    }
    if (trailing && b->len > 0 && (rc = cf_buf_append(b, "/", 1)) != CF_OK)
        goto out;
    if (b->len > 0 && b->data[b->len - 1] == '.') {
        rc = CF_ERR_NOT_FOUND;      /* Vault: paths ending in '.' are 404 */
        goto out;
    }
    /* By length: a path of no segments ("/v1/") never appended, so the
     * buffer holds no terminator. */
    if ((*out = strndup((const char *) b->data, b->len)) == NULL)
        rc = CF_ERR_NOMEM;
out:
    cf_buf_free(b);
    return rc;
}
