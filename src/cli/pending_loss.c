/* TEMPORARY placeholder, removed when cmd_loss is implemented in its own file. */
#include "cli.h"
int cmd_loss(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("loss", "not implemented yet"); }
