#!/usr/bin/env python3
"""A "whoami" service for the netns scenarios: it answers every TCP
connection and UDP datagram with the address it came from, so a test sees
the source address a packet arrived with after routing and NAT.

    whoami.py serve PORT ADDR... [--lifetime S]   TCP and UDP on each ADDR
    whoami.py ask [--udp] ADDR PORT [--timeout S] print the answer, exit 0

Both ends are bounded: the server exits after --lifetime seconds (default
300), a question gives up after --timeout seconds (default 3) and exits 1.
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
        fam = family_of(addr)
        tcp = socket.socket(fam, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((addr, args.port))
        tcp.listen(16)
        udp = socket.socket(fam, socket.SOCK_DGRAM)
        udp.bind((addr, args.port))
        sel.register(tcp, selectors.EVENT_READ, "tcp")
        sel.register(udp, selectors.EVENT_READ, "udp")
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            sock = key.fileobj
            if key.data == "udp":
                _, peer = sock.recvfrom(2048)
                sock.sendto((peer[0] + "\n").encode(), peer)
                continue
            conn, peer = sock.accept()
            with conn:
                conn.settimeout(2)
                try:
                    conn.sendall((peer[0] + "\n").encode())
                except OSError:
                    pass
    return 0


def ask(args):
    fam = family_of(args.addr)
    kind = socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM
    with socket.socket(fam, kind) as sock:
        sock.settimeout(args.timeout)
        try:
            sock.connect((args.addr, args.port))
            if args.udp:
                sock.send(b"?")
            answer = sock.recv(256)
        except OSError as e:
            print(f"whoami: {args.addr} port {args.port}: {e}", file=sys.stderr)
            return 1
    if not answer:
        return 1
    print(answer.decode().strip())
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("port", type=int)
    s.add_argument("addr", nargs="+")
    s.add_argument("--lifetime", type=float, default=300)
    a = sub.add_parser("ask")
    a.add_argument("--udp", action="store_true")
    a.add_argument("addr")
    a.add_argument("port", type=int)
    a.add_argument("--timeout", type=float, default=3)
    args = ap.parse_args()
    return serve(args) if args.cmd == "serve" else ask(args)


if __name__ == "__main__":
    sys.exit(main())
