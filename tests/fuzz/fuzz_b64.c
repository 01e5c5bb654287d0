/*
 * fuzz_b64: the base64 decoder every API field with binary data goes
 * through (transit plaintexts and ciphertexts, sys/tools, unseal keys,
 * policies). Checks: no crash, the decoded length is what the input's
 * length and padding say, and encoding the result decodes back to it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/mem.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char      *s, *enc;
    cf_buf_t  *b = NULL, *b2 = NULL;
    size_t     pad = 0;

    if (size > 1 << 16 || (s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (cf_b64_decode(s, &b) == CF_OK) {
        size_t  n = strlen(s);

        if (n >= 1 && s[n - 1] == '=')
            pad++;
        if (n >= 2 && s[n - 2] == '=')
            pad++;
        if (b->len != n / 4 * 3 - pad)
            abort();
        if ((enc = cf_b64_encode(b->data, b->len)) != NULL) {
            if (cf_b64_decode(enc, &b2) != CF_OK || b2->len != b->len
                || memcmp(b2->data, b->data, b->len) != 0)
                abort();
            free(enc);
        }
    }
    cf_buf_free(b);
    cf_buf_free(b2);
    free(s);
    return 0;
}
