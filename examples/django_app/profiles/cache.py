"""Read-through caching of profiles. The key matches the invalidator's template "user:{id}",
so a write anywhere invalidates it in every region once that region's replica has the write."""
from django.core.cache import cache

from .models import User


def profile_key(user_id):
    return f"user:{user_id}"


def get_profile(user_id):
    def load():
        u = User.objects.get(pk=user_id)  # the local database, by the router
        return {"id": u.id, "username": u.username, "name": u.name}

    return cache.get_or_fill(profile_key(user_id), load, timeout=300)


def rename(user_id, name):
    # No cache.delete here: the invalidator does it, in every region, from the WAL.
    User.objects.filter(pk=user_id).update(name=name)
