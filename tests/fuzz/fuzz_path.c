/*
 * fuzz_path: request path normalisation, the path the ACL check, the
 * router and the audit log all see. Checks on every accepted input: no
 * leading '/', no empty, "." or ".." segment, no NUL, and normalising
 * the result again (behind "/v1/") gives the same path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/mem.h"
#include "coffer/path.h"

static void
cf_fuzz_check(const char *p)
{
    const char  *s = p, *e;
    size_t       n = strlen(p);

    if (n > 0 && p[0] == '/')
        abort();
    while (*s != '\0') {
        e = strchr(s, '/');
        if (e == NULL)
            e = s + strlen(s);
        if (e == s && *e == '/')
            abort();                            /* empty segment */
        if ((e - s == 1 && s[0] == '.')
            || (e - s == 2 && s[0] == '.' && s[1] == '.'))
            abort();
        s = *e == '/' ? e + 1 : e;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *url, *out = NULL, *again = NULL, *url2;

    if (size > 9000)
        return 0;
    if ((url = malloc(size + 1)) == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    if (cf_path_normalize(url, &out) == CF_OK) {
        cf_fuzz_check(out);
        if ((url2 = malloc(strlen(out) + 5)) != NULL) {
            memcpy(url2, "/v1/", 4);
            strcpy(url2 + 4, out);
            if (cf_path_normalize(url2, &again) != CF_OK
                || strcmp(out, again) != 0)
                abort();                        /* idempotent */
            free(url2);
        }
    }
    free(out);
    free(again);
    free(url);
    return 0;
}
