"""CI never passes by skipping the real OpenID Connect provider: without Node.js or the npm
package, the end-to-end tests fail in CI and are skipped (with the reason) elsewhere."""

from __future__ import annotations

import subprocess

from tests.helpers import run_test_alone

TARGET = "tests/oauth/test_oidc_provider.py::test_cancelling_at_the_provider_ends_on_a_clear_page"


def run_peer_test(**env: str) -> subprocess.CompletedProcess[str]:
    return run_test_alone(TARGET, IDGATE_TEST_NODE="/nonexistent/node", **env)


def test_in_ci_a_missing_provider_fails_the_suite() -> None:
    result = run_peer_test(
        CI="true", IDGATE_TEST_DATABASE_URL="postgresql://nobody@127.0.0.1:1/unused"
    )
    assert result.returncode != 0
    assert "Node.js is not installed" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_elsewhere_a_missing_provider_skips_with_the_reason() -> None:
    result = run_peer_test()
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout.splitlines()[-1]
