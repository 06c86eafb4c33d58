#!/usr/bin/env python3
"""Crafted WireGuard datagrams for the hostile-input and flood scenarios.

Standard library only (and, for --mac2, the system's libsodium). Every sender stops by itself: a bounded number of
datagrams, or a bounded number of seconds, then a short wait for replies.
Replies are whatever comes back to the sending socket; a hostile datagram
must get none.

Subcommands (HOST PORT is the target; --bind ADDR the attacker's source):
  garbage HOST PORT            random datagrams of every size 0..1500 and a
                               few up to 65507, then
                               for each type 1..4 a header of that type
                               followed by random bytes, every size 0..1500
  badmac HOST PORT             random type-1 (148), type-2 (92) and type-3
                               (64) messages, whose MAC1 cannot be valid
  replay PCAP HOST PORT        resend the WireGuard messages of a pcap file
                               (--type N selects a type, --pick I,J,... by
                               position, --flip flips one byte of each)
  flood HOST PORT PUBKEY       initiations with a valid MAC1 and random
                               content, --rate per second for --seconds;
                               counts the cookie replies that answer them.
                               With --mac2, the first cookie reply is opened
                               (libsodium through ctypes) and every later
                               initiation carries a valid MAC2: the source
                               is proven, and only the rate limiter stands
                               in the way; such initiations get no reply.
                               With --junk, MAC1 is random too (not for
                               the target): none may get a reply
  list PCAP                    one line per WireGuard message in a pcap file

Prints one JSON summary line. Exit status: 0 when the outcome is the
expected one (silence; for flood, at least one cookie reply; for flood
--junk, none), 1 otherwise.
"""

import argparse
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import select
import socket
import struct
import sys
import time

MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE, MSG_DATA = 1, 2, 3, 4
INITIATION_LEN, RESPONSE_LEN, COOKIE_LEN = 148, 92, 64
MAC1_OFFSET = {MSG_INITIATION: 116, MSG_RESPONSE: 60}
LABEL_MAC1 = b"mac1----"
LABEL_COOKIE = b"cookie--"


def mac1_key(public_key):
    """HASH(LABEL_MAC1 || responder's static public key)."""
    return hashlib.blake2s(LABEL_MAC1 + public_key).digest()


def mac1(key, msg_before_mac1):
    """MAC(key, msg_alpha): keyed BLAKE2s-128 over the bytes before mac1."""
    return hashlib.blake2s(msg_before_mac1, digest_size=16, key=key).digest()


def random_initiation(key, cookie=None):
    """A 148-byte initiation with random fields, a valid MAC1 (a random one
    without key) and, given the cookie, a valid MAC2 (else zeros). Returns
    (message, sender_index, mac1)."""
    sender = struct.unpack("<I", os.urandom(4))[0]
    body = struct.pack("<II", MSG_INITIATION, sender) + os.urandom(32 + 48 + 28)
    m1 = mac1(key, body) if key else os.urandom(16)
    m2 = hashlib.blake2s(body + m1, digest_size=16, key=cookie).digest() if cookie else bytes(16)
    return body + m1 + m2, sender, m1


def open_cookie_reply(public_key, reply, mac1_of_request):
    """The cookie inside a cookie reply: XChaCha20-Poly1305 under
    HASH(LABEL_COOKIE || responder's public key), with the MAC1 of the message
    it answers as associated data. None if it does not authenticate."""
    sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    if sodium.sodium_init() < 0:
        return None
    key = hashlib.blake2s(LABEL_COOKIE + public_key).digest()
    nonce, box = reply[8:32], reply[32:64]
    cookie = ctypes.create_string_buffer(16)
    cookie_len = ctypes.c_ulonglong()
    ret = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        cookie, ctypes.byref(cookie_len), None, box, ctypes.c_ulonglong(len(box)),
        mac1_of_request, ctypes.c_ulonglong(16), nonce, key)
    return cookie.raw if ret == 0 and cookie_len.value == 16 else None


# ---- pcap ----

LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_IPV4 = 1, 101, 113, 228


def _ip_payload(linktype, frame):
    """The IP packet inside a captured frame, or None."""
    if linktype == LINKTYPE_ETHERNET:
        off = 12
        ethertype = struct.unpack_from("!H", frame, off)[0]
        while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 6:
            off += 4
            ethertype = struct.unpack_from("!H", frame, off)[0]
        return frame[off + 2:] if ethertype in (0x0800, 0x86DD) else None
    if linktype == LINKTYPE_LINUX_SLL:
        ethertype = struct.unpack_from("!H", frame, 14)[0]
        return frame[16:] if ethertype in (0x0800, 0x86DD) else None
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, 12):
        return frame
    return None


def _udp(ip):
    """(src, sport, dst, dport, payload) of a UDP packet, or None."""
    if len(ip) < 20:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            return None
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        udp = ip[ihl:]
    elif version == 6 and len(ip) >= 48:
        if ip[6] != 17:
            return None
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        udp = ip[40:]
    else:
        return None
    if len(udp) < 8:
        return None
    sport, dport, length = struct.unpack_from("!HHH", udp)
    return src, sport, dst, dport, udp[8:length]


def pcap_udp(path):
    """Every UDP datagram in a classic pcap file, as (src, sport, dst, dport,
    payload)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(endian + "IIII", data, off)[2]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = _ip_payload(linktype, frame)
        dgram = _udp(ip) if ip else None
        if dgram:
            out.append(dgram)
    return out


def wg_messages(path, msg_type=None):
    """The WireGuard messages (UDP payloads with a valid header) of a pcap."""
    sizes = {MSG_INITIATION: INITIATION_LEN, MSG_RESPONSE: RESPONSE_LEN, MSG_COOKIE: COOKIE_LEN}
    out = []
    for dgram in pcap_udp(path):
        p = dgram[4]
        if len(p) < 4 or p[1:4] != b"\0\0\0":
            continue
        t = p[0]
        if t in sizes and len(p) != sizes[t]:
            continue
        if t == MSG_DATA and len(p) < 32 or t not in (1, 2, 3, 4):
            continue
        if msg_type is None or t == msg_type:
            out.append(dgram)
    return out


# ---- sending ----

class Attacker:
    """A UDP socket aimed at one target, counting what comes back."""

    def __init__(self, host, port, bind=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind((bind or ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
        self.sock.setblocking(False)
        self.target = (host, port)
        self.sent = 0
        self.replies = []

    def send(self, msg):
        try:
            self.sock.sendto(msg, self.target)
            self.sent += 1
        except (BlockingIOError, ConnectionRefusedError):
            pass

    def drain(self, timeout=0.0):
        """Collects replies until none arrived for `timeout` seconds."""
        while True:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return
            try:
                while True:
                    self.replies.append(self.sock.recv(65535))
            except (BlockingIOError, ConnectionRefusedError):
                pass

    def send_paced(self, msgs, burst=64, pause=0.002):
        """Sends in bursts so that the target's socket buffer keeps up."""
        for i, msg in enumerate(msgs):
            self.send(msg)
            if i % burst == burst - 1:
                self.drain(pause)

    def summary(self, **extra):
        return dict(sent=self.sent, replies=len(self.replies),
                    reply_sizes=sorted({len(r) for r in self.replies}), **extra)


def garbage_messages():
    for size in range(0, 1501):
        yield os.urandom(size)
    for size in (1501, 2048, 4096, 9000, 16384, 65507):  # past any MTU: fragmented
        yield os.urandom(size)
    for t in (MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE, MSG_DATA):
        header = struct.pack("<I", t)
        for size in range(0, 1501):
            yield (header + os.urandom(max(0, size - 4)))[:size]


def badmac_messages():
    for t, size in ((MSG_INITIATION, INITIATION_LEN), (MSG_RESPONSE, RESPONSE_LEN),
                    (MSG_COOKIE, COOKIE_LEN)):
        yield struct.pack("<I", t) + os.urandom(size - 4)


def cmd_silence(args, msgs, **extra):
    atk = Attacker(args.host, args.port, args.bind)
    atk.send_paced(msgs)
    atk.drain(args.wait)
    print(json.dumps(atk.summary(**extra)))
    return 0 if not atk.replies else 1


def cmd_replay(args):
    msgs = [d[4] for d in wg_messages(args.pcap, args.type)]
    if args.pick:
        msgs = [msgs[int(i)] for i in args.pick.split(",")]
    if args.flip:
        msgs = [m[:-1] + bytes([m[-1] ^ 0x01]) for m in msgs]
    if not msgs:
        print(json.dumps({"error": "no matching message in " + args.pcap}))
        return 1
    return cmd_silence(args, msgs, messages=len(msgs))


def cmd_flood(args):
    public_key = base64.b64decode(args.pubkey)
    key = None if args.junk else mac1_key(public_key)
    atk = Attacker(args.host, args.port, args.bind)
    mac1_of = {}       # sender index -> MAC1, for messages without MAC2
    with_mac2 = set()  # sender indices of messages with a valid MAC2
    cookie = None
    opened = 0         # cookie replies tried (at most 100)
    per_tick, tick = max(1, args.rate // 100), 0.01
    start = time.monotonic()
    deadline = start + args.seconds
    next_tick = start
    while time.monotonic() < deadline:
        for _ in range(per_tick):
            msg, sender, m1 = random_initiation(key, cookie)
            if cookie:
                with_mac2.add(sender)
            else:
                mac1_of[sender] = m1
            atk.send(msg)
        next_tick += tick
        atk.drain(max(0.0, next_tick - time.monotonic()))
        while args.mac2 and cookie is None and opened < min(len(atk.replies), 100):
            r = atk.replies[opened]
            opened += 1
            sender = struct.unpack_from("<I", r, 4)[0] if len(r) == COOKIE_LEN else None
            if sender in mac1_of:
                cookie = open_cookie_reply(public_key, r, mac1_of[sender])
    atk.drain(args.wait)

    def is_cookie(r):
        return len(r) == COOKIE_LEN and r[:4] == b"\x03\0\0\0"

    def answers(r):
        return struct.unpack_from("<I", r, 4)[0] if len(r) >= 8 else None

    cookies = [r for r in atk.replies if is_cookie(r) and answers(r) in mac1_of]
    summary = atk.summary(cookies=len(cookies), other=len(atk.replies) - len(cookies),
                          seconds=round(time.monotonic() - start, 2))
    ok = bool(cookies) and summary["other"] == 0
    if args.junk:
        ok = not atk.replies
    if args.mac2:
        summary.update(cookie_opened=cookie is not None, sent_with_mac2=len(with_mac2),
                       replies_to_mac2=sum(answers(r) in with_mac2 for r in atk.replies))
        ok = ok and cookie is not None and len(with_mac2) > 0
    print(json.dumps(summary))
    return 0 if ok else 1


def cmd_list(args):
    for src, sport, dst, dport, p in wg_messages(args.pcap):
        print(f"{src}:{sport} > {dst}:{dport} type {p[0]} len {len(p)}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def target(p):
        p.add_argument("host")
        p.add_argument("port", type=int)
        p.add_argument("--bind", help="source address")
        p.add_argument("--wait", type=float, default=1.0,
                       help="seconds of silence to wait for after sending")

    target(sub.add_parser("garbage"))
    target(sub.add_parser("badmac"))
    p = sub.add_parser("replay")
    p.add_argument("pcap")
    target(p)
    p.add_argument("--type", type=int)
    p.add_argument("--pick")
    p.add_argument("--flip", action="store_true")
    p = sub.add_parser("flood")
    target(p)
    p.add_argument("pubkey")
    p.add_argument("--rate", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--mac2", action="store_true",
                   help="open the first cookie reply and send valid MAC2s from then on")
    p.add_argument("--junk", action="store_true",
                   help="random MAC1s: initiations that are not for the target")
    p = sub.add_parser("list")
    p.add_argument("pcap")
    args = ap.parse_args()
    if getattr(args, "seconds", 0) > 60 or getattr(args, "rate", 0) > 20000:
        ap.error("bounded senders only: at most 60 s and 20000/s")

    if args.cmd == "garbage":
        return cmd_silence(args, garbage_messages())
    if args.cmd == "badmac":
        return cmd_silence(args, badmac_messages())
    if args.cmd == "replay":
        return cmd_replay(args)
    if args.cmd == "flood":
        return cmd_flood(args)
    return cmd_list(args)


if __name__ == "__main__":
    sys.exit(main())
