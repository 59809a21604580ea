#!/bin/sh
# Measures what libfaketime's speed factor (FAKETIME="+0 x1/K") slows in the
# programs the testbed cannot dilate itself, for docs/fidelity.md ("Time
# dilation: external programs"): a probe of libc's clocks and waits; two
# programs on the shared emulated clock procs gives them; aria2c's announce
# interval, choke rounds, tracker time-out and retry against a logging
# tracker (tracker.py); a seeder and a leecher through opentracker;
# opentracker's own clock (its uptime, strace of alarm() and sleeps);
# docker-registry's log times. K = 1, 2, 4. Everything on 127.0.0.1.
#
# usage: measure.sh [probe clock aria2c swarm opentracker registry]: the
# parts named, or all of them.
#
# Needs root (opentracker chroots), `make` first (clock.c links
# build/obj/testbed/procs.o), and aria2, opentracker, docker-registry,
# mktorrent, libfaketime, strace, curl, python3. About ten minutes; it
# measures time, so run it alone on the machine. Not part of `make bench`.
set -eu
cd "$(dirname "$0")/../.."
LT=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
B=bench/faketime
W=$(mktemp -d /tmp/fnet-fake-XXXXXX)
# The PIDs of ours that run now: each function sets it as it starts and
# waits for its processes (never a PID already waited for: it may be
# someone else's by now). On exit they are ended; the work folder goes
# unless KEEP is set.
RUN=""
finish() {
	for p in $RUN; do
		kill "$p" 2>/dev/null || true
	done
	if [ -n "${KEEP:-}" ]; then
		echo "kept $W" >&2
	else
		rm -rf "$W"
	fi
}
trap finish EXIT
trap 'exit 1' INT TERM
TRACKER_PORT=17001 OT_PORT=16969 REG_PORT=15000

if [ "$(id -u)" != 0 ]; then
	echo "faketime: needs root (opentracker chroots)" >&2
	exit 1
fi
rate() { python3 -c "print(1 / $1)"; }
# bg K CMD...: CMD in the background under FAKETIME x1/K (plain at K=1);
# $! is CMD itself (exec), and it is ended on exit.
bg() {
	k=$1
	shift
	if [ "$k" = 1 ]; then
		exec env LD_PRELOAD= FAKETIME= "$@"
	else
		exec env LD_PRELOAD=$LT FAKETIME="+0 x$(rate "$k")" "$@"
	fi
}
# What libfaketime left in /dev/shm for pid (then removed: procs does the
# same for the harness's).
shm_left() {
	if ls /dev/shm/sem.faketime_sem_"$1" /dev/shm/faketime_shm_"$1" \
		>/dev/null 2>&1; then
		echo "left its /dev/shm pair behind"
	else
		echo "left nothing in /dev/shm"
	fi
	rm -f /dev/shm/sem.faketime_sem_"$1" /dev/shm/faketime_shm_"$1"
}
now() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }
# Waits up to 15 s for an HTTP answer from url (a busy host starts the
# registry slowly).
answers() {
	i=0
	until curl -s --noproxy '*' -o /dev/null "$1"; do
		i=$((i + 1))
		[ $i -lt 150 ] || return 1
		sleep 0.1
	done
}
want() {
	[ -z "$PARTS" ] && return 0
	case " $PARTS " in *" $1 "*) return 0 ;; esac
	return 1
}
PARTS="$*"
elapsed() { python3 -c "print('%.3f' % ($2 - $1))"; }

echo "== libfaketime $(dpkg-query -W -f='${Version}' libfaketime), $(date -u)"
if want probe; then
	cc -O2 -o "$W/probe" $B/probe.c -lpthread
	for k in 1 2 4; do
		echo "-- probe, K=$k"
		(bg $k "$W/probe")
	done
	echo "-- probe, K=2 with FAKETIME_DONT_FAKE_MONOTONIC=1"
	env LD_PRELOAD=$LT FAKETIME="+0 x0.5" FAKETIME_DONT_FAKE_MONOTONIC=1 \
		"$W/probe"
fi

if want clock; then
	echo "== one emulated clock (procs_child_env)"
	cc -O2 -std=gnu11 -Itestbed -Ilib -Itopo -o "$W/clock" \
		$B/clock.c build/obj/testbed/procs.o build/libfaasnet.a -lm
	for k in 2 4; do
		echo "-- K=$k"
		"$W/clock" $k
	done
fi

head -c 1048576 /dev/urandom >"$W/layer.bin"
ARIA="--no-conf=true --enable-dht=false --enable-dht6=false
--bt-enable-lpd=false --enable-peer-exchange=true --disable-ipv6=true
--all-proxy= --seed-ratio=0.0 --interface=127.0.0.1 --file-allocation=none
--show-console-readout=false --summary-interval=0 --console-log-level=warn
--download-result=hide"

# aria K MODE SECONDS: a leecher with no peers against tracker.py
aria() {
	d=$W/aria-$2-$1
	mkdir -p "$d/dl"
	mktorrent -d -l 15 -a http://127.0.0.1:$TRACKER_PORT/announce \
		-o "$d/t.torrent" "$W/layer.bin" >/dev/null
	python3 $B/tracker.py $TRACKER_PORT "$2" 2 "$d/events.txt" \
		"$d/aria2c.log" &
	tp=$!
	RUN=$tp
	sleep 0.5
	# shellcheck disable=SC2086
	(bg "$1" /usr/bin/aria2c $ARIA --listen-port=16881 --log-level=info \
		--log="$d/aria2c.log" --bt-tracker-interval=2 \
		--bt-tracker-timeout=3 --bt-tracker-connect-timeout=3 \
		--dir "$d/dl" "$d/t.torrent") >"$d/aria2c.out" 2>&1 &
	ap=$!
	RUN="$tp $ap"
	sleep "$3"
	kill $ap
	wait $ap 2>/dev/null || true
	kill $tp
	wait $tp 2>/dev/null || true
	RUN=""
	echo "K=$1, $2, ${3} s real: aria2c $(shm_left $ap)"
	python3 $B/analyse.py "$d/events.txt"
}
if want aria2c; then
	echo "== aria2c $(dpkg-query -W -f='${Version}' aria2)"
	for k in 1 2 4; do aria $k answer $((25 * k)); done
	for k in 1 2 4; do aria $k hang $((20 * k)); done
fi

# A whitelist of the torrent's info hash, as bittorrent.c writes it.
whitelist() {
	python3 -c "
b = open('$1', 'rb').read(); i = b.index(b'4:info') + 6
import hashlib; print(hashlib.sha1(b[i:-1]).hexdigest())" >"$2"
	chmod 644 "$2"
}
# swarm K: opentracker, a seeder and a leecher, all under x1/K
swarm() {
	d=$W/swarm-$1
	mkdir -p "$d/root" "$d/seed" "$d/dl"
	chmod 755 "$d" "$d/root"
	cp "$W/layer.bin" "$d/seed/"
	mktorrent -d -l 15 -a http://127.0.0.1:$OT_PORT/announce \
		-o "$d/t.torrent" "$d/seed/layer.bin" >/dev/null
	whitelist "$d/t.torrent" "$d/root/whitelist.txt"
	(bg "$1" /usr/bin/opentracker -i 127.0.0.1 -p $OT_PORT -P $OT_PORT \
		-d "$d/root" -u nobody -w /whitelist.txt) >"$d/ot.txt" 2>&1 &
	op=$!
	RUN=$op
	answers "http://127.0.0.1:$OT_PORT/scrape"
	# shellcheck disable=SC2086
	(bg "$1" /usr/bin/aria2c $ARIA --listen-port=16881 \
		--log="$d/seeder.log" --check-integrity=true --dir "$d/seed" \
		"$d/t.torrent") >/dev/null 2>&1 &
	sp=$!
	RUN="$op $sp"
	sleep 3
	t0=$(now)
	# shellcheck disable=SC2086
	(bg "$1" /usr/bin/aria2c $ARIA --listen-port=16882 \
		--log="$d/leecher.log" --seed-time=0 --dir "$d/dl" \
		"$d/t.torrent") >"$d/leecher.out" 2>&1 &
	lp=$!
	RUN="$op $sp $lp"
	wait $lp && ok=yes || ok=no
	RUN="$op $sp"
	t1=$(now)
	kill $sp $op
	wait $sp $op 2>/dev/null || true
	RUN=""
	cmp -s "$d/dl/layer.bin" "$W/layer.bin" && same=yes || same=no
	echo "K=$1: leecher done $ok, file identical $same, $(elapsed "$t0" "$t1") s real;" \
		"its log spans $(head -1 "$d/leecher.log" | cut -c12-26) to" \
		"$(grep -v '^$' "$d/leecher.log" | tail -1 | cut -c12-26);" \
		"opentracker $(shm_left $op), seeder $(shm_left $sp)"
}
if want swarm; then
	echo "== a swarm: opentracker, seeder, leecher (1 MiB)"
	for k in 1 4; do swarm $k; done
fi

# opentracker's uptime by its own clock (-A 127.0.0.1 lets us ask)
uptime_of() {
	curl -s --noproxy '*' "http://127.0.0.1:$OT_PORT/stats?mode=everything" |
		sed -n 's/.*<uptime>\([0-9]*\)<.*/\1/p'
}
# ot K SECS: opentracker as bittorrent.c starts it, traced; its uptime
# asked twice, SECS real seconds apart
ot() {
	d=$W/ot-$1
	mkdir -p "$d/root"
	chmod 755 "$d" "$d/root"
	: >"$d/root/whitelist.txt"
	chmod 644 "$d/root/whitelist.txt"
	strace -f -o "$d/strace.txt" -e trace=alarm,epoll_wait,clock_nanosleep \
		env LD_PRELOAD="$([ "$1" = 1 ] || echo $LT)" \
		FAKETIME="$([ "$1" = 1 ] || echo "+0 x$(rate "$1")")" \
		/usr/bin/opentracker -i 127.0.0.1 -p $OT_PORT -P $OT_PORT \
		-A 127.0.0.1 -d "$d/root" -u nobody -w /whitelist.txt \
		>"$d/out.txt" 2>&1 &
	sp=$!
	RUN=$sp
	answers "http://127.0.0.1:$OT_PORT/stats?mode=everything"
	sleep 1
	op=$(pgrep -P $sp) # strace's child: env, then opentracker
	RUN="$sp $op"
	t0=$(now)
	u0=$(uptime_of)
	sleep "$2"
	t1=$(now)
	u1=$(uptime_of)
	iv=$(curl -s --noproxy '*' "http://127.0.0.1:$OT_PORT/announce?info_hash=%00%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13&peer_id=-FN0000-probeprobe01&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1" |
		sed -n 's/.*8:intervali\([0-9]*\)e.*/\1/p')
	kill "$op"
	wait $sp 2>/dev/null || true
	RUN=""
	echo "K=$1: $(elapsed "$t0" "$t1") s real, its uptime went $u0 -> $u1;" \
		"announce interval it answers: $iv s; it $(shm_left "$op")"
	echo "  alarm(): $(grep -o 'alarm([0-9]*)' "$d/strace.txt" | sort | uniq -c | tr -s ' \n' ' ')"
	echo "  sleeps: $(grep -o 'clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=[0-9]*, tv_nsec=[0-9]*}' "$d/strace.txt" | sort | uniq -c | tr -s ' \n' ' ')"
	echo "  epoll_wait time-outs: $(grep -o 'epoll_wait(.*, -\{0,1\}[0-9]*) ' "$d/strace.txt" | sed 's/.*, \(-\{0,1\}[0-9]*\)) $/\1/' | sort | uniq -c | tr -s ' \n' ' ')"
}
if want opentracker; then
	echo "== opentracker $(dpkg-query -W -f='${Version}' opentracker)"
	for k in 1 2 4; do ot $k 40; done
fi

# reg K SECS: docker-registry; GET /v2/ twice, SECS real seconds apart
reg() {
	d=$W/reg-$1
	mkdir -p "$d/data"
	printf 'version: 0.1\nlog:\n  level: info\n  formatter: text\n%s' \
		"storage:
  filesystem:
    rootdirectory: $d/data
http:
  addr: 127.0.0.1:$REG_PORT
health:
  storagedriver:
    enabled: false
" >"$d/config.yml"
	(bg "$1" /usr/bin/docker-registry serve "$d/config.yml") >"$d/log.txt" 2>&1 &
	rp=$!
	RUN=$rp
	answers http://127.0.0.1:$REG_PORT/v2/
	sleep 1
	t0=$(now)
	curl -s --noproxy '*' -o /dev/null http://127.0.0.1:$REG_PORT/v2/
	sleep "$2"
	t1=$(now)
	curl -s --noproxy '*' -o /dev/null http://127.0.0.1:$REG_PORT/v2/
	kill $rp
	wait $rp 2>/dev/null || true
	RUN=""
	logged=$(python3 -c "
import datetime, re, sys
t = [datetime.datetime.fromisoformat(re.search(r'time=\"([^\"]+)\"', l).group(1)[:26]).timestamp()
     for l in open('$d/log.txt') if 'response completed' in l]
print('%.3f' % (t[-1] - t[-2]))")
	echo "K=$1: $(elapsed "$t0" "$t1") s real between two GET /v2/, its log says $logged s; it $(shm_left $rp)"
}
if want registry; then
	echo "== docker-registry $(dpkg-query -W -f='${Version}' docker-registry)"
	for k in 1 2 4; do reg $k 10; done
fi
