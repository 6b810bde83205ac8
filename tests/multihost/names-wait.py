#!/usr/bin/env python3
"""DNS polling for tests/multihost/names.sh (standard library only; run it
inside a container's namespace with nsenter --net=... to ask as that
container).

    names-wait.py wait SERVER NAME present ADDR T0 TIMEOUT
    names-wait.py wait SERVER NAME absent T0 TIMEOUT
        Asks SERVER for NAME (A) every 10 ms until the answer holds ADDR
        (present; `any`: any address) or is NXDOMAIN (absent). Prints `ms=<since T0> queries=N
        last=<rcode>:<answers>` (T0: seconds since the epoch, e.g. `date
        +%s.%N` right after the ADD returned, or @FILE: read from FILE when
        the answer came, so the polling can start before the ADD) and exits
        0; exits 1 after TIMEOUT seconds.
    names-wait.py watch SERVER FLAGFILE NAME=ADDR...
        Every 0.2 s asks for each NAME until FLAGFILE is removed; every
        answer that does not hold ADDR (NXDOMAIN, SERVFAIL, no answer) is a
        miss, printed with its time. Last line: `rounds=N misses=M`.
"""
import os
import random
import socket
import struct
import sys
import time

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def query(server, name, timeout=0.5):
    """(rcode, [addresses]) of one A query over UDP; ("timeout", []) when none came."""
    qid = random.randint(0, 0xFFFF)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (server, 53))
        while True:
            msg = s.recv(4096)
            if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                break
    except OSError:
        return "timeout", []
    finally:
        s.close()
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        while msg[off] != 0:
            if msg[off] & 0xC0 == 0xC0:
                off += 1
                break
            off += 1 + msg[off]
        off += 1 + 4
    addrs = []
    for _ in range(an):
        if msg[off] & 0xC0 == 0xC0:
            off += 2
        else:
            while msg[off] != 0:
                off += 1 + msg[off]
            off += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off : off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off : off + 4]))
        off += rdlen
    return RCODES.get(flags & 0xF, str(flags & 0xF)), addrs


def read_t0(t0):
    """T0 itself, or from the file @PATH (written by the caller when the
    ADD or DEL returned; waited for up to 5 s)."""
    if not t0.startswith("@"):
        return float(t0)
    for _ in range(500):
        try:
            with open(t0[1:]) as f:
                return float(f.read().strip())
        except (OSError, ValueError):
            time.sleep(0.01)
    raise SystemExit(f"no time in {t0[1:]}")


def wait(server, name, mode, t0, timeout):
    want = None if mode == "absent" else mode
    end = time.time() + timeout
    n = 0
    last = ("", [])
    while time.time() < end:
        n += 1
        last = query(server, name)
        rcode, addrs = last
        if (want is None and rcode == "NXDOMAIN") or (
            want is not None and (want in addrs or (want == "any" and addrs))
        ):
            now = time.time()
            print(f"ms={(now - read_t0(t0)) * 1000:.0f} queries={n} last={rcode}:{','.join(addrs)}")
            return 0
        time.sleep(0.01)
    print(f"timeout after {timeout} s, queries={n} last={last[0]}:{','.join(last[1])}")
    return 1


def watch(server, flag, pairs):
    rounds = misses = 0
    while os.path.exists(flag):
        rounds += 1
        for name, addr in pairs:
            rcode, addrs = query(server, name)
            if addr not in addrs:
                misses += 1
                print(f"{time.time():.3f} miss {name}: {rcode} {','.join(addrs)}", flush=True)
        time.sleep(0.2)
    print(f"rounds={rounds} misses={misses}")
    return 0


def main():
    a = sys.argv[1:]
    if a[:1] == ["wait"]:
        if len(a) == 7 and a[3] == "present":
            return wait(a[1], a[2], a[4], a[5], float(a[6]))
        if len(a) == 6 and a[3] == "absent":
            return wait(a[1], a[2], "absent", a[4], float(a[5]))
    if a[:1] == ["watch"] and len(a) >= 4:
        return watch(a[1], a[2], [tuple(p.split("=", 1)) for p in a[3:]])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
