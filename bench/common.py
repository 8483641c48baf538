"""What every part of the benchmark shares: paths, the tools and steps, statistics, the machine."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin"
PLAYBOOK = str(VENV_BIN / "ansible-playbook")

# Columns of the timing rounds. floor is F: an empty play plus one kubernetes.core.k8s task that
# server-side applies the same objects; empty is an empty play (the floor of render).
TOOLS = ["collection", "floor", "naive", "kubectl", "helm", "empty"]
SHORT = {
    "collection": "col",
    "floor": "flr",
    "naive": "nai",
    "kubectl": "kub",
    "helm": "hlm",
    "empty": "emp",
}
COUNTED_TOOLS = ["collection", "floor", "naive", "kubectl", "helm"]
DEPLOY_STEPS = ["first", "noop", "check", "change"]
STEPS = [*DEPLOY_STEPS, "render"]
STEP_TITLES = {
    "first": "1. first deploy (until rolled out)",
    "noop": "2. no-op re-deploy",
    "check": "3. check / diff, unchanged",
    "change": "4. image tag change (until rolled out)",
    "render": "5. render only",
}
IMAGE_REPO = "jogeshwar01/exchange-router"
DEFAULT_TAG = "ed9f044dc79ee713da9518648524e0c68a70ddf7"
RELEASE = "exchange-router"
DEPLOYMENT = "exchange-router-deployment"
LABEL = "exchange-platform.bench/run"
SECRET_DATA = {
    "server_addr": "0.0.0.0:8080",
    "database_url": "postgres://bench:bench@db.invalid:5432/exchange",
    "redis_url": "redis://redis.invalid:6379/0",
}


def image(tag: str) -> str:
    return f"{IMAGE_REPO}:{tag}"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def summary(values: list[float]) -> dict[str, Any]:
    """Median, min, max and quartiles of some seconds ({"n": 0} for none)."""
    if not values:
        return {"n": 0}
    values = sorted(values)
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": values[0],
        "max": values[-1],
        "q1": q[0],
        "q3": q[2],
    }


def fmt_s(s: dict[str, Any] | None) -> str:
    if not s or not s.get("n"):
        return "n/a"
    return f"{s['median']:.2f} [{s['min']:.2f}-{s['max']:.2f}]"


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    """Median over median, None when either side has no runs."""
    if not a or not b or not a.get("n") or not b.get("n") or not b["median"]:
        return None
    return a["median"] / b["median"]


def fmt_r(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "os": platform.platform(terse=True),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def code_fingerprint() -> dict[str, str]:
    """The commit and a hash of the collection's code as it is on disk (committed or not)."""
    digest = hashlib.sha256()
    for top in ("roles", "plugins", "playbooks"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "roles", "plugins", "playbooks"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "commit": commit or "?",
        "dirty": "yes" if dirty else "no",
        "content": digest.hexdigest()[:16],
    }
