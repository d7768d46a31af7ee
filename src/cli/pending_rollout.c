/* TEMPORARY placeholder, removed when cmd_rollout is implemented in its own file. */
#include "cli.h"
int cmd_rollout(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("rollout", "not implemented yet"); }
