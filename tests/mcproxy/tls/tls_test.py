#!/usr/bin/python3
"""TLS on mcproxy's client listener, against a real memcached and the real mcproxy binary:
pymemcache over TLS (what Django's PyMemcacheCache uses with OPTIONS {"tls_context": ...}),
lease-get/lease-set, a large value and a deep pipeline through OpenSSL's buffers, a plaintext
client refused without hurting others, client certificates when `ca_file` is set, and a
certificate that does not load failing start-up with the field named.

  MCCACHE_BIN: directory holding mcproxy (default: build/bin of this checkout)
"""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from pymemcache.client.base import Client

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
from mccache.client import Client as LeaseClient  # noqa: E402
BIN = os.environ.get("MCCACHE_BIN", os.path.join(REPO, "build", "bin"))

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'} {name}{(': ' + detail) if detail and not ok else ''}",
          flush=True)
    if not ok:
        failures.append(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    openssl("req", "-x509", "-new", "-nodes", "-days", "1", "-subj", "/CN=mccache test CA",
            "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt")
    with open(f"{d}/san.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        openssl("req", "-new", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{d}/{name}.key",
                "-out", f"{d}/{name}.csr")
        openssl("x509", "-req", "-days", "1", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.crt",
                "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-extfile", f"{d}/san.ext",
                "-out", f"{d}/{name}.crt")


class Proxy:
    def __init__(self, d, name, memcached_port, tls):
        self.port = free_port()
        self.config = f"{d}/{name}.json"
        with open(self.config, "w") as f:
            json.dump({"datacenter": "dc1", "pool": {"servers": [f"127.0.0.1:{memcached_port}"]},
                       "mcproxy": {"listen": f"127.0.0.1:{self.port}", "threads": 2, "tls": tls}},
                      f)
        self.log = f"{d}/{name}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([f"{BIN}/mcproxy", "--config", self.config],
                                         stdout=out, stderr=subprocess.STDOUT)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def client_context(d, with_cert=False):
    ctx = ssl.create_default_context(cafile=f"{d}/ca.crt")
    if with_cert:
        ctx.load_cert_chain(f"{d}/client.crt", f"{d}/client.key")
    return ctx


def tls_socket(d, port, with_cert=False):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return client_context(d, with_cert).wrap_socket(raw, server_hostname="127.0.0.1")


def read_until(sock, end):
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    return data


def main():
    d = tempfile.mkdtemp(prefix="mccache-tls-")
    memcached = None
    proxies = []
    try:
        make_pki(d)
        mc_port = free_port()
        argv = ["memcached", "-l", "127.0.0.1", "-p", str(mc_port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        memcached = subprocess.Popen(argv)
        assert wait_port(mc_port), "memcached did not start"

        proxy = Proxy(d, "tls", mc_port, {"cert_file": f"{d}/server.crt",
                                          "key_file": f"{d}/server.key"})
        proxies.append(proxy)
        check("mcproxy starts with TLS", wait_port(proxy.port), open(proxy.log).read())

        # pymemcache over TLS, as Django's PyMemcacheCache would use it.
        c = Client(("127.0.0.1", proxy.port), tls_context=client_context(d), connect_timeout=5,
                   timeout=5)
        c.set("greeting", b"hello over tls")
        check("pymemcache set/get over TLS", c.get("greeting") == b"hello over tls")
        big = os.urandom(900 * 1024)
        c.set("big", big, noreply=False)
        check("a 900 KiB value round-trips (many TLS records)", c.get("big") == big)
        c.delete("greeting")
        check("delete over TLS", c.get("greeting") is None)

        # The lease client (what LeaseCache.get_or_fill uses) over TLS: one fill, then a hit.
        fills = []
        lc = LeaseClient(f"127.0.0.1:{proxy.port}", tls_context=client_context(d))
        first = lc.get_or_fill("filled", lambda: fills.append(1) or b"from the database")
        second = lc.get_or_fill("filled", lambda: fills.append(1) or b"filled twice")
        check("mccache get_or_fill over TLS: one fill, then a hit",
              first == second == b"from the database" and len(fills) == 1, f"{first} {second}")
        lc.close()

        # Lease commands and a deep pipeline in one write: replies span OpenSSL's buffers.
        s = tls_socket(d, proxy.port)
        s.sendall(b"lease-get leased\r\n")
        reply = read_until(s, b"\r\n").decode()
        token = reply.split()[2] if reply.startswith("LVALUE") else None
        if token is None:
            check("lease-get grants a lease over TLS", False, reply)
        else:
            s.sendall(f"lease-set leased {token} 0 0 3\r\nnew\r\n".encode())
            check("lease-set with the granted token over TLS",
                  read_until(s, b"\r\n") == b"STORED\r\n")
        s.sendall(b"".join(b"get big\r\n" for _ in range(10)))
        data = b""
        deadline = time.monotonic() + 20
        while data.count(b"END\r\n") < 10 and time.monotonic() < deadline:
            data += s.recv(1 << 16)
        check("10 pipelined 900 KiB gets over TLS all answered",
              data.count(b"END\r\n") == 10 and data.count(big) == 10,
              f"{data.count(b'END')} replies")
        c.set("small", b"x" * 100, noreply=False)  # stored before the other connection reads
        s.sendall(b"".join(b"get small\r\n" for _ in range(1000)))
        data = b""
        deadline = time.monotonic() + 10
        while data.count(b"END\r\n") < 1000 and time.monotonic() < deadline:
            data += s.recv(1 << 16)
        check("1000 pipelined small gets in one write over TLS all answered",
              data.count(b"VALUE small 0 100\r\n") == 1000, f"{data.count(b'END')} replies")
        s.close()

        # A plaintext client on the TLS port gets no memcached reply and is closed; others go on.
        p = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        p.sendall(b"get greeting\r\n")
        try:
            answer = p.recv(100)
        except (ConnectionResetError, socket.timeout):
            answer = b""
        check("a plaintext client is refused", b"END" not in answer and b"VALUE" not in answer,
              repr(answer))
        p.close()
        check("TLS clients unaffected by it", c.get("big") == big)

        # Client certificates: with ca_file, a client without a certificate is refused.
        mtls = Proxy(d, "mtls", mc_port, {"cert_file": f"{d}/server.crt",
                                          "key_file": f"{d}/server.key",
                                          "ca_file": f"{d}/ca.crt", "min_version": "1.3"})
        proxies.append(mtls)
        check("mcproxy starts with client certificates", wait_port(mtls.port))
        try:
            s = tls_socket(d, mtls.port)
            s.sendall(b"get big\r\n")
            refused = s.recv(100) == b""
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            refused = True
        check("no client certificate: refused", refused)
        s = tls_socket(d, mtls.port, with_cert=True)
        s.sendall(b"get big\r\n")
        check("a client certificate signed by ca_file: served",
              read_until(s, b"END\r\n").endswith(big + b"\r\nEND\r\n"))
        s.close()

        # A key that does not match the certificate: start-up fails and names the field.
        bad = Proxy(d, "bad", mc_port, {"cert_file": f"{d}/server.crt",
                                        "key_file": f"{d}/client.key"})
        proxies.append(bad)
        try:
            code = bad.proc.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        log = open(bad.log).read()
        check("a mismatched key fails start-up naming mcproxy.tls.key_file",
              code == 1 and "mcproxy.tls.key_file" in log, f"exit {code}: {log[-300:]}")
        # --check-config names a missing file with the field and the fix.
        os.remove(f"{d}/client.csr")
        with open(f"{d}/missing.json", "w") as f:
            json.dump({"datacenter": "dc1", "pool": {"servers": ["127.0.0.1:1"]},
                       "mcproxy": {"tls": {"cert_file": f"{d}/nope.crt",
                                           "key_file": f"{d}/server.key"}}}, f)
        r = subprocess.run([f"{BIN}/mcproxy", "--check-config", "--config", f"{d}/missing.json"],
                           capture_output=True, text=True)
        check("--check-config names a missing certificate",
              r.returncode == 1 and "mcproxy.tls.cert_file" in r.stderr + r.stdout and
              "cannot be read" in r.stderr + r.stdout, r.stderr + r.stdout)
    finally:
        for p in proxies:
            p.stop()
        if memcached:
            memcached.terminate()
            memcached.wait(5)
        shutil.rmtree(d, ignore_errors=True)
    print(f"tls: {'OK' if not failures else str(len(failures)) + ' failure(s)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
