"""deploy/alerts.yml (issue 11): Prometheus accepts it (promtool check rules), each alert
fires on the series its unit tests give and stays quiet on healthy ones (promtool test rules,
deploy/alerts.test.yml), every alert has such a test, and every metric an alert reads is one
the app exposes (a renamed metric would leave an alert that can never fire)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "alerts.yml"
UNIT_TESTS = DEPLOY / "alerts.test.yml"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (Debian package prometheus; make browser installs it)")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return found


def _alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    promtool = _promtool()
    check = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in check.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", str(UNIT_TESTS)],
        capture_output=True, text=True, timeout=60, cwd=DEPLOY,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_labelled_explained_and_shown_to_fire():
    fired = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = _alerts()
    assert len(alerts) >= 8
    for rule in alerts:
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["alert"] in fired, f"{rule['alert']} has no unit test that makes it fire"


@pytest.mark.django_db
def test_every_metric_an_alert_reads_is_exposed_by_the_app():
    token = "s" * 32
    with override_settings(METRICS_TOKEN=token):
        text = Client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert text.status_code == 200
    exposed: set[str] = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    for family in text_string_to_metric_families(text.content.decode()):
        exposed.update(family.name + s for s in suffixes.get(family.type, [""]))
    read = {
        name for rule in _alerts() for name in re.findall(r"\bbookwell_[a-z_]+\b", rule["expr"])
    }
    assert read  # (the pattern finds them)
    assert read - exposed == set()
