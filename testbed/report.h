/* report: what a person reads of a results folder: report.md (the table
 * per strategy, the analytic bounds beside the measured times, the paper's
 * numbers when the scenario names them, the fidelity verdict) and the plots
 * drawn with gnuplot from containers.csv. `faasnet-testbed report DIR`
 * redraws them from the folder alone. */
#ifndef FAASNET_TESTBED_REPORT_H
#define FAASNET_TESTBED_REPORT_H

#include <stddef.h>

#include "err.h"
#include "scenario.h"
#include "summary.h"

/* Writes report.md and the plots into dir, and prints the table on
 * stderr. Plots are skipped, with a line saying so, without gnuplot. */
int report_write(const char *dir, const struct scenario *s,
		 const struct summary_run *runs, size_t n, const char *fidelity,
		 const char *note, struct err *e);

/* Draws the plots from dir/containers.csv. */
int report_plots(const char *dir, struct err *e);

#endif
