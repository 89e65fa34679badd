#!/usr/bin/env python3
"""Sends exactly TOTAL keep-alive GET requests to 127.0.0.1:PORT over CONNS connections (each
sends its next request when its response has arrived) and checks every response is a 200.
A fixed request count, not a duration, so that a proxy's instruction and system-call counts can
be divided by it (bench/router/instructions.sh).

    fixed_client.py PORT TOTAL CONNS
"""
import selectors, socket, sys
port, total, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
req = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
sel = selectors.DefaultSelector()
sent = done = bad = 0
def send(s):
    global sent
    if sent < total:
        sent += 1
        s.sendall(req)
        return True
    return False
bufs = {}
for _ in range(min(conns, total)):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    bufs[s] = b""
    sel.register(s, selectors.EVENT_READ)
    send(s)
active = len(bufs)
while done < sent or sent < total:
    for key, _ in sel.select():
        s = key.fileobj
        d = s.recv(65536)
        if not d:
            print("connection closed", file=sys.stderr); sys.exit(1)
        b = bufs[s] + d
        while True:
            h = b.find(b"\r\n\r\n")
            if h < 0: break
            head = b[:h].decode("latin-1")
            cl = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length": cl = int(v)
            if len(b) < h + 4 + cl: break
            if not head.startswith("HTTP/1.1 200"): bad += 1
            b = b[h + 4 + cl:]
            done += 1
            send(s)
        bufs[s] = b
print(f"{done} responses, {bad} not 200")
sys.exit(1 if bad else 0)
