"""The documentation stays true to the code."""

from __future__ import annotations

from pathlib import Path

from idgate.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [
        f"IDGATE_{name.upper()}"
        for name in Settings.model_fields
        if f"`IDGATE_{name.upper()}`" not in text
    ]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make run" in text and "make test" in text
