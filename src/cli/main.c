/* diffpo command-line tool: dispatch. */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>
#include "cli.h"

typedef struct cli_cmd {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cli_cmd;

static const cli_cmd cmds[] = {
    {"run", cmd_align, "the main job on its built-in default"},
    {"align", cmd_align, "preference alignment of the built-in network with every method (table, plots)"},
    {"experiments", cmd_experiments, "the papers' claims measured on the built-in model -> docs/results.md"},
    {"philox", cmd_philox, "one Philox4x32-10 block, or --normals N --seed S [--threads T]: a noise tensor"},
    {"schedule", cmd_schedule, "alphas_cumprod table (--out) and inference timesteps"},
    {"ddim-step", cmd_ddim_step, "one DDIM/DDPM step on .npy tensors, with log-probabilities"},
    {"rollout", cmd_rollout, "seeded rollout of the built-in model, per-step hashes and fingerprint"},
    {"loss", cmd_loss, "FILE.vec: evaluate every case of a vector file with the library"},
    {"verify", cmd_verify, "[DIR]: check all vector files (default vectors/)"},
};

static void usage(FILE *f)
{
    size_t i;
    fprintf(f, "usage: diffpo <command> [options]   (diffpo <command> --help)\n\ncommands:\n");
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].help);
}

/* Standard output is part of the result: a write error on it (a full
 * device, a closed pipe) turns a success into exit status 1 and a message. */
static int finish(const char *cmd, int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "diffpo%s%s: cannot write to standard output\n", cmd ? " " : "", cmd ? cmd : "");
        return rc ? rc : 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    size_t i;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return finish(0, 0);
    }
    if (!strcmp(argv[1], "--version")) {
        /* the fingerprints are XXH3-64: check the linked xxHash first */
        int ok = dpo_hash64_selftest() == DPO_OK;
        printf("diffpo %s\n", dpo_version());
        printf("xxHash %u.%u.%u: XXH3-64 sanity vectors %s\n", XXH_versionNumber() / 10000,
               XXH_versionNumber() / 100 % 100, XXH_versionNumber() % 100, ok ? "ok" : "FAIL");
        if (!ok)
            fprintf(stderr, "diffpo: the linked xxHash is not XXH3-64 as published: every fingerprint would "
                            "differ (docs/errors.md)\n");
        return finish(0, ok ? 0 : 1);
    }
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return finish(argv[1], cmds[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "diffpo: unknown command '%s' (diffpo --help lists them)\n", argv[1]);
    return 2;
}
