# faasnet testbed. `make` builds build/bin/*, `make check` runs every test
# (unit tests, then the netns integration tests, all under ASan+UBSan),
# `make bench` prints the benchmark figures, `make run` runs the default job.
# Every target that needs Debian packages first runs scripts/deps.sh, which
# installs whatever is missing and is quick when nothing is.

CC      ?= cc
PKGS    := libnl-3.0 libnl-route-3.0 yaml-0.1 jansson
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Ilib -Itopo -Itestbed
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC     := $(wildcard lib/*.c)
TOPO_SRC    := $(wildcard topo/*.c)
TESTBED_SRC := $(wildcard testbed/*.c)
TESTBED_ALL := $(TESTBED_SRC) $(TOPO_SRC) $(LIB_SRC)

UNIT_TESTS  := $(patsubst tests/unit/%.c,build/test/%,$(wildcard tests/unit/test_*.c))

# Each unit test links only its module and what that module needs.
UNIT_DEPS_test_units       := lib/units.c
UNIT_DEPS_test_topo_config := topo/config.c topo/topo.c lib/units.c lib/err.c
UNIT_DEPS_test_topo_plan   := topo/plan.c topo/topo.c lib/units.c lib/err.c

.PHONY: all deps check unit integration bench run clean-build format
all: deps build/bin/faasnet-testbed

deps:
	@./scripts/deps.sh

build/bin/faasnet-testbed: $(TESTBED_ALL) $(wildcard lib/*.h topo/*.h testbed/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(TESTBED_ALL) $(PKG_LIBS)

# The sanitized build that the integration tests drive.
build/asan/bin/faasnet-testbed: $(TESTBED_ALL) $(wildcard lib/*.h topo/*.h testbed/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -o $@ $(TESTBED_ALL) $(PKG_LIBS)

.SECONDEXPANSION:
build/test/test_%: tests/unit/test_%.c $$(UNIT_DEPS_test_$$*) $(wildcard lib/*.h topo/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -Itests -o $@ $< $(UNIT_DEPS_test_$*) $(PKG_LIBS) -lcmocka

build/test/itest_%: tests/integration/itest_%.c tests/integration/itest.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) $(PKG_CFLAGS) -Itests -o $@ $< $(PKG_LIBS) -lcmocka

unit: deps $(UNIT_TESTS)
	@./scripts/run-tests.sh unit $(UNIT_TESTS)

INTEG_BINS := $(patsubst tests/integration/%.c,build/test/%,$(wildcard tests/integration/itest_*.c))
integration: deps build/asan/bin/faasnet-testbed build/bin/faasnet-testbed $(INTEG_BINS)
	@./scripts/run-tests.sh integration $(INTEG_BINS)

check: deps
	@$(MAKE) --no-print-directory $(UNIT_TESTS) build/asan/bin/faasnet-testbed build/bin/faasnet-testbed $(INTEG_BINS)
	@./scripts/run-tests.sh all $(UNIT_TESTS) $(INTEG_BINS)

bench: all
	@./bench/topo-updown.sh

run: all
	@./scripts/run-default.sh

format:
	clang-format -i $(wildcard lib/*.[ch] topo/*.[ch] testbed/*.[ch] tests/*/*.[ch])

clean-build:
	rm -rf build
