/* probe: what the testbed can and cannot do on this machine: kernel
 * features (tried, not guessed), the tools later stages run, and the limits
 * that bound how many hosts fit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cmds.h"
#include "feature_probe.h"
#include "topo.h"
#include "util.h"

static const struct {
	const char *cmd;
	const char *package;
	const char *for_what;
} tools[] = {
	{"ip", "iproute2", "looking around a run (ip netns exec ...)"},
	{"docker-registry", "docker-registry", "the OCI registry"},
	{"aria2c", "aria2", "the BitTorrent baseline"},
	{"opentracker", "opentracker", "the BitTorrent tracker"},
	{"gnuplot", "gnuplot-nox", "plots in reports"},
	{"dot", "graphviz", "function-tree pictures"},
	{"skopeo", "skopeo", "inspecting images by hand"},
};

/* The path of cmd on PATH (or the sbin directories root has), or NULL. */
static const char *find_tool(const char *cmd, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	char *save = NULL, *d;
	int n;

	n = snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin:/usr/bin",
		     path ? path : "");
	if (n < 0 || (size_t)n >= sizeof(dirs))
		return NULL;
	for (d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		n = snprintf(buf, len, "%s/%s", d, cmd);
		if (n > 0 && (size_t)n < len && !access(buf, X_OK))
			return buf;
	}
	return NULL;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

int probe_main(int argc, char **argv)
{
	struct topo_features feat;
	struct err e = {""};
	struct rlimit rl = {0};
	struct sysinfo si;
	json_t *jk, *jt, *jl, *jc;
	char path[4096];
	int json = 0, i, ret;
	long gc3, cores;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			fprintf(stderr,
				"usage: faasnet-testbed probe [--json]\n");
			return strcmp(argv[i], "--help") ? TESTBED_EXIT_USAGE
							 : 0;
		}
	}
	ret = util_need_root("probe");
	if (ret)
		return ret;
	ret = topo_features_probe(&feat, &e);
	if (ret) {
		fprintf(stderr, "probe: %s\n", e.msg);
		return TESTBED_EXIT_FAILED;
	}

	jk = json_object();
	fprintf(stderr, "kernel (tried in a throwaway namespace):\n");
	for (i = 0; i < TOPO_F_COUNT; i++) {
		fprintf(stderr, "  %-8s %s\n", topo_feature_name(i),
			feat.have[i] ? "yes" : "NO");
		json_object_set_new(jk, topo_feature_name(i),
				    json_boolean(feat.have[i]));
	}

	jt = json_object();
	fprintf(stderr, "tools:\n");
	for (i = 0; i < (int)(sizeof(tools) / sizeof(tools[0])); i++) {
		const char *p = find_tool(tools[i].cmd, path, sizeof(path));

		fprintf(stderr, "  %-16s %-28s %s\n", tools[i].cmd,
			p ? p : "missing", tools[i].for_what);
		json_object_set_new(jt, tools[i].cmd,
				    p ? json_string(p) : json_null());
	}

	getrlimit(RLIMIT_NOFILE, &rl);
	gc3 = read_long("/proc/sys/net/ipv4/neigh/default/gc_thresh3");
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (sysinfo(&si))
		memset(&si, 0, sizeof(si));
	fprintf(stderr,
		"limits:\n  cores %ld, memory %.1f GiB, open files %llu "
		"(hard), "
		"ARP gc_thresh3 %ld\n  (up raises gc_thresh* for large "
		"topologies and puts them back on down)\n",
		cores, (double)si.totalram * si.mem_unit / (1 << 30),
		(unsigned long long)rl.rlim_max, gc3);
	jl = json_pack("{s:i, s:f, s:I, s:i, s:i}", "cores", (int)cores,
		       "memory_gib",
		       (double)si.totalram * si.mem_unit / (1 << 30),
		       "nofile_hard", (json_int_t)rl.rlim_max, "gc_thresh3",
		       (int)gc3, "max_vms", TOPO_MAX_VMS);

	fprintf(stderr, "what the testbed can do here:\n");
	fprintf(stderr, "  build topologies: %s\n",
		feat.have[TOPO_F_VETH] && feat.have[TOPO_F_BRIDGE] &&
				feat.have[TOPO_F_HTB]
			? "yes (veth, bridge, htb)"
			: "NO: needs veth, bridge and htb");
	fprintf(stderr, "  one-way delay: %s\n",
		feat.have[TOPO_F_NETEM]
			? "yes (netem)"
			: "NO: this kernel has no netem, so topologies must "
			  "keep delay: 0 (up refuses one)");
	jc = json_pack("{s:b, s:b}", "topology",
		       feat.have[TOPO_F_VETH] && feat.have[TOPO_F_BRIDGE] &&
			       feat.have[TOPO_F_HTB],
		       "delay", feat.have[TOPO_F_NETEM]);
	if (json &&
	    jsonout_print(json_pack("{s:o, s:o, s:o, s:o}", "kernel", jk,
				    "tools", jt, "limits", jl, "can", jc)))
		return TESTBED_EXIT_FAILED;
	if (!json) {
		json_decref(jk);
		json_decref(jt);
		json_decref(jl);
		json_decref(jc);
	}
	return 0;
}
