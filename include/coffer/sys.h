/*
 * sys: the authenticated "system" backend mounted at sys/ (key-status,
 * rotate, tools, mounts read). The unauthenticated seal endpoints live in
 * seal.c; mount management grows here.
 */
#ifndef COFFER_SYS_H
#define COFFER_SYS_H

#include "coffer/engine.h"

extern const cf_engine_t  cf_sys_engine;

#endif
