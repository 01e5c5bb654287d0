/*
 * cidr: parse and match address blocks (see the header).
 */
#include "coffer/cidr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int            family;      /* AF_INET or AF_INET6 */
    unsigned char  addr[16];
    unsigned       bits;        /* prefix length */
} cf_cidr_t;

static bool
cf_cidr_addr(const char *s, int *family, unsigned char out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

/* The bits after the prefix are all zero. */
static bool
cf_cidr_host_zero(const cf_cidr_t *c)
{
    unsigned  len = c->family == AF_INET ? 4 : 16, i;

    for (i = 0; i < len; i++) {
        unsigned  first = i * 8;
        unsigned char mask;

        if (first + 8 <= c->bits)
            continue;
        mask = first >= c->bits ? 0xff
               : (unsigned char) (0xff >> (c->bits - first));
        if (c->addr[i] & mask)
            return false;
    }
    return true;
}

static bool
cf_cidr_parse(const char *s, cf_cidr_t *c)
{
    char           buf[64], *slash, *end;
    unsigned long  bits;
    unsigned       max;

    if (s == NULL || strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    if ((slash = strchr(buf, '/')) != NULL)
        *slash = '\0';
    if (!cf_cidr_addr(buf, &c->family, c->addr))
        return false;
    max = c->family == AF_INET ? 32 : 128;
    if (slash == NULL) {
        c->bits = max;
        return true;
    }
    bits = strtoul(slash + 1, &end, 10);
    if (slash[1] == '\0' || *end != '\0' || bits > max)
        return false;
    c->bits = (unsigned) bits;
    return cf_cidr_host_zero(c);
}

static bool
cf_cidr_contains(const cf_cidr_t *c, int family, const unsigned char *a)
{
    unsigned  full = c->bits / 8, rest = c->bits % 8;

    if (family != c->family)
        return false;
    if (memcmp(c->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((c->addr[full] ^ a[full]) & (unsigned char) (0xff << (8 - rest)))
           == 0;
}

cf_err_t
cf_cidr_list_parse(const json_t *list, json_t **out, char *err,
                   size_t errlen)
{
    json_t     *n, *v;
    cf_cidr_t   c;
    char        text[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];
    size_t      i;

    *out = NULL;
    if ((n = json_array()) == NULL)
        return CF_ERR_NOMEM;
    json_array_foreach(list, i, v) {
        if (!json_is_string(v) || !cf_cidr_parse(json_string_value(v), &c)
            || inet_ntop(c.family, c.addr, text, sizeof(text)) == NULL) {
            snprintf(err, errlen, "invalid CIDR block '%.64s'",
                     json_is_string(v) ? json_string_value(v) : "?");
            json_decref(n);
            return CF_ERR_INVALID;
        }
        snprintf(buf, sizeof(buf), "%s/%u", text, c.bits);
        json_array_append_new(n, json_string(buf));
    }
    *out = n;
    return CF_OK;
}

bool
cf_cidr_list_match(const json_t *list, const char *addr)
{
    unsigned char  a[16];
    cf_cidr_t      c;
    json_t        *v;
    int            family;
    size_t         i;

    if (json_array_size(list) == 0)
        return true;
    if (addr == NULL || !cf_cidr_addr(addr, &family, a))
        return false;
    json_array_foreach(list, i, v) {
        if (cf_cidr_parse(json_string_value(v), &c)
            && cf_cidr_contains(&c, family, a))
            return true;
    }
    return false;
}
