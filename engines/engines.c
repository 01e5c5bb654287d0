/* engines: the one table of mountable backends the router walks. */
#include <string.h>

#include "coffer/approle.h"
#include "coffer/cubbyhole.h"
#include "coffer/engine.h"
#include "coffer/identity.h"
#include "coffer/jwt.h"
#include "coffer/kubernetes.h"
#include "coffer/kv.h"
#include "coffer/sys.h"
#include "coffer/token.h"
#include "coffer/userpass.h"
#include "pki.h"
#include "transit.h"

const cf_engine_t *const  cf_engines[] = {
    &cf_sys_engine,
    &cf_token_engine,
    &cf_kv_engine,
    &cf_cubbyhole_engine,
    &cf_identity_engine,
    &cf_userpass_engine,
    &cf_approle_engine,
    &cf_jwt_engine,
    &cf_kubernetes_engine,
    &cf_transit_engine,
    &cf_pki_engine,
    NULL
};

const cf_engine_t *
cf_engine_find(const char *name)
{
    size_t  i;

    for (i = 0; cf_engines[i] != NULL; i++) {
        if (strcmp(cf_engines[i]->name, name) == 0)
            return cf_engines[i];
    }
    return NULL;
}
