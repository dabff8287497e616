"""Settings of the example site, pointed at one region of a running devcluster.

MCCACHE_ENDPOINTS: path to devcluster's endpoints.json; MCCACHE_REGION: the region this app server
runs in (dc1, dc2...). Reads use the region's local database and mcproxy; writes go to the primary.
"""
import json
import os
import sys

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(BASE_DIR, "..", "..", "python"))

SECRET_KEY = "example-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["profiles"]
ROOT_URLCONF = "shop.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _dsn_to_django(dsn):
    fields = dict(part.split("=", 1) for part in dsn.split())
    return {"ENGINE": "django.db.backends.postgresql", "HOST": fields["host"],
            "PORT": fields["port"], "NAME": fields["dbname"], "USER": fields["user"],
            "PASSWORD": fields.get("password", "")}


_endpoints_path = os.environ.get("MCCACHE_ENDPOINTS",
                                 os.path.join(BASE_DIR, "..", "..", "out", "devcluster",
                                              "endpoints.json"))
_region_name = os.environ.get("MCCACHE_REGION", "dc1")
with open(_endpoints_path) as f:
    _regions = {r["name"]: r for r in json.load(f)["regions"]}
_region = _regions[_region_name]

DATABASES = {
    "default": _dsn_to_django(_region["postgres"]),           # the region's local database
    "primary": _dsn_to_django(_region["primary_postgres"]),   # writes
}
DATABASE_ROUTERS = ["profiles.routers.Router"]

# Read your own writes: a session that wrote reads, for 5 s, only what has applied its write.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "mccache.django_ryw.ReadYourWritesMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
MCCACHE_READ_YOUR_WRITES = {
    "SOURCES": {"default": {"PRIMARY": "primary", "LOCAL": "default"}},
    "TOKEN_TTL": 5.0,          # seconds a session keeps its write's LSN
    "WATERMARK_WAIT": 0.05,    # the wait for the region's watermark
    "CACHE_FALLBACK": "replica",
    "REPLICA_WAIT": 1.0,       # the wait for the local replica's replay
    "REPLICA_FALLBACK": "raise",
}

CACHES = {
    # The one-line change: mcproxy of this region, with leases.
    "default": {
        "BACKEND": "mccache.django_cache.LeaseCache",
        "LOCATION": _region["proxy"],
        "KEY_FUNCTION": "mccache.django_cache.plain_key",
    },
    # Stock Django backends work through mcproxy unchanged.
    "pymemcache": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": _region["proxy"],
    },
    "pylibmc": {
        "BACKEND": "django.core.cache.backends.memcached.PyLibMCCache",
        "LOCATION": _region["proxy"],
    },
}
