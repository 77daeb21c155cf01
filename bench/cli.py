"""The benchmark run: start every system, measure every scenario, write the tables and JSON."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import report, wrk
from bench.ceiling import bcrypt_checks_per_second, cpu_count
from bench.machine import describe, wait_quiet
from bench.processes import Server, free_port
from bench.systems import ROOT, Context, System, all_systems

SMOKE = {
    "duration": 1.0,
    "warmup": 0.0,
    "bcrypt_cost": 4,
    "connections": 8,
    "login_connections": 2,
    "flood_connections": 8,
    "probe_connections": 2,
    "refresh_connections": 2,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cores = cpu_count()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure idgate against the tutorial app, fastapi-users and bare FastAPI.",
    )
    add = parser.add_argument
    add("--duration", type=float, default=10, help="seconds per measured run (default 10)")
    add("--warmup", type=float, default=2, help="seconds of unmeasured load before each run")
    add("--repeat", type=int, default=1, help="run every scenario this many times, interleaved")
    add("--workers", type=int, default=1, help="uvicorn workers for every system (default 1)")
    add("--bcrypt-cost", type=int, default=12, help="bcrypt cost for every system (default 12)")
    add("--connections", type=int, default=32, help="connections for the GET scenarios")
    add("--threads", type=int, default=1, help="wrk threads (leave the cores to the servers)")
    add("--login-connections", type=int, default=2 * cores, help="connections for login")
    add("--flood-connections", type=int, default=32, help="connections of the login flood")
    add(
        "--flood-pause",
        type=float,
        default=0,
        metavar="MS",
        help="milliseconds each flood connection waits after an answer (default 0: a closed "
        "loop, where a faster refusal brings the next login sooner)",
    )
    add("--probe-connections", type=int, default=4, help="connections of the latency probe")
    add("--refresh-connections", type=int, default=4, help="token families refreshed at once")
    add("--timeout", type=float, default=30, help="seconds before wrk counts a timeout")
    add("--systems", default="", help="comma-separated keys (idgate,idgate-pg,guard,...)")
    add("--postgres", default=os.environ.get("IDGATE_BENCH_POSTGRES_URL"), help="server URL")
    add("--redis", default=os.environ.get("IDGATE_BENCH_REDIS_URL"), help="redis:// URL")
    add(
        "--idgate-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra IDGATE_* setting for idgate (e.g. relaxed rate limits)",
    )
    add(
        "--compare",
        type=Path,
        metavar="CHECKOUT",
        help="also run idgate from another checkout (e.g. a git worktree of main), side by side",
    )
    add("--out", type=Path, default=ROOT / "bench" / "results", help="where results go")
    add("--smoke", action="store_true", help="a quick check that everything runs (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    return args


@dataclass
class Running:
    system: System
    server: Server
    base_url: str
    token: str
    requests: dict[str, wrk.Request | str]
    rss_loaded_mb: float = 0.0

    def sample_rss(self) -> None:
        self.rss_loaded_mb = max(self.rss_loaded_mb, *self.server.worker_rss_mb())

    def renew_token(self) -> None:
        """Log in again for a fresh access token.

        Every system's access tokens live 15 minutes and a run with several rounds outlives one:
        a protected run on an expired token would measure fast 401s, not the protected route.
        """
        if not self.token:
            return  # a system without logins
        for attempt in range(RENEW_ATTEMPTS):
            try:
                with httpx.Client(base_url=self.base_url, timeout=120) as client:
                    self.token = self.system.access_token(client)
                break
            except httpx.HTTPStatusError as exc:
                # A server still hashing a flood's queue sheds the login (503 + Retry-After):
                # wait as it asks, a few times, rather than lose the whole run.
                if exc.response.status_code not in (429, 503) or attempt == RENEW_ATTEMPTS - 1:
                    raise
                time.sleep(_retry_after(exc.response))
        self.requests = self.system.requests(self.token)


#: Logins :meth:`Running.renew_token` tries before it gives up on a server that sheds them.
RENEW_ATTEMPTS = 10


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    return min(float(value), 30.0) if value.isdigit() else 1.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A terminated run still stops its servers and drops its database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wrk.wrk_path()
    ctx = Context(
        run_dir=Path(tempfile.mkdtemp(prefix="idgate-bench-")),
        bcrypt_cost=args.bcrypt_cost,
        workers=args.workers,
        postgres_url=args.postgres,
        redis_url=args.redis,
        idgate_env=dict(item.split("=", 1) for item in args.idgate_env),
    )
    config = {
        name: getattr(args, name)
        for name in (
            "duration", "warmup", "repeat", "workers", "bcrypt_cost", "connections", "threads",
            "login_connections", "flood_connections", "probe_connections",
            "refresh_connections", "timeout", "smoke",
        )
    }  # fmt: skip
    config["flood_pause_ms"] = args.flood_pause
    config["idgate_env"] = sorted(ctx.idgate_env)
    data: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "config": config,
        "systems": {},
        "results": {scenario: {} for scenario in report.SCENARIOS},
    }
    wanted = {key for key in args.systems.split(",") if key}
    systems = [s for s in all_systems(args.compare) if not wanted or s.key in wanted]
    running: list[Running] = []
    try:
        for system in systems:
            data["systems"][system.key] = {"label": system.label}
            reason = system.unavailable(ctx)
            if reason:
                for cells in data["results"].values():
                    cells[system.key] = {"status": "n/a", "reason": reason}
                continue
            running.append(start(system, ctx, data["systems"][system.key]))
        ceilings: list[dict[str, float]] = []
        per_repeat: list[float] = []
        per_login: dict[str, list[float]] = {}

        def ceiling() -> float:
            ceilings.append(bcrypt_checks_per_second(args.bcrypt_cost, max(args.duration, 2)))
            return ceilings[-1]["checks_per_second"]

        for repeat in range(args.repeat):
            for step in (simple("public"), simple("protected", renew=True)):
                for entry in running:
                    step(entry, args, data["results"])
                    entry.sample_rss()
            # The ceiling right before and after each system's logins (the machine as they saw
            # it): each login run is paired with the mean of the two measurements around it.
            round_ceilings = [ceiling()]
            for entry in running:
                login(entry, args, data["results"])
                entry.sample_rss()
                if isinstance(entry.requests["login"], str):
                    continue
                round_ceilings.append(ceiling())
                bracket = (round_ceilings[-2] + round_ceilings[-1]) / 2
                per_login.setdefault(entry.system.key, []).append(bracket)
            per_repeat.append(statistics.mean(round_ceilings))
            for step in (refresh, simple("jwks")):
                for entry in running:
                    step(entry, args, data["results"])
                    entry.sample_rss()
            for entry in running:
                probe_and_flood(entry, args, data["results"])
            print(f"repeat {repeat + 1}/{args.repeat} done", flush=True)
        data["bcrypt_ceiling"] = {
            "cost": args.bcrypt_cost,
            "threads": cpu_count(),
            "checks_per_second": statistics.median(per_repeat),
            "per_repeat": per_repeat,
            "per_login": per_login,
            "runs": ceilings,
        }
        for entry in running:
            info = data["systems"][entry.system.key]
            wait_quiet()  # start-up is timed on idle cores, as the first start was
            info["startup_runs_s"] = [info["startup_s"]] + [
                restart_time(entry.system, ctx) for _ in range(STARTUP_RUNS - 1)
            ]
            info["startup_s"] = statistics.median(info["startup_runs_s"])
    finally:
        for entry in running:
            entry.server.stop()
            data["systems"][entry.system.key]["rss_loaded_mb"] = round(entry.rss_loaded_mb, 1)
        for system in systems:
            system.cleanup(ctx)
        shutil.rmtree(ctx.run_dir, ignore_errors=True)
    data["machine"]["load_average_at_end"] = list(os.getloadavg())
    data["ratios"] = report.ratios(data)
    return write(data, args.out)


def start(system: System, ctx: Context, info: dict[str, Any]) -> Running:
    """Start ``system``, time its first answer, create its account and take a token."""
    workdir = ctx.run_dir / system.key
    workdir.mkdir(parents=True)
    system.prepare(ctx, workdir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command, env = system.command(ctx, workdir, port)
    server = Server(command, env, system.cwd(workdir), ctx.run_dir / f"{system.key}.log")
    info["startup_s"] = round(server.wait_ready(base_url + "/public"), 3)
    with httpx.Client(base_url=base_url, timeout=120) as client:
        system.seed(client)
        token = system.access_token(client)
    entry = Running(system, server, base_url, token, system.requests(token))
    info["rss_idle_mb"] = round(max(server.worker_rss_mb()), 1)
    entry.rss_loaded_mb = info["rss_idle_mb"]
    return entry


Step = Any
#: Start-up is timed this many times per system (the first start included); the median counts.
STARTUP_RUNS = 3


def restart_time(system: System, ctx: Context) -> float:
    """Start one more instance of ``system`` on its data and time its first answer."""
    workdir = ctx.run_dir / system.key
    port = free_port()
    command, env = system.command(ctx, workdir, port)
    log = ctx.run_dir / f"{system.key}-restart.log"
    server = Server(command, env, system.cwd(workdir), log)
    try:
        return round(server.wait_ready(f"http://127.0.0.1:{port}/public"), 3)
    finally:
        server.stop()


def _record(results: dict[str, Any], scenario: str, key: str, load: wrk.Load) -> None:
    cell = results[scenario].setdefault(key, {"status": "ok", "runs": []})
    cell["runs"].append(load.as_dict())


def _not_applicable(results: dict[str, Any], scenario: str, key: str, reason: str) -> None:
    results[scenario][key] = {"status": "n/a", "reason": reason}


def simple(scenario: str, renew: bool = False) -> Step:
    """A GET scenario: warm up, then measure with ``--connections``; ``renew`` takes a fresh
    access token first."""

    def step(entry: Running, args: argparse.Namespace, results: dict[str, Any]) -> None:
        if renew:
            entry.renew_token()
        request = entry.requests.get(scenario, "n/a")
        if isinstance(request, str):
            _not_applicable(results, scenario, entry.system.key, request)
            return
        options = {"connections": args.connections, "threads": args.threads, "timeout": 10}
        if args.warmup > 0:
            wrk.run(entry.base_url, request, duration=args.warmup, **options)
        load = wrk.run(entry.base_url, request, duration=args.duration, **options)
        _record(results, scenario, entry.system.key, load)

    return step


def login(entry: Running, args: argparse.Namespace, results: dict[str, Any]) -> None:
    request = entry.requests["login"]
    if isinstance(request, str):
        _not_applicable(results, "login", entry.system.key, request)
        return
    load = wrk.run(
        entry.base_url,
        request,
        duration=args.duration,
        connections=args.login_connections,
        threads=args.threads,
        timeout=args.timeout,
    )
    _record(results, "login", entry.system.key, load)
    drain(entry)


def refresh(entry: Running, args: argparse.Namespace, results: dict[str, Any]) -> None:
    if isinstance(entry.requests["login"], str):
        _not_applicable(results, "refresh", entry.system.key, "n/a (no auth)")
        return
    with httpx.Client(base_url=entry.base_url, timeout=120) as client:
        tokens = entry.system.refresh_tokens(client, args.refresh_connections)
    if isinstance(tokens, str):
        _not_applicable(results, "refresh", entry.system.key, tokens)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as file:
        file.write("\n".join(tokens) + "\n")
    try:
        load = wrk.run(
            entry.base_url,
            wrk.Request("POST", "/token/refresh", tokens_file=file.name),
            duration=args.duration,
            connections=len(tokens),
            threads=len(tokens),
            timeout=args.timeout,
        )
    finally:
        os.unlink(file.name)
    _record(results, "refresh", entry.system.key, load)


def probe_and_flood(entry: Running, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The protected route's latency alone, then while a login flood runs on the same server."""
    key = entry.system.key
    entry.renew_token()
    protected, login_request = entry.requests["protected"], entry.requests["login"]
    if isinstance(login_request, str) or isinstance(protected, str):
        for scenario in ("probe_idle", "probe_flood", "login_flood"):
            _not_applicable(results, scenario, key, "n/a (no login)")
        return
    options = {"connections": args.probe_connections, "threads": 1, "timeout": args.timeout}
    _record(
        results,
        "probe_idle",
        key,
        wrk.run(entry.base_url, protected, duration=args.duration, **options),
    )
    flood = wrk.WrkRun(
        entry.base_url,
        login_request,
        duration=args.duration + 2,
        connections=args.flood_connections,
        threads=1,
        timeout=args.timeout,
        pause_ms=args.flood_pause,
    )
    time.sleep(1)  # let the flood fill the server's queues first
    probe = wrk.WrkRun(entry.base_url, protected, duration=args.duration, **options)
    entry.sample_rss()
    _record(results, "probe_flood", key, probe.result())
    _record(results, "login_flood", key, flood.result())
    entry.sample_rss()
    results["login_flood"][key].setdefault("drain_s", []).append(drain(entry))


def drain(entry: Running) -> float:
    """Wait until the logins that wrk left in flight are done, so the next run starts clean.

    Servers finish requests whose clients went away; one more login queues behind them, unless
    the server sheds it, and with several workers it reaches only one of them: then the machine's
    CPUs going quiet says the rest are done. Returns the seconds this took.
    """
    started = time.monotonic()
    request = entry.requests["login"]
    assert isinstance(request, wrk.Request)
    with httpx.Client(base_url=entry.base_url, timeout=300) as client:
        client.request(
            request.method,
            request.path,
            content=request.body,
            headers={"content-type": request.content_type},
        )
    wait_quiet()
    return round(time.monotonic() - started, 2)


def write(data: dict[str, Any], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{data['config']['workers']}w{'-smoke' if data['config']['smoke'] else ''}"
    table = report.markdown(data)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    (out / f"{name}.md").write_text(table)
    print(table)
    print(f"results: {out / name}.json")
    return 0
