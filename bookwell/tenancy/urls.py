from django.urls import path

from bookwell.tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("app/", views.choose_clinic, name="choose"),
    path("signup/", views.signup, name="signup"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path("c/<slug:clinic_slug>/", views.home, name="home"),
    path("c/<slug:clinic_slug>/team/", views.team, name="team"),
    path("c/<slug:clinic_slug>/team/invite/", views.team_invite, name="team-invite"),
    path(
        "c/<slug:clinic_slug>/team/<int:membership_id>/role/",
        views.team_change_role,
        name="team-role",
    ),
    path(
        "c/<slug:clinic_slug>/team/<int:membership_id>/remove/",
        views.team_remove,
        name="team-remove",
    ),
    path(
        "c/<slug:clinic_slug>/team/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("c/<slug:clinic_slug>/settings/", views.clinic_settings, name="settings"),
    path("c/<slug:clinic_slug>/settings/booking/", views.settings_booking, name="settings-booking"),
    path(
        "c/<slug:clinic_slug>/settings/branding/",
        views.settings_branding,
        name="settings-branding",
    ),
    path(
        "c/<slug:clinic_slug>/settings/embedding/",
        views.settings_embedding,
        name="settings-embedding",
    ),
    path("c/<slug:clinic_slug>/settings/plan/", views.settings_plan, name="settings-plan"),
]
