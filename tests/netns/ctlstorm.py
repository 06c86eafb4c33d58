#!/usr/bin/env python3
"""A member that streams on the coordinator's control channel: one
connection carrying LINES "update" lines whose endpoint alternates between
two values, sent in odd-sized bursts 50 ms apart (so a coordinator that
acts on every line sees the value change at every burst), then RECONNECTS
connections that each send a hello and close.

    ctlstorm.py SRC DST PORT LINES RECONNECTS MARK EP1 EP2

SRC is the member's mesh address (the coordinator knows the node by it),
DST:PORT the coordinator's control channel; MARK is set on every socket so
the scenario can let these through and hold the member's own daemon off.
Every loop is bounded; refused or reset connections are counted, not
fatal. Prints a JSON summary.
"""
import json
import socket
import sys
import time

SO_MARK = 36
BURST = 19  # odd: the endpoint after a burst differs from the one before


def connect(src, dst, port, mark):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect((dst, port))
    return s


def line(kind, endpoint):
    msg = {"type": kind, "hostname": "laptop", "routes": [], "exit_node": False,
           "endpoints": [endpoint]}
    return (json.dumps(msg) + "\n").encode()


def stream(args, eps, stats):
    s = connect(args["src"], args["dst"], args["port"], args["mark"])
    s.sendall(line("hello", eps[0]))
    sent = 0
    while sent < args["lines"]:
        n = min(BURST, args["lines"] - sent)
        s.sendall(b"".join(line("update", eps[(sent + i) % 2]) for i in range(n)))
        sent += n
        stats["lines"] = sent
        time.sleep(0.05)
    s.close()


def reconnects(args, eps, stats):
    for i in range(args["reconnects"]):
        try:
            s = connect(args["src"], args["dst"], args["port"], args["mark"])
            s.sendall(line("hello", eps[i % 2]))
            time.sleep(0.02)
            s.close()
            stats["connected"] += 1
        except OSError:
            stats["refused"] += 1
        time.sleep(0.05)


def main():
    a = sys.argv[1:]
    args = {"src": a[0], "dst": a[1], "port": int(a[2]), "lines": int(a[3]),
            "reconnects": int(a[4]), "mark": int(a[5], 0)}
    eps = [a[6], a[7]]
    stats = {"lines": 0, "connected": 0, "refused": 0, "stream_error": None}
    start = time.monotonic()
    try:
        stream(args, eps, stats)
    except OSError as e:
        stats["stream_error"] = str(e)
    reconnects(args, eps, stats)
    stats["seconds"] = round(time.monotonic() - start, 1)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
