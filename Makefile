# faasnet testbed. `make` builds build/bin/*, `make check` runs every test
# (unit tests, then the netns integration tests, all under ASan+UBSan),
# `make bench` prints the benchmark figures, `make run` runs the default job.
# `make fuzz` builds the libFuzzer targets (clang), `make fuzz-brief` runs
# each for FUZZ_BRIEF seconds (make check does too), `make fuzz-long` for
# FUZZ_TIME seconds (docs/fuzzing.md).
# Every target that needs Debian packages first runs scripts/deps.sh, which
# installs whatever is missing and is quick when nothing is.

CC      ?= cc
PKGS    := libnl-3.0 libnl-route-3.0 libnl-genl-3.0 yaml-0.1 jansson libcurl \
	   libzstd libcrypto zlib libmicrohttpd
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Ilib -Itopo -Itestbed -Iimage \
	   -Iagent -Imanager -Idadi
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# --as-needed: each binary keeps only the libraries its objects use.
PKG_LIBS   = -Wl,--as-needed $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Every .c outside testbed/ and image/ is library code, but for the mains.
MAINS       := agent/main.c manager/main.c manager/invoke.c agent/lazycurl.c \
	       dadi/main.c
LIB_SRC     := $(wildcard lib/*.c) \
	       $(filter-out $(MAINS),$(wildcard agent/*.c manager/*.c dadi/*.c))
TOPO_SRC    := $(wildcard topo/*.c)
TESTBED_SRC := $(wildcard testbed/*.c)
IMAGE_SRC   := $(wildcard image/*.c)
HEADERS     := $(wildcard lib/*.h topo/*.h testbed/*.h image/*.h agent/*.h \
		 manager/*.h dadi/*.h)

# Shared code goes into one static library per build flavour; the linker
# takes from it only the objects a binary needs.
LIB_OBJ      := $(patsubst %.c,build/obj/%.o,$(LIB_SRC) $(TOPO_SRC))
LIB_ASAN_OBJ := $(patsubst %.c,build/asan/obj/%.o,$(LIB_SRC) $(TOPO_SRC))

DAEMONS   := faasnet-agent faasnet-manager faasnet-invoke faasnet-dadi
BINS      := build/bin/faasnet-testbed build/bin/faasnet-image \
	     $(patsubst %,build/bin/%,$(DAEMONS))
ASAN_BINS := build/asan/bin/faasnet-testbed build/asan/bin/faasnet-image \
	     $(patsubst %,build/asan/bin/%,$(DAEMONS))
main_of_faasnet-agent   := agent/main.c
main_of_faasnet-manager := manager/main.c
main_of_faasnet-invoke  := manager/invoke.c
main_of_faasnet-dadi    := dadi/main.c
# The agent (issue 11: a thousand on one host) maps libc alone at start:
# libcurl and its 27 libraries are loaded by agent/lazycurl.c when it first
# reads the registry, and what else it uses is linked in.
extra_of_faasnet-agent := agent/lazycurl.c
libs_of_faasnet-agent  := -Wl,--as-needed -Wl,-Bstatic -ljansson -lzstd \
	-lcrypto -lz -Wl,-Bdynamic -lpthread -lm
# Not position-independent: libcrypto's tables linked in would otherwise
# be relocated at every start, 750 KB of each agent's RSS (docs/bench.md).
ldflags_of_faasnet-agent := -no-pie

UNIT_TESTS  := $(patsubst tests/unit/%.c,build/test/%,$(wildcard tests/unit/test_*.c))
INTEG_BINS  := $(patsubst tests/integration/%.c,build/test/%,$(wildcard tests/integration/itest_*.c))

# libFuzzer targets: tests/fuzz/fuzz_NAME.c is build/fuzz/NAME. The code
# they reach is compiled again by clang with the fuzzer's coverage into
# build/fuzz/obj; the gcc builds above are not touched.
FUZZ_CC      ?= clang
export FUZZ_CC
FUZZ_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(patsubst %,build/fuzz/%,$(FUZZ_TARGETS))
FUZZ_LIB_SRC := $(LIB_SRC) $(TOPO_SRC) \
		$(filter-out testbed/main.c,$(TESTBED_SRC)) \
		image/tarscan.c image/tracemap.c
FUZZ_BRIEF   ?= 10
FUZZ_TIME    ?= 600

.PHONY: all deps check unit integration bench bench-agent run clean-build \
	format fuzz fuzz-build fuzz-brief fuzz-long
.SECONDEXPANSION:
all: deps $(BINS)

deps:
	@./scripts/deps.sh

build/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/asan/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -c -o $@ $<

build/libfaasnet.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/asan/libfaasnet.a: $(LIB_ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The harness's modules but its main, for the tests: a test that names one
# (test_scenario: scenario.c, which reads strategy names from strategy.c's
# table) gets what that one needs, and nothing else.
TESTBED_LIB_SRC := $(filter-out testbed/main.c,$(TESTBED_SRC))
build/asan/libtestbed.a: $(patsubst %.c,build/asan/obj/%.o,$(TESTBED_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

build/bin/faasnet-testbed: $(patsubst %.c,build/obj/%.o,$(TESTBED_SRC)) build/libfaasnet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

build/bin/faasnet-image: $(patsubst %.c,build/obj/%.o,$(IMAGE_SRC)) build/libfaasnet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(patsubst %,build/bin/%,$(DAEMONS)): build/bin/%: $$(patsubst %.c,build/obj/%.o,$$(main_of_%) $$(extra_of_%)) build/libfaasnet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ldflags_of_$*) -o $@ $^ $(or $(libs_of_$*),$(PKG_LIBS))

$(patsubst %,build/asan/bin/%,$(DAEMONS)): build/asan/bin/%: $$(patsubst %.c,build/asan/obj/%.o,$$(main_of_%) $$(extra_of_%)) build/asan/libfaasnet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $^ $(or $(libs_of_$*),$(PKG_LIBS))

# The sanitized builds that the integration tests drive.
build/asan/bin/faasnet-testbed: $(patsubst %.c,build/asan/obj/%.o,$(TESTBED_SRC)) build/asan/libfaasnet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $^ $(PKG_LIBS)

build/asan/bin/faasnet-image: $(patsubst %.c,build/asan/obj/%.o,$(IMAGE_SRC)) build/asan/libfaasnet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $^ $(PKG_LIBS)

# A unit test links its module from the sanitized library, plus any image/
# module it names; nothing else of the program.
UNIT_EXTRA_test_synth := build/asan/obj/image/synth.o
UNIT_EXTRA_test_tracemap := build/asan/obj/image/tracemap.o \
	build/asan/obj/image/tarscan.o
UNIT_EXTRA_test_cmd_trace := build/asan/obj/image/cmd_trace.o \
	build/asan/obj/image/tracemap.o build/asan/obj/image/tarscan.o \
	build/asan/obj/image/layer.o
UNIT_EXTRA_test_agent := build/asan/obj/image/synth.o \
	build/asan/obj/image/layer.o
UNIT_EXTRA_test_dadi_proxy := build/asan/obj/image/synth.o \
	build/asan/obj/image/layer.o
UNIT_EXTRA_test_cmd_fetch := build/asan/obj/image/cmd_fetch.o \
	build/asan/obj/image/synth.o build/asan/obj/image/layer.o
UNIT_EXTRA_test_layer := build/asan/obj/image/layer.o \
	build/asan/obj/image/cmd_convert.o build/asan/obj/image/synth.o
build/test/test_%: tests/unit/test_%.c $$(UNIT_EXTRA_test_$$*) build/asan/libtestbed.a build/asan/libfaasnet.a $(HEADERS) $(wildcard tests/*.h tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -Itests -o $@ $< $(UNIT_EXTRA_test_$*) build/asan/libtestbed.a build/asan/libfaasnet.a $(PKG_LIBS) -lcmocka

# An integration test may use testbed/ modules too (itest_run reads results
# with summary.c), from the same archive.
ITEST_EXTRA_itest_trace := build/asan/obj/image/tarscan.o \
	build/asan/obj/image/tracemap.o

build/test/itest_%: tests/integration/itest_%.c $(wildcard tests/integration/*.h) $$(ITEST_EXTRA_itest_$$*) build/asan/libtestbed.a build/asan/libfaasnet.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -Itests -o $@ $< $(ITEST_EXTRA_itest_$*) build/asan/libtestbed.a build/asan/libfaasnet.a $(PKG_LIBS) -lcmocka

unit: deps
	@$(MAKE) --no-print-directory $(UNIT_TESTS)
	@./scripts/run-tests.sh unit $(UNIT_TESTS)

integration: deps
	@$(MAKE) --no-print-directory $(BINS) $(ASAN_BINS) $(INTEG_BINS)
	@./scripts/run-tests.sh integration $(INTEG_BINS)

check: deps
	@$(MAKE) --no-print-directory $(UNIT_TESTS) $(BINS) $(ASAN_BINS) $(INTEG_BINS) fuzz-build
	@FUZZ_BRIEF=$(FUZZ_BRIEF) ./scripts/run-tests.sh all $(UNIT_TESTS) $(FUZZ_BINS) $(INTEG_BINS)

build/fuzz/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS) -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(PKG_CFLAGS) -c -o $@ $<

build/fuzz/libfaasnet.a: $(patsubst %.c,build/fuzz/obj/%.o,$(FUZZ_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): build/fuzz/%: tests/fuzz/fuzz_%.c build/fuzz/libfaasnet.a $(HEADERS) $(wildcard tests/fuzz/*.h)
	$(FUZZ_CC) $(CFLAGS) -O1 -fsanitize=fuzzer $(FUZZ_SAN) $(PKG_CFLAGS) -Itests -o $@ $< build/fuzz/libfaasnet.a $(PKG_LIBS)

# `make fuzz` is asked for by name: without libFuzzer it fails saying why.
fuzz: deps
	@why=$$(./scripts/fuzz.sh probe) || { echo "make fuzz: $$why" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

# For check and fuzz-brief: without libFuzzer nothing is built, and the run
# counts each target as skipped with the reason.
fuzz-build:
	@if ./scripts/fuzz.sh probe >/dev/null; then \
		$(MAKE) --no-print-directory $(FUZZ_BINS); fi

fuzz-brief: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BRIEF=$(FUZZ_BRIEF) ./scripts/run-tests.sh fuzz $(FUZZ_BINS)

# One target after another, each to its time even when an earlier one
# crashed; fails at the end when any did.
fuzz-long: fuzz
	@fail=0; for b in $(FUZZ_BINS); do \
		./scripts/fuzz.sh run $(FUZZ_TIME) $$b || fail=1; done; \
	exit $$fail

# The agent's cost on loopback, no root (bench/agent-cpu.sh); the others
# need root.
BENCH_AGENT_OBJ := build/obj/image/synth.o build/obj/image/layer.o
build/bench/agent-bench: bench/agent_bench.c $(BENCH_AGENT_OBJ) build/libfaasnet.a $(HEADERS) tests/mem_image.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests -o $@ $< $(BENCH_AGENT_OBJ) build/libfaasnet.a $(PKG_LIBS)

bench-agent: all build/bench/agent-bench
	@./bench/agent-cpu.sh

bench: all build/bench/agent-bench
	@./bench/agent-cpu.sh
	@./bench/topo-updown.sh
	@./bench/fetch-vs-curl.sh
	@./bench/queue-delay.sh
	@./bench/flush.sh

run: all
	@./scripts/run-default.sh

format:
	clang-format -i $(wildcard lib/*.[ch] topo/*.[ch] testbed/*.[ch] image/*.[ch] agent/*.[ch] manager/*.[ch] dadi/*.[ch] tests/*/*.[ch])

clean-build:
	rm -rf build
