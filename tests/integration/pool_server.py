#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""A mining-pool stand-in for tests: runs in the pool network namespace,
accepts TCP on the given ports and UDP on the given ports, and logs one line
per connection or datagram: "tcp|udp DST_ADDR DST_PORT FIRST_BYTES_REPR".
Stops by itself after --seconds."""
import argparse
import selectors
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--tcp", type=int, nargs="*", default=[])
ap.add_argument("--udp", type=int, nargs="*", default=[])
ap.add_argument("--log", required=True)
ap.add_argument("--seconds", type=int, default=600)
args = ap.parse_args()

sel = selectors.DefaultSelector()
for fam, any_addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for port in args.tcp:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((any_addr, port))
        s.listen(64)
        sel.register(s, selectors.EVENT_READ, "tcp")
    for port in args.udp:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((any_addr, port))
        sel.register(s, selectors.EVENT_READ, "udp")

log = open(args.log, "a", buffering=1)
log.write("ready\n")
deadline = time.time() + args.seconds
while time.time() < deadline:
    for key, _ in sel.select(timeout=0.5):
        s = key.fileobj
        if key.data == "tcp":
            c, _ = s.accept()
            c.settimeout(1.0)
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            local = c.getsockname()
            log.write(f"tcp {local[0]} {local[1]} {data!r}\n")
            c.close()
        else:
            data, _ = s.recvfrom(4096)
            local = s.getsockname()
            log.write(f"udp {local[0]} {local[1]} {data!r}\n")
