"""docs/deployment.md's production environment is one production actually accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from idgate.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_documented_production_settings_pass_the_production_checks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (ROOT / "docs" / "deployment.md").read_text()
    (block,) = re.findall(r"```env\n(.*?)```", text, re.S)
    variables = dict(line.split("=", 1) for line in block.strip().splitlines())
    assert variables["IDGATE_ENVIRONMENT"] == "production"
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IDGATE_DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=None)
    assert settings.production_problems() == []
    settings.validate_for_production()
    # Each documented variable is a real setting (a typo would be silently ignored otherwise).
    fields = {f"IDGATE_{name.upper()}" for name in Settings.model_fields}
    assert set(variables) <= fields
