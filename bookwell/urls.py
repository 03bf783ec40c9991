from django.urls import include, path

from bookwell.core import views as core_views

urlpatterns = [
    path("", core_views.landing, name="landing"),
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon),
    path("", include("bookwell.accounts.urls")),
    path("", include("bookwell.tenancy.urls")),
    path("", include("bookwell.clients.urls")),
    path("", include("bookwell.scheduling.urls")),
    path("", include("bookwell.bookings.urls")),
    path("", include("bookwell.bookings.public_urls")),
]

handler400 = "bookwell.core.views.bad_request"
