from django.urls import path

from profiles import views

urlpatterns = [
    path("users/<int:user_id>", views.profile),
    path("metrics", views.metrics),
]
