#!/usr/bin/python3
"""Abuse tests of mcproxy: a real memcached and the real mcproxy binary on loopback, driven by
clients that misbehave on purpose, with a well-behaved bystander client measuring what the
others do to it. Every check prints its figures (RSS, bytes, latencies, times).

Usage: abuse_test.py [--only NAME[,NAME...]] [--figures FILE]
  NAME: idle_connections fd_limit pipeline slowloris sizes dead_backend
  MCCACHE_BIN: directory holding mcproxy (default: build/bin of this checkout)
  MCPROXY_ABUSE_STRICT=1: known mcproxy defects (KNOWN_DEFECTS) fail the run too

Exits 0 when every expectation holds, except those listed in KNOWN_DEFECTS, which are printed as
KNOWN DEFECT and do not fail the run until the defect is fixed (then they print "PASS (listed)"
and should be removed from the list). Standard library only.
"""
import argparse
import errno
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BIN = os.environ.get("MCCACHE_BIN", os.path.join(REPO, "build", "bin"))
STRICT = os.environ.get("MCPROXY_ABUSE_STRICT") == "1"
MiB = 1 << 20

# Expectations mcproxy does not meet yet. Each key is an expectation id used below; the value says
# what goes wrong. A failing expectation listed here is reported, not fatal.
KNOWN_DEFECTS = {
}

results = []   # (id, status, detail)
figures = {}   # check -> {name: value}


def figure(check, name, value, unit=""):
    figures.setdefault(check, {})[name] = value
    shown = f"{value:,.3f}" if isinstance(value, float) else (
        f"{value:,}" if isinstance(value, int) else str(value))
    print(f"  [{check}] {name} = {shown}{(' ' + unit) if unit else ''}", flush=True)


def expect(eid, ok, detail=""):
    ok = bool(ok)
    if ok:
        status = "PASS (listed)" if eid in KNOWN_DEFECTS else "PASS"
    else:
        status = "KNOWN DEFECT" if eid in KNOWN_DEFECTS and not STRICT else "FAIL"
    results.append((eid, status, detail))
    print(f"  {status:12} {eid}{': ' + detail if detail else ''}", flush=True)
    return ok


# ---------------------------------------------------------------------------------------------
# Processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_files_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return -1


class Memcached:
    def __init__(self, extra=(), port=None):
        self.port = port or free_port()
        args = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-t", "2",
                "-m", "512"] + list(extra)
        if os.geteuid() == 0:
            args += ["-u", "root"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port, 5):
            self.stop()
            raise RuntimeError(f"memcached did not start on {self.port}")

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Proxy:
    """The real mcproxy binary with a temporary config; `section` is merged into "mcproxy"."""

    def __init__(self, workdir, servers, section=None, nofile=None):
        self.port, self.metrics_port = free_port(), free_port()
        mc = {"listen": f"127.0.0.1:{self.port}",
              "metrics_listen": f"127.0.0.1:{self.metrics_port}", "threads": 2}
        for k, v in (section or {}).items():
            if isinstance(v, dict):
                mc.setdefault(k, {}).update(v)
            else:
                mc[k] = v
        config = {"datacenter": "abuse", "log": {"level": "warn"},
                  "pool": {"servers": servers}, "mcproxy": mc}
        self.config_path = os.path.join(workdir, f"mcproxy_{self.port}.json")
        self.log_path = self.config_path + ".log"
        with open(self.config_path, "w") as f:
            json.dump(config, f)

        def limit_files():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([os.path.join(BIN, "mcproxy"), "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit_files)
        if not wait_port(self.port, 5):
            self.stop()
            raise RuntimeError(f"mcproxy did not start; see {self.log_path}")
        # The port probe was a connection too; let the proxy see it close.
        try:
            self.wait_connections(lambda n: n == 0, 2)
        except OSError:
            self.stop()
            raise

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        return rss_kib(self.pid)

    def log_bytes(self):
        return os.path.getsize(self.log_path)

    def metrics(self):
        """{name or name{labels}: float} from /metrics."""
        # The client port listens a moment before the metrics port does.
        deadline = time.monotonic() + 5
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                            timeout=5) as r:
                    text = r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or not self.alive():
                    raise
                time.sleep(0.05)
        out = {}
        for line in text.splitlines():
            m = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)", line)
            if m:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return out

    def connections(self):
        return int(self.metrics().get("mcproxy_connections", -1))

    def wait_connections(self, pred, timeout):
        deadline = time.monotonic() + timeout
        n = self.connections()
        while not pred(n) and time.monotonic() < deadline:
            time.sleep(0.05)
            n = self.connections()
        return n

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.print_log_summary()

    def print_log_summary(self, shown=6):
        """What mcproxy logged, each distinct message once with its count (timestamps off)."""
        counts = {}
        with open(self.log_path, "rb") as f:
            for line in f:
                text = re.sub(r"^\S+ (\w+) \[[^]]*\] ", r"\1 ", line.decode(errors="replace"))
                text = re.sub(r"\d+", "N", text.strip())
                counts[text] = counts.get(text, 0) + 1
        for text, n in sorted(counts.items(), key=lambda kv: -kv[1])[:shown]:
            print(f"  mcproxy log {n:>9,} x {text[:150]}")


# ---------------------------------------------------------------------------------------------
# Clients

class Client:
    """A blocking text-protocol client with a timeout on every read."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, term=b"\r\n"):
        deadline = time.monotonic() + self.timeout
        while term not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {term!r} after {self.timeout}s; have {self.buf[:200]!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"closed by peer; have {self.buf[:200]!r}")
            self.buf += chunk
        end = self.buf.index(term) + len(term)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def call(self, request, term=b"\r\n"):
        self.send(request)
        return self.read_until(term)

    def read_exact(self, n):
        deadline = time.monotonic() + self.timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.buf)} of {n} bytes after {self.timeout}s")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed by peer")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def get(self, request):
        """Sends a retrieval and reads its whole reply: VALUE blocks up to END, or an error line."""
        self.send(request)
        out = b""
        while True:
            line = self.read_until(b"\r\n")
            out += line
            if not line.startswith(b"VALUE "):
                return out
            out += self.read_exact(int(line.split()[3]) + 2)

    def closed_by_peer(self, timeout):
        """True if the peer closes (EOF or reset) within `timeout`, reading and dropping data."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                if not self.sock.recv(1 << 16):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
            except (socket.timeout, TimeoutError):
                return False

    def close(self):
        self.sock.close()


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Bystander:
    """A well-behaved client (several connections, so it lands on every proxy thread) doing
    set + get of its own keys in a loop and checking every reply, while others misbehave."""

    def __init__(self, port, connections=4, interval=0.005, timeout=10.0, keys=None):
        self.port, self.n, self.interval, self.timeout = port, connections, interval, timeout
        self.keys = keys or [f"bystander:{i}" for i in range(64)]
        self.started = time.monotonic()
        self.latencies = []  # seconds per request
        self.errors = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(10)

    def _run(self):
        try:
            clients = [Client(self.port, self.timeout) for _ in range(self.n)]
        except OSError as e:
            self.errors.append(f"connect: {e}")
            return
        i = 0
        while not self.stop_event.is_set():
            c = clients[i % self.n]
            key, value = self.keys[i % len(self.keys)], f"v{i:07d}".encode()
            try:
                t0 = time.monotonic()
                got = c.call(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(value), value))
                t1 = time.monotonic()
                want = b"STORED\r\n"
                if got == want:
                    got = c.get(f"get {key}\r\n".encode())
                    want = b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key.encode(), len(value), value)
                t2 = time.monotonic()
                self.latencies += [t1 - t0, t2 - t1]
                if got != want:
                    self.errors.append(f"{key}: got {got[:80]!r}, want {want[:80]!r}")
            except (OSError, TimeoutError, ConnectionError) as e:
                self.latencies.append(time.monotonic() - t0)
                self.errors.append(f"{key} at {t0 - self.started:.2f} s: "
                                   f"{type(e).__name__} after {time.monotonic() - t0:.2f} s")
                try:
                    clients[i % self.n] = Client(self.port, self.timeout)
                except OSError:
                    pass
            i += 1
            self.stop_event.wait(self.interval)
        for c in clients:
            c.close()

    def report(self, check):
        lat = [x * 1000 for x in self.latencies]
        figure(check, "bystander requests", len(lat))
        figure(check, "bystander errors", len(self.errors))
        if lat:
            figure(check, "bystander p50 ms", percentile(lat, 50))
            figure(check, "bystander p99 ms", percentile(lat, 99))
            figure(check, "bystander max ms", max(lat))
        return lat

    def expect_unaffected(self, check, p99_ms=200.0, max_ms=1000.0, min_requests=50):
        lat = self.report(check)
        expect(f"{check}.bystander_correct", not self.errors,
               "; ".join(self.errors[:3]) if self.errors else f"{len(lat)} replies all correct")
        expect(f"{check}.bystander_served", len(lat) >= min_requests,
               f"{len(lat)} requests (want >= {min_requests})")
        if lat:
            expect(f"{check}.bystander_latency",
                   percentile(lat, 99) <= p99_ms and max(lat) <= max_ms,
                   f"p99 {percentile(lat, 99):.1f} ms (bound {p99_ms}), "
                   f"max {max(lat):.1f} ms (bound {max_ms})")


def timed_requests(port, n, check):
    """n sequential set/get round trips on a fresh connection; latencies in ms, all checked."""
    c = Client(port)
    lat, bad = [], 0
    for i in range(n):
        value = f"fresh{i:05d}".encode()
        t0 = time.monotonic()
        r1 = c.call(b"set fresh:%d 0 0 %d\r\n%s\r\n" % (i, len(value), value))
        t1 = time.monotonic()
        r2 = c.get(b"get fresh:%d\r\n" % i)
        t2 = time.monotonic()
        lat += [(t1 - t0) * 1000, (t2 - t1) * 1000]
        if r1 != b"STORED\r\n" or r2 != b"VALUE fresh:%d 0 %d\r\n%s\r\nEND\r\n" % (
                i, len(value), value):
            bad += 1
    c.close()
    figure(check, "fresh client p50 ms", percentile(lat, 50))
    figure(check, "fresh client p99 ms", percentile(lat, 99))
    figure(check, "fresh client max ms", max(lat))
    return lat, bad


def raise_open_files(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------------------------
# Checks

def check_idle_connections(env):
    """10,000 idle clients (the default max_connections): memory per connection, the next one
    refused, a fresh client still served fast."""
    check, n = "idle_connections", 10000
    print(f"\n== {check}: {n:,} idle client connections", flush=True)
    proxy = Proxy(env.workdir, [env.memcached.endpoint])
    try:
        figure(check, "mcproxy open files limit", open_files_limit(proxy.pid))
        warm = Client(proxy.port)
        assert warm.call(b"set warm 0 0 1\r\nx\r\n") == b"STORED\r\n"
        warm.close()
        proxy.wait_connections(lambda c: c == 0, 2)
        time.sleep(0.2)
        rss0 = proxy.rss_kib()
        socks, t0 = [], time.monotonic()
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
                socks.append(s)
        except OSError as e:
            expect(f"{check}.opened", False, f"connection {len(socks) + 1}: {e}")
        figure(check, "seconds to open", time.monotonic() - t0)
        open_now = proxy.wait_connections(lambda c: c >= len(socks), 15)
        figure(check, "connections open (mcproxy_connections)", open_now)
        expect(f"{check}.all_accepted", open_now == n, f"{open_now} of {n} accepted")
        time.sleep(0.3)
        rss1 = proxy.rss_kib()
        figure(check, "RSS before KiB", rss0)
        figure(check, f"RSS with {n} idle KiB", rss1)
        per_conn = (rss1 - rss0) * 1024 / max(1, len(socks))
        figure(check, "RSS per idle connection bytes", round(per_conn))
        expect(f"{check}.memory_per_connection", per_conn <= 32 * 1024,
               f"{per_conn / 1024:.1f} KiB per idle connection (bound 32 KiB)")

        cpu0 = cpu_seconds(proxy.pid)
        time.sleep(1.0)
        figure(check, "mcproxy CPU while idle (fraction of a core)", cpu_seconds(proxy.pid) - cpu0)

        # One over the limit: told and closed, quickly.
        extra = Client(proxy.port, timeout=3)
        t0 = time.monotonic()
        try:
            refused = extra.read_until(b"\r\n")
        except (TimeoutError, ConnectionError) as e:
            refused = str(e).encode()
        figure(check, "refusal ms", (time.monotonic() - t0) * 1000)
        expect(f"{check}.over_limit_refused",
               refused == b"SERVER_ERROR too many open connections\r\n" and
               extra.closed_by_peer(3), repr(refused))
        extra.close()

        # Some of the idle ones are still served.
        sample_ok = 0
        for s in socks[:: max(1, len(socks) // 100)]:
            s.sendall(b"version\r\n")
            s.settimeout(5)
            if s.recv(100).startswith(b"VERSION mcproxy"):
                sample_ok += 1
        expect(f"{check}.idle_still_served", sample_ok == len(socks[:: max(1, len(socks) // 100)]),
               f"{sample_ok} sampled idle connections answered `version`")

        # Make room for exactly one more, then a fresh client must be fast and correct.
        socks.pop().close()
        proxy.wait_connections(lambda c: c <= n - 1, 5)
        lat, bad = timed_requests(proxy.port, 200, check)
        expect(f"{check}.fresh_client_correct", bad == 0, f"{bad} wrong replies of 400")
        expect(f"{check}.fresh_client_fast", percentile(lat, 99) <= 20 and max(lat) <= 200,
               f"p99 {percentile(lat, 99):.2f} ms (bound 20), max {max(lat):.2f} ms (bound 200)")

        t0 = time.monotonic()
        for s in socks:
            s.close()
        left = proxy.wait_connections(lambda c: c == 0, 15)
        figure(check, "seconds until all closed", time.monotonic() - t0)
        expect(f"{check}.all_released", left == 0, f"{left} still open")
        time.sleep(0.3)
        figure(check, "RSS after close KiB", proxy.rss_kib())
        expect(f"{check}.alive", proxy.alive(), "mcproxy still running")
    finally:
        proxy.stop()


def check_fd_limit(env):
    """max_connections (10000) above the process's open-files limit: what running out of file
    descriptors does to mcproxy."""
    check, nofile, n = "fd_limit", 256, 400
    print(f"\n== {check}: {n} clients against an mcproxy limited to {nofile} open files",
          flush=True)
    proxy = Proxy(env.workdir, [env.memcached.endpoint], nofile=nofile)
    socks = []
    try:
        figure(check, "mcproxy open files limit", open_files_limit(proxy.pid))
        bystander = Bystander(proxy.port, connections=2)  # connected before the flood
        with bystander:
            time.sleep(0.2)
            log0, cpu0 = proxy.log_bytes(), cpu_seconds(proxy.pid)
            for _ in range(n):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", proxy.port))
                socks.append(s)
            time.sleep(2.0)
            cpu = cpu_seconds(proxy.pid) - cpu0
            log_growth = proxy.log_bytes() - log0
        try:
            # Served by a thread of the same process: it needs a file descriptor too.
            urllib.request.urlopen(f"http://127.0.0.1:{proxy.metrics_port}/metrics", timeout=1)
            figure(check, "/metrics at the limit", "served")
        except OSError as e:
            figure(check, "/metrics at the limit", f"not served ({e})")
        figure(check, "mcproxy CPU seconds over 2 s at the limit", cpu)
        figure(check, "log bytes written over 2 s", log_growth)
        expect(f"{check}.no_spin", cpu <= 0.5, f"{cpu:.2f} CPU s in 2 s (bound 0.5)")
        expect(f"{check}.log_bounded", log_growth <= 64 * 1024,
               f"{log_growth:,} log bytes in 2 s (bound 64 KiB)")
        bystander.expect_unaffected(check)
        for s in socks:
            s.close()
        socks.clear()
        t0, served = time.monotonic(), False
        while time.monotonic() - t0 < 5 and not served:
            try:
                c = Client(proxy.port, timeout=1)
                served = c.call(b"version\r\n").startswith(b"VERSION mcproxy")
                c.close()
            except (OSError, TimeoutError, ConnectionError):
                time.sleep(0.1)
        figure(check, "seconds until a new client is served", time.monotonic() - t0)
        expect(f"{check}.recovers", served, "a new client is served once the others left")
        expect(f"{check}.alive", proxy.alive(), "mcproxy still running")
    finally:
        for s in socks:
            s.close()
        proxy.stop()


def check_pipeline(env):
    """A client pipelining 100 MB without reading a single reply."""
    check, total = "pipeline", 100 * MiB
    print(f"\n== {check}: a client writes 100 MB of requests and never reads", flush=True)
    pipeline_bytes = 4 * MiB  # the default limits.max_pipeline_bytes
    proxy = Proxy(env.workdir, [env.memcached.endpoint])
    try:
        c = Client(proxy.port)
        value = b"v" * 4096
        assert c.call(b"set abuse:big 0 0 4096\r\n" + value + b"\r\n") == b"STORED\r\n"
        c.close()
        # Amplifying: 15 bytes in, 4 KiB out per request.
        run_non_reader(env, proxy, check + ".get", b"get abuse:big\r\n" * 4096, total,
                       expect_cut_off=True,
                       rss_bound_mib=2 * max(4 * pipeline_bytes, 64 * MiB) // MiB + 64)
        # Not amplifying: 64 KiB sets, 8-byte replies; flow control alone must bound memory.
        block = b"set abuse:flood 0 0 65536\r\n" + b"f" * 65536 + b"\r\n"
        run_non_reader(env, proxy, check + ".set", block * 16, total, expect_cut_off=False,
                       rss_bound_mib=64)
        expect(f"{check}.alive", proxy.alive(), "mcproxy still running")
    finally:
        proxy.stop()


def run_non_reader(env, proxy, check, chunk, total, expect_cut_off, rss_bound_mib,
                   time_budget=15.0, rss_guard_mib=1536):
    print(f"  -- {check}: {len(chunk):,}-byte writes until {total:,} bytes, never reading")
    rss0 = proxy.rss_kib()
    m0 = proxy.metrics()
    peak = [rss0]
    stop_monitor = threading.Event()

    def monitor():
        while not stop_monitor.is_set():
            peak[0] = max(peak[0], proxy.rss_kib())
            stop_monitor.wait(0.02)

    mon = threading.Thread(target=monitor, daemon=True)
    mon.start()
    sent, outcome, t0 = 0, "sent everything", time.monotonic()
    t_end = None
    with Bystander(proxy.port) as bystander:
        time.sleep(0.2)
        s = socket.create_connection(("127.0.0.1", proxy.port))
        s.setblocking(False)
        view = memoryview(chunk)
        off = 0
        last_progress = time.monotonic()
        while sent < total:
            now = time.monotonic()
            if now - t0 > time_budget:
                outcome = "time budget spent"
                break
            if (peak[0] - rss0) / 1024 > rss_guard_mib:
                outcome = f"stopped by the test: mcproxy RSS grew over {rss_guard_mib} MiB"
                break
            if now - last_progress > 2.5:
                outcome = "mcproxy stopped reading (back-pressure) for 2.5 s"
                break
            _, w, x = select.select([], [s], [s], 0.2)
            if not w and not x:
                continue
            try:
                n = s.send(view[off:])
            except BlockingIOError:
                continue
            except (ConnectionResetError, BrokenPipeError) as e:
                outcome = f"cut off by mcproxy ({errno.errorcode.get(e.errno, e.errno)})"
                t_end = time.monotonic()
                break
            sent += n
            off = (off + n) % len(chunk)
            last_progress = time.monotonic()
        if t_end is None:
            t_end = time.monotonic()
        elapsed = t_end - t0
        # If it was not cut off while writing, give mcproxy a moment to do it now.
        cut_off = outcome.startswith("cut off")
        if not cut_off and outcome != "sent everything" or expect_cut_off and not cut_off:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            try:
                s.send(b"get x\r\n")
                time.sleep(1.0)
                s.send(b"get x\r\n")
            except (ConnectionResetError, BrokenPipeError):
                cut_off = True
                outcome += "; cut off by mcproxy afterwards"
            except BlockingIOError:
                pass
            cut_off = cut_off or err in (errno.ECONNRESET, errno.EPIPE)
        rss_attack_end = proxy.rss_kib()
        time.sleep(0.3)
    stop_monitor.set()
    mon.join()
    s.close()
    time.sleep(0.5)
    m1 = proxy.metrics()
    figure(check, "outcome", outcome)
    figure(check, "bytes sent (accepted by the kernel)", sent)
    figure(check, "seconds", elapsed)
    figure(check, "bytes read by mcproxy",
           int(m1.get("mcproxy_client_bytes_in_total", 0) - m0.get("mcproxy_client_bytes_in_total", 0)))
    figure(check, "bytes written by mcproxy",
           int(m1.get("mcproxy_client_bytes_out_total", 0) -
               m0.get("mcproxy_client_bytes_out_total", 0)))
    figure(check, "RSS before KiB", rss0)
    figure(check, "RSS peak KiB", peak[0])
    figure(check, "RSS at the end of the attack KiB", rss_attack_end)
    figure(check, "RSS after the client left KiB", proxy.rss_kib())
    fail_key = f'mcproxy_backend_failures_total{{server="{env.memcached.endpoint}"}}'
    failures = int(m1.get(fail_key, 0) - m0.get(fail_key, 0))
    up = m1.get(f'mcproxy_server_up{{server="{env.memcached.endpoint}"}}')
    figure(check, "backend failures caused", failures)
    figure(check, "server_up afterwards", up)
    # One client's backlog on the shared backend connection must not count as the server failing.
    expect(f"{check}.backend_not_failed", failures == 0 and up == 1,
           f"{failures} backend failure(s) (request timed out), server_up {up}")
    growth_mib = (peak[0] - rss0) / 1024
    expect(f"{check}.rss_bounded", growth_mib <= rss_bound_mib,
           f"peak RSS growth {growth_mib:.0f} MiB (bound {rss_bound_mib} MiB)")
    if expect_cut_off:
        expect(f"{check}.cut_off", cut_off, outcome)
    else:
        expect(f"{check}.flow_controlled", outcome == "sent everything" or cut_off, outcome)
    bystander.expect_unaffected(check, max_ms=250.0 if expect_cut_off else 1000.0)


def check_slowloris(env):
    """Slow clients: half a command then silence, a command trickled a byte at a time, and big
    half-sent values, with idle_timeout_s = 2."""
    check, idle_s = "slowloris", 2
    print(f"\n== {check}: slow clients with limits.idle_timeout_s = {idle_s}", flush=True)
    proxy = Proxy(env.workdir, [env.memcached.endpoint], {"limits": {"idle_timeout_s": idle_s}})
    try:
        rss0 = proxy.rss_kib()
        with Bystander(proxy.port, timeout=idle_s + 5) as bystander:
            # 1. Half a command, then nothing: 100 half lines, 100 half data blocks.
            silent = []
            for i in range(200):
                s = socket.create_connection(("127.0.0.1", proxy.port))
                s.sendall(b"get slow:%d" % i if i % 2 else b"set slow:%d 0 0 10\r\nhalf" % i)
                silent.append(s)
            t0 = time.monotonic()
            closed_at = wait_closed(silent, t0 + idle_s + 3)
            times = [t - t0 for t in closed_at.values()]
            figure(check + ".silent", "clients", len(silent))
            figure(check + ".silent", "closed", len(times))
            if times:
                figure(check + ".silent", "first closed after s", min(times))
                figure(check + ".silent", "last closed after s", max(times))
            expect(f"{check}.silent_closed", len(times) == len(silent) and
                   max(times) <= idle_s + 1.5,
                   f"{len(times)}/{len(silent)} closed, last after "
                   f"{max(times) if times else float('nan'):.2f} s (bound {idle_s + 1.5} s)")
            for s in silent:
                s.close()

            # 2. A command trickled one byte every idle_s / 4: never a complete request.
            trickle = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(20)]
            for s in trickle:
                s.sendall(b"get ")
            t0 = time.monotonic()
            deadline, step, sent_bytes = t0 + 3 * idle_s, idle_s / 4, 0
            closed_at = {}
            next_byte = t0 + step
            while time.monotonic() < deadline and len(closed_at) < len(trickle):
                closed_at.update(wait_closed([s for s in trickle if s not in closed_at],
                                             min(next_byte, deadline)))
                if time.monotonic() >= next_byte:
                    for s in trickle:
                        if s not in closed_at:
                            try:
                                s.send(b"k")
                            except OSError:
                                closed_at[s] = time.monotonic()
                    sent_bytes += 1
                    next_byte += step
            times = [t - t0 for t in closed_at.values()]
            figure(check + ".trickle", "clients", len(trickle))
            figure(check + ".trickle", "bytes trickled per client", sent_bytes)
            figure(check + ".trickle", "seconds watched", time.monotonic() - t0)
            figure(check + ".trickle", "closed", len(times))
            expect(f"{check}.trickle_closed", len(times) == len(trickle) and
                   max(times) <= idle_s + 1.5,
                   f"{len(times)}/{len(trickle)} closed within {time.monotonic() - t0:.1f} s "
                   f"(want all, {idle_s} s after the last complete request)")
            for s in trickle:
                s.close()

            # 3. Big values stopped one byte short: what each costs, and that they go too.
            value_bytes, n = 1 * MiB, 40
            proxy.wait_connections(lambda c: c <= 4, 3)
            rss1 = proxy.rss_kib()
            big = []
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", proxy.port))
                s.sendall(b"set slowbig:%d 0 0 %d\r\n" % (i, value_bytes) +
                          b"b" * (value_bytes - 1))
                big.append(s)
            t0 = time.monotonic()
            time.sleep(0.3)
            rss2 = proxy.rss_kib()
            per_client = (rss2 - rss1) * 1024 / n
            figure(check + ".big_partial", "clients", n)
            figure(check + ".big_partial", "RSS growth KiB", rss2 - rss1)
            figure(check + ".big_partial", "RSS per stalled 1 MiB value bytes", round(per_client))
            expect(f"{check}.big_partial_memory", per_client <= 3 * value_bytes,
                   f"{per_client / MiB:.2f} MiB per client holding a 1 MiB partial value "
                   f"(bound 3 MiB)")
            closed_at = wait_closed(big, t0 + idle_s + 3)
            times = [t - t0 for t in closed_at.values()]
            expect(f"{check}.big_partial_closed", len(times) == n and max(times) <= idle_s + 1.5,
                   f"{len(times)}/{n} closed, last after "
                   f"{max(times) if times else float('nan'):.2f} s")
            for s in big:
                s.close()
            time.sleep(0.3)
            figure(check + ".big_partial", "RSS after they were closed KiB", proxy.rss_kib())
        figure(check, "RSS at start KiB", rss0)
        bystander.expect_unaffected(check)
        expect(f"{check}.alive", proxy.alive(), "mcproxy still running")
    finally:
        proxy.stop()


def wait_closed(socks, until):
    """{sock: time the peer closed it} for those closed (EOF or reset) before `until`."""
    closed = {}
    pending = list(socks)
    while pending:
        left = until - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select(pending, [], [], min(left, 0.1))
        for s in r:
            try:
                data = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                closed[s] = time.monotonic()
                pending.remove(s)
    return closed


def check_sizes(env):
    """Keys and values at and over the limits, and absurd lengths."""
    check = "sizes"
    print(f"\n== {check}: keys and values at and over the limits", flush=True)
    max_value = 1 * MiB  # the default limits.max_value_bytes
    proxy = Proxy(env.workdir, [env.memcached.endpoint])
    try:
        rss0 = proxy.rss_kib()
        c = Client(proxy.port, timeout=10)

        def usable(eid):
            return expect(eid + ".connection_usable",
                          c.call(b"version\r\n") == b"VERSION mcproxy-" +
                          env.version.encode() + b"\r\n", "next command answered")

        value = bytes((i * 7 + 13) % 251 for i in range(max_value))
        t0 = time.monotonic()
        got = c.call(b"set size:max 0 0 %d\r\n" % max_value + value + b"\r\n")
        expect(f"{check}.value_at_limit_stored", got == b"STORED\r\n", repr(got))
        got = c.call(b"get size:max\r\n", b"END\r\n")
        expect(f"{check}.value_at_limit_reads_back",
               got == b"VALUE size:max 0 %d\r\n" % max_value + value + b"\r\nEND\r\n",
               f"{len(got):,} bytes back")
        figure(check, "set+get of a 1 MiB value ms", (time.monotonic() - t0) * 1000)

        over = value + b"x"
        got = c.call(b"set size:over 0 0 %d\r\n" % (max_value + 1) + over + b"\r\n")
        expect(f"{check}.value_over_limit_refused",
               got == b"CLIENT_ERROR value too large\r\n", repr(got))
        usable(f"{check}.value_over_limit")
        got = c.call(b"get size:over\r\n", b"END\r\n")
        expect(f"{check}.value_over_limit_not_stored", got == b"END\r\n", repr(got))

        # The refused block arriving in pieces, with pauses: swallowed as it arrives.
        c.send(b"set size:over 0 0 %d\r\n" % (max_value + 1) + over[:1000])
        time.sleep(0.1)
        c.send(over[1000:500000])
        time.sleep(0.1)
        got = c.call(over[500000:] + b"\r\nget size:max\r\n", b"END\r\n")
        expect(f"{check}.value_over_limit_in_pieces",
               got == b"CLIENT_ERROR value too large\r\nVALUE size:max 0 %d\r\n" % max_value +
               value + b"\r\nEND\r\n", f"{got[:40]!r}...")

        # 64 MiB declared and sent: never buffered.
        declared = 64 * MiB
        c.send(b"set size:huge 0 0 %d\r\n" % declared)
        chunk = b"h" * MiB
        peak = proxy.rss_kib()
        for i in range(declared // MiB):
            c.send(chunk)
            if i % 8 == 0:
                peak = max(peak, proxy.rss_kib())
        got = c.call(b"\r\n")
        peak = max(peak, proxy.rss_kib())
        figure(check, "RSS growth while a 64 MiB refused value streams through KiB", peak - rss0)
        expect(f"{check}.huge_value_not_buffered",
               got == b"CLIENT_ERROR value too large\r\n" and peak - rss0 < 16 * 1024,
               f"{got!r}, RSS growth {(peak - rss0) / 1024:.1f} MiB (bound 16 MiB)")
        usable(f"{check}.huge_value")

        k250, k251 = b"k" * 250, b"k" * 251
        got = c.call(b"set " + k250 + b" 0 0 3\r\nabc\r\n")
        expect(f"{check}.key_250_stored", got == b"STORED\r\n", repr(got))
        got = c.call(b"get " + k250 + b"\r\n", b"END\r\n")
        expect(f"{check}.key_250_reads_back",
               got == b"VALUE " + k250 + b" 0 3\r\nabc\r\nEND\r\n", repr(got[:40]))
        got = c.call(b"set " + k251 + b" 0 0 3\r\nabc\r\n")
        expect(f"{check}.key_251_set_refused", got == b"CLIENT_ERROR key too long\r\n", repr(got))
        usable(f"{check}.key_251_set")
        for cmd in (b"get ", b"delete ", b"lease-get ", b"mg "):
            got = c.call(cmd + k251 + b"\r\n")
            expect(f"{check}.key_251_{cmd.decode().strip()}_refused",
                   got == b"CLIENT_ERROR key too long\r\n", repr(got))
        usable(f"{check}.key_251")

        absurd = [
            (b"set abs 0 0 99999999999999999999\r\n", b"CLIENT_ERROR bad command line format"),
            (b"set abs 0 0 -1\r\n", b"CLIENT_ERROR bad command line format"),
            (b"set abs 0 0 -99999999999999999999\r\n", b"CLIENT_ERROR bad command line format"),
            (b"set abs 0 0 0x10\r\n", b"CLIENT_ERROR bad command line format"),
            (b"set abs 99999999999999999999 0 1\r\nx\r\n", b"CLIENT_ERROR bad command line format"),
            (b"set abs 0 99999999999999999999 1\r\nx\r\n", b"CLIENT_ERROR bad command line format"),
            (b"cas abs 0 0 1 99999999999999999999\r\nx\r\n",
             b"CLIENT_ERROR bad command line format"),
            (b"ms abs 99999999999999999999 T0\r\n", b"CLIENT_ERROR bad command line format"),
            (b"lease-set abs 281474976710657 0 0 99999999999999999999\r\n",
             b"CLIENT_ERROR bad command line format"),
            (b"incr abs 99999999999999999999\r\n", b"CLIENT_ERROR invalid numeric delta argument"),
            (b"touch abs 99999999999999999999\r\n", b"CLIENT_ERROR invalid exptime argument"),
        ]
        for i, (req, want) in enumerate(absurd):
            got = c.call(req)
            expect(f"{check}.absurd_{i}", got == want + b"\r\n",
                   f"{req[:44]!r} -> {got!r}")
        usable(f"{check}.absurd")

        # A length that parses (2^63 - 1): refused; the connection then swallows what follows,
        # as for any refused block, so use a connection of its own.
        d = Client(proxy.port, timeout=5)
        got = d.call(b"set abs 0 0 9223372036854775807\r\n")
        expect(f"{check}.int64_max_length_refused", got == b"CLIENT_ERROR value too large\r\n",
               repr(got))
        d.send(b"x" * 100000)
        d.close()
        usable(f"{check}.int64_max_length")
        c.close()
        expect(f"{check}.alive", proxy.alive(), "mcproxy still running")
    finally:
        proxy.stop()

    # memcached started without -I keeps items under 1 MiB: a value at mcproxy's default limit
    # is then refused by memcached itself, and mcproxy passes its answer on.
    small = Memcached()
    proxy = Proxy(env.workdir, [small.endpoint])
    try:
        c = Client(proxy.port, timeout=10)
        got = c.call(b"set size:max 0 0 %d\r\n" % max_value + value + b"\r\n")
        expect(f"{check}.memcached_item_limit_passed_on",
               got == b"SERVER_ERROR object too large for cache\r\n", repr(got))
        got = c.call(b"version\r\n")
        expect(f"{check}.memcached_item_limit.connection_usable", got.startswith(b"VERSION"),
               repr(got))
        c.close()
    finally:
        proxy.stop()
        small.stop()


class Blackhole:
    """A 'memcached' that accepts and reads everything but never answers."""

    def __init__(self, port):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(64)
        self.accepted = 0
        self.bytes_read = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conns = []
        while not self.stop_event.is_set():
            r, _, _ = select.select([self.lsock] + conns, [], [], 0.1)
            for s in r:
                if s is self.lsock:
                    c, _ = s.accept()
                    conns.append(c)
                    self.accepted += 1
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                self.bytes_read += len(data)
                if not data:
                    conns.remove(s)
                    s.close()
        for c in conns:
            c.close()
        self.lsock.close()

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)


def check_dead_backend(env):
    """One pool server accepts connections and reads requests but never answers."""
    check = "dead_backend"
    timeout_ms, until_down = 500, 4
    print(f"\n== {check}: a pool server that never answers (request_timeout_ms={timeout_ms}, "
          f"failures_until_down={until_down})", flush=True)
    # Which keys live on the second server: place them with two real memcached first.
    second = Memcached()
    port2 = second.port
    keys = [f"dead:{i}" for i in range(64)]
    bystander_keys = [f"bystander:{i}" for i in range(64)]
    mapper = None
    try:
        mapper = Proxy(env.workdir, [env.memcached.endpoint, second.endpoint])
        c = Client(mapper.port)
        for k in keys + bystander_keys:
            assert c.call(f"set {k} 0 0 1\r\nx\r\n".encode()) == b"STORED\r\n"
        c.close()
        direct = Client(port2)
        on_second = [k for k in keys + bystander_keys
                     if direct.call(f"get {k}\r\n".encode(), b"END\r\n") != b"END\r\n"]
        direct.close()
    finally:
        if mapper:
            mapper.stop()
        second.stop()
    healthy = [k for k in keys if k not in on_second]
    bystander_keys = [k for k in bystander_keys if k not in on_second]
    on_second = [k for k in on_second if k in keys]
    figure(check, "keys on the dead server / healthy server", f"{len(on_second)} / {len(healthy)}")
    if not on_second or not healthy:
        expect(f"{check}.keys_on_both", False, "need keys on both servers")
        return

    hole = Blackhole(port2)
    dead_name = f"127.0.0.1:{port2}"
    t_start = time.monotonic()
    proxy = Proxy(env.workdir, [env.memcached.endpoint, dead_name],
                  {"backend": {"request_timeout_ms": timeout_ms, "connect_timeout_ms": timeout_ms,
                               "failures_until_down": until_down, "probe_interval_ms": 1000}})
    try:
        with Bystander(proxy.port, keys=bystander_keys) as bystander:
            c = Client(proxy.port, timeout=10)
            errors = []  # (seconds to answer, reply)
            down_at = None
            deadline = time.monotonic() + 8
            i = 0
            while time.monotonic() < deadline:
                k = on_second[i % len(on_second)]
                i += 1
                t0 = time.monotonic()
                got = c.call(f"get {k}\r\n".encode())
                errors.append((time.monotonic() - t0, got))
                if down_at is None and b"is down" in got:
                    down_at = time.monotonic() - t_start
                if down_at is not None and len([e for e in errors if b"is down" in e[1]]) >= 20:
                    break
                time.sleep(0.01)
            timed_out = [t for t, g in errors if b"request timed out" in g]
            fast_down = [t for t, g in errors if b"is down" in g]
            wrong = [g for _, g in errors if not g.startswith(b"SERVER_ERROR backend " +
                                                            dead_name.encode())]
            figure(check, "requests to the dead server", len(errors))
            kinds = {}
            for _, g in errors:
                why = g.decode(errors="replace").strip().replace(dead_name + " ", "")
                kinds[why] = kinds.get(why, 0) + 1
            figure(check, "replies", kinds)
            figure(check, "answered 'request timed out'", len(timed_out))
            if timed_out:
                figure(check, "time to 'request timed out' max ms", max(timed_out) * 1000)
            figure(check, "answered 'is down'", len(fast_down))
            if fast_down:
                figure(check, "time to 'is down' max ms", max(fast_down) * 1000)
            if down_at is not None:
                figure(check, "marked down after start s", down_at)
            expect(f"{check}.server_error", not wrong, repr(wrong[:2]))
            # A plain get needs no lease epoch: while the dead server's connections reconnect it
            # is refused as reconnecting, never as waiting for an epoch.
            epoch_talk = [g for _, g in errors if b"lease epoch" in g]
            expect(f"{check}.plain_get_no_epoch_error", not epoch_talk,
                   f"{len(epoch_talk)} plain get(s) answered {epoch_talk[:1]!r}" if epoch_talk
                   else "no plain get answered with a lease epoch error")
            expect(f"{check}.no_answer_slower_than_timeout",
                   errors and max(t for t, _ in errors) * 1000 <= timeout_ms + 250,
                   f"slowest error after {max(t for t, _ in errors) * 1000:.0f} ms "
                   f"(bound {timeout_ms} + 250 ms)")
            expect(f"{check}.marked_down", down_at is not None and fast_down and
                   max(fast_down) * 1000 <= 50,
                   f"down after {down_at} s; then errors within "
                   f"{max(fast_down) * 1000 if fast_down else float('nan'):.1f} ms")

            m = proxy.metrics()
            up = m.get(f'mcproxy_server_up{{server="{dead_name}"}}')
            up_healthy = m.get(f'mcproxy_server_up{{server="{env.memcached.endpoint}"}}')
            failures = m.get(f'mcproxy_backend_failures_total{{server="{dead_name}"}}', 0)
            figure(check, "mcproxy_server_up dead / healthy", f"{up} / {up_healthy}")
            figure(check, "mcproxy_backend_failures_total of the dead server", int(failures))
            expect(f"{check}.metrics", up == 0 and up_healthy == 1 and failures >= until_down,
                   f"server_up {up}, healthy {up_healthy}, failures {failures}")

            # Healthy keys on the same connection, and a multi-key get across both.
            lat = []
            for k in healthy[:20]:
                t0 = time.monotonic()
                got = c.get(f"get {k}\r\n".encode())
                lat.append((time.monotonic() - t0) * 1000)
                if got != f"VALUE {k} 0 1\r\nx\r\nEND\r\n".encode():
                    expect(f"{check}.healthy_keys", False, f"{k}: {got!r}")
                    break
            else:
                expect(f"{check}.healthy_keys", max(lat) <= 50,
                       f"20 hits, max {max(lat):.1f} ms (bound 50)")
            got = c.get(f"get {healthy[0]} {on_second[0]} {healthy[1]}\r\n".encode())
            want = f"VALUE {healthy[0]} 0 1\r\nx\r\nVALUE {healthy[1]} 0 1\r\nx\r\nEND\r\n"
            expect(f"{check}.multi_get_leaves_dead_keys_out", got == want.encode(), repr(got))
            c.close()
        figure(check, "blackhole connections accepted / bytes read",
               f"{hole.accepted} / {hole.bytes_read}")
        bystander.expect_unaffected(check)
        expect(f"{check}.alive", proxy.alive(), "mcproxy still running")
    finally:
        proxy.stop()
        hole.stop()


CHECKS = {
    "idle_connections": check_idle_connections,
    "fd_limit": check_fd_limit,
    "pipeline": check_pipeline,
    "slowloris": check_slowloris,
    "sizes": check_sizes,
    "dead_backend": check_dead_backend,
}


class Env:
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated checks: " + " ".join(CHECKS))
    parser.add_argument("--figures", help="write every figure to this JSON file")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(CHECKS)
    for n in names:
        if n not in CHECKS:
            parser.error(f"unknown check {n}; pick from {' '.join(CHECKS)}")
    mcproxy = os.path.join(BIN, "mcproxy")
    if not os.access(mcproxy, os.X_OK):
        print(f"{mcproxy} not found; build it or set MCCACHE_BIN", file=sys.stderr)
        return 2
    if not shutil.which("memcached"):
        print("memcached not found (apt-get install memcached)", file=sys.stderr)
        return 2
    # 10,000 client sockets here and as many in mcproxy, which inherits this limit.
    limit = raise_open_files(30000)
    print(f"open files limit of the test (inherited by mcproxy): {limit}")

    env = Env()
    env.version = subprocess.run([mcproxy, "--version"], capture_output=True,
                                 text=True).stdout.split()[-1]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mcproxy_abuse_") as workdir:
        env.workdir = workdir
        env.memcached = Memcached(["-I", "2m"])
        try:
            for n in names:
                t0 = time.monotonic()
                try:
                    CHECKS[n](env)
                except Exception as e:  # a check that cannot finish is a failure, not a crash
                    expect(f"{n}.completed", False, f"{type(e).__name__}: {e}")
                    for path in sorted(os.listdir(workdir)):
                        if path.endswith(".log"):
                            with open(os.path.join(workdir, path), "rb") as f:
                                tail = f.read()[-2000:].decode(errors="replace")
                            print(f"  --- {path} (tail)\n{tail}")
                figure(n, "check seconds", time.monotonic() - t0)
        finally:
            env.memcached.stop()
    total = time.monotonic() - started
    if args.figures:
        with open(args.figures, "w") as f:
            json.dump({"figures": figures, "results": results, "seconds": total}, f, indent=1)

    failed = [r for r in results if r[1] == "FAIL"]
    known = [r for r in results if r[1] == "KNOWN DEFECT"]
    fixed = [r for r in results if r[1] == "PASS (listed)"]
    print(f"\n{len(results)} expectations in {total:.1f} s: {len(failed)} failed, "
          f"{len(known)} known defects, {len(fixed)} listed as known defects but passed")
    for eid, _, detail in known:
        print(f"  KNOWN DEFECT {eid}: {KNOWN_DEFECTS[eid]}\n               measured: {detail}")
    for eid, _, _ in fixed:
        print(f"  PASS (listed) {eid}: passed this time; remove it from KNOWN_DEFECTS once fixed")
    for eid, _, detail in failed:
        print(f"  FAIL {eid}: {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
