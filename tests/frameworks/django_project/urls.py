from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("state", views.state_view),
    path("template", views.templated),
]
