/* faasnet-invoke: asks the manager for n containers of a function, the way
 * the workload driver will; prints the container ids it got. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "jsonout.h"
#include "plan.h"
#include "proto.h"

static int read_all(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = read(fd, buf, len);
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct proto_msg m = {.type = PROTO_INVOKE, .id = 1}, r;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	uint32_t addr = TOPO_MANAGER_ADDR;
	uint16_t port = TOPO_MANAGER_PORT;
	uint8_t hdr[PROTO_HDR_LEN], *buf = NULL, *frame;
	size_t len, total;
	struct err e = {""};
	const char *fn = NULL;
	int i, fd = -1, json = 0, ret = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--manager") && i + 1 < argc) {
			if (addr_parse(argv[++i], &addr, &port))
				goto usage;
		} else if (!strcmp(argv[i], "--function") && i + 1 < argc) {
			fn = argv[++i];
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			m.count = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			goto usage;
		}
	}
	if (!fn || !m.count)
		goto usage;
	m.function = proto_str(fn);
	if (proto_encode(&m, &buf, &len, &e)) {
		fprintf(stderr, "faasnet-invoke: %s\n", e.msg);
		return 2;
	}
	sa.sin_addr.s_addr = htonl(addr);
	sa.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, buf, len) != (ssize_t)len ||
	    read_all(fd, hdr, sizeof(hdr)) ||
	    proto_frame_len(hdr, &total, &e)) {
		fprintf(stderr, "faasnet-invoke: %s\n",
			e.msg[0] ? e.msg : strerror(errno));
		goto out;
	}
	frame = malloc(total);
	if (!frame)
		goto out;
	memcpy(frame, hdr, sizeof(hdr));
	if (read_all(fd, frame + sizeof(hdr), total - sizeof(hdr)) ||
	    proto_decode(frame, total, &r, &e)) {
		fprintf(stderr, "faasnet-invoke: bad reply: %s\n", e.msg);
	} else if (r.type == PROTO_ERROR) {
		fprintf(stderr, "faasnet-invoke: %.*s (%d)\n",
			(int)r.message.len, r.message.s ? r.message.s : "",
			r.error);
	} else if (r.type == PROTO_INVOKED) {
		if (json)
			jsonout_print(json_pack("{s:s, s:i, s:i}", "function",
						fn, "first", (int)r.container,
						"count", (int)r.count));
		fprintf(stderr, "faasnet-invoke: %s: containers %u..%u\n", fn,
			r.container, r.container + r.count - 1);
		ret = r.count == m.count ? 0 : 1;
	}
	free(frame);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
usage:
	fprintf(stderr, "usage: faasnet-invoke --function F --count N "
			"[--manager A.B.C.D[:PORT]] [--json]\n");
	return 2;
}
