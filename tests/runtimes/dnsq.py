#!/usr/bin/env python3
"""One DNS query, printed as one line (test tool for tests/runtimes/names.sh).

    dnsq.py SERVER NAME [TYPE] [--tcp] [--timeout SECS]

TYPE is A (default), AAAA or PTR (NAME may be an address for PTR). Prints
`rcode=NXDOMAIN answers=10.0.0.2,... ms=0.42` and exits 0 when an answer
arrived, 2 on timeout. Standard library only; run it inside a container's
network namespace (nsenter --net=...) to ask as that container.
"""
import ipaddress
import random
import socket
import struct
import sys
import time

TYPES = {"A": 1, "PTR": 12, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        labels.append(msg[off + 1 : off + 1 + n].decode(errors="replace"))
        off += 1 + n
    return ".".join(labels), (end if jumped else off)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    tcp = "--tcp" in sys.argv
    timeout = 3.0
    if "--timeout" in sys.argv:
        timeout = float(sys.argv[sys.argv.index("--timeout") + 1])
        args = [a for a in args if a != sys.argv[sys.argv.index("--timeout") + 1]]
    server, name = args[0], args[1]
    qtype = args[2] if len(args) > 2 else "A"
    if qtype == "PTR":
        try:
            name = ipaddress.ip_address(name).reverse_pointer
        except ValueError:
            pass
    qid = random.randint(0, 0xFFFF)
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name)
    query += struct.pack(">HH", TYPES[qtype], 1)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    start = time.monotonic()
    try:
        if tcp:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect((server, 53))
            s.sendall(struct.pack(">H", len(query)) + query)
            hdr = b""
            while len(hdr) < 2:
                chunk = s.recv(2 - len(hdr))
                if not chunk:
                    raise socket.timeout()
                hdr += chunk
            (length,) = struct.unpack(">H", hdr)
            msg = b""
            while len(msg) < length:
                chunk = s.recv(length - len(msg))
                if not chunk:
                    raise socket.timeout()
                msg += chunk
        else:
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(query, (server, 53))
            while True:
                msg = s.recv(65535)
                if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                    break
    except (socket.timeout, OSError) as e:
        print(f"timeout ({e}) ms={(time.monotonic() - start) * 1000:.2f}")
        return 2
    ms = (time.monotonic() - start) * 1000
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    answers = []
    for _ in range(an):
        _, off = read_name(msg, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off : off + 10])
        off += 10
        rdata = msg[off : off + rdlen]
        if rtype == 1:
            answers.append(str(ipaddress.IPv4Address(rdata)))
        elif rtype == 28:
            answers.append(str(ipaddress.IPv6Address(rdata)))
        elif rtype == 12:
            answers.append(read_name(msg, off)[0])
        off += rdlen
    rcode = RCODES.get(flags & 0xF, str(flags & 0xF))
    tc = " tc=1" if flags & 0x0200 else ""
    print(f"rcode={rcode} answers={','.join(answers)} ms={ms:.2f}{tc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
