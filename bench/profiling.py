"""Profile of the collection: where a first deploy and a no-op re-deploy spend their time.

- an empty play (ansible-playbook's own start and stop) and loops of k8s_info (one module run);
- each task of the role, from profile_tasks and -vvv log timestamps (controller time, AnsiballZ
  packaging, module execution);
- the release action's functions, from cProfile of the forked workers
  (bench/profile/cprofile_playbook.py): seconds per function of plugins/;
- the import time of the kubernetes client, paid once per ansible-playbook by the action.
"""

from __future__ import annotations

import datetime
import pstats
import re
import shutil
import statistics
import subprocess
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import yaml
from common import LABEL, PLAYBOOK, RESULTS, ROOT, VENV_BIN, log, summary

if TYPE_CHECKING:
    from run import Bench

PY = str(VENV_BIN / "python")
FLEET = 10  # namespaces of the fleet profile (a no-op re-deploy in one play)


def run_profile(b: Bench) -> None:
    for attempt in b.attempts("the profile"):
        try:
            b.results["profile"] = profile_once(b, attempt)
            return
        except Exception as e:  # a failed profile must not lose the run
            log(f"profile failed: {str(e)[-1500:]}")
        finally:
            b.cluster.delete_namespaces(f"{LABEL}={b.run_id}")


def timed(b: Bench, argv: list[str], **env: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=b.env | env, capture_output=True, check=True)
    return time.perf_counter() - start


def profile_once(b: Bench, attempt: int) -> dict[str, Any]:
    log("profiling the collection: per task (-vvv), per function (cProfile), imports")
    prof: dict[str, Any] = {}
    ns, ns_c = b.ns("prof", attempt), b.ns("profc", attempt)
    b.cluster.create_namespaces([ns, ns_c], b.run_id)
    prof["empty_playbook"] = summary(
        [timed(b, [PLAYBOOK, "bench/profile/empty.yml"]) for _round in range(3)]
    )
    prof["modules"] = run_vvv(b, ["bench/profile/modules.yml"], "modules")
    deploy = ["playbooks/deploy.yml", "-e", f"exchange_router_namespace={ns}"]
    prof["first"] = run_vvv(b, deploy, "first")
    prof["noop"] = run_vvv(b, deploy, "noop")
    prof["noop"]["plain_seconds"] = timed(b, [PLAYBOOK, *deploy])
    deploy_c = ["playbooks/deploy.yml", "-e", f"exchange_router_namespace={ns_c}"]
    prof["cprofile_first"] = run_cprofile(b, deploy_c, "first")
    prof["cprofile_noop"] = run_cprofile(b, deploy_c, "noop")
    render = ["playbooks/render.yml", "-e", f"exchange_router_render_dir={b.work / 'prof-render'}"]
    prof["cprofile_render"] = run_cprofile(b, render, "render")
    prof["cprofile_fleet"] = fleet_profile(b, attempt)
    prof["imports"] = import_profile(b)
    return prof


def fleet_profile(b: Bench, attempt: int, n: int = FLEET) -> dict[str, Any]:
    """A no-op re-deploy of n namespaces in one play, under cProfile: where the per-host cost
    of a fleet goes."""
    names = [b.ns("proff", attempt, f"{k:02d}") for k in range(1, n + 1)]
    b.cluster.create_namespaces(names, b.run_id)
    inventory = b.work / f"prof-fleet-{attempt}.yml"
    hosts = {ns: {"exchange_router_namespace": ns} for ns in names}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    argv = [
        "playbooks/deploy.yml",
        "-i",
        str(inventory),
        "-e",
        "exchange_router_hosts=all",
        "-f",
        str(b.args.forks),
    ]
    timed(b, [PLAYBOOK, *argv])  # the first deploy, untimed
    return run_cprofile(b, argv, "fleet") | {"namespaces": n}


def run_cprofile(b: Bench, args: list[str], name: str) -> dict[str, Any]:
    """Seconds per function (cumulative) of the collection's plugins in the workers, and of
    the calls that leave the controller (module runs, HTTP requests, sleeps)."""
    out = b.work / f"cprofile-{name}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(
        [PY, str(ROOT / "bench/profile/cprofile_playbook.py"), *args],
        cwd=ROOT,
        env=b.env | {"XR_BENCH_PROFILE_DIR": str(out)},
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - start
    stats, unreadable, tasks = pstats.Stats(), 0, []
    for path in sorted(out.glob("worker-*.prof"), key=lambda p: p.stat().st_mtime):
        try:
            one = pstats.Stats(str(path))
        except (EOFError, ValueError, TypeError):  # a worker that exited while dumping
            unreadable += 1
            continue
        stats.add(one)
        task = path.stem.split("-", 2)[-1].replace("_", " ").split("exchange router ", 1)[-1]
        tasks.append({"task": task, "seconds": one.total_tt, "parts": components(one)})
    parent = pstats.Stats(str(out / "parent.prof"))
    ours = []
    for (path, line, func), (_cc, ncalls, _tt, cum, _callers) in stats.stats.items():
        if "/plugins/" in path and "exchange/platform" in path:
            where = f"{path.split('/plugins/')[-1]}:{line} {func}"
            ours.append({"where": where, "calls": ncalls, "seconds": cum})
    ours.sort(key=lambda r: -r["seconds"])
    return {
        "wall_seconds": wall,
        "unreadable": unreadable,
        "parent": {"seconds": parent.total_tt, "parts": components(parent)},
        "tasks": tasks,
        "functions": ours[:25],
    }


PARTS = [  # (part, substrings of a function's file); the first that matches wins
    ("exchange.platform plugins", ("exchange/platform/plugins/",)),
    ("Jinja2 and Ansible templating", ("jinja2/", "_templating/", "_datatag/", "markupsafe/")),
    (
        "kubernetes client, urllib3, ssl, http",
        ("kubernetes/", "urllib3/", "/ssl.py", "/http/", "/socket.py"),
    ),
    ("imports (importlib)", ("<frozen importlib", "importlib/")),
    ("YAML", ("yaml/",)),
    ("Ansible (executor, strategy, loader, callbacks)", ("/ansible/",)),
]
WAITS = ("sleep", "select", "poll", "acquire", "recv", "read", "wait")


def components(stats: pstats.Stats) -> dict[str, float]:
    """Own (not cumulative) seconds of a profile summed by part of the stack."""
    parts: dict[str, float] = {}
    for (path, _line, func), (_cc, _n, tt, _cum, _callers) in stats.stats.items():
        if path == "~":
            if "marshal" in func or "exec" in func or "compile" in func:
                part = "imports (importlib)"
            elif any(w in func for w in WAITS):
                part = "waiting (sleep, select, reads from pipes and sockets)"
            else:
                part = "other built-ins"
        else:
            part = next((n for n, keys in PARTS if any(k in path for k in keys)), "other Python")
        parts[part] = parts.get(part, 0.0) + tt
    return dict(sorted(parts.items(), key=lambda kv: -kv[1]))


def import_profile(b: Bench) -> dict[str, Any]:
    code = "import kubernetes.client, kubernetes.dynamic"
    bare = [timed(b, [PY, "-c", "pass"]) for _round in range(3)]
    full = [timed(b, [PY, "-c", code]) for _round in range(3)]
    return {
        "python_startup": statistics.median(bare),
        "kubernetes_import": statistics.median(full) - statistics.median(bare),
    }


def run_vvv(b: Bench, args: list[str], name: str) -> dict[str, Any]:
    logfile = b.work / f"profile-{name}.log"
    env = dict(
        b.env,
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        PROFILE_TASKS_TASK_OUTPUT_LIMIT="100",
        PROFILE_TASKS_SORT_ORDER="none",
        ANSIBLE_LOG_PATH=str(logfile),
    )
    t0 = time.time()
    proc = subprocess.run(
        [PLAYBOOK, "-vvv", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    t1 = time.time()
    if proc.returncode:
        raise RuntimeError(f"profiled run {name} failed:\n{proc.stdout[-2000:]}")
    parsed = parse_vvv_log(logfile.read_text(), t0, t1)
    parsed["profile_tasks"] = parse_profile_tasks(proc.stdout)
    if b.args.keep_logs:
        shutil.copy(logfile, RESULTS / f"profile-{name}.log")
    return parsed


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) p=\d+ u=\S+ n=\S+ \S+\| (.*)$")


def parse_vvv_log(text: str, t0: float, t1: float) -> dict[str, Any]:
    """Phases of each task from an ansible -vvv log with timestamps (ANSIBLE_LOG_PATH)."""
    events: list[tuple[float, str]] = []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((ts, m.group(2)))
    tasks: list[dict[str, Any]] = []
    play_start = recap = None
    current: dict[str, Any] | None = None
    for ts, msg in events:
        if msg.startswith("PLAY [") and play_start is None:
            play_start = ts
        if msg.startswith("TASK [") or msg.startswith("PLAY RECAP"):
            if current:
                current["end"] = ts
                tasks.append(current)
            current = None
            if msg.startswith("TASK ["):
                name = msg[len("TASK [") :].rsplit("]", 1)[0]
                current = {"name": name.split(" : ", 1)[-1], "start": ts, "modules": []}
            else:
                recap = ts
            continue
        if current is None or not msg.startswith("<"):
            continue
        if "echo ~" in msg:
            current["modules"].append({"begin": ts})
        elif "mkdir" in msg and current["modules"]:
            current["modules"][-1]["mkdir"] = ts
        elif " PUT " in msg and current["modules"]:
            current["modules"][-1]["put"] = ts
        elif "AnsiballZ_" in msg and "EXEC" in msg and "chmod" not in msg and current["modules"]:
            current["modules"][-1]["exec"] = ts
            current["modules"][-1]["module"] = re.search(r"AnsiballZ_(\w+)\.py", msg).group(1)
        elif "rm -f -r" in msg and current["modules"]:
            current["modules"][-1]["done"] = ts
    out_tasks = []
    totals = Counter()
    for t in tasks:
        dur = t["end"] - t["start"]
        row = {"name": t["name"], "seconds": dur, "module_runs": len(t["modules"])}
        pack = exe = 0.0
        row["packaging_runs"] = []
        for m in t["modules"]:
            if "put" in m and "begin" in m:
                pack += m["put"] - m["begin"]
                row["packaging_runs"].append(m["put"] - m["begin"])
            if "exec" in m and "done" in m:
                exe += m["done"] - m["exec"]
            row["module"] = m.get("module", "?")
        row["packaging"], row["execution"] = pack, exe
        row["controller"] = dur - pack - exe
        out_tasks.append(row)
        totals["tasks"] += 1
        totals["module_runs"] += len(t["modules"])
        totals["packaging"] += pack
        totals["execution"] += exe
        totals["controller"] += dur - pack - exe
        totals["skipped_or_controller_only_tasks"] += 0 if t["modules"] else 1
    first_task = tasks[0]["start"] if tasks else t0
    return {
        "wall_seconds": t1 - t0,
        "startup": (play_start or first_task) - t0,
        "play_setup": first_task - (play_start or first_task),
        "teardown": t1 - (recap or t1),
        "tasks": out_tasks,
        "totals": dict(totals),
    }


def parse_profile_tasks(stdout: str) -> list[tuple[str, float]]:
    rows = []
    for line in stdout.splitlines():
        m = re.match(r"^(.*?) -{2,} (\d+\.\d+)s$", line.strip())
        if m:
            rows.append((m.group(1).split(" : ", 1)[-1], float(m.group(2))))
    return rows


def per_run(task: dict[str, Any] | None, key: str) -> float:
    return task[key] / task["module_runs"] if task and task["module_runs"] else 0.0


def profile_markdown(p: dict[str, Any]) -> list[str]:
    md = ["### Where the collection's time goes (profile)", ""]
    mods = p.get("modules", {})
    info = next((t for t in mods.get("tasks", []) if t.get("module") == "k8s_info"), None)
    imp = p.get("imports", {})
    md.append(f"- empty play: {p['empty_playbook']['median']:.2f} s (median of 3).")
    if info:
        md.append(
            f"- one kubernetes.core module run (k8s_info, loop of {info['module_runs']}): "
            f"{per_run(info, 'seconds'):.2f} s each (AnsiballZ packaging "
            f"{per_run(info, 'packaging'):.2f}, execution {per_run(info, 'execution'):.2f})."
        )
    if imp:
        md.append(
            f"- `import kubernetes.client, kubernetes.dynamic`: {imp['kubernetes_import']:.2f} s "
            f"over Python's {imp['python_startup']:.2f} s start (paid once per ansible-playbook "
            "by an action plugin importing it at module level, once per run by a module)."
        )
    first, noop = p.get("first"), p.get("noop")
    if first and noop:
        md += [
            "",
            f"Per task, `-vvv` log timestamps (first deploy {first['wall_seconds']:.2f} s, no-op "
            f"{noop['wall_seconds']:.2f} s wall with -vvv; {noop.get('plain_seconds', 0):.2f} s "
            "without): controller = task time minus AnsiballZ packaging and module execution.",
            "",
            "| part | first (s) | no-op (s) |",
            "| --- | --- | --- |",
            f"| ansible-playbook start until the play | {first['startup']:.2f} | "
            f"{noop['startup']:.2f} |",
            f"| play start/end and stats | {first['play_setup'] + first['teardown']:.2f} | "
            f"{noop['play_setup'] + noop['teardown']:.2f} |",
        ]
        names = [t["name"] for t in first["tasks"]]
        for name in dict.fromkeys(names + [t["name"] for t in noop["tasks"]]):
            a = next((t for t in first["tasks"] if t["name"] == name), None)
            b = next((t for t in noop["tasks"] if t["name"] == name), None)
            md.append(f"| task: {name[:70]} | {_task_cell(a)} | {_task_cell(b)} |")
    for key, title in (
        ("cprofile_first", "first deploy"),
        ("cprofile_noop", "no-op re-deploy"),
        ("cprofile_render", "render"),
        (
            "cprofile_fleet",
            f"no-op re-deploy of {p.get('cprofile_fleet', {}).get('namespaces')} "
            "namespaces in one play",
        ),
    ):
        c = p.get(key)
        if c:
            md += cprofile_markdown(c, title)
    return [*md, ""]


def _task_cell(t: dict[str, Any] | None) -> str:
    if not t:
        return "-"
    if not t["module_runs"]:
        return f"{t['seconds']:.2f}"
    return (
        f"{t['seconds']:.2f} ({t['module_runs']} module run: packaging {t['packaging']:.2f}, "
        f"execution {t['execution']:.2f}, controller {t['controller']:.2f})"
    )


def cprofile_markdown(c: dict[str, Any], title: str) -> list[str]:
    def top(parts: dict[str, float], n: int = 4) -> str:
        ranked = sorted(parts.items(), key=lambda kv: -kv[1])[:n]  # latest.json sorts keys
        return ", ".join(f"{k} {v:.2f}" for k, v in ranked if v >= 0.01)

    md = [
        "",
        f"cProfile, {title} ({c['wall_seconds']:.2f} s wall under the profiler, which slows "
        "Python code about 1.5-2x): CPU seconds of ansible-playbook's main process and of each "
        "forked worker (one per task and host), split by part of the stack (own time).",
        "",
        "| process | s | where (s) |",
        "| --- | --- | --- |",
        f"| main process (start, strategy, results, callbacks) | {c['parent']['seconds']:.2f} | "
        f"{top(c['parent']['parts'])} |",
    ]
    for name, (n, seconds, parts) in by_task(c["tasks"]).items():
        if seconds >= 0.02:
            md.append(f"| {n} worker(s): {name[:60]} | {seconds:.2f} | {top(parts)} |")
    md += [
        "",
        "Functions of the collection's plugins in the workers (cumulative s, top 10):",
        "",
        "| function (plugins/...) | calls | s |",
        "| --- | --- | --- |",
    ]
    md += [f"| `{f['where']}` | {f['calls']} | {f['seconds']:.3f} |" for f in c["functions"][:10]]
    return md


def by_task(tasks: list[dict[str, Any]]) -> dict[str, tuple[int, float, dict[str, float]]]:
    """Workers of the same task (one per host) summed: count, seconds, seconds by part."""
    out: dict[str, tuple[int, float, dict[str, float]]] = {}
    for w in tasks:
        name = w["task"].split("exchange router ", 1)[-1]
        n, seconds, parts = out.get(name, (0, 0.0, {}))
        for k, v in w["parts"].items():
            parts[k] = parts.get(k, 0.0) + v
        out[name] = (
            n + 1,
            seconds + w["seconds"],
            dict(sorted(parts.items(), key=lambda kv: -kv[1])),
        )
    return out
