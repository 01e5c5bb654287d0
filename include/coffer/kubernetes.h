/*
 * kubernetes: the Kubernetes auth method (Vault's auth/kubernetes):
 * config, roles bound to service account names and namespaces, and login
 * with a service-account JWT checked locally (pem_keys) or by the
 * cluster's TokenReview API. Mounted under auth/.
 */
#ifndef COFFER_KUBERNETES_H
#define COFFER_KUBERNETES_H

#include "coffer/engine.h"

extern const cf_engine_t  cf_kubernetes_engine;

#endif
