/*
 * fuzz_transit_wire: what clients send transit as ciphertexts,
 * signatures and base64 fields. Checks: no crash; a parsed
 * "vault:v<N>:<rest>" has N >= 1 and rest inside the input; url-safe and
 * standard base64 decode what cf_transit_prefixed wrote.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transit.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          *s, msg[256], *pre;
    const char    *rest = NULL;
    unsigned       v = 0, v2 = 0;
    cf_buf_t      *b = NULL, *u = NULL, *back = NULL;

    if (size > 1 << 16 || (s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (cf_transit_parse_prefixed(s, &v, &rest, msg, sizeof(msg)) == CF_OK
        && (v == 0 || rest < s || rest > s + strlen(s)))
        abort();
    (void) cf_transit_b64(s, false, "input", &b, msg, sizeof(msg));
    (void) cf_transit_b64(s, true, "input", &u, msg, sizeof(msg));
    if (b != NULL) {
        /* what we write, we read back, in both alphabets */
        if ((pre = cf_transit_prefixed(7, b->data, b->len, true)) != NULL) {
            if (cf_transit_parse_prefixed(pre, &v2, &rest, msg, sizeof(msg))
                != CF_OK || v2 != 7
                || cf_transit_b64(rest, true, "x", &back, msg, sizeof(msg))
                   != CF_OK
                || back->len != b->len
                || memcmp(back->data, b->data, b->len) != 0)
                abort();
            free(pre);
        }
    }
    cf_buf_free(b);
    cf_buf_free(u);
    cf_buf_free(back);
    free(s);
    return 0;
}
