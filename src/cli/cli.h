/* Shared helpers of the diffpo command-line tool. */
#ifndef DPO_CLI_H
#define DPO_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "diffpo.h"
#include "diffpo_train.h"
#include "../tools/diffpo_tools.h"

/* Every subcommand: argv[0] is the subcommand name.  Returns the exit status.
 * Errors are one line on stderr, prefixed "diffpo <cmd>: ". */
int cmd_philox(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_ddim_step(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_align(int argc, char **argv);
int cmd_experiments(int argc, char **argv);
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
/* The same from an open stream (path only names it in messages): the
 * fuzzer feeds it memory through fmemopen. */
int cli_npy_load_stream(FILE *f, const char *path, dpo_npy_info *info, void **data, char *err, size_t errlen);
int cli_npy_save(const char *path, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err,
                 size_t errlen);

/* ---------------------------------------------------------------------------
 * Output files (src/cli/outfile.c; docs/cli.md, "Output files").  Every file
 * the tool writes goes through these.  A regular target (or a new name) is
 * written to a random-named temporary beside it (O_CREAT|O_EXCL, never
 * following links), flushed, fsync'd and renamed into place; a character
 * device or FIFO is written directly, never replaced; other kinds are
 * refused.  All return 0, or fill err and return -1. */
typedef struct cli_out {
    const char *path;
    char *tmp;      /* the temporary's name; NULL when the target is written directly */
    FILE *f;        /* write the contents here */
} cli_out;

/* Before any work: path can be written (its folder accepts a new file, or a
 * device/FIFO is writable).  check_all also refuses two names of one file;
 * NULL entries are skipped. */
int cli_out_check(const char *path, char *err, size_t errlen);
int cli_out_check_all(const char *const *paths, size_t n, char *err, size_t errlen);
int cli_out_open(cli_out *o, const char *path, char *err, size_t errlen);
/* Flushes, fsyncs and renames the n outputs into place, all or nothing for
 * regular targets: on a failure every pre-existing file is as it was and no
 * temporary is left.  The outputs are closed either way. */
int cli_out_commit(cli_out *o, size_t n, char *err, size_t errlen);
/* Closes the n outputs and removes their temporaries; targets untouched. */
void cli_out_abort(cli_out *o, size_t n);
/* Writes a .npy file's bytes to f (the stream cli_npy_save uses). */
int cli_npy_write(FILE *f, dpo_dtype dtype, const uint64_t *shape, int ndim, const void *data, char *err,
                  size_t errlen);

/* ---------------------------------------------------------------------------
 * Shared by `diffpo align` and `diffpo experiments` (src/cli/align_common.c). */

/* Seed of the built-in base model's pretraining (docs/model.md). */
#define CLI_PRETRAIN_SEED 0u

double cli_wall_now(void);                 /* monotonic seconds */
void *cli_xaligned(size_t n);              /* zeroed, 64-byte aligned (free()), NULL when out of memory */

/* The pretrained base model: loaded from OUT_DIR/base-<key>.bin when its key
 * and XXH3 hash check, else pretrained now (DPO_PRETRAIN_BATCH, DPO_PRETRAIN_LR,
 * seed CLI_PRETRAIN_SEED, pretrain_iters iterations) and cached there.
 * Progress on stderr prefixed "<cmd>: " unless quiet.  0, or cli_fail's status. */
int cli_base_model(float *base, const dpo_mlp_cfg *mc, const dpo_schedule *sched, int pretrain_iters,
                   const char *out_dir, const char *cmd, int quiet);

/* One trainer iteration with its prompts split over `threads` threads
 * (bit-identical for any thread count), then dpo_trainer_apply. */
dpo_status cli_iteration_threads(dpo_trainer *tr, uint64_t it, int threads, dpo_train_stats *stats);

/* fn(ctx, i, work, work_size) for i in [0, n) on `threads` threads (at most
 * 64), each thread with its own work_size bytes of scratch (none when 0);
 * contiguous ranges of i per thread.  Each call must write only i's own
 * outputs, so results do not depend on the split.  The first error wins. */
typedef dpo_status (*cli_index_fn)(void *ctx, size_t i, void *work, size_t work_size);
dpo_status cli_parallel_for(cli_index_fn fn, void *ctx, size_t n, int threads, size_t work_size);

/* One training run: LoRA initialised with dpo_mlp_init_lora(cfg.seed), AdamW
 * state zero, `iters` iterations, then the mean reward of the final model on
 * held-out seed eval_seed (eval_per_class rollouts per class, cfg's T and eta). */
typedef struct cli_train_spec {
    const char *cmd;          /* progress/error prefix */
    const char *label;        /* name in progress lines (NULL: the method's name) */
    dpo_train_cfg cfg;
    const dpo_mlp_cfg *mc;
    const dpo_schedule *sched;
    const float *base;
    const float *pairs;       /* Diffusion-DPO, DSPO */
    const int32_t *pair_cls;
    size_t n_pairs;
    int iters, threads, quiet;
    uint64_t eval_seed;
    size_t eval_per_class;
    const char *save_state;   /* NULL, or write the trainer state (LoRA, AdamW m, v, iteration) here at the end */
    const char *resume_state; /* NULL, or continue from a state written by save_state under the same
                                 configuration, base model and pairs (checked); iterations before the
                                 saved one are not rerun and their curve entries are NaN */
} cli_train_spec;

typedef struct cli_train_out {
    double after, wall;
    uint64_t fingerprint;     /* XXH3 of the final LoRA parameters */
    double *reward_curve;     /* iters entries (may be NULL): mean training reward of the prompts */
    double *lr_loser_curve;   /* iters entries (may be NULL): mean over prompts of stats.lr_loser */
    double *lr_winner_curve;  /* iters entries (may be NULL) */
    float *images;            /* the evaluation's final images (may be NULL) */
} cli_train_out;

/* Fills out (its curve/image pointers are the caller's buffers).  0, or
 * cli_fail's status. */
int cli_train_run(cli_train_out *out, const cli_train_spec *sp);

#endif
