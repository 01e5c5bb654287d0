/*
 * transit_wire: the wire forms of transit data, parsed from whatever a
 * client sends: "vault:v<N>:<base64>" ciphertexts, signatures and HMACs,
 * and base64 (standard or url-safe) fields. No state; fuzzed
 * (tests/fuzz/fuzz_transit_wire.c).
 */
#include "transit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/mem.h"

cf_err_t
cf_transit_b64(const char *s, bool url, const char *what, cf_buf_t **out,
               char *msg, size_t mlen)
{
    char      *t = NULL;
    size_t     n = strlen(s), i;
    cf_err_t   rc;

    *out = NULL;
    if (url) {
        if ((t = malloc(n + 4)) == NULL)
            return CF_ERR_NOMEM;
        for (i = 0; i < n; i++)
            t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
        while (i % 4 != 0)
            t[i++] = '=';
        t[i] = '\0';
        s = t;
    }
    if (*s == '\0') {
        rc = (*out = cf_buf_new(1)) != NULL ? CF_OK : CF_ERR_NOMEM;
    } else if ((rc = cf_b64_decode(s, out)) == CF_ERR_INVALID) {
        snprintf(msg, mlen, "failed to base64-decode %s", what);
    }
    if (t != NULL)
        cf_mem_free_str(t);
    return rc;
}

char *
cf_transit_prefixed(unsigned v, const void *data, size_t len, bool url)
{
    char    *b = cf_b64_encode(data, len), *s, *p;
    size_t   n;

    if (b == NULL)
        return NULL;
    if (url) {
        for (p = b; *p != '\0'; p++) {
            if (*p == '+')
                *p = '-';
            else if (*p == '/')
                *p = '_';
            else if (*p == '=')
                *p = '\0';
        }
    }
    n = strlen(b) + 32;
    if ((s = malloc(n)) != NULL)
        snprintf(s, n, "vault:v%u:%s", v, b);
    cf_mem_free_str(b);
    return s;
}

cf_err_t
cf_transit_parse_prefixed(const char *s, unsigned *v, const char **rest,
                          char *msg, size_t mlen)
{
    const char     *p;
    char           *end;
    unsigned long   n;

    if (strncmp(s, "vault:", 6) != 0) {
        snprintf(msg, mlen, "invalid ciphertext: no prefix");
        return CF_ERR_INVALID;
    }
    p = s + 6;
    if (*p != 'v' || p[1] < '0' || p[1] > '9') {
        snprintf(msg, mlen, "invalid ciphertext: wrong number of fields");
        return CF_ERR_INVALID;
    }
    n = strtoul(p + 1, &end, 10);
    if (*end != ':' || n == 0 || n > 0x7fffffffUL) {
        snprintf(msg, mlen, "invalid ciphertext: version number could not "
                 "be decoded");
        return CF_ERR_INVALID;
    }
    *v = (unsigned) n;
    *rest = end + 1;
    return CF_OK;
}
