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

UDP datagrams whose checksum sums to zero: the sender makes each payload so
that the one's-complement sum over pseudo-header, header and payload is
0xffff, whose complement, 0, must go on the wire as 0xffff (a zero UDP
checksum means "none" in IPv4 and is invalid in IPv6). A TUN with checksum
offload leaves that last step to the daemon.

    xfer.py csum0-recv ADDR PORT COUNT [--timeout S]
        print "N of COUNT datagrams ok", exit 1 unless all came, intact
    xfer.py csum0-send SRC ADDR PORT COUNT
        send COUNT such datagrams from SRC (same port) to ADDR PORT

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


def csum_add(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum0_payload(src, dst, port, i):
    """Payload number i from src to dst (both ports = port) whose UDP
    checksum computes to zero."""
    fam = family_of(dst)
    body = i.to_bytes(4, "big") + random.Random(i).randbytes(16 + 37 * i % 1000)
    body += b"\0" if len(body) % 2 else b""
    length = 8 + len(body) + 2
    s_raw, d_raw = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    if fam == socket.AF_INET6:
        pseudo = s_raw + d_raw + length.to_bytes(4, "big") + b"\0\0\0\x11"
    else:
        pseudo = s_raw + d_raw + b"\0\x11" + length.to_bytes(2, "big")
    hdr = port.to_bytes(2, "big") * 2 + length.to_bytes(2, "big") + b"\0\0"
    partial = csum_add(pseudo + hdr + body)
    return body + (0xFFFF - partial).to_bytes(2, "big")


def csum0_send(args):
    with socket.socket(family_of(args.addr), socket.SOCK_DGRAM) as sock:
        sock.bind((args.src, args.port))
        sock.connect((args.addr, args.port))
        for i in range(args.count):
            sock.send(csum0_payload(args.src, args.addr, args.port, i))
            time.sleep(0.002)
    return 0


def csum0_recv(args):
    got = set()
    with socket.socket(family_of(args.addr), socket.SOCK_DGRAM) as sock:
        sock.bind((args.addr, args.port))
        sock.settimeout(args.timeout)
        deadline = time.monotonic() + 10 * args.timeout
        try:
            while len(got) < args.count and time.monotonic() < deadline:
                data, peer = sock.recvfrom(65536)
                i = int.from_bytes(data[:4], "big")
                if i < args.count and data == csum0_payload(peer[0], args.addr, args.port, i):
                    got.add(i)
                sock.settimeout(2)
        except socket.timeout:
            pass
    print(len(got), "of", args.count, "datagrams ok")
    return len(got) != args.count


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
    cr = sub.add_parser("csum0-recv")
    cr.add_argument("addr")
    cr.add_argument("port", type=int)
    cr.add_argument("count", type=int)
    cr.add_argument("--timeout", type=float, default=30)
    cs = sub.add_parser("csum0-send")
    cs.add_argument("src")
    cs.add_argument("addr")
    cs.add_argument("port", type=int)
    cs.add_argument("count", type=int)
    args = ap.parse_args()
    cmds = {"recv": recv, "send": send, "dgram-recv": dgram_recv, "dgram-send": dgram_send,
            "csum0-recv": csum0_recv, "csum0-send": csum0_send}
    try:
        return cmds[args.cmd](args)
    except OSError as e:
        print(f"xfer: {args.cmd} {args.addr} port {args.port}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
