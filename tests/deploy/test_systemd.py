"""deploy/systemd units (issue 11): filled in as docs/deploy.md says, `systemd-analyze verify`
accepts them (keys, values, the command exists), and the command lines they run are ones
`bookwell` takes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def _fill(text: str, tmp: Path) -> str:
    bookwell = Path(sys.executable).with_name("bookwell")
    return (
        text.replace("@BOOKWELL@", str(bookwell))
        .replace("@ENV_FILE@", str(tmp / "bookwell.env"))
        .replace("@DATA_DIR@", str(tmp))
    )


def test_systemd_accepts_the_units(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (Debian package systemd)")
        pytest.skip("systemd-analyze is not installed")
    (tmp_path / "bookwell.env").write_text("BOOKWELL_ENV=production\n")
    instances = {"bookwell-web@.service": "8001", "bookwell-worker@.service": "1"}
    assert sorted(p.name for p in UNITS.glob("*.service")) == sorted(instances)
    paths = []
    for name, instance in instances.items():
        text = _fill((UNITS / name).read_text(), tmp_path)
        assert not re.search(r"@[A-Z_]+@", text)  # every placeholder filled
        path = tmp_path / name.replace("@.", f"@{instance}.")
        path.write_text(text)
        paths.append(str(path))
    result = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("unit", ["bookwell-web@.service", "bookwell-worker@.service"])
def test_the_units_run_commands_bookwell_takes(unit: str):
    [command] = re.findall(r"^ExecStart=@BOOKWELL@ (.+)$", (UNITS / unit).read_text(), re.M)
    name, *options = command.replace("%i", "8001").split()
    helped = subprocess.run(
        [sys.executable, "-m", "bookwell", name, "--help"], capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert helped.returncode == 0, helped.stderr
    for option in options:
        if option.startswith("--"):
            assert option in helped.stdout
