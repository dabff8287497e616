"""Fixtures of the Python tests: real memcached behind the real mcproxy, and a real PostgreSQL
primary + streaming replica from scripts/pgcluster; free loopback ports, stopped by pid."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
BIN = os.environ.get("MCCACHE_BIN", os.path.join(ROOT, "build", "bin"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def start_memcached(procs):
    port = free_port()
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    procs.append(subprocess.Popen(argv))
    wait_port(port)
    return f"127.0.0.1:{port}"


def start_mcproxy(procs, servers, configs):
    """An mcproxy over `servers` (host:port strings); returns its address."""
    listen = f"127.0.0.1:{free_port()}"
    config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"datacenter": "dc1", "pool": {"servers": servers},
               "mcproxy": {"listen": listen, "leases": {"lease_ttl_s": 2}}}, config)
    config.close()
    configs.append(config.name)
    procs.append(subprocess.Popen([os.path.join(BIN, "mcproxy"), "--config", config.name],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(int(listen.rsplit(":", 1)[1]))
    return listen


class ProxyFixture(unittest.TestCase):
    """One memcached behind one mcproxy for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.procs, cls.configs = [], []
        try:
            cls.memcached = start_memcached(cls.procs)
            cls.proxy = start_mcproxy(cls.procs, [cls.memcached], cls.configs)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):  # the proxy first, then its memcached
            p.terminate()
            p.wait(timeout=10)
        for path in cls.configs:
            os.unlink(path)

    def key(self, name):
        return f"{self.id().rsplit('.', 1)[-1]}:{name}:{time.time_ns()}"


class PgCluster:
    """scripts/pgcluster: a primary and one streaming replica in a private directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mccache-pytest-pg-")
        os.chmod(self.dir, 0o755)  # Postgres runs as user postgres and must reach its data dir
        self.script = os.path.join(ROOT, "scripts", "pgcluster")
        try:
            out = subprocess.run([self.script, "start", self.dir, "--replicas", "1"], check=True,
                                 stdout=subprocess.PIPE, text=True).stdout
        except BaseException:
            self.stop()
            raise
        state = json.loads(out)
        self.primary, self.replica = state["primary"], state["replicas"][0]

    def stop(self):
        subprocess.run([self.script, "stop", self.dir], check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)
