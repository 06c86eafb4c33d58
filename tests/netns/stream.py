#!/usr/bin/env python3
"""TCP services and clients for the access-policy scenario: an answer shows
that a connection passed, a long-lived stream shows that an established
session survives a policy change.

    stream.py serve PORT ADDR... [--lifetime S]
        on each ADDR: send every connection the address it came from (one
        line), then echo what it sends until it closes
    stream.py ask ADDR PORT [--timeout S]
        connect, print the first line, exit 0; exit 1 on no answer
    stream.py hold ADDR PORT LOG [--every S] [--lifetime S]
        connect, then send a numbered line every S seconds and wait for its
        echo; append "ok N TIME" (monotonic seconds) to LOG for each echo, "error: ..." and exit 1 on
        the first failure, "done" at the end of the lifetime

Every end is bounded: a server exits after --lifetime seconds (default 300),
a question after --timeout seconds (default 3), a held stream after
--lifetime seconds (default 300), each echo within 5 s.
"""
import argparse
import selectors
import socket
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(args):
    sel = selectors.DefaultSelector()
    for addr in args.addr:
        srv = socket.socket(family_of(addr), socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, args.port))
        srv.listen(16)
        srv.setblocking(False)
        sel.register(srv, selectors.EVENT_READ, None)
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            sock = key.fileobj
            if key.data is None:
                try:
                    conn, peer = sock.accept()
                    conn.setblocking(False)
                    conn.send((peer[0] + "\n").encode())
                except OSError:
                    continue
                sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            try:
                data = sock.recv(4096)
                if data:
                    sock.send(data)
                    continue
            except OSError:
                pass
            sel.unregister(sock)
            sock.close()
    return 0


def ask(args):
    with socket.socket(family_of(args.addr), socket.SOCK_STREAM) as sock:
        sock.settimeout(args.timeout)
        try:
            sock.connect((args.addr, args.port))
            answer = sock.makefile().readline()
        except OSError as e:
            print(f"stream: {args.addr} port {args.port}: {e}", file=sys.stderr)
            return 1
    if not answer:
        return 1
    print(answer.strip())
    return 0


def hold(args):
    deadline = time.monotonic() + args.lifetime
    with open(args.log, "a", buffering=1) as log, socket.socket(
        family_of(args.addr), socket.SOCK_STREAM
    ) as sock:
        sock.settimeout(5)
        try:
            sock.connect((args.addr, args.port))
            f = sock.makefile("rw")
            log.write("connected, seen as " + f.readline().strip() + "\n")
            n = 0
            while time.monotonic() < deadline:
                n += 1
                f.write(f"{n}\n")
                f.flush()
                got = f.readline().strip()
                if got != str(n):
                    log.write(f"error: sent {n}, got {got!r}\n")
                    return 1
                log.write(f"ok {n} {time.monotonic():.3f}\n")
                time.sleep(args.every)
        except OSError as e:
            log.write(f"error: {e}\n")
            return 1
        log.write("done\n")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("port", type=int)
    s.add_argument("addr", nargs="+")
    s.add_argument("--lifetime", type=float, default=300)
    a = sub.add_parser("ask")
    a.add_argument("addr")
    a.add_argument("port", type=int)
    a.add_argument("--timeout", type=float, default=3)
    h = sub.add_parser("hold")
    h.add_argument("addr")
    h.add_argument("port", type=int)
    h.add_argument("log")
    h.add_argument("--every", type=float, default=0.2)
    h.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    return {"serve": serve, "ask": ask, "hold": hold}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
