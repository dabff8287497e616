#!/usr/bin/python3
"""scripts/contain: a test's servers cannot outlive it.

  - a process left running when the command exits (a daemon that detached included) is named,
    killed, and turns a passing run into a failing one; otherwise the command's exit status passes;
  - when ctest kills a test for its timeout, a daemon the test detached goes with it. Without
    contain the same daemon survives the timeout (the control case: it is killed here by pid).

  /usr/bin/python3 tests/devcluster/contain_test.py      exit 0 when every check holds
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

from checks import check, running, verdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTAIN = os.path.join(ROOT, "scripts", "contain")


def read_pid(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return int(f.read())
        except (OSError, ValueError):
            time.sleep(0.02)
    return None


# A test that detaches a daemon (as pg_ctl does: new session, launcher gone) and writes its pid.
DETACH = "(setsid sleep 3600 </dev/null >/dev/null 2>&1 & echo $! > {pidfile})"


def contained(*argv):
    return subprocess.run([CONTAIN, "--grace", "0.5", "--", *argv], stderr=subprocess.PIPE,
                          text=True, timeout=30)


def exit_status_and_leftovers(d):
    check(contained("sh", "-c", "exit 3").returncode == 3, "the command's exit status passes")
    pidfile = os.path.join(d, "left.pid")
    r = contained("sh", "-c", DETACH.format(pidfile=pidfile))
    pid = read_pid(pidfile)
    check(r.returncode == 70, f"a passing command that leaves a daemon fails (exit {r.returncode})")
    check(f"pid {pid}: sleep 3600" in r.stderr, f"the daemon is named ({r.stderr.strip()})")
    check(pid is not None and not running(pid), "and killed")


def ctest_timeout(d):
    """Registers the same detaching test twice, with and without contain, with a 2 s timeout."""
    contained_pid, bare_pid = os.path.join(d, "contained.pid"), os.path.join(d, "bare.pid")
    body = DETACH + " && sleep 3600"
    with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
        f.write(textwrap.dedent(f"""\
            cmake_minimum_required(VERSION 3.16)
            project(contain_probe NONE)
            enable_testing()
            add_test(NAME contained COMMAND {CONTAIN} -- sh -c "{body.format(pidfile=contained_pid)}")
            add_test(NAME bare COMMAND sh -c "{body.format(pidfile=bare_pid)}")
            set_tests_properties(contained bare PROPERTIES TIMEOUT 2)
            """))
    subprocess.run(["cmake", "-S", d, "-B", os.path.join(d, "build")], check=True,
                   stdout=subprocess.DEVNULL)
    r = subprocess.run(["ctest", "-j2"], cwd=os.path.join(d, "build"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    check(r.stdout.count("(Timeout)") == 2, "ctest times both tests out")
    kept, leaked = read_pid(contained_pid), read_pid(bare_pid)
    time.sleep(0.2)  # ctest has returned: whatever it killed is gone by now
    check(kept is not None and not running(kept), "under contain, the daemon died with the test")
    check(leaked is not None and running(leaked), "without it, the daemon outlived the timeout")
    if leaked and running(leaked):
        os.kill(leaked, signal.SIGKILL)


def main():
    d = tempfile.mkdtemp(prefix="mccache-contain-")
    try:
        exit_status_and_leftovers(d)
        ctest_timeout(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return verdict("contain")


if __name__ == "__main__":
    sys.exit(main())
