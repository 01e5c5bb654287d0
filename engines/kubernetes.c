/*
 * kubernetes: the Kubernetes auth method (skeleton; filled in next).
 */
#include "coffer/kubernetes.h"

static const cf_path_t  cf_kubernetes_paths[] = {
    CF_PATH_END
};

const cf_engine_t  cf_kubernetes_engine = {
    .name = "kubernetes", .paths = cf_kubernetes_paths, .is_auth = true,
};
