/* TEMPORARY: commands whose implementation is in progress.  Each is
 * replaced by its own file (cmd_<name>.c); this file must be empty of
 * definitions before a release. */
#include "cli.h"
int cmd_schedule(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("schedule", "not implemented yet"); }
int cmd_ddim_step(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("ddim-step", "not implemented yet"); }
int cmd_rollout(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("rollout", "not implemented yet"); }
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("run", "not implemented yet"); }
int cmd_loss(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("loss", "not implemented yet"); }
int cmd_verify(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("verify", "not implemented yet"); }
int cli_npy_load(const char *path, dpo_npy_info *info, void **data, char *err, size_t errlen) { (void)path; (void)info; (void)data; (void)err; (void)errlen; return -1; }
int cli_npy_save(const char *path, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err, size_t errlen) { (void)path; (void)dtype; (void)shape; (void)ndim; (void)data; (void)err; (void)errlen; return -1; }
