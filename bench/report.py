"""Turning the runs into the published tables: throughput, latency, ratios, targets."""

from __future__ import annotations

import statistics
from typing import Any

#: The scenarios in table order, with how each is described. ``{…}`` fields come from the config.
SCENARIOS: dict[str, str] = {
    "public": "public route",
    "protected": "protected route (bearer token)",
    "login": "login (bcrypt cost {bcrypt_cost})",
    "refresh": "token refresh",
    "jwks": "JWKS",
    "probe_idle": "protected route, {probe_connections} connections, idle",
    "probe_flood": "protected route, {probe_connections} connections, during a login flood",
    "login_flood": "login flood ({flood_connections} connections{flood_pace})",
}

IDGATES = ("idgate", "idgate-compare", "idgate-pg", "idgate-pg-compare")


def flood_pace(config: dict[str, Any]) -> str:
    """How the flood's connections send, for its label: nothing for a closed loop."""
    pause = config.get("flood_pause_ms", 0)
    return f", each pausing {pause:g} ms after an answer" if pause else ""


def summarize(cell: dict[str, Any]) -> dict[str, Any]:
    """Median throughput and latency of a cell's runs (one per repeat), and its totals."""
    runs = cell.get("runs", [])
    if cell.get("status") != "ok" or not runs:
        return {"status": "n/a", "reason": cell.get("reason", "n/a")}
    served = [run for run in runs if run["requests"]]
    return {
        "status": "ok",
        "rps": statistics.median(run["rps"] for run in runs),
        "p50_ms": statistics.median(run["latency_us"]["p50"] for run in served) / 1000
        if served
        else None,
        "p99_ms": statistics.median(run["latency_us"]["p99"] for run in served) / 1000
        if served
        else None,
        "requests": sum(run["requests"] for run in runs),
        "failed": sum(sum(run["errors"].values()) for run in runs),
    }


def _paired(
    results: dict[str, Any], a: tuple[str, str], b: tuple[str, str], key: str
) -> float | None:
    """The median over repeats of ``a[key] / b[key]``, runs paired by repeat (same moment)."""
    runs_a = results.get(a[0], {}).get(a[1], {}).get("runs", [])
    runs_b = results.get(b[0], {}).get(b[1], {}).get("runs", [])
    ratios = []
    for run_a, run_b in zip(runs_a, runs_b, strict=False):
        value_a, value_b = _value(run_a, key), _value(run_b, key)
        if value_a is not None and value_b:
            ratios.append(value_a / value_b)
    return statistics.median(ratios) if ratios else None


def _value(run: dict[str, Any], key: str) -> float | None:
    if key == "rps":
        return float(run["rps"])
    return float(run["latency_us"][key]) if run["requests"] else None


def ratios(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ratio the issue asks for, with its target where there is one."""
    results = data["results"]
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, target: str = "", met: bool | None = None) -> None:
        rows.append({"ratio": name, "value": value, "target": target, "met": met})

    for idgate in IDGATES:
        if summarize(results.get("protected", {}).get(idgate, {}))["status"] != "ok":
            continue
        label = data["systems"][idgate]["label"]
        value = _paired(results, ("protected", idgate), ("protected", "bare"), "rps")
        add(f"{label}: protected / bare FastAPI ceiling", value, ">= 0.80", _at_least(value, 0.8))
        value = _paired(results, ("protected", idgate), ("protected", "tutorial"), "rps")
        add(f"{label}: protected / tutorial app", value, ">= 1.5", _at_least(value, 1.5))
        value = _paired(results, ("protected", idgate), ("protected", "fastapi-users"), "rps")
        add(f"{label}: protected / fastapi-users", value)
        value = _paired(results, ("public", idgate), ("public", "bare"), "rps")
        add(f"{label}: public / bare FastAPI ceiling", value)
    if summarize(results.get("protected", {}).get("guard", {}))["status"] == "ok":
        value = _paired(results, ("protected", "guard"), ("protected", "bare"), "rps")
        add(f"{data['systems']['guard']['label']}: protected / bare FastAPI ceiling", value)
    for key, system in data["systems"].items():
        runs = results.get("login", {}).get(key, {}).get("runs", [])
        paired = [
            run["rps"] / measured
            for run, measured in zip(
                runs, data["bcrypt_ceiling"]["per_login"].get(key, []), strict=False
            )
            if measured
        ]
        if paired:
            value = statistics.median(paired)
            target = key in IDGATES
            add(
                f"{system['label']}: login / bcrypt ceiling",
                value,
                ">= 0.90" if target else "",
                _at_least(value, 0.9) if target else None,
            )
    for key, system in data["systems"].items():
        idle = summarize(results.get("probe_idle", {}).get(key, {}))
        flood = summarize(results.get("probe_flood", {}).get(key, {}))
        if idle["status"] != "ok" or flood["status"] != "ok":
            continue
        target = key in IDGATES
        if flood["p99_ms"] is None:
            add(f"{system['label']}: flood p99 / idle p99 (no request served)", None, "", False)
            continue
        value = _paired(results, ("probe_flood", key), ("probe_idle", key), "p99")
        add(
            f"{system['label']}: protected p99 during login flood / idle p99",
            value,
            "<= 3" if target else "",
            (value is not None and value <= 3) if target else None,
        )
    return rows


def _at_least(value: float | None, floor: float) -> bool | None:
    return None if value is None else value >= floor


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def markdown(data: dict[str, Any]) -> str:
    """The tables of docs/benchmarks.md for one run."""
    config = data["config"]
    lines = [
        "| scenario | system | requests/s | p50 ms | p99 ms | requests | failed |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario, title in SCENARIOS.items():
        for key, system in data["systems"].items():
            cell = summarize(data["results"].get(scenario, {}).get(key, {}))
            name = title.format(**config, flood_pace=flood_pace(config))
            if cell["status"] != "ok":
                lines.append(f"| {name} | {system['label']} | {cell['reason']} | | | | |")
                continue
            lines.append(
                f"| {name} | {system['label']} | {cell['rps']:.1f} | {_ms(cell['p50_ms'])} | "
                f"{_ms(cell['p99_ms'])} | {cell['requests']} | {cell['failed']} |"
            )
    ceiling = data["bcrypt_ceiling"]
    lines += [
        "",
        f"bcrypt ceiling: {ceiling['checks_per_second']:.1f} checks/s at cost {ceiling['cost']} "
        f"on {ceiling['threads']} threads (median; each login run is compared with the ceiling "
        "measured right before and after it).",
        "",
        "| ratio (same run, paired by round, median over rounds) | value | target | met |",
        "|---|---:|---|---|",
    ]
    for row in ratios(data):
        value = "-" if row["value"] is None else f"{row['value']:.2f}"
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        lines.append(f"| {row['ratio']} | {value} | {row['target']} | {met} |")
    lines += [
        "",
        "| system | workers | start to first request (median of 3) | RSS idle, per worker | "
        "RSS loaded, per worker |",
        "|---|---:|---:|---:|---:|",
    ]
    for system in data["systems"].values():
        if "startup_s" not in system:
            continue
        startup_ok = "" if system["startup_s"] < 2 else " (**target < 2 s**)"
        rss_ok = "" if system["rss_loaded_mb"] < 150 else " (**target < 150 MB**)"
        lines.append(
            f"| {system['label']} | {config['workers']} | {system['startup_s']:.2f} s{startup_ok} "
            f"| {system['rss_idle_mb']:.0f} MB | {system['rss_loaded_mb']:.0f} MB{rss_ok} |"
        )
    return "\n".join(lines) + "\n"
