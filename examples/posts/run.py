"""``make example``: idgate and the posts API side by side, ready to try with curl.

It starts from a fresh example directory (``examples/posts/data`` unless told otherwise), then,
with idgate's own command line:

1. migrates idgate's database and creates an administrator ``admin`` (generated password);
2. creates two service accounts owned by the administrator, each with one API key: ``posts-api``
   (scope ``tokens:introspect``: the posts API uses it to check API keys and revocations) and
   ``reader`` (scope ``posts:read``: a service that exports the posts);
3. serves idgate on http://127.0.0.1:8000 and the posts API on http://127.0.0.1:8001;
4. writes ``example.env`` (the administrator's password and the reader's key) into the example
   directory and prints what to try.

Ctrl-C stops both. ``--idgate-port``, ``--posts-port`` and ``--data-dir`` change the defaults;
``IDGATE_*`` variables already in the environment (``IDGATE_BCRYPT_COST``...) are passed on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
#: Only a directory holding this file is ever wiped: one this script created.
MARKER = ".idgate-example"


def fail(message: str) -> SystemExit:
    return SystemExit(f"make example: {message}")


def fresh_directory(path: Path) -> Path:
    if path.exists():
        if not (path / MARKER).exists():
            raise fail(f"{path} exists and was not made by this example; choose another --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    (path / MARKER).write_text("made by examples/posts/run.py; deleted on its next run\n")
    return path


class Idgate:
    """idgate's command line and server, on the example's own data directory."""

    def __init__(self, data: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if k != "IDGATE_DATA_DIR"}
        self.env.update(
            IDGATE_DATA_DIR=str(data / "idgate"),
            IDGATE_ISSUER=self.url,
            IDGATE_HOST="127.0.0.1",
            IDGATE_PORT=str(port),
        )

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "idgate"), *args], env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise fail(f"idgate {' '.join(args[:2])} failed:\n{result.stderr or result.stdout}")
        return result.stdout

    def api_key(self, owner: str, account: str, scope: str) -> str:
        created = self.run("service-accounts", "create", owner, account)
        account_id = created.rsplit("(id ", 1)[1].split(")", 1)[0]
        output = self.run("apikeys", "create", account_id, "--scope", scope, "--name", account)
        return output.strip().splitlines()[-1]

    def serve(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(BIN / "idgate"), "serve"], env=self.env)


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise fail(f"{what} stopped (exit code {process.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise fail(f"{what} did not answer at {url}")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idgate-port", type=int, default=8000)
    parser.add_argument("--posts-port", type=int, default=8001)
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    args = parser.parse_args()

    data = fresh_directory(args.data_dir.resolve())
    idgate = Idgate(data, args.idgate_port)
    posts_url = f"http://127.0.0.1:{args.posts_port}"
    print("Setting up idgate in", data / "idgate", flush=True)
    idgate.run("migrate")
    created = idgate.run("users", "create", "admin", "--admin", "--generate-password")
    admin_password = created.rsplit(": ", 1)[1].strip()
    introspection_key = idgate.api_key("admin", "posts-api", "tokens:introspect")
    reader_key = idgate.api_key("admin", "reader", "posts:read")
    env_file = data / "example.env"
    env_file.write_text(
        f"IDGATE={idgate.url}\nPOSTS={posts_url}\n"
        f"ADMIN_PASSWORD={admin_password}\nREADER_KEY={reader_key}\n"
    )
    env_file.chmod(0o600)

    processes: list[subprocess.Popen[bytes]] = []

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        processes.append(idgate.serve())
        wait_for(f"{idgate.url}/health", processes[0], "idgate")
        posts_env = {
            **os.environ,
            "POSTS_IDGATE_ISSUER": idgate.url,
            "POSTS_IDGATE_API_KEY": introspection_key,
            "POSTS_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'posts.db'}",
        }
        processes.append(
            subprocess.Popen(
                [
                    str(BIN / "python"),
                    "-m",
                    "uvicorn",
                    "--factory",
                    "app:from_env",
                    "--app-dir",
                    str(HERE),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(args.posts_port),
                    "--no-server-header",
                ],
                env=posts_env,
            )
        )
        wait_for(f"{posts_url}/posts", processes[1], "the posts API")
        print(
            f"""
Ready.
  idgate     {idgate.url}   (API docs: {idgate.url}/docs)
  posts API  {posts_url}   (API docs: {posts_url}/docs)

The administrator is "admin"; its password and the reader service's API key are in
  {env_file}
Load them into your shell and follow examples/posts/README.md:

  . {env_file}
  curl {posts_url}/posts
  curl {posts_url}/export -H "X-API-Key: $READER_KEY"

Ctrl-C stops both servers.""",
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        raise fail("a server stopped")
    except KeyboardInterrupt:
        print("\nStopping.", flush=True)
    finally:
        stop(processes)


if __name__ == "__main__":
    main()
