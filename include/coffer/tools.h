/*
 * tools: random bytes and hashing, shared by the system backend and the
 * transit engine. route is the path inside the mount that the optional
 * segments follow ("tools/random", "random"): random/<source>/<bytes> in
 * either order, hash/<algorithm>.
 */
#ifndef COFFER_TOOLS_H
#define COFFER_TOOLS_H

#include "coffer/err.h"
#include "coffer/req.h"

/* source platform (OpenSSL's DRBG) | seal (the HSM) | all (both XORed),
 * bytes 1..128 KiB, format base64 | hex: {"random_bytes": ...}. */
cf_err_t cf_tools_random(cf_req_t *req, const char *route);

/* algorithm sha2-224/256/384/512 or sha3-*, base64 input, format hex |
 * base64: {"sum": ...}. */
cf_err_t cf_tools_hash(cf_req_t *req, const char *route);

#endif
