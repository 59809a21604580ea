/* The subcommands of faasnet-testbed, one file each, dispatched from the
 * table in main.c (as wireguard-tools does). Each returns the process exit
 * status: 0 success, 1 a failed run, 2 bad usage or bad input. */
#ifndef FAASNET_TESTBED_CMDS_H
#define FAASNET_TESTBED_CMDS_H

#define TESTBED_EXIT_FAILED 1
#define TESTBED_EXIT_USAGE  2

int probe_main(int argc, char **argv);
int up_main(int argc, char **argv);
int down_main(int argc, char **argv);
int clean_main(int argc, char **argv);
int calibrate_main(int argc, char **argv);
int registry_main(int argc, char **argv);
int run_main(int argc, char **argv);
int report_main(int argc, char **argv);

#endif
