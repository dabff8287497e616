"""A profile page and a rename form: the read-your-writes case (rename, then reload)."""
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse

from mccache import django_ryw

from .cache import get_profile, rename


def profile(request, user_id):
    if request.method == "POST":
        rename(user_id, request.POST["name"])
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return JsonResponse(get_profile(user_id))


def metrics(request):
    """The read-your-writes counters, for the app's Prometheus scrape."""
    return HttpResponse(django_ryw.stats.prometheus_text(),
                        content_type="text/plain; version=0.0.4")
