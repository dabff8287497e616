"""What the tests of tests/devcluster share: named checks that are counted, and process liveness."""
import time

FAILURES = []
STARTED = time.monotonic()


def check(ok, what):
    print(f"[{time.monotonic() - STARTED:5.1f} s] {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


def running(pid):
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def verdict(name):
    """Prints the closing line; returns the exit status."""
    print(f"{name}: {'OK' if not FAILURES else f'{len(FAILURES)} failure(s)'} "
          f"in {time.monotonic() - STARTED:.1f} s")
    return 1 if FAILURES else 0
