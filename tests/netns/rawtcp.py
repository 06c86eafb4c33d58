#!/usr/bin/env python3
"""Sends one hand-made TCP segment through a raw socket, so a scenario can
put a packet conntrack calls invalid (SYN|FIN, no connection) on the wire:

    rawtcp.py SRC DST PORT [FLAGS]      FLAGS as a number, default 0x03 (SYN|FIN)

SRC must be an address of the sending namespace; IPv4 or IPv6.
"""
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    flags = int(sys.argv[4], 0) if len(sys.argv) > 4 else 0x03
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    seg = struct.pack("!HHIIBBHHH", 40000, port, 1, 0, 5 << 4, flags, 1024, 0, 0)
    if fam == socket.AF_INET:
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(seg))
    else:
        pseudo = (socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) +
                  struct.pack("!I3xB", len(seg), 6))
    seg = seg[:16] + struct.pack("!H", checksum(pseudo + seg)) + seg[18:]
    with socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP) as s:
        s.bind((src, 0))
        s.sendto(seg, (dst, 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
