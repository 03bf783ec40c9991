"""Static URLs are worked out once per process and are the same as Django's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles.storage import StaticFilesStorage, staticfiles_storage
from django.template import engines
from django.test import override_settings
from whitenoise.storage import CompressedManifestStaticFilesStorage

from bookwell.core.staticfiles import DevStorage, ProductionStorage


def _count_parent_calls(monkeypatch: pytest.MonkeyPatch, parent: type) -> list[str]:
    calls: list[str] = []
    real = parent.url

    def counting(self: object, name: str, *args: object) -> str:
        calls.append(name)
        return real(self, name, *args)

    monkeypatch.setattr(parent, "url", counting)
    return calls


def test_the_settings_use_the_remembering_storages() -> None:
    assert settings.STORAGES["staticfiles"]["BACKEND"] == "bookwell.core.staticfiles.DevStorage"
    assert isinstance(staticfiles_storage._wrapped, DevStorage) or isinstance(
        staticfiles_storage, DevStorage
    )


def test_dev_urls_match_django_and_are_worked_out_once(monkeypatch) -> None:
    storage = DevStorage()
    expected = StaticFilesStorage().url("css/app.css")
    calls = _count_parent_calls(monkeypatch, StaticFilesStorage)
    assert storage.url("css/app.css") == expected
    assert storage.url("css/app.css") == expected
    assert storage.url("js/calendar.js") == StaticFilesStorage().url("js/calendar.js")
    assert calls.count("css/app.css") == 1


@override_settings(DEBUG=False)
def test_production_urls_are_the_hashed_names_and_a_missing_file_is_never_remembered(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "hash": "x", "paths": {"css/app.css": "css/app.1a2b.css"}})
    )
    storage = ProductionStorage(location=str(tmp_path), base_url="/static/")
    plain = CompressedManifestStaticFilesStorage(location=str(tmp_path), base_url="/static/")
    assert plain.url("css/app.css") == "/static/css/app.1a2b.css"
    calls = _count_parent_calls(monkeypatch, CompressedManifestStaticFilesStorage)
    for _ in range(3):
        assert storage.url("css/app.css") == "/static/css/app.1a2b.css"
    assert calls.count("css/app.css") == 1
    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            storage.url("css/missing.css")
    assert calls.count("css/missing.css") == 2


def test_the_static_tag_gives_the_remembered_url() -> None:
    rendered = engines["django"].from_string("{% load static %}{% static 'css/app.css' %}")
    assert rendered.render({}) == StaticFilesStorage().url("css/app.css")
