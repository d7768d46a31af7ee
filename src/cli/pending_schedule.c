/* TEMPORARY placeholder, removed when cmd_schedule is implemented in its own file. */
#include "cli.h"
int cmd_schedule(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("schedule", "not implemented yet"); }
