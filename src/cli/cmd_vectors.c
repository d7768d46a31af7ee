/* diffpo loss FILE.vec  /  diffpo verify [DIR]: the command-line face of
 * the vector evaluator (src/tools/vecrun.c, dpo_vecrun_* in
 * src/tools/diffpo_tools.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

int cmd_loss(int argc, char **argv)
{
    dpo_status st;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: diffpo loss FILE.vec\n"
               "  prints FILE.vec back with a 'got <name> <n> <values>' line (the library's values)\n"
               "  after every 'out' line (docs/vectors.md section 6)\n");
        return 0;
    }
    if (argc != 2)
        return cli_fail("loss", "usage: diffpo loss FILE.vec");
    st = dpo_vecrun_loss(NULL, argv[1]);
    if (st == DPO_ERR_WORKSPACE)
        return cli_fail("loss", "out of memory");
    return st ? 2 : 0;
}

int cmd_verify(int argc, char **argv)
{
    const char *dir = "vectors";
    int passed = 0, failed = 0;
    dpo_status st;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: diffpo verify [DIR]   (default vectors/): checks every DIR/*.vec\n");
        return 0;
    }
    if (argc > 2)
        return cli_fail("verify", "usage: diffpo verify [DIR]");
    if (argc == 2)
        dir = argv[1];
    st = dpo_vecrun_verify(NULL, dir, &passed, &failed);
    if (st == DPO_ERR_IO)
        return cli_fail("verify", "%s: %s", dir, strerror(errno));
    if (st)
        return cli_fail("verify", "out of memory");
    return failed ? 1 : 0;
}
