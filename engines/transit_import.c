/* transit_import: BYOK wrapping key and key import. */
#include "transit.h"

cf_err_t
cf_transit_wrapping_key(cf_req_t *req)
{
    return cf_req_fail(req, CF_ERR_INVALID, "not yet");
}

cf_err_t
cf_transit_import(cf_req_t *req)
{
    return cf_req_fail(req, CF_ERR_INVALID, "not yet");
}

cf_err_t
cf_transit_import_version(cf_req_t *req)
{
    return cf_req_fail(req, CF_ERR_INVALID, "not yet");
}
