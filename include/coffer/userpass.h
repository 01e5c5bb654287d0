/*
 * userpass: the username/password auth method, mounted under auth/.
 */
#ifndef COFFER_USERPASS_H
#define COFFER_USERPASS_H

#include "coffer/engine.h"

extern const cf_engine_t  cf_userpass_engine;

#endif
