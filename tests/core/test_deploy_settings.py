"""Production refuses to start without its secrets and passes Django's deployment checks (P14)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROD_ENV = {
    "BOOKWELL_ENV": "production",
    "BOOKWELL_SECRET_KEY": "k" * 20
    + "-production-test-secret-key-that-is-long-and-random-0123456789",
    "BOOKWELL_ALLOWED_HOSTS": "clinic.example",
    "BOOKWELL_MASTER_KEYS": "m1:" + base64.b64encode(b"m" * 32).decode(),
}


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOKWELL_", "DATABASE_"))}
    full_env.update(BOOKWELL_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "bookwell", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_passes_check_deploy_at_warning_level(tmp_path):
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], PROD_ENV, tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("BOOKWELL_MASTER_KEYS", "BOOKWELL_MASTER_KEYS"),
        ("BOOKWELL_SECRET_KEY", "BOOKWELL_SECRET_KEY"),
    ],
)
def test_production_refuses_to_start_without_each_secret(missing, named, tmp_path):
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = _run(["check"], env, tmp_path)
    assert result.returncode == 2
    assert named in result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "m1:" + base64.b64encode(b"short").decode(),
        "no-colon",
        "m1:!!!",
        "a:" + "A" * 44 + ",a:" + "A" * 44,
    ],
)
def test_a_bad_master_key_stops_start_up_without_revealing_it(value, tmp_path):
    result = _run(["check"], {**PROD_ENV, "BOOKWELL_MASTER_KEYS": value}, tmp_path)
    assert result.returncode == 2
    assert "BOOKWELL_MASTER_KEYS" in result.stderr
    assert value.split(":")[-1] not in result.stderr or value == "no-colon"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("env", [PROD_ENV])
def test_production_profile_uses_secure_host_cookies_and_hsts(env, tmp_path):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_DOMAIN, s.SESSION_COOKIE_PATH, s.DEBUG]))"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKWELL_")}
    full_env.update(
        BOOKWELL_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="bookwell.settings", **env
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True
    ).stdout
    session, csrf, s_secure, c_secure, hsts, redirect, domain, path, debug = json.loads(out)
    assert session.startswith("__Host-") and csrf.startswith("__Host-")
    assert s_secure is True and c_secure is True
    assert hsts >= 31_536_000
    assert redirect is True
    assert domain is None and path == "/"
    assert debug is False


def test_production_refuses_schema_changes_as_the_runtime_role(tmp_path):
    env = {**PROD_ENV, "DATABASE_URL": "postgresql://bookwell_app@127.0.0.1:5432/none"}
    result = _run(["migrate"], env, tmp_path)
    assert result.returncode == 2
    assert "DATABASE_OWNER_URL" in result.stderr


def test_the_demo_with_its_published_password_is_refused_in_production(tmp_path):
    result = _run(["demo"], PROD_ENV, tmp_path)
    assert result.returncode != 0
    assert "not created in production" in result.stderr


def test_production_collects_hashed_static_files_and_links_them(tmp_path):
    collected = _run(["collectstatic", "--noinput", "-v0"], PROD_ENV, tmp_path)
    assert collected.returncode == 0, collected.stderr + collected.stdout
    shown = _run(
        [
            "shell",
            "-c",
            "from django.templatetags.static import static; "
            "print(static('css/app.css')); print(static('css/app.css'))",
        ],
        PROD_ENV,
        tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    first, again = shown.stdout.split()[-2:]  # (the shell may print its imports first)
    assert first == again != "/static/css/app.css"
    assert first.startswith("/static/css/app.")


def test_production_never_sends_webhooks_into_private_networks(tmp_path):
    """BOOKWELL_WEBHOOKS_ALLOW_PRIVATE is for tests and local work; production ignores it
    and needs https (SSRF)."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.WEBHOOKS_ALLOW_PRIVATE, s.WEBHOOKS_ALLOW_HTTP]))"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKWELL_")}
    full_env.update(
        BOOKWELL_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="bookwell.settings",
        BOOKWELL_WEBHOOKS_ALLOW_PRIVATE="true",
        BOOKWELL_WEBHOOKS_ALLOW_HTTP="true",
        **PROD_ENV,
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [False, False]
