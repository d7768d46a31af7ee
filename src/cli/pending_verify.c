/* TEMPORARY placeholder, removed when cmd_verify is implemented in its own file. */
#include "cli.h"
int cmd_verify(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("verify", "not implemented yet"); }
