/*
 * fuzz_json: libFuzzer harness for request bodies as src/http.c reads them
 * (json_loadb with JSON_REJECT_DUPLICATES through mem's zeroing allocator,
 * then "must be an object"), followed by the type checks handlers do and a
 * dump/reload round trip.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/mem.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    cf_mem_init();
    return 0;
}

/* Read a value the way handlers do: by type, never trusting it. */
static size_t
cf_fuzz_walk(json_t *v, int depth)
{
    const char  *k;
    json_t      *m;
    size_t       i, n = 0;

    if (depth > 64)
        return 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach(v, k, m) {
            n += strlen(k) + cf_fuzz_walk(m, depth + 1);
        }
        break;
    case JSON_ARRAY:
        json_array_foreach(v, i, m) {
            n += cf_fuzz_walk(m, depth + 1);
        }
        break;
    case JSON_STRING:
        n += json_string_length(v);
        break;
    case JSON_INTEGER:
        n += (size_t) (json_integer_value(v) & 1);
        break;
    case JSON_REAL:
        n += json_real_value(v) > 0;
        break;
    default:
        n += json_is_true(v);
        break;
    }
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t   jerr;
    json_t        *body, *again;
    char          *s;

    body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                      &jerr);
    if (body == NULL)
        return 0;
    if (json_is_object(body)) {
        (void) json_string_value(json_object_get(body, "value"));
        (void) json_object_get(body, "data");
        (void) cf_fuzz_walk(body, 0);
    }
    s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s != NULL) {
        again = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &jerr);
        if (again == NULL || !json_equal(body, again))
            abort();
        json_decref(again);
        cf_mem_free(s);
    }
    json_decref(body);
    return 0;
}
