/*
 * shamir: split a secret into shares and combine them (GF(256), libgfshare).
 * A share is the share bytes followed by its x coordinate (one byte), the
 * layout Vault uses. Stateless; thread-safe once cf_shamir_init() ran.
 */
#ifndef COFFER_SHAMIR_H
#define COFFER_SHAMIR_H

#include <stddef.h>

#include "coffer/err.h"
#include "coffer/mem.h"

/* Make libgfshare draw its coefficients from OpenSSL's private DRBG. Call
 * once at start, before any thread. */
void cf_shamir_init(void);

/* Split len bytes into n shares with threshold t (2 <= t <= n <= 255, or
 * t == n == 1). shares[0..n) receive owned secrets of len + 1 bytes. */
cf_err_t cf_shamir_split(const unsigned char *secret, size_t len,
                         unsigned n, unsigned t, cf_secret_t **shares);

/* Combine k shares of equal length (>= 2 bytes, distinct non-zero x).
 * CF_ERR_INVALID for malformed input. *out owned. */
cf_err_t cf_shamir_combine(cf_secret_t *const *shares, unsigned k,
                           cf_secret_t **out);

#endif
