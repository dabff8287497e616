"""Reads from the region's local database (a replica outside dc1); writes to the primary."""


class PrimaryForWrites:
    def db_for_read(self, model, **hints):
        return "default"

    def db_for_write(self, model, **hints):
        return "primary"
