from django.urls import path

from bookwell.accounts import views

app_name = "accounts"

urlpatterns = [
    path("signin/", views.signin, name="signin"),
    path("signin/verify/", views.signin_verify, name="signin-verify"),
    path("signout/", views.signout, name="signout"),
    path("signout/everywhere/", views.signout_everywhere, name="signout-everywhere"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password-change"),
    path("account/mfa/", views.mfa, name="mfa"),
    path("account/mfa/disable/", views.mfa_disable, name="mfa-disable"),
    path("account/mfa/recovery-codes/", views.recovery_codes_regenerate, name="recovery-codes"),
    path("password/reset/", views.password_reset, name="password-reset"),
    path("password/reset/sent/", views.password_reset_sent, name="password-reset-sent"),
    path(
        "password/reset/<str:uidb64>/<str:token>/",
        views.password_reset_confirm,
        name="password-reset-confirm",
    ),
]
