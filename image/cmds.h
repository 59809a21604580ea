/* The subcommands of faasnet-image, one file each, dispatched from the table
 * in main.c. Each returns the exit status: 0 success, 1 a failed operation,
 * 2 bad usage or bad input. */
#ifndef FAASNET_IMAGE_CMDS_H
#define FAASNET_IMAGE_CMDS_H

#define IMAGE_EXIT_FAILED 1
#define IMAGE_EXIT_USAGE  2

int synth_main(int argc, char **argv);
int convert_main(int argc, char **argv);
int push_main(int argc, char **argv);
int inspect_main(int argc, char **argv);
int fetch_main(int argc, char **argv);
int trace_main(int argc, char **argv);

#endif
