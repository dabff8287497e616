#!/usr/bin/python3
"""The Debian packages as an operator gets them: scripts/package builds them from this tree, lintian
checks them (errors fail, warnings are listed), dpkg installs them on this machine, the files land
where the units expect, the installed binaries check and run the installed config under the
packaged user against a real memcached (READY=1 through NOTIFY_SOCKET, a `version` reply), and
`systemd-analyze verify` accepts both units. Everything is purged afterwards.

Needs root (dpkg); exits 77 (skipped) otherwise. Environment: MCCACHE_BUILD_DIR, MCCACHE_SOURCE_DIR.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE = os.environ.get("MCCACHE_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("MCCACHE_BUILD_DIR", os.path.join(SOURCE, "build"))
PACKAGES = ["mccache-mcproxy", "mccache-invalidator", "python3-mccache"]
INSTANCE = "pkgtest"  # the unit instance this test runs: /etc/mccache/mcproxy-pkgtest.json
failures = []


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def check(ok, what):
    log(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
    return ok


def run(argv, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def unit_setting(text, key):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def install_layout(prefix):
    """cmake --install into a prefix of its own: the issue's layout, the units' paths inside it."""
    r = run(["cmake", "--install", BUILD, "--prefix", prefix])
    if not check(r.returncode == 0, f"cmake --install --prefix {prefix}"):
        print(r.stdout[-2000:], r.stderr[-2000:])
        return
    for rel in ("bin/mcproxy", "bin/invalidator", "share/man/man8/mcproxy.8.gz",
                "share/man/man8/invalidator.8.gz", "share/doc/mccache/examples/dc1.json",
                "etc/mccache/mcproxy-dc1.json", "lib/systemd/system/invalidator@.service"):
        check(os.path.isfile(os.path.join(prefix, rel)), f"cmake --install puts {rel} in the prefix")
    with open(os.path.join(prefix, "lib/systemd/system/mcproxy@.service")) as f:
        start = unit_setting(f.read(), "ExecStart")
    check(start == [f"{prefix}/bin/mcproxy --config {prefix}/etc/mccache/mcproxy-%i.json"],
          f"the installed unit runs the prefix's binary and config: {start}")


def build_packages(out):
    started = time.monotonic()
    r = run([os.path.join(SOURCE, "scripts", "package"), "--build-dir", BUILD, "--out", out])
    if not check(r.returncode == 0, "scripts/package builds the packages"):
        print(r.stdout[-3000:], r.stderr[-3000:])
        return {}
    debs = {}
    for line in r.stdout.splitlines():
        m = re.match(r"(\S+/([a-z0-9.+-]+)_[^/]+\.deb)\t(\d+) bytes", line)
        if m:
            debs[m.group(2)] = m.group(1)
            log(f"{os.path.basename(m.group(1))}: {int(m.group(3)) / 1024:.0f} KiB")
    check(sorted(debs) == sorted(PACKAGES), f"the three packages: {sorted(debs)}")
    log(f"packages built in {time.monotonic() - started:.1f} s")
    return debs


def lint(debs):
    started = time.monotonic()
    r = run(["lintian", "--allow-root", *debs.values()])
    tags = [line for line in r.stdout.splitlines() if re.match(r"[EWIXPO]: ", line)]
    errors = [t for t in tags if t.startswith("E: ")]
    warnings = [t for t in tags if t.startswith("W: ")]
    for t in errors + warnings:
        log("lintian " + t)
    check(not errors and r.returncode == 0,
          f"lintian: {len(errors)} errors, {len(warnings)} warnings "
          f"({time.monotonic() - started:.1f} s)")


def control_checks(debs):
    depends = run(["dpkg-deb", "-f", debs["mccache-mcproxy"], "Depends"]).stdout
    # dpkg-shlibdeps, not a hand-written list: the libraries the binary really links.
    for lib in ("libmemcached11", "libsystemd0", "libssl3", "libstdc++6"):
        check(lib in depends, f"mccache-mcproxy Depends names {lib} (shlibdeps)")
    depends = run(["dpkg-deb", "-f", debs["mccache-invalidator"], "Depends"]).stdout
    check("libpq5" in depends, "mccache-invalidator Depends names libpq5 (shlibdeps)")
    for package, conffile in (("mccache-mcproxy", "/etc/mccache/mcproxy-dc1.json"),
                              ("mccache-invalidator", "/etc/mccache/invalidator-dc1.json")):
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["dpkg-deb", "-e", debs[package], d], check=True)
            with open(os.path.join(d, "conffiles")) as f:
                check(conffile in f.read().split(), f"{package} marks {conffile} as a conffile")


def installed_files():
    for path in ("/usr/bin/mcproxy", "/usr/bin/invalidator"):
        check(os.access(path, os.X_OK), f"{path} is installed and executable")
    for path in ("/usr/share/man/man8/mcproxy.8.gz", "/usr/share/man/man8/invalidator.8.gz",
                 "/usr/share/doc/mccache/examples/dc1.json",
                 "/usr/share/doc/mccache-mcproxy/copyright",
                 "/usr/lib/python3/dist-packages/mccache/django_cache.py"):
        check(os.path.isfile(path), f"{path} is installed")
    for page in ("mcproxy", "invalidator"):
        r = run(["man", "-P", "cat", page], env={**os.environ, "MANWIDTH": "100"})
        check(r.returncode == 0 and "--check-config" in r.stdout and "EXIT STATUS" in r.stdout,
              f"man {page} shows the flags and the exit status")
    try:
        user = pwd.getpwnam("mccache")
        check(user.pw_uid < 1000 and user.pw_shell.endswith("nologin"),
              f"system user mccache (uid {user.pw_uid}, shell {user.pw_shell})")
    except KeyError:
        check(False, "the packages create the user mccache")
    units = {}
    for daemon in ("mcproxy", "invalidator"):
        path = f"/lib/systemd/system/{daemon}@.service"
        if not check(os.path.isfile(path), f"{path} is installed"):
            continue
        with open(path) as f:
            units[daemon] = f.read()
        text = units[daemon]
        start = unit_setting(text, "ExecStart")[0].replace("%i", "dc1").split()
        check(os.access(start[0], os.X_OK), f"{daemon}@: ExecStart runs {start[0]}, installed")
        config = start[start.index("--config") + 1]
        check(os.path.isfile(config), f"{daemon}@dc1 reads {config}, the installed conffile")
        check(unit_setting(text, "User") == ["mccache"], f"{daemon}@ runs as User=mccache")
        check(unit_setting(text, "Type") == ["notify"], f"{daemon}@ is Type=notify")
        r = run(["runuser", "-u", "mccache", "--", start[0], "--check-config", "--config", config])
        check(r.returncode == 0 and r.stdout.strip() == f"{config}: OK",
              f"the installed {daemon} --check-config accepts {config} as mccache: "
              f"{(r.stdout + r.stderr).strip()}")
    return units


def verify_units():
    if not shutil.which("systemd-analyze"):
        log("SKIP: systemd-analyze verify: no systemd on this machine")
        return
    r = run(["systemd-analyze", "verify", "mcproxy@dc1.service", "invalidator@dc1.service"])
    check(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
          "systemd-analyze verify mcproxy@dc1 invalidator@dc1: " + (r.stdout + r.stderr).strip())
    for daemon in ("mcproxy", "invalidator"):
        r = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                 f"/lib/systemd/system/{daemon}@.service"])
        level = [l for l in r.stdout.splitlines() if "Overall exposure level" in l]
        log(f"systemd-analyze security {daemon}@: {level[-1].split(':', 1)[1].strip() if level else r.stderr.strip()}")


def run_installed_proxy(unit):
    """The unit's own ExecStart, as its User, for an instance whose config is the installed one
    with free loopback ports: READY=1 arrives and the proxy answers through a real memcached."""
    with open("/etc/mccache/mcproxy-dc1.json") as f:
        config = f.read()
    memcached_ports = [free_port(), free_port()]
    listen, metrics = free_port(), free_port()
    for old, new in (("127.0.0.1:11211", memcached_ports[0]), ("127.0.0.1:11212", memcached_ports[1]),
                     ("127.0.0.1:11311", listen), ("127.0.0.1:9311", metrics)):
        check(old in config, f"the installed config names {old}")
        config = config.replace(old, f"127.0.0.1:{new}")
    path = f"/etc/mccache/mcproxy-{INSTANCE}.json"
    notify_dir = tempfile.mkdtemp(prefix="mccache-notify-")
    os.chmod(notify_dir, 0o755)
    notify_path = os.path.join(notify_dir, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    os.chmod(notify_path, 0o777)  # the daemon runs as mccache
    processes = []
    try:
        with open(path, "w") as f:
            f.write(config)
        for port in memcached_ports:
            processes.append(subprocess.Popen(["memcached", "-u", "root", "-l", "127.0.0.1", "-p",
                                               str(port), "-U", "0"], stdin=subprocess.DEVNULL))
            check(wait_port(port), f"memcached on {port}")
        argv = unit_setting(unit, "ExecStart")[0].replace("%i", INSTANCE).split()
        proxy = subprocess.Popen(argv, user="mccache", group="mccache", extra_groups=[],
                                 env={"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notify_path},
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        processes.append(proxy)
        notify.settimeout(10)
        try:
            ready = notify.recv(4096).decode()
        except socket.timeout:
            ready = "nothing within 10 s"
        check(ready == "READY=1", f"the installed mcproxy notifies READY=1 ({ready})")
        with open(f"/proc/{proxy.pid}/status") as f:
            uid = [l.split()[1] for l in f if l.startswith("Uid:")][0]
        check(int(uid) == pwd.getpwnam("mccache").pw_uid, f"mcproxy runs as mccache (uid {uid})")
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as c:
            c.sendall(b"version\r\nset pkgtest 0 0 2\r\nok\r\nget pkgtest\r\n")
            reply = b""
            while not reply.endswith(b"END\r\n"):
                chunk = c.recv(4096)
                if not chunk:
                    break
                reply += chunk
        check(reply.startswith(b"VERSION ") and b"STORED\r\nVALUE pkgtest 0 2\r\nok\r\nEND" in reply,
              f"mcproxy answers version and stores through memcached: {reply!r}")
        proxy.send_signal(signal.SIGTERM)
        try:
            code = proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        check(code == 0, f"SIGTERM drains and exits 0 (exit {code})")
        if code != 0:
            print(proxy.stdout.read() if proxy.stdout else "")
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        notify.close()
        shutil.rmtree(notify_dir, ignore_errors=True)
        if os.path.exists(path):
            os.remove(path)


def python_package():
    r = run(["/usr/bin/python3", "-c",
             "import mccache, mccache.django_cache, mccache.django_ryw, mccache.django_router;"
             "print(mccache.__file__)"], cwd="/")
    check(r.returncode == 0 and r.stdout.startswith("/usr/lib/python3/dist-packages/mccache/"),
          f"python3-mccache imports mccache.django_cache: {(r.stdout + r.stderr).strip()}")


def main():
    if os.geteuid() != 0:
        print("SKIP: installing packages needs root")
        return 77
    for tool in ("lintian", "dpkg-shlibdeps", "scdoc", "memcached"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is missing; run scripts/deps")
            return 1
    user_existed = True
    try:
        pwd.getpwnam("mccache")
    except KeyError:
        user_existed = False
    out = tempfile.mkdtemp(prefix="mccache-debs-")
    try:
        install_layout(os.path.join(out, "prefix"))
        debs = build_packages(os.path.join(out, "debs"))
        if not debs:
            return 1
        lint(debs)
        control_checks(debs)
        started = time.monotonic()
        r = run(["dpkg", "-i", *[debs[p] for p in PACKAGES]])
        if not check(r.returncode == 0, f"dpkg -i installs the three ({time.monotonic() - started:.1f} s)"):
            print(r.stdout[-3000:], r.stderr[-3000:])
            return 1
        units = installed_files()
        verify_units()
        python_package()
        if "mcproxy" in units:
            run_installed_proxy(units["mcproxy"])
    finally:
        started = time.monotonic()
        present = [p for p in PACKAGES if run(["dpkg-query", "-W", p]).returncode == 0]
        if present:
            r = run(["dpkg", "--purge", *present])
            check(r.returncode == 0, f"dpkg --purge ({time.monotonic() - started:.1f} s)")
        for path in ("/usr/bin/mcproxy", "/usr/bin/invalidator", "/etc/mccache",
                     "/lib/systemd/system/mcproxy@.service", "/usr/lib/python3/dist-packages/mccache"):
            check(not os.path.exists(path), f"purged: {path} is gone")
        if not user_existed:
            run(["userdel", "mccache"])
            run(["groupdel", "mccache"])
        shutil.rmtree(out, ignore_errors=True)
    print(f"packaging: {'FAILED' if failures else 'all checks passed'} ({len(failures)} failed)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
