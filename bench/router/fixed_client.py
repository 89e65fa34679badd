#!/usr/bin/env python3
"""Sends exactly TOTAL keep-alive GET requests to 127.0.0.1:PORT over CONNS connections (each
sends its next request when its response has arrived) and checks every response is a 200.
A fixed request count, not a duration, so that a proxy's instruction and system-call counts can
be divided by it (bench/router/instructions.sh).

    fixed_client.py PORT TOTAL CONNS [AGE THEN SYNC]

With AGE THEN SYNC: after the TOTAL requests (a warm-up) it waits AGE seconds with the
connections open, creates the file SYNC, waits for the file SYNC + "ed" to appear (the caller
has zeroed its counters), then sends THEN more requests on the same connections.
"""
import os, selectors, socket, sys, time

port, total, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
req = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
sel = selectors.DefaultSelector()
socks = []
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sel.register(s, selectors.EVENT_READ)
    socks.append(s)


def run(total):
    """Sends `total` requests, at most one outstanding per connection; returns the non-200s."""
    sent = done = bad = 0
    bufs = {s: b"" for s in socks}
    for s in socks[:total]:
        s.sendall(req)
        sent += 1
    while done < total:
        for key, _ in sel.select():
            s = key.fileobj
            d = s.recv(65536)
            if not d:
                sys.exit("connection closed by the proxy")
            b = bufs[s] + d
            while True:
                h = b.find(b"\r\n\r\n")
                if h < 0:
                    break
                head = b[:h].decode("latin-1")
                cl = 0
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        cl = int(v)
                if len(b) < h + 4 + cl:
                    break
                bad += not head.startswith("HTTP/1.1 200")
                b = b[h + 4 + cl:]
                done += 1
                if sent < total:
                    s.sendall(req)
                    sent += 1
            bufs[s] = b
    return bad


bad = run(total)
if len(sys.argv) > 6:
    age, then, sync = float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    time.sleep(age)
    open(sync, "w").close()
    while not os.path.exists(sync + "ed"):
        time.sleep(0.02)
    bad += run(then)
print(f"{bad} responses not 200")
sys.exit(1 if bad else 0)
