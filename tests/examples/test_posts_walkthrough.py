"""End to end: ``make example``'s launcher starts ``idgate serve`` and the posts API for real,
then the curl walkthrough of examples/posts/README.md runs as written, each command answering
the status its comment announces."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.live import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "posts"
_STATUS = re.compile(r"^(curl .*?)\s+#\s*(\d{3})\s*$")

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


@dataclass
class Example:
    idgate: str
    posts: str
    data: Path


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Example]:
    idgate_port, posts_port = free_port(), free_port()
    data = tmp_path / "example"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
    env.update(IDGATE_ENVIRONMENT="test", IDGATE_BCRYPT_COST="4")
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE / "run.py"),
            "--idgate-port",
            str(idgate_port),
            "--posts-port",
            str(posts_port),
            "--data-dir",
            str(data),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    example = Example(f"http://127.0.0.1:{idgate_port}", f"http://127.0.0.1:{posts_port}", data)
    try:
        deadline = time.monotonic() + 90
        while b"Ready." not in (tmp_path / "run.log").read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "run.log").read_text()[-3000:])
            time.sleep(0.2)
        yield example
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    # Ctrl-C stopped both servers.
    for url in (example.idgate, example.posts):
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, timeout=2)


def walkthrough(example: Example) -> str:
    """The README's walkthrough as one shell script, with this run's ports and directory."""
    text = (EXAMPLE / "README.md").read_text()
    section = text.split("<!-- walkthrough -->")[1].split("<!-- /walkthrough -->")[0]
    lines = [
        'check() { want=$1; shift; got=$(command curl -s -o "$BODY" -w "%{http_code}" "$@"); '
        'echo "CHECK $want $got $(head -c 300 "$BODY" | tr "\\n" " ")"; }',
    ]
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line:
                continue
            line = line.replace(
                "examples/posts/data/example.env", str(example.data / "example.env")
            )
            line = line.replace("http://127.0.0.1:8000", example.idgate)
            line = line.replace("http://127.0.0.1:8001", example.posts)
            match = _STATUS.match(line)
            if match:
                line = f"check {match[2]} {match[1].removeprefix('curl ')}"
            lines.append(line)
    return "\n".join(lines) + "\n"


def test_the_readme_walkthrough(example: Example, tmp_path: Path) -> None:
    script = walkthrough(example)
    result = subprocess.run(
        ["bash", "-eu", "-c", script],
        env={"PATH": os.environ["PATH"], "BODY": str(tmp_path / "body")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    checks = [line.split(" ", 3) for line in result.stdout.splitlines() if line.startswith("CHECK")]
    assert len(checks) == script.count("\ncheck "), result.stdout
    assert len(checks) >= 18
    wrong = [line for line in checks if line[1] != line[2]]
    assert wrong == [], result.stdout

    # What the walkthrough left behind: post 1, edited by Alice, twice; post 2 deleted.
    posts = httpx.get(f"{example.posts}/posts").json()
    assert [(p["id"], p["title"], p["body"]) for p in posts] == [
        (1, "Still mine", "My first post, edited")
    ]
    assert httpx.get(f"{example.posts}/posts/2").status_code == 404
    reader_key = (example.data / "example.env").read_text().split("READER_KEY=")[1].strip()
    exported = httpx.get(f"{example.posts}/export", headers={"X-API-Key": reader_key}).json()
    assert [p["id"] for p in exported] == [1]
    who = httpx.get(f"{example.posts}/whoami", headers={"X-API-Key": reader_key}).json()
    assert who["kind"] == "service" and who["scopes"] == ["posts:read"]
    # The posts live in the example's own database, next to idgate's.
    assert (example.data / "posts.db").exists() and (example.data / "idgate").is_dir()
