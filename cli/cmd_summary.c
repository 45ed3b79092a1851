/* lamina summary SCRIPT: every model the script defines, summarised, no training. */
#include "cli.h"

int lmc_summary(int argc, char **argv) { return lmc_script_main(argc, argv, 1); }
