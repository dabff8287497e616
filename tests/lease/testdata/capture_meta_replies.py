#!/usr/bin/python3
# Captures memcached's answers to the meta commands lease/ sends, for the fixtures in
# tests/lease/captured_replies.h. Usage: capture_meta_replies.py PORT (a memcached you started,
# e.g. `memcached -u root -p PORT -l 127.0.0.1`). Prints each request and the raw reply bytes.
import socket, sys, time

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))

def send(req, wait=0.05):
    sock.sendall(req)
    time.sleep(wait)
    sock.setblocking(False)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    sock.setblocking(True)
    print(repr(req), "->", repr(data))
    return data

steps = [
    b"mg k1 v f c t N10\r\n",            # miss: vivify, we win
    b"mg k1 v f c t N10\r\n",            # placeholder: someone else holds it
    b"mg k1 v f c t\r\n",                # plain get of a placeholder
    b"get k1\r\n",                       # text get of a placeholder (pitfall)
    b"ms k1 5 C999 F7 T0\r\nhello\r\n",  # wrong CAS
    b"mg k1 c\r\n",
]
for s in steps:
    send(s)
cas = send(b"mg k1 c\r\n").split()[1][1:]
send(b"ms k1 5 C" + cas + b" F7 T0\r\nhello\r\n")  # lease holder sets
send(b"mg k1 v f c t N10\r\n")                      # hit
send(b"md k1 I T30\r\n")                            # invalidate, keep stale
send(b"get k1\r\n")                                 # text get returns the stale value (pitfall)
send(b"mg k1 v f c t N10\r\n")                      # first after invalidation wins
send(b"mg k1 v f c t N10\r\n")                      # later ones see Z
send(b"mg k1 v f c t\r\n")                          # plain mg
send(b"md k1 I T30\r\n")                            # gives the win back
r = send(b"mg k1 v f c t\r\n")                      # plain mg takes the win
cas = [t for t in r.split(b"\r\n")[0].split() if t.startswith(b"c")][0][1:]
send(b"md k1 I T30 C" + cas + b"\r\n")              # give back only if unchanged
send(b"md k1 I T30 C1\r\n")                         # CAS mismatch
send(b"mg k1 v f c t N10\r\n")
send(b"md k1 q\r\n")                                # quiet delete of existing
send(b"md k1 q\r\n")                                # quiet delete of missing
send(b"md k1 I q T30\r\n")                          # quiet invalidate of missing
send(b"mn\r\n")
send(b"md k1\r\n")
send(b"ms k1 5 C5 F7 T0\r\nhello\r\n")              # CAS on a missing item
send(b"ms k2 5 F7 T0\r\nhello\r\n")
send(b"ms k2 5 T-1\r\nhello\r\n")                   # negative exptime
send(b"mg k2 v\r\n")
send(b"ms k2 3 F4294967295 T100\r\nabc\r\n")
send(b"mg k2 v f c t\r\n")
send(b"mg k2 v f c t N10\r\n")
send(b"md k2 I T30\r\n")
send(b"md k2 I T30\r\n")                            # invalidate an already stale item
send(b"md k2 I T30 C1\r\n")
send(b"mg k3 v f c t\r\n")                          # plain miss
send(b"mg k3 c\r\n")
# The presence probe ahead of a plain delete/touch/cas: live item, stale copy (first probe takes
# the win, later ones see Z), miss, placeholder; and memcached's own text delete of a stale copy.
send(b"set k4 7 0 5\r\nhello\r\n")
send(b"mg k4 s c t k\r\n")
send(b"md k4 I T30\r\n")
send(b"mg k4 s c t k\r\n")
send(b"mg k4 s c t k\r\n")
send(b"delete k4\r\n")                              # DELETED: text delete sees the stale copy
send(b"mg k5 s c t k\r\n")
send(b"mg k6 v f c t N10\r\n")
send(b"mg k6 s c t k\r\n")
send(b"stats\r\n")
