"""Reads from the region's local database (a replica outside dc1); writes to the primary. Mixed
with ReadYourWritesRouter, a session's reads right after its own write wait for the replica to
have replayed it."""
from mccache.django_router import ReadYourWritesRouter


class PrimaryForWrites:
    def db_for_read(self, model, **hints):
        return "default"

    def db_for_write(self, model, **hints):
        return "primary"


class Router(ReadYourWritesRouter, PrimaryForWrites):
    pass
