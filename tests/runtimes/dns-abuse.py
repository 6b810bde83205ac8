#!/usr/bin/env python3
"""Bad input for a name server, then proof it still answers (tests/runtimes/names.sh).

    dns-abuse.py SERVER NAME EXPECT_IP [IDLE_CONNECTIONS]

Sends garbage datagrams of many sizes (up to 65000 bytes), a response
instead of a query, a TCP message with a 65535-byte length prefix and
nothing behind it, a cut TCP message, then opens IDLE_CONNECTIONS (default
200) TCP connections and leaves them idle; while they are open, asks NAME
over UDP and over a new TCP connection. Prints one line per check; exit 0
when both answers hold EXPECT_IP, 1 otherwise. Bounded: every socket has a
3 s timeout. Standard library only; run it inside a client's network
namespace.
"""
import random
import socket
import struct
import sys
import time


def query(name, qid):
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        msg += bytes([len(label)]) + label.encode()
    return msg + b"\0" + struct.pack(">HH", 1, 1)


def udp_ask(server, name, want):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    q = query(name, 0x4321)
    s.sendto(q, (server, 53))
    try:
        r = s.recv(4096)
    except OSError as e:
        return f"no UDP answer ({e})", False
    return f"UDP answer of {len(r)} bytes", want in r[12:]


def tcp_ask(server, name, want):
    try:
        s = socket.create_connection((server, 53), timeout=3)
        q = query(name, 0x4322)
        s.sendall(struct.pack(">H", len(q)) + q)
        hdr = s.recv(2)
        if len(hdr) < 2:
            return "TCP connection closed without an answer", False
        (n,) = struct.unpack(">H", hdr)
        r = b""
        while len(r) < n:
            chunk = s.recv(n - len(r))
            if not chunk:
                break
            r += chunk
        return f"TCP answer of {len(r)} bytes", want in r[12:]
    except OSError as e:
        return f"no TCP answer ({e})", False


def main():
    server, name, expect = sys.argv[1:4]
    idle_n = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    want = socket.inet_aton(expect)
    rnd = random.Random(20)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sizes = [0, 1, 11, 12, 13, 40, 300, 512, 1500, 4096, 4097, 9000, 65000]
    for size in sizes:
        try:
            u.sendto(bytes(rnd.getrandbits(8) for _ in range(size)), (server, 53))
        except OSError:
            pass
    resp = bytearray(query(name, 9))
    resp[2] |= 0x80
    u.sendto(bytes(resp), (server, 53))
    print(f"sent {len(sizes)} garbage datagrams (up to 65000 bytes) and a response")
    for payload in (b"\xff\xff\x01\x02\x03", b"\x00\x28\x01\x02"):
        try:
            c = socket.create_connection((server, 53), timeout=3)
            c.sendall(payload)
            c.close()
        except OSError:
            pass
    print("sent an oversized and a cut TCP message")
    idle = []
    for _ in range(idle_n):
        try:
            idle.append(socket.create_connection((server, 53), timeout=3))
        except OSError:
            break
    print(f"{len(idle)} idle TCP connections open")
    t = time.monotonic()
    line_u, ok_u = udp_ask(server, name, want)
    line_t, ok_t = tcp_ask(server, name, want)
    ms = (time.monotonic() - t) * 1000
    print(f"with them open: {line_u}: {'ok' if ok_u else 'WRONG'}; {line_t}: {'ok' if ok_t else 'WRONG'} ({ms:.1f} ms)")
    for c in idle:
        c.close()
    return 0 if ok_u and ok_t else 1


if __name__ == "__main__":
    sys.exit(main())
