#include "diffpo.h"

const char *dpo_status_str(dpo_status s)
{
    switch (s) {
    case DPO_OK: return "ok";
    case DPO_ERR_NULL: return "a required pointer is NULL";
    case DPO_ERR_SIZE: return "a size or shape is zero, too large or inconsistent";
    case DPO_ERR_RANGE: return "a parameter is out of range";
    case DPO_ERR_NONFINITE: return "an input holds NaN or infinity";
    case DPO_ERR_SIGMA_ZERO: return "log-density requested where sigma_t = 0 (eta = 0 makes the step deterministic)";
    case DPO_ERR_WORKSPACE: return "workspace missing or too small";
    case DPO_ERR_ALIAS: return "buffers overlap where they may not";
    case DPO_ERR_FORMAT: return "malformed input data";
    case DPO_ERR_UNSUPPORTED: return "unsupported by this build or model";
    case DPO_ERR_MODEL: return "the model callback failed";
    case DPO_ERR_CUDA: return "a CUDA call failed";
    case DPO_ERR_IO: return "file input/output failed";
    }
    return "unknown status";
}

#define DPO_STR2(x) #x
#define DPO_STR(x) DPO_STR2(x)
const char *dpo_version(void)
{
    return DPO_STR(DPO_VERSION_MAJOR) "." DPO_STR(DPO_VERSION_MINOR) "." DPO_STR(DPO_VERSION_PATCH);
}
