"""CI never passes by skipping the browser: if Chromium cannot start, the suite fails."""

from __future__ import annotations

import subprocess

from tests.helpers import run_test_alone

TARGET = "tests/web/pages/test_browser.py::test_pages_are_responsive"


def run_browser_test(**env: str) -> subprocess.CompletedProcess[str]:
    return run_test_alone(TARGET, IDGATE_TEST_CHROMIUM="/nonexistent/chromium", **env)


def test_in_ci_a_missing_chromium_fails_the_suite() -> None:
    result = run_browser_test(
        CI="true", IDGATE_TEST_DATABASE_URL="postgresql://nobody@127.0.0.1:1/unused"
    )
    assert result.returncode != 0
    assert "Chromium cannot start" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_elsewhere_a_missing_chromium_skips_with_the_reason() -> None:
    result = run_browser_test()
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout.splitlines()[-1]
