/* lie: the ways an agent can be told to lie to its children, a fault the
 * testbed injects (docs/ARCHITECTURE.md, "A lying agent"). Only the names
 * and numbers live here, for the agent and for whoever switches it (the
 * harness sends a mode as a signal's value); serving the lie is
 * children.c's. No dependencies. */
#ifndef FAASNET_AGENT_LIE_H
#define FAASNET_AGENT_LIE_H

/* The value of sigqueue(pid, SIGUSR1, {.sival_int = mode}) and of
 * `faasnet-agent --lie NAME`. Numbers are stable: a harness may send them
 * as they are. */
enum lie_mode {
	LIE_NONE = 0,	 /* honest */
	LIE_CORRUPT = 1, /* every block served with a byte changed */
	/* A consistent fake of each image (agent/fake.h): its own manifest,
	 * config, index and blocks, chaining to each other but not to the
	 * digest the reference pins. */
	LIE_FAKE = 2,
	/* Every reply to a child late: one at a time, LIE_SLOW_MS (of the
	 * world) apart. */
	LIE_SLOW = 3,
	/* Connections and requests accepted, nothing ever answered; the
	 * manager still gets its heartbeats. */
	LIE_SILENT = 4,
	LIE_MAX,
};

/* A slow liar's gap between two replies to one child: under a child's
 * silence time-out (SOURCE_TIMEOUT_MS, 5 s), so that only its slowness
 * check (fewer than SOURCE_SLOW_REPLIES replies in that time) catches it:
 * two or three replies in 5 s where an honest parent sends hundreds. */
#define LIE_SLOW_MS 2000

/* "none", "corrupt", "fake", "slow", "silent", or the mode's number: 0, or
 * -EINVAL for anything else. */
int lie_parse(const char *s, enum lie_mode *out)
	__attribute__((warn_unused_result));
/* The mode's name, "?" for a number that is not a mode. */
const char *lie_name(int mode);

#endif
