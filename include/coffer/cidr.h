/*
 * cidr: IPv4/IPv6 address blocks, for the token_bound_cidrs and
 * secret_id_bound_cidrs restrictions. Pure functions, thread-safe.
 */
#ifndef COFFER_CIDR_H
#define COFFER_CIDR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "coffer/err.h"

/* Check a list of blocks ("10.0.0.0/8", "127.0.0.1", "fd00::/8") and
 * give it back normalised (a bare address becomes /32 or /128, host
 * bits must be zero, as Go's net.ParseCIDR wants). *out owned. On
 * CF_ERR_INVALID, err names the bad entry. */
cf_err_t cf_cidr_list_parse(const json_t *list, json_t **out, char *err,
                            size_t errlen);

/* Whether addr ("127.0.0.1", "::1") lies in one of the blocks of a
 * normalised list. An empty or absent list matches every address; an
 * unparsable addr matches none. */
bool cf_cidr_list_match(const json_t *list, const char *addr);

#endif
