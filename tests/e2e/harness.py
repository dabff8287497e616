"""End-to-end harness: a real devcluster, a Django-style workload, a consistency checker and
fault injection. Used by run.py; stdlib + psycopg2 (Debian's python3-psycopg2, /usr/bin/python3)."""
import json
import os
import random
import signal
import subprocess
import sys
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field

import psycopg2
import psycopg2.pool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from mccache import Client  # noqa: E402
from fault_relay import RelayControl  # noqa: E402

TRACE = {}  # (region, key) -> [(time, event)], to explain a stale key when one is found
TRACE_LOCK = threading.Lock()


def trace(region, key, event):
    with TRACE_LOCK:
        TRACE.setdefault((region, key), []).append((time.monotonic(), event))


class TracingClient(Client):
    """Records every lease step per key, so a stale key after healing can be explained."""

    def __init__(self, server, region, **kw):
        super().__init__(server, **kw)
        self.region = region

    def lease_get(self, key):
        r = super().lease_get(key)
        trace(self.region, key, f"lease-get token={r.token} value={r.value!r}")
        return r

    def lease_set(self, key, token, value, ttl=0, flags=0):
        reply = super().lease_set(key, token, value, ttl, flags)
        trace(self.region, key, f"lease-set token={token} value={value!r} -> {reply}")
        return reply

PGBIN = "/usr/lib/postgresql/15/bin"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Cluster:
    """A devcluster in a private directory; faults act on the pids that devcluster recorded."""

    def __init__(self, regions=2, memcached=2, relay_invalidator=()):
        self.dir = tempfile.mkdtemp(prefix="mccache-e2e-")
        os.chmod(self.dir, 0o755)  # Postgres runs as user postgres and must reach its data dir
        self.regions = regions
        relays = [a for region in relay_invalidator for a in ("--relay-invalidator", region)]
        try:
            subprocess.run([os.path.join(ROOT, "scripts", "devcluster"), "up", "--dir", self.dir,
                            "--regions", str(regions), "--memcached", str(memcached), *relays],
                           check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(self.dir, "endpoints.json")) as f:
                self.endpoints = json.load(f)["regions"]
            self.pg = self._state()["pg"]
        except BaseException:
            self.down()  # an `up` that failed half-way leaves what it had started
            raise

    def down(self):
        subprocess.run([os.path.join(ROOT, "scripts", "devcluster"), "down", "--dir", self.dir],
                       check=False, stdout=subprocess.DEVNULL)

    def _state(self):
        with open(os.path.join(self.dir, "state.json")) as f:
            return json.load(f)

    def _process(self, name):
        for region in self._state()["regions"]:
            for proc in region["processes"]:
                if proc["name"] == name:
                    return proc
        raise KeyError(name)

    def kill9(self, name):
        pid = self._process(name)["pid"]
        os.kill(pid, signal.SIGKILL)
        log(f"fault: kill -9 {name} (pid {pid})")

    def restart(self, name):
        """Starts `name` again with the same argv and port, and records its new pid."""
        state = self._state()
        for region in state["regions"]:
            for proc in region["processes"]:
                if proc["name"] == name:
                    logf = open(os.path.join(self.dir, "logs", f"{name}.log"), "ab")
                    p = subprocess.Popen(proc["argv"], stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
                    proc["pid"] = p.pid
        with open(os.path.join(self.dir, "state.json"), "w") as f:
            json.dump(state, f, indent=2)
        log(f"heal: restarted {name}")

    def relay(self, region):
        """The control of the fault relays between `region`'s invalidator and its servers
        (a cluster started with relay_invalidator=[region])."""
        return RelayControl(region["relay"]["control"])

    def invalidator_metrics(self, region):
        """{metric name: value summed over its labels} from the region's invalidator."""
        host, port = region["metrics"]["invalidator"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            body = b""
            while part := sock.recv(65536):
                body += part
        values = {}
        for line in body.decode(errors="replace").split("\r\n\r\n", 1)[-1].splitlines():
            if line and not line.startswith("#"):
                name, value = line.split("{", 1)[0].split(" ", 1)[0], line.rsplit(" ", 1)[-1]
                values[name] = values.get(name, 0.0) + float(value)
        return values

    def sql(self, dsn, query, args=None):
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def pg_ctl(self, server, action):
        datadir = os.path.join(self.dir, "pg", server)
        argv = [f"{PGBIN}/pg_ctl", action, "-D", datadir, "-w", "-m", "fast", "-l",
                os.path.join(self.dir, "pg", "logs", f"{server}.log")]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        log(f"fault/heal: pg_ctl {action} {server}")

    def quiesce(self, timeout=60.0):
        """Waits until every region's slot has confirmed the primary's current WAL position and
        every replica has replayed it: after that, no invalidation is in flight."""
        primary = self.pg["primary"]
        target = self.sql(primary, "SELECT pg_current_wal_insert_lsn()")[0][0]
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.sql(primary, "SELECT slot_name, confirmed_flush_lsn >= %s::pg_lsn "
                                     "FROM pg_replication_slots WHERE slot_name LIKE 'mcinval_%%'",
                            (target,))
            replicas_done = all(
                self.sql(r, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))[0][0]
                for r in self.pg["replicas"])
            if len(rows) == self.regions and all(ok for _, ok in rows) and replicas_done:
                return True
            time.sleep(0.2)
        return False


@dataclass
class Stats:
    writes: int = 0
    reads: int = 0
    fills: int = 0
    hot_misses: int = 0
    errors: int = 0
    stale_reads: int = 0
    max_staleness_ms: float = 0.0
    stale_by_region: dict = field(default_factory=dict)
    window_max_ms: dict = field(default_factory=dict)  # region -> max staleness since window()
    error_kinds: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Workload:
    """Writers update users.name = 'v<version>' on the primary; readers in every region read
    user:<id> through their region's mcproxy with lease-get and fill from their local database.
    A read is stale if it returns version v after version v+1 had committed; its staleness is how
    long after that commit it happened."""

    def __init__(self, cluster, ids=200, hot=10, writers=2, readers_per_region=4, write_rate=200):
        self.cluster = cluster
        self.ids = ids
        self.hot = hot
        self.writers = writers
        self.readers = readers_per_region
        self.write_rate = write_rate
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.commits = {i: [0.0] for i in range(1, ids + 1)}  # id -> commit time per version
        self.threads = []
        # Readers share a few database connections per region, as app servers share a pool: a
        # hundred readers must not need a hundred Postgres backends.
        self.pools = {r["name"]: psycopg2.pool.ThreadedConnectionPool(1, 8, r["postgres"])
                      for r in cluster.endpoints}
        self.pool_slots = {name: threading.BoundedSemaphore(8) for name in self.pools}
        cluster.sql(cluster.pg["primary"],
                    "UPDATE users SET name = 'v0' WHERE id <= %s AND name <> 'v0'", (ids,))

    def start(self):
        for w in range(self.writers):
            self.threads.append(threading.Thread(target=self._writer, args=(w,), daemon=True))
        for region in self.cluster.endpoints:
            for _ in range(self.readers):
                self.threads.append(
                    threading.Thread(target=self._reader, args=(region,), daemon=True))
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        for pool in self.pools.values():
            pool.closeall()

    def _pick(self):
        if random.random() < 0.8:
            return random.randint(1, self.hot)
        return random.randint(1, self.ids)

    def _writer(self, index):
        conn = None
        period = self.writers / self.write_rate
        mine = [i for i in range(1, self.ids + 1) if i % self.writers == index]
        hot_mine = [i for i in mine if i <= self.hot] or mine
        while not self.stop_event.is_set():
            user = random.choice(hot_mine if random.random() < 0.8 else mine)
            try:
                if conn is None:
                    conn = psycopg2.connect(self.cluster.pg["primary"], connect_timeout=2)
                    conn.autocommit = True
                version = len(self.commits[user])
                with conn.cursor() as cur:
                    cur.execute("UPDATE users SET name = %s WHERE id = %s", (f"v{version}", user))
                self.commits[user].append(time.monotonic())
                trace("primary", f"user:{user}", f"committed v{version}")
                with self.stats.lock:
                    self.stats.writes += 1
            except psycopg2.Error:
                conn = None
                with self.stats.lock:
                    self.stats.errors += 1
                time.sleep(0.1)
            time.sleep(period)

    def _reader(self, region):
        client = TracingClient(region["proxy"], region["name"], timeout=2)
        pool = self.pools[region["name"]]
        slots = self.pool_slots[region["name"]]
        while not self.stop_event.is_set():
            user = self._pick()
            key = f"user:{user}"
            started = time.monotonic()
            try:
                def fill():
                    with slots:  # wait for a pooled connection rather than fail
                        db = pool.getconn()
                        try:
                            db.autocommit = True
                            with db.cursor() as cur:
                                cur.execute("SELECT name FROM users WHERE id = %s", (user,))
                                name = cur.fetchone()[0]
                        except psycopg2.Error:
                            pool.putconn(db, close=True)
                            raise
                        pool.putconn(db)
                    with self.stats.lock:
                        self.stats.fills += 1
                    trace(region["name"], key, f"filled {name} from the local database")
                    return name.encode()

                value = client.get_or_fill(key, fill, ttl=300, max_wait=1.0)
                self._judge(region["name"], user, value.decode(), started)
            except Exception as e:  # faults are expected; count them by kind
                with self.stats.lock:
                    self.stats.errors += 1
                    kind = type(e).__name__
                    self.stats.error_kinds[kind] = self.stats.error_kinds.get(kind, 0) + 1
                time.sleep(0.05)
            time.sleep(0.002)

    def window(self):
        """Closes a phase of a scenario: (reads, stale reads per region) so far, and the max
        staleness per region since the previous call."""
        with self.stats.lock:
            peaks, self.stats.window_max_ms = self.stats.window_max_ms, {}
            return self.stats.reads, dict(self.stats.stale_by_region), peaks

    def _judge(self, region, user, value, started):
        version = int(value[1:]) if value.startswith("v") else 0
        commits = self.commits[user]
        with self.stats.lock:
            self.stats.reads += 1
            if version + 1 < len(commits) and commits[version + 1] < started:
                self.stats.stale_reads += 1
                self.stats.stale_by_region[region] = self.stats.stale_by_region.get(region, 0) + 1
                staleness_ms = (started - commits[version + 1]) * 1000
                self.stats.window_max_ms[region] = max(self.stats.window_max_ms.get(region, 0.0),
                                                       staleness_ms)
                self.stats.max_staleness_ms = max(self.stats.max_staleness_ms,
                                                  (started - commits[version + 1]) * 1000)


def check_consistency(cluster, ids):
    """After quiescence: every cached user:<id> in every region equals the region's local
    database (or is absent). Reads straight from memcached with mg, ignoring items marked stale
    (X) or lease placeholders (Z), which no client is served as a hit."""
    stale = []
    for region in cluster.endpoints:
        rows = dict(cluster.sql(region["postgres"], "SELECT id, name FROM users WHERE id <= %s",
                                (ids,)))
        proxy = Client(region["proxy"])
        for user in range(1, ids + 1):
            value = proxy.get(f"user:{user}")
            if value is not None and value.decode() != rows[user]:
                stale.append((region["name"], user, value.decode(), rows[user]))
                explain(region, f"user:{user}")
        proxy.close()
    return stale


def explain(region, key):
    """Prints what memcached holds for `key` and the last steps the workload took on it."""
    for server in region["memcached"]:
        host, port = server.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=2) as sock:
            sock.sendall(f"mg {key} v c t f s\r\n".encode())
            log(f"  {server}: {sock.recv(4096)!r}")
    with TRACE_LOCK:
        events = sorted(TRACE.get((region["name"], key), []) + TRACE.get(("primary", key), []))
    for t, event in events[-25:]:
        log(f"  {t:.4f} {event}")
