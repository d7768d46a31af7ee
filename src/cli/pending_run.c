/* TEMPORARY placeholder, removed when cmd_run is implemented in its own file. */
#include "cli.h"
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("run", "not implemented yet"); }
