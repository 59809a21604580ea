/* The subcommands of faasnet-testbed, one file each, dispatched from the
 * table in main.c (as wireguard-tools does). Each returns the process exit
 * status: 0 success, 1 a failed run, 2 bad usage or bad input; `run` adds
 * 3 and 4 (docs/results.md). */
#ifndef FAASNET_TESTBED_CMDS_H
#define FAASNET_TESTBED_CMDS_H

#define TESTBED_EXIT_FAILED 1
#define TESTBED_EXIT_USAGE  2
/* run: it completed, but some container did not start */
#define TESTBED_EXIT_CONTAINERS 3
/* run: every container started, but a run's verdict is degraded */
#define TESTBED_EXIT_DEGRADED 4

int probe_main(int argc, char **argv);
int up_main(int argc, char **argv);
int down_main(int argc, char **argv);
int clean_main(int argc, char **argv);
int flush_main(int argc, char **argv);
int calibrate_main(int argc, char **argv);
int registry_main(int argc, char **argv);
int run_main(int argc, char **argv);
int report_main(int argc, char **argv);

#endif
