#!/usr/bin/env python3
"""Time from a registration returning until its name answers (bench/dns-bench.sh).

    dns-poll.py SERVER NAME EXPECT_IP STDIN_FILE -- CMD [ARGS...]

Runs CMD with STDIN_FILE on its standard input (the registration: a CNI ADD,
or a config write + SIGHUP), and as soon as it returns asks SERVER for NAME
(A) every 0.2 ms (each try waits at most 20 ms) until an answer holds
EXPECT_IP. Prints `add_ms=<CMD's run time> answer_ms=<after CMD returned>`;
exit 2 when no answer came within 5 s. Run it inside the client's network
namespace.
"""
import random
import socket
import struct
import subprocess
import sys
import time


def query(name):
    qid = random.randint(0, 0xFFFF)
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        msg += bytes([len(label)]) + label.encode()
    return qid, msg + b"\0" + struct.pack(">HH", 1, 1)


def main():
    server, name, expect, stdin_file = sys.argv[1:5]
    cmd = sys.argv[sys.argv.index("--") + 1 :]
    want = socket.inet_aton(expect)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.02)
    with open(stdin_file, "rb") as f:
        t_start = time.monotonic()
        done = subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t_add = time.monotonic()
    if done.returncode != 0:
        print(f"registration failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
        return 1
    while time.monotonic() - t_add < 5:
        qid, msg = query(name)
        try:
            s.sendto(msg, (server, 53))
            reply = s.recv(4096)
            if struct.unpack(">H", reply[:2])[0] == qid and want in reply[12:]:
                now = time.monotonic()
                print(f"add_ms={(t_add - t_start) * 1000:.2f} answer_ms={(now - t_add) * 1000:.3f}")
                return 0
        except (socket.timeout, OSError):
            pass
        time.sleep(0.0002)
    print("answer_ms=timeout")
    return 2


if __name__ == "__main__":
    sys.exit(main())
