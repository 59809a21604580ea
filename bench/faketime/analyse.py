#!/usr/bin/env python3
"""Reads tracker.py's events (real CLOCK_MONOTONIC seconds) and prints, in
real seconds: the interval between announces (aria2c asked for 2 s), the
interval between aria2c's choke rounds (10 s in aria2c's clock) beside what
aria2c's own log timestamps say, and in 'hang' mode how long aria2c waited
for an answer (asked 3 s) and before asking again (2 s)."""
import datetime
import statistics as st
import sys


def logged(s):
    return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def gaps(v):
    return [b - a for a, b in zip(v, v[1:])]


def line(what, v):
    if v:
        print("  %s: real mean %.3f s, min %.3f, max %.3f (n=%d)"
              % (what, st.mean(v), min(v), max(v), len(v)))


for path in sys.argv[1:]:
    ev = [l.split(" ", 2) for l in open(path).read().splitlines()]
    ann = [float(e[0]) for e in ev if e[1] == "announce"
           and e[2] in ("started", "-")]
    chokes = [(float(e[0]), logged(e[2][:26])) for e in ev
              if e[1] == "log" and "choke round started" in e[2]]
    req = [float(e[0]) for e in ev if e[1] == "request"]
    closed = [float(e[0]) for e in ev if e[1] == "client_closed"]
    line("announce every (asked 2 s)", gaps(ann))
    if len(chokes) > 1:
        line("choke round (10 s)", gaps([c[0] for c in chokes]))
        print("  ... and by aria2c's log: %.3f s"
              % st.mean(gaps([c[1] for c in chokes])))
    # One connection at a time: the i-th close ends the i-th request; the
    # last one ends at SIGTERM.
    line("tracker time-out (asked 3 s)",
         [c - r for r, c in zip(req, closed)][:-1])
    line("next try after a time-out (2 s)",
         [r - c for c, r in zip(closed, req[1:]) if r - c > 0.5])
