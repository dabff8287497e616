"""The differential test's processes and connections: a memcached on a free loopback port, the
real mcproxy binary in front of one, and a client connection that writes a batch in given pieces
and reads until the batch's `mn` sentinels have all been answered."""
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BIN = os.environ.get("MCCACHE_BIN", os.path.join(REPO, "build", "bin"))
ITEM_SIZE_MAX = 1 << 20  # memcached -I, and mcproxy's limits.max_value_bytes

sys.path.insert(0, os.path.join(HERE, "..", "abuse"))
from abuse_test import free_port, wait_port  # noqa: E402,F401  (the suite's one copy)


def stop_process(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Memcached:
    """Both sides get the same flags, so the same item size limit and memory."""

    def __init__(self):
        self.port = free_port()
        args = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-t", "1",
                "-m", "256", "-I", str(ITEM_SIZE_MAX)]
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
        stop_process(self.proc)


class Proxy:
    def __init__(self, backend, delete_mode):
        self.dir = tempfile.mkdtemp(prefix="mcproxy-differential-")
        self.port = free_port()
        config = {"datacenter": "differential", "log": {"level": "warn"},
                  "pool": {"servers": [backend]},
                  "mcproxy": {"listen": f"127.0.0.1:{self.port}", "threads": 2,
                              "limits": {"max_value_bytes": ITEM_SIZE_MAX},
                              "leases": {"delete_mode": delete_mode, "stale_ttl_s": 30}}}
        self.config_path = os.path.join(self.dir, "mcproxy.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.log_path = self.config_path + ".log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([os.path.join(BIN, "mcproxy"), "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_port(self.port, 5):
            self.stop()
            raise RuntimeError(f"mcproxy did not start; see {self.log_path}")

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=4000):
        with open(self.log_path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def answered(buf):
    """True once `buf` ends with the reply to the batch's closing `mn`. Values never hold upper
    case letters, so "MN" as a whole line is only ever a noop's reply."""
    return buf == b"MN\r\n" or buf.endswith(b"\r\nMN\r\n")


class Side:
    """One client connection, to memcached directly or to mcproxy."""

    def __init__(self, name, port):
        self.name, self.port, self.sock = name, port, None

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, pieces, timeout=20.0):
        """Writes `pieces` one send each (reading meanwhile, so big replies cannot stall the
        writes), then reads until the closing `mn` is answered. Returns the reply bytes; on a
        timeout or a closed connection they end with a marker saying so."""
        if self.sock is None:
            self.connect()
        buf = bytearray()
        deadline = time.monotonic() + timeout
        queue = [memoryview(p) for p in pieces if p]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                return bytes(buf) + b"<<timeout>>"
            r, w, _ = select.select([self.sock], [self.sock] if queue else [], [], left)
            if r:
                try:
                    data = self.sock.recv(1 << 20)
                except BlockingIOError:
                    data = None
                except ConnectionResetError:
                    data = b""
                if data == b"":
                    self.close()
                    return bytes(buf) + b"<<closed>>"
                if data:
                    buf += data
                    if not queue and answered(buf[-8:] if len(buf) > 8 else bytes(buf)):
                        return bytes(buf)
            if w and queue:
                try:
                    sent = self.sock.send(queue[0])
                except BlockingIOError:
                    sent = 0
                except (BrokenPipeError, ConnectionResetError):
                    self.close()
                    return bytes(buf) + b"<<closed>>"
                queue[0] = queue[0][sent:]
                if not queue[0]:
                    queue.pop(0)
