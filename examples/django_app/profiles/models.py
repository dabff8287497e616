"""The demo schema's users table (examples/demo/schema.sql), owned by the SQL, not migrations."""
from django.db import models


class User(models.Model):
    id = models.BigIntegerField(primary_key=True)
    username = models.TextField(unique=True)
    name = models.TextField()
    bio = models.TextField(default="")

    class Meta:
        managed = False
        db_table = "users"
