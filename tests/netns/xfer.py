#!/usr/bin/env python3
"""Transfers for the offload scenario.

A checksummed TCP transfer: random bytes go one way, both ends print
"BYTES SHA256" of what they sent or received, and the test compares the
two lines.

    xfer.py recv ADDR PORT [--timeout S]
        listen on ADDR PORT, accept one connection, read it to its end
    xfer.py send ADDR PORT MIB [--timeout S]
        connect, send MIB MiB of random data, close the sending side and wait
        for the receiver to close

UDP super-packets: the sender hands the kernel up to 64 datagrams per send
with UDP_SEGMENT (segment sizes from 1200 bytes down to 1, the last datagram
of a send often shorter), so a TUN device with USO receives them as one
packet to split; the receiver checks that every datagram arrives, in order,
byte for byte. Both ends derive the same plan from SEED.

    xfer.py dgram-recv ADDR PORT SEED [--timeout S]
        print "N datagrams ok", or what differs and exit 1
    xfer.py dgram-send ADDR PORT SEED [--rate MBIT]
        send the plan, paced at about MBIT Mbit/s (default 50)

Every end is bounded: no progress for --timeout seconds (default 30) or a
whole run longer than ten times that ends it with exit 1.
"""
import argparse
import hashlib
import os
import random
import socket
import sys
import time

CHUNK = 1 << 20
UDP_SEGMENT = 103  # linux/udp.h
GSO_SIZES = (1200, 777, 333, 64, 1)
SENDS_PER_SIZE = 12


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(args):
    deadline = time.monotonic() + 10 * args.timeout
    with socket.socket(family_of(args.addr), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.addr, args.port))
        srv.listen(1)
        srv.settimeout(args.timeout)
        conn, _ = srv.accept()
    digest, total = hashlib.sha256(), 0
    buf = bytearray(CHUNK)
    with conn:
        conn.settimeout(args.timeout)
        while time.monotonic() < deadline:
            n = conn.recv_into(buf)
            if n == 0:
                break
            digest.update(memoryview(buf)[:n])
            total += n
        else:
            print("xfer: receive took too long", file=sys.stderr)
            return 1
    print(total, digest.hexdigest())
    return 0


def send(args):
    deadline = time.monotonic() + 10 * args.timeout
    digest, total = hashlib.sha256(), 0
    with socket.socket(family_of(args.addr), socket.SOCK_STREAM) as sock:
        sock.settimeout(args.timeout)
        sock.connect((args.addr, args.port))
        for _ in range(args.mib):
            if time.monotonic() > deadline:
                print("xfer: send took too long", file=sys.stderr)
                return 1
            chunk = os.urandom(CHUNK)
            sock.sendall(chunk)
            digest.update(chunk)
            total += len(chunk)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)
    print(total, digest.hexdigest())
    return 0


def dgram_plan(seed):
    """Yields (gso_size, [datagram, ...]) for each send, in order."""
    rng = random.Random(seed)
    for gso in GSO_SIZES:
        for _ in range(SENDS_PER_SIZE):
            full = rng.randint(1, min(63, 65000 // gso - 1))
            lens = [gso] * full
            tail = rng.randint(0, gso)
            if tail:
                lens.append(tail)
            yield gso, [rng.randbytes(n) for n in lens]


def dgram_send(args):
    with socket.socket(family_of(args.addr), socket.SOCK_DGRAM) as sock:
        sock.connect((args.addr, args.port))
        for gso, dgrams in dgram_plan(args.seed):
            buf = b"".join(dgrams)
            sock.setsockopt(socket.SOL_UDP, UDP_SEGMENT, gso)
            sock.send(buf)
            time.sleep(len(buf) * 8 / (args.rate * 1e6))
    return 0


def dgram_recv(args):
    want = [d for _, dgrams in dgram_plan(args.seed) for d in dgrams]
    got = []
    with socket.socket(family_of(args.addr), socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((args.addr, args.port))
        sock.settimeout(args.timeout)
        deadline = time.monotonic() + 10 * args.timeout
        try:
            while len(got) < len(want) and time.monotonic() < deadline:
                got.append(sock.recv(65536))
                sock.settimeout(3)
        except socket.timeout:
            pass
    if got == want:
        print(len(got), "datagrams ok")
        return 0
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            print(f"datagram {i}: {len(g)} bytes, expected {len(w)} bytes"
                  f"{' (same length, other content)' if len(g) == len(w) else ''}")
            break
    known = set(want)
    print(f"received {len(got)} datagrams of {len(want)}; "
          f"{sum(1 for g in got if g in known)} of them expected somewhere")
    return 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("addr")
    r.add_argument("port", type=int)
    r.add_argument("--timeout", type=float, default=30)
    s = sub.add_parser("send")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("mib", type=int)
    s.add_argument("--timeout", type=float, default=30)
    dr = sub.add_parser("dgram-recv")
    dr.add_argument("addr")
    dr.add_argument("port", type=int)
    dr.add_argument("seed", type=int)
    dr.add_argument("--timeout", type=float, default=30)
    ds = sub.add_parser("dgram-send")
    ds.add_argument("addr")
    ds.add_argument("port", type=int)
    ds.add_argument("seed", type=int)
    ds.add_argument("--rate", type=float, default=50)
    args = ap.parse_args()
    cmds = {"recv": recv, "send": send, "dgram-recv": dgram_recv, "dgram-send": dgram_send}
    try:
        return cmds[args.cmd](args)
    except OSError as e:
        print(f"xfer: {args.cmd} {args.addr} port {args.port}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
