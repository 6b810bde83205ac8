#!/usr/bin/env python3
"""Traffic for tests/runtimes/firewall-reload.sh: echo servers, probes that keep opening new
connections (one line per attempt: "<epoch ms> <name> ok|fail <detail>"), long-lived
connections that must never break, and the gap analysis. Every loop is bounded in time and
stops when its stop file appears; every socket operation has a timeout.

  tcp-echo PORT                      echo lines on TCP, any address
  udp-echo PORT                      echo datagrams, any address
  probe LOG STOP SECS NAME PROTO ADDR PORT [PERIOD_MS]
                                     a new connection (TCP) or a new socket (UDP) every PERIOD_MS
  keep LOG STOP SECS NAME ADDR PORT  one TCP connection, a line every 50 ms, each echoed
  gap LOG SINCE_MS NAME              after SINCE_MS: first failure, first success after it
"""
import os
import socket
import sys
import threading
import time


def now_ms():
    return int(time.time() * 1000)


def tcp_echo(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(128)

    def serve(conn):
        conn.settimeout(300)
        with conn:
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        return
                    conn.sendall(data)
            except OSError:
                return

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def udp_echo(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("0.0.0.0", port))
    while True:
        data, peer = srv.recvfrom(4096)
        srv.sendto(data, peer)


def attempt(proto, addr, port):
    msg = b"probe\n"
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(0.25)
    try:
        s.connect((addr, port))
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return (got == msg, "echo" if got == msg else "short reply %r" % got)
    except OSError as e:
        return (False, type(e).__name__)
    finally:
        s.close()


def probe(log, stop, secs, name, proto, addr, port, period_ms):
    end = time.monotonic() + secs
    with open(log, "a", buffering=1) as out:
        while time.monotonic() < end and not os.path.exists(stop):
            t = now_ms()
            ok, detail = attempt(proto, addr, port)
            out.write("%d %s %s %s\n" % (t, name, "ok" if ok else "fail", detail))
            rest = period_ms / 1000.0 - (now_ms() - t) / 1000.0
            if rest > 0:
                time.sleep(rest)


def keep(log, stop, secs, name, addr, port):
    end = time.monotonic() + secs
    sent = 0
    with open(log, "a", buffering=1) as out:
        try:
            s = socket.create_connection((addr, port), timeout=2)
            s.settimeout(2)
            while time.monotonic() < end and not os.path.exists(stop):
                line = b"line %d\n" % sent
                s.sendall(line)
                got = b""
                while len(got) < len(line):
                    chunk = s.recv(4096)
                    if not chunk:
                        raise OSError("closed by the peer")
                    got += chunk
                if got != line:
                    raise OSError("wrong echo %r" % got)
                sent += 1
                time.sleep(0.05)
            out.write("%d %s kept %d\n" % (now_ms(), name, sent))
        except OSError as e:
            out.write("%d %s broken after %d: %s\n" % (now_ms(), name, sent, e))


def gap(log, since, name):
    """Print 'GAP <ms> <first-fail-ms-after-since> <first-ok-ms-after-since>' or 'NOFAIL <n>'."""
    rows = []
    with open(log) as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] == name and int(p[0]) >= since:
                rows.append((int(p[0]), p[2]))
    fail = next((t for t, s in rows if s == "fail"), None)
    if fail is None:
        print("NOFAIL %d" % len(rows))
        return
    ok = next((t for t, s in rows if s == "ok" and t > fail), None)
    if ok is None:
        print("NEVER %d %d" % (fail - since, len(rows)))
        return
    print("GAP %d %d %d" % (ok - fail, fail - since, ok - since))


def main(a):
    if a[0] == "tcp-echo":
        tcp_echo(int(a[1]))
    elif a[0] == "udp-echo":
        udp_echo(int(a[1]))
    elif a[0] == "probe":
        period = int(a[8]) if len(a) > 8 else 20
        probe(a[1], a[2], float(a[3]), a[4], a[5], a[6], int(a[7]), period)
    elif a[0] == "keep":
        keep(a[1], a[2], float(a[3]), a[4], a[5], int(a[6]))
    elif a[0] == "gap":
        gap(a[1], int(a[2]), a[3])
    else:
        sys.exit("unknown mode %s" % a[0])


if __name__ == "__main__":
    main(sys.argv[1:])
