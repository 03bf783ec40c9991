"""Staff pages for the clinic's catalogue and schedules."""

from django.urls import URLPattern, path

from bookwell.scheduling import views

app_name = "scheduling"

C = "c/<slug:clinic_slug>"

urlpatterns: list[URLPattern] = []
for key, pages in views.CATALOG_VIEWS.items():
    urlpatterns += [
        path(f"{C}/{key}/", pages["list"], name=key),
        path(f"{C}/{key}/new/", pages["new"], name=f"{key}-new"),
        path(f"{C}/{key}/<int:object_id>/", pages["edit"], name=f"{key}-edit"),
        path(f"{C}/{key}/<int:object_id>/archive/", pages["archive"], name=f"{key}-archive"),
    ]

urlpatterns += [
    path(f"{C}/staff/<int:staff_id>/schedule/", views.schedule, name="schedule"),
    path(f"{C}/staff/<int:staff_id>/overrides/", views.override_add, name="override-add"),
    path(f"{C}/overrides/<int:override_id>/delete/", views.override_delete, name="override-delete"),
    path(f"{C}/staff/<int:staff_id>/time-off/", views.time_off_add, name="time-off-add"),
    path(f"{C}/time-off/<int:time_off_id>/delete/", views.time_off_delete, name="time-off-delete"),
    path(f"{C}/closures/", views.closures, name="closures"),
    path(f"{C}/closures/<int:closure_id>/delete/", views.closure_delete, name="closure-delete"),
]
