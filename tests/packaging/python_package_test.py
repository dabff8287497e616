#!/usr/bin/python3
"""pip install ./python works offline with Debian's setuptools: a fresh venv that sees the system
site packages (for Django and pymemcache), `pip install --no-index --no-build-isolation` of a copy
of python/, then mccache.django_cache imports from the venv, at the version CMakeLists.txt has."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SOURCE = os.environ.get("MCCACHE_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        version = re.search(r"project\(mccache VERSION (\S+)", f.read()).group(1)
    work = tempfile.mkdtemp(prefix="mccache-pip-")
    try:
        # A copy: pip builds in the tree it is given and leaves build/ and *.egg-info there.
        src = os.path.join(work, "python")
        shutil.copytree(os.path.join(SOURCE, "python"), src,
                        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        venv = os.path.join(work, "venv")
        # Debian's pip (python3-pip) from the system site packages; seeding the venv with its own
        # copy (ensurepip) took ~20 s here.
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip",
                        venv], check=True)
        pip = subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--no-index",
                              "--no-build-isolation", "--disable-pip-version-check", src],
                             capture_output=True, text=True)
        print(pip.stdout[-2000:], pip.stderr[-2000:])
        if pip.returncode != 0:
            print("FAIL: pip install ./python")
            return 1
        probe = subprocess.run(
            [os.path.join(venv, "bin", "python"), "-c",
             "import importlib.metadata as m, mccache, mccache.django_cache as d;"
             "import mccache.django_ryw, mccache.django_router, mccache.postgres;"
             "print(mccache.__file__); print(m.version('mccache')); print(d.LeaseCache.__name__)"],
            capture_output=True, text=True, cwd=work)
        lines = probe.stdout.split()
        print(probe.stdout, probe.stderr)
        ok = (probe.returncode == 0 and len(lines) == 3
              and lines[0].startswith(os.path.join(venv, "lib")) and lines[1] == version
              and lines[2] == "LeaseCache")
        print(f"{'ok' if ok else 'FAIL'}: mccache {version} installed in a venv and "
              "mccache.django_cache imports from it")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
