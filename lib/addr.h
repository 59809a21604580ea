/* addr: IPv4 "A.B.C.D[:PORT]" as the daemons' options spell peers. */
#ifndef FAASNET_ADDR_H
#define FAASNET_ADDR_H

#include <stdint.h>

/* addr in host order; port is left alone when s has none. 0 or -EINVAL. */
int addr_parse(const char *s, uint32_t *addr, uint16_t *port);

#endif
