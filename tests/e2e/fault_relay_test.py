#!/usr/bin/python3
"""The fault relay's modes against a local echo server, each in a few hundred milliseconds; the
network-namespace case runs only as root with `ip netns` available."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fault_relay import RelayControl  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass


class RelayProcess:
    def __init__(self, links):
        self.dir = tempfile.mkdtemp(prefix="fault-relay-test-")
        self.control = f"127.0.0.1:{free_port()}"
        spec = os.path.join(self.dir, "spec.json")
        with open(spec, "w") as f:
            json.dump({"control": self.control, "links": links}, f)
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fault_relay.py"),
                                      "serve", spec], stdout=subprocess.PIPE, text=True)
        assert "control on" in self.proc.stdout.readline()
        self.ctl = RelayControl(self.control)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def round_trip(port, payload=b"ping", timeout=3.0):
    """Seconds for one echo through the relay."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        started = time.monotonic()
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            part = s.recv(65536)
            if not part:
                raise ConnectionError("closed")
            got += part
        assert got == payload
        return time.monotonic() - started


class FaultRelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer()
        cls.port = free_port()
        cls.relay = RelayProcess([{"name": "echo", "listen": f"127.0.0.1:{cls.port}",
                                   "upstream": f"127.0.0.1:{cls.echo.port}"}])

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()

    def tearDown(self):
        self.relay.ctl.set("pass")

    def test_Pass_ForwardsBothWays(self):
        self.assertLess(round_trip(self.port, b"x" * 200000), 1.0)

    def test_Latency_DelaysEachDirection(self):
        self.relay.ctl.set("latency", delay_ms=50, jitter_ms=5)
        self.assertGreater(round_trip(self.port), 0.09)  # 2 x (50 - 5) ms

    def test_Loss_StallsSomeChunks(self):
        self.relay.ctl.set("loss", loss=1.0, stall_ms=100)
        self.assertGreater(round_trip(self.port), 0.1)  # two stalls of at least 50 ms
        self.assertGreater(self.relay.ctl.status()["echo"]["stalls"], 0)

    def test_Blackhole_HoldsThenDeliversOnHeal(self):
        self.relay.ctl.set("blackhole")
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"held")
            with self.assertRaises(socket.timeout):
                s.recv(16)
            self.relay.ctl.set("pass")
            s.settimeout(3)
            self.assertEqual(s.recv(16), b"held")

    def test_Reset_ClosesOpenAndNewConnectionsWithRst(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=3) as s:
            s.sendall(b"a")
            self.assertEqual(s.recv(16), b"a")
            self.relay.ctl.set("reset")
            with self.assertRaises(ConnectionResetError):
                s.sendall(b"b")
                s.recv(16)
        with self.assertRaises(ConnectionError):
            round_trip(self.port)

    def test_UnknownMode_IsRefusedWithAReason(self):
        with self.assertRaisesRegex(RuntimeError, "mode must be one of"):
            self.relay.ctl.set("drop")


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip"), "needs root and ip netns")
class NetnsTest(unittest.TestCase):
    def test_ListenerInANamespace_ReachesTheHostUnderTheSameAddress(self):
        echo = EchoServer()
        ns = f"mcc-relay-test-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        relay = None
        try:
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            # Inside the namespace 127.0.0.1:<echo port> is the relay; outside it is the echo.
            relay = RelayProcess([{"name": "echo", "listen": f"127.0.0.1:{echo.port}",
                                   "listen_netns": ns, "upstream": f"127.0.0.1:{echo.port}"}])
            probe = ("import socket,sys; s=socket.create_connection(('127.0.0.1', %d), timeout=3);"
                     "s.sendall(b'ns'); sys.stdout.write(s.recv(8).decode())" % echo.port)
            out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", probe],
                                 check=True, stdout=subprocess.PIPE, text=True, timeout=10).stdout
            self.assertEqual(out, "ns")
            self.assertEqual(relay.ctl.status()["echo"]["accepted"], 1)
        finally:
            if relay:
                relay.stop()
            subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
