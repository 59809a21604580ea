#!/usr/bin/env python3
"""A logging BitTorrent tracker for bench/faketime/measure.sh. Each event
is a line "SECONDS WHAT ..." with the real CLOCK_MONOTONIC time (this
process is never preloaded). Mode 'answer': every announce is answered
with interval INTERVAL and no peers. Mode 'hang': a request is read and
never answered; a line says when the client gave up (closed). It also
follows a log file (aria2c's) and stamps each new line with the real time
it appeared.

usage: tracker.py PORT answer|hang INTERVAL EVENTS LOG_TO_FOLLOW"""
import os
import socket
import sys
import threading
import time

port, mode, interval = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
out = open(sys.argv[4], "w", buffering=1)
follow = sys.argv[5]
lock = threading.Lock()


def log(*what):
    with lock:
        out.write("%.3f %s\n" % (time.monotonic(), " ".join(map(str, what))))


def serve(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            c.close()
            return
        data += d
    first = data.split(b"\r\n")[0].decode(errors="replace")
    ev = "-"
    for e in ("started", "stopped", "completed"):
        if "event=" + e in first:
            ev = e
    if mode == "hang":
        log("request", ev)
        while c.recv(4096):
            pass
        log("client_closed")
        c.close()
        return
    log("announce", ev)
    body = b"d8:intervali%de12:min intervali%de5:peers0:e" % (interval,
                                                            interval)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    c.close()


def follower():
    while not os.path.exists(follow):
        time.sleep(0.01)
    f = open(follow, errors="replace")
    part = ""
    while True:
        s = f.readline()
        if not s:
            time.sleep(0.005)
            continue
        part += s
        if part.endswith("\n"):
            log("log", part.rstrip("\n"))
            part = ""


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
threading.Thread(target=follower, daemon=True).start()
log("listening", port, mode)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
