#!/bin/sh
# Runs cmocka test binaries and prints one closing line
# "N passed, N failed, N skipped". A binary that dies before cmocka's
# summary (a sanitizer report, a crash) counts as one failure. A libFuzzer
# target (build/fuzz/NAME) runs for FUZZ_BRIEF seconds (default 10) through
# scripts/fuzz.sh and counts as one test: passed with no crash, skipped when
# libFuzzer is missing (fuzz.sh says why), failed otherwise.
# usage: run-tests.sh LABEL BINARY...
set -u
label=$1
shift
passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$@"; do
	echo "== $t"
	case $t in
	build/fuzz/*)
		./scripts/fuzz.sh run "${FUZZ_BRIEF:-10}" "$t" >"$log" 2>&1
		rc=$?
		# libFuzzer prints a line per new input: the end is what tells.
		if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then
			sed -n 's/^stat::number_of_executed_units: */inputs run: /p' "$log"
			tail -n 1 "$log"
		else
			tail -n 80 "$log"
		fi
		case $rc in
		0) passed=$((passed + 1)) ;;
		77) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
		continue
		;;
	esac
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log")
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log")
	if ! grep -q '^\[==========\] [0-9]* test(s) run\.' "$log"; then
		echo "!! $t ended (exit $rc) before cmocka's summary: counted as 1 failed"
		failed=$((failed + 1))
		continue
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; then
		echo "!! $t exited $rc with no failed test: counted as 1 failed"
		failed=$((failed + 1))
	fi
done
echo "$label: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
