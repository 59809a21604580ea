#!/bin/sh
# The libFuzzer targets of tests/fuzz/ (docs/fuzzing.md).
#
#   fuzz.sh probe            exit 0 when $FUZZ_CC links a libFuzzer program,
#                            else print why and exit 1
#   fuzz.sh run SECONDS BIN  one target for SECONDS over its corpus
#
# run exits 0 when the target ran its time without a crash, 77 (skipped)
# when it could not run at all because libFuzzer is missing, and 1 on a
# crash, leak, sanitizer report or time-out. It never writes into the
# committed corpus (tests/fuzz/corpus/TARGET): new inputs go to
# build/fuzz/corpus/TARGET, crashing ones to build/fuzz/crashes/TARGET/.
set -u
cd "$(dirname "$0")/.."
FUZZ_CC=${FUZZ_CC:-clang}

probe() {
	dir=$(mktemp -d)
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
		'{ (void)d; (void)n; return 0; }' >"$dir/p.c"
	if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
		echo "no $FUZZ_CC (scripts/deps.sh installs clang)"
		rm -rf "$dir"
		return 1
	fi
	if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$dir/p" \
		"$dir/p.c" >"$dir/log" 2>&1; then
		echo "$FUZZ_CC cannot link -fsanitize=fuzzer (libclang-rt-14-dev" \
			"missing?): $(head -n 1 "$dir/log")"
		rm -rf "$dir"
		return 1
	fi
	rm -rf "$dir"
	return 0
}

run() {
	secs=$1
	bin=$2
	t=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		if ! why=$(probe); then
			echo "fuzz $t: skipped: $why"
			return 77
		fi
		echo "fuzz $t: $bin not built (make fuzz)"
		return 1
	fi
	scratch=build/fuzz/corpus/$t
	crashes=build/fuzz/crashes/$t
	mkdir -p "$scratch" "$crashes"
	set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/"
	[ -f "tests/fuzz/$t.dict" ] && set -- "$@" -dict="tests/fuzz/$t.dict"
	# The scratch folder first: libFuzzer writes what it finds there.
	# stdin from /dev/null: a scenario may name any file as its topology.
	"$bin" "$@" "$scratch" "tests/fuzz/corpus/$t" </dev/null
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "fuzz $t: FAILED (exit $rc); the input is in $crashes/"
		return 1
	fi
	echo "fuzz $t: ${secs}s, no crash"
	return 0
}

case ${1:-} in
probe) probe ;;
run)
	[ $# = 3 ] || { echo "usage: $0 run SECONDS BIN" >&2; exit 2; }
	run "$2" "$3"
	;;
*)
	echo "usage: $0 probe | run SECONDS BIN" >&2
	exit 2
	;;
esac
