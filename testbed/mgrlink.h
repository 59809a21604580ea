/* mgrlink: the FaaSNet manager as the driver's target (driver.h), for
 * every strategy that runs the manager and its agents (agents.h): one TCP
 * connection from the initial namespace, INVOKE and RELEASE out, INVOKED,
 * ERROR, STARTED and FAILED in; and, before the clock starts, the wait until
 * every agent has registered. It owns that connection, the table of INVOKEs
 * sent, which is how an INVOKED names its function, and the list of what
 * the driver asked, in order: when the manager goes away (killed, and
 * started again with its journal), it connects again and says all of it
 * again, and the manager answers each INVOKE as it did before
 * (docs/protocol.md, "Driver and manager"). */
#ifndef FAASNET_TESTBED_MGRLINK_H
#define FAASNET_TESTBED_MGRLINK_H

#include <signal.h>
#include <stdint.h>

#include "driver.h"
#include "err.h"
#include "scenario.h"

struct mgrlink;

/* Connects to the manager at addr:port and fills *t to drive it; t stays
 * the link's while it lives (t->fd follows the connection: -1 while the
 * manager is away). 0 or a negative errno with e. */
int mgrlink_open(uint32_t addr, uint16_t port, const struct scenario *s,
		 struct mgrlink **out, struct driver_target *t, struct err *e);
/* The manager away for world_ms of the world's time (default 60 s) ends
 * the run, with an error that says so. For tests. */
void mgrlink_give_up_after(struct mgrlink *m, unsigned world_ms);
void mgrlink_close(struct mgrlink *m);

/* Waits until the manager at addr:port says (GET_STATUS) that at least
 * vms agents are up, asking every 50 ms, connecting again while it does
 * not listen yet. Returns 0; -ETIMEDOUT after timeout_ms with e saying how
 * many were up; -EINTR when *stop is set. *up (may be NULL) gets the last
 * count heard. */
int mgrlink_wait_agents(uint32_t addr, uint16_t port, unsigned vms,
			unsigned timeout_ms, volatile sig_atomic_t *stop,
			unsigned *up, struct err *e);

#endif
