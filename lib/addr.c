#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int addr_parse(const char *s, uint32_t *addr, uint16_t *port)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	struct in_addr ia;
	unsigned long p;
	char host[64];
	char *end;

	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &ia) != 1)
		return -EINVAL;
	if (colon) {
		p = strtoul(colon + 1, &end, 10);
		if (*end || end == colon + 1 || !p || p > 65535)
			return -EINVAL;
		*port = (uint16_t)p;
	}
	*addr = ntohl(ia.s_addr);
	return 0;
}
