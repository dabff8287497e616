#!/usr/bin/python3
"""What a client can make mcproxy send (docs/security.md): two clients on one mcproxy worker
(`threads: 1`) that shares one backend connection (`connections_per_server: 1`) to one real
memcached. Client A tries every smuggling and quiet-flag attack; client B's interleaved requests
must get exactly their own replies, B's keys must still be in memcached (read there directly),
memcached must never have run a flush it was not asked for, and mcproxy must never have found the
connection out of step (it and memcached agreed on every reply).

Usage: security_test.py      MCCACHE_BIN: directory holding mcproxy (default: build/bin)
Standard library only; the processes and clients are the abuse test's (tests/mcproxy/abuse).
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "abuse"))
from abuse_test import Client, Memcached, Proxy  # noqa: E402

BAD_KEY = b"CLIENT_ERROR key has a control character\r\n"
INVALID_FLAG = b"CLIENT_ERROR invalid flag\r\n"
ADMIN_OFF = b"CLIENT_ERROR admin commands are disabled\r\n"

# (name, bytes A sends, what A must get back before the MN of the "mn" that follows)
ATTACKS = [
    ("nul smuggles flush_all in a data block", b"set a\x00 0 0 11\r\nflush_all\r\n\r\n", BAD_KEY),
    ("nul smuggles a get", b"set a\x00 0 0 8\r\nget b0\r\n\r\n", BAD_KEY),
    ("nul after a whole command line", b"get b0\x00 flush_all\r\n", BAD_KEY),
    ("nul in a meta flag", b"mg b0 v O\x00flush_all\r\n", INVALID_FLAG),
    ("quiet flag q1", b"mg nokey q1 v\r\n", b""),
    ("quiet flag qq", b"mg nokey qq v\r\n", b""),
    ("quiet ms with q-prefixed flag", b"ms qa 1 quiet\r\nx\r\n", b""),
    ("two quiet flags", b"mg nokey q qq v\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
    ("flush_all noreply, admin off", b"flush_all noreply\r\n", ADMIN_OFF),
    ("verbosity noreply, admin off", b"verbosity 1 noreply\r\n", ADMIN_OFF),
    ("key with a tab", b"get b0\tb1\r\n", BAD_KEY),
    ("key with \\x01", b"set k\x01 0 0 1\r\nx\r\n", BAD_KEY),
    ("key with DEL", b"mg \x7f v\r\n", BAD_KEY),
    ("key with CR", b"delete b0\rb1\r\n", BAD_KEY),
    ("key with ESC in a multi-get", b"get b0 b1 \x1b[2J\r\n", BAD_KEY),
    ("unknown mg flag P", b"mg b0 P v\r\n", INVALID_FLAG),
    ("unknown mg flag E", b"mg b0 E1 v\r\n", INVALID_FLAG),
    ("unknown ms flag S", b"ms b0 1 S1\r\nx\r\n", INVALID_FLAG),
    ("unknown md flag", b"md b0 x\r\n", b"CLIENT_ERROR invalid or duplicate flag\r\n"),
    ("me with a flag", b"me b0 v\r\n", INVALID_FLAG),
    ("text noreply", b"set an 0 0 1 noreply\r\nx\r\n", b""),
    # As in memcached, the bad block is 1 + 2 bytes and the "\r\n" left over is an empty line.
    ("bad data chunk", b"set ab 0 0 1\r\nxyz\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"),
    ("over-long ms flags", b"ms b0 1 b c C1 F1 I k O q T1 M b c C F I k O q\r\nx\r\n",
     b"CLIENT_ERROR options flags too long\r\n"),
]

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"  {'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}",
          flush=True)


def memcached_stat(mc, name):
    c = Client(mc.port)
    c.send(b"stats\r\n")
    value = None
    while True:
        line = c.read_until(b"\r\n")
        if line == b"END\r\n":
            break
        parts = line.split()
        if parts[1].decode() == name:
            value = int(parts[2])
    c.sock.close()
    return value


def bystander_round(b, i, flushed=False):
    """B's requests, interleaved with A's: each must get its own reply."""
    key, value = f"b{i % 10}".encode(), f"value-{i % 10}".encode()
    want = b"END\r\n" if flushed else (
        b"VALUE " + key + b" 0 %d\r\n" % len(value) + value + b"\r\nEND\r\n")
    fresh = f"fresh{i}".encode()
    ok = b.call(b"set " + fresh + b" 0 0 %d\r\n" % len(fresh) + fresh + b"\r\n") == b"STORED\r\n"
    got = b.get(b"get " + key + b"\r\n")
    ok = ok and got == want
    got_mg = b.call(b"mg " + fresh + b" v\r\n") + b.read_until(b"\r\n")
    ok = ok and got_mg == b"VA %d\r\n" % len(fresh) + fresh + b"\r\n"
    return ok, got


def attack(a, b, name, attack_bytes, expected, round_no):
    a.send(attack_bytes + b"mn\r\n")
    b_ok, b_got = bystander_round(b, round_no)
    a_got = a.read_until(b"MN\r\n")
    check(f"A: {name}", a_got == expected + b"MN\r\n", f"got {a_got!r}")
    check(f"B unaffected by: {name}", b_ok, f"got {b_got!r}")


def keys_untouched(mc, what):
    direct = Client(mc.port)
    for i in range(10):
        key, value = f"b{i}".encode(), f"value-{i}".encode()
        got = direct.get(b"get " + key + b"\r\n")
        if got != b"VALUE " + key + b" 0 %d\r\n" % len(value) + value + b"\r\nEND\r\n":
            check(f"B's keys still in memcached {what}", False, f"{key!r}: {got!r}")
            return
    direct.sock.close()
    check(f"B's keys still in memcached {what}", True)


def no_out_of_step(proxy, what):
    with open(proxy.log_path, "rb") as f:
        log = f.read()
    check(f"mcproxy never found the connection out of step {what}",
          b"out of step" not in log and b"failing" not in log, log[-300:].decode(errors="replace"))


def main():
    mc = Memcached()
    work = tempfile.mkdtemp(prefix="mccache-security-")
    shared = {"threads": 1, "backend": {"connections_per_server": 1}}
    proxies = []
    try:
        print("admin_commands off", flush=True)
        before = memcached_stat(mc, "curr_connections")
        proxy = Proxy(work, [mc.endpoint], dict(shared, admin_commands=False))
        proxies.append(proxy)
        a, b = Client(proxy.port), Client(proxy.port)
        for i in range(10):
            v = f"value-{i}".encode()
            assert b.call(b"set b%d 0 0 %d\r\n" % (i, len(v)) + v + b"\r\n") == b"STORED\r\n"
        # A and B are on one worker, so they share its one connection to memcached.
        after = memcached_stat(mc, "curr_connections")
        check("mcproxy holds one backend connection, shared by A and B", after == before + 1,
              f"{before} -> {after}")
        for n, (name, attack_bytes, expected) in enumerate(ATTACKS):
            attack(a, b, name, attack_bytes, expected, n)
        # Everything at once, in one write: the replies still pair up.
        a.send(b"".join(x for _, x, _ in ATTACKS) + b"mn\r\n")
        b_ok, b_got = bystander_round(b, 99)
        a_got = a.read_until(b"MN\r\n")
        check("A: every attack in one write", a_got == b"".join(e for _, _, e in ATTACKS) + b"MN\r\n",
              f"got {a_got!r}")
        check("B unaffected by every attack in one write", b_ok, f"got {b_got!r}")
        keys_untouched(mc, "(admin_commands off)")
        check("memcached ran no flush_all", memcached_stat(mc, "cmd_flush") == 0)
        no_out_of_step(proxy, "(admin_commands off)")

        print("admin_commands on", flush=True)
        proxy = Proxy(work, [mc.endpoint], dict(shared, admin_commands=True))
        proxies.append(proxy)
        a, b = Client(proxy.port), Client(proxy.port)
        # A delayed flush leaves B's keys readable now, so the cache can still be checked.
        attack(a, b, "flush_all 3600 noreply", b"flush_all 3600 noreply\r\n", b"", 200)
        attack(a, b, "verbosity noreply", b"verbosity 1 noreply\r\n", b"", 201)
        attack(a, b, "flush_all 3600 (answered)", b"flush_all 3600\r\n", b"OK\r\n", 202)
        keys_untouched(mc, "(after delayed flushes)")
        check("memcached ran each flush_all asked for, no more",
              memcached_stat(mc, "cmd_flush") == 2)
        # A real flush: B's next get is a miss, and its replies stay in step.
        a.send(b"flush_all noreply\r\nmn\r\n")
        check("A: flush_all noreply answers nothing", a.read_until(b"MN\r\n") == b"MN\r\n")
        check("B after the flush: its key is gone, its reply is its own",
              b.get(b"get b0\r\n") == b"END\r\n")
        ok, got = bystander_round(b, 203, flushed=True)
        check("B after the flush: set/mg stay in step", ok, f"got {got!r}")
        no_out_of_step(proxy, "(admin_commands on)")

        # The same attacks on memcached itself: what mcproxy stands between.
        print("memcached alone (what the attacks do without mcproxy)", flush=True)
        direct = Client(mc.port)
        flushes = memcached_stat(mc, "cmd_flush")
        direct.send(b"set a\x00 0 0 11\r\nflush_all\r\n\r\nmn\r\n")
        check("memcached alone: one smuggling request gets three replies",
              direct.read_until(b"MN\r\n") == b"ERROR\r\nOK\r\nERROR\r\nMN\r\n")
        check("memcached alone: the smuggled flush_all ran",
              memcached_stat(mc, "cmd_flush") == flushes + 1)
        direct.send(b"mg nokey q1 v\r\nmg nokey qq v\r\nflush_all noreply\r\nmn\r\n")
        check("memcached alone: q1, qq and flush_all noreply answer nothing",
              direct.read_until(b"MN\r\n") == b"MN\r\n")
        direct.sock.close()
    except (OSError, ConnectionError) as e:  # a reply that never came: out of step
        check("every reply arrived", False, repr(e))
    finally:
        for p in proxies:
            p.stop()
        mc.stop()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
