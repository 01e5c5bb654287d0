/*
 * jwt: the JWT auth method (Vault's auth/jwt): config (PEM keys, a JWKS
 * URL or OIDC discovery), roles, and login with a signed JWT. Mounted
 * under auth/. The browser OIDC flow is not supported.
 */
#ifndef COFFER_JWT_H
#define COFFER_JWT_H

#include "coffer/engine.h"

extern const cf_engine_t  cf_jwt_engine;

#endif
