/*
 * approle: the AppRole auth method, mounted under auth/.
 */
#ifndef COFFER_APPROLE_H
#define COFFER_APPROLE_H

#include "coffer/engine.h"

extern const cf_engine_t  cf_approle_engine;

#endif
