/*
 * fuzz_cidr: CIDR lists and client addresses (token_bound_cidrs,
 * secret_id_bound_cidrs). Input: blocks separated by ',' then '\n' then
 * an address. Checks that parsing never crashes, that a normalised list
 * parses again to itself, and that matching never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/cidr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char  *p = (const char *) data, *end = p + size, *nl, *c;
    json_t      *in = json_array(), *out = NULL, *again = NULL;
    char         err[128], addr[128];
    size_t       n;

    if (in == NULL || size > 4096)
        goto done;
    nl = memchr(p, '\n', size);
    if (nl == NULL)
        nl = end;
    while (p < nl) {
        c = memchr(p, ',', (size_t) (nl - p));
        if (c == NULL)
            c = nl;
        json_array_append_new(in, json_stringn_nocheck(p, (size_t) (c - p)));
        p = c + 1;
    }
    n = nl < end ? (size_t) (end - nl - 1) : 0;
    if (n >= sizeof(addr))
        n = sizeof(addr) - 1;
    if (nl < end)
        memcpy(addr, nl + 1, n);
    addr[n] = '\0';
    if (cf_cidr_list_parse(in, &out, err, sizeof(err)) == CF_OK) {
        if (cf_cidr_list_parse(out, &again, err, sizeof(err)) != CF_OK
            || !json_equal(out, again))
            abort();                    /* normalising is idempotent */
        (void) cf_cidr_list_match(out, addr);
    }
done:
    json_decref(in);
    json_decref(out);
    json_decref(again);
    return 0;
}
