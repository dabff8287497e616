#!/usr/bin/python3
"""Starts a two-region devcluster, runs the example app's tests as an app server in dc2, stops it.
Usage: examples/django_app/run_tests.py   (needs build/bin from scripts/build)"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    cluster_dir = tempfile.mkdtemp(prefix="mccache-django-")
    os.chmod(cluster_dir, 0o755)  # Postgres runs as user postgres and must reach its data dir
    devcluster = os.path.join(ROOT, "scripts", "devcluster")
    try:
        subprocess.run([devcluster, "up", "--dir", cluster_dir], check=True,
                       stdout=subprocess.DEVNULL)
        env = dict(os.environ, MCCACHE_ENDPOINTS=os.path.join(cluster_dir, "endpoints.json"),
                   MCCACHE_REGION="dc2", DJANGO_SETTINGS_MODULE="shop.settings")
        # Django's own test runner would create test databases; these tests use the live ones.
        runner = ("import django, unittest; django.setup(); "
                  "unittest.main(module=None, argv=['run_tests', '-v', 'profiles.tests', "
                  "'profiles.test_read_your_writes'])")
        return subprocess.run([sys.executable, "-c", runner], cwd=HERE, env=env).returncode
    finally:
        subprocess.run([devcluster, "down", "--dir", cluster_dir], check=False,
                       stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
