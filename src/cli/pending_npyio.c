/* TEMPORARY placeholder, removed when src/cli/npyio.c exists. */
#include "cli.h"
int cli_npy_load(const char *path, dpo_npy_info *info, void **data, char *err, size_t errlen) { (void)path; (void)info; (void)data; (void)err; (void)errlen; return -1; }
int cli_npy_save(const char *path, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err, size_t errlen) { (void)path; (void)dtype; (void)shape; (void)ndim; (void)data; (void)err; (void)errlen; return -1; }
