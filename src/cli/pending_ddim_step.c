/* TEMPORARY placeholder, removed when cmd_ddim_step is implemented in its own file. */
#include "cli.h"
int cmd_ddim_step(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("ddim-step", "not implemented yet"); }
