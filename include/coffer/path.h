/*
 * path: normalising request paths (see src/path.c).
 */
#ifndef COFFER_PATH_H
#define COFFER_PATH_H

#include "coffer/err.h"

/* Normalise a URL path: must start with "/v1/" (CF_ERR_NOT_FOUND
 * otherwise); the result has no "/v1/" prefix, no "." segments, no empty
 * segments except a trailing '/'. A ".." segment or a NUL is
 * CF_ERR_INVALID; a path ending in '.' is CF_ERR_NOT_FOUND (Vault).
 * *out malloc'd. */
cf_err_t cf_path_normalize(const char *url, char **out);

#endif
