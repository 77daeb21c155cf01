"""The bcrypt ceiling: how many password checks per second this machine's cores can do."""

from __future__ import annotations

import os
import threading
import time

import bcrypt


def cpu_count() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def bcrypt_checks_per_second(cost: int, duration: float) -> dict[str, float]:
    """Check one password against a cost-``cost`` hash on every core for ``duration`` seconds.

    bcrypt releases the GIL, so one thread per core runs that many checks truly in parallel; the
    result is the most logins per second any server could answer on this machine.
    """
    hashed = bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(cost))
    counts = [0] * cpu_count()
    deadline = time.perf_counter() + duration

    def work(slot: int) -> None:
        while time.perf_counter() < deadline:
            bcrypt.checkpw(b"correct horse battery staple", hashed)
            counts[slot] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(counts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "cost": cost,
        "threads": len(counts),
        "checks": sum(counts),
        "seconds": round(elapsed, 3),
        "checks_per_second": round(sum(counts) / elapsed, 2),
    }
