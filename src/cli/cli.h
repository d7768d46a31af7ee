/* Shared helpers of the diffpo command-line tool. */
#ifndef DPO_CLI_H
#define DPO_CLI_H

#include <stddef.h>
#include <stdint.h>
#include "diffpo.h"

/* Every subcommand: argv[0] is the subcommand name.  Returns the exit status.
 * Errors are one line on stderr, prefixed "diffpo <cmd>: ". */
int cmd_philox(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_ddim_step(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_align(int argc, char **argv);
int cmd_loss(int argc, char **argv);
int cmd_verify(int argc, char **argv);

/* Prints "diffpo <cmd>: <message>" and a newline on stderr; returns 2. */
int cli_fail(const char *cmd, const char *fmt, ...);

/* Strict number parsing: the whole string must be consumed. 0 on success. */
int cli_parse_u64(const char *s, uint64_t *out);      /* decimal or 0x hex */
int cli_parse_int(const char *s, long lo, long hi, int *out);
int cli_parse_double(const char *s, double *out);     /* finite only */

/* .npy files (src/cli/npyio.c).  cli_npy_load reads a whole file, checks
 * it with dpo_npy_parse and returns the data converted to the dtype asked
 * for in info->dtype on entry, in a malloc'd buffer (caller frees); on
 * return *info describes the file as stored.  cli_npy_save writes a
 * temporary file in the same folder and renames it into place, so a failed
 * save leaves no partial file.  Both return 0, or fill err and return -1. */
int cli_npy_load(const char *path, dpo_npy_info *info, void **data, char *err, size_t errlen);
int cli_npy_save(const char *path, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err,
                 size_t errlen);

#endif
