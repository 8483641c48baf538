"""The report: bench/results/latest.{md,json}, bench/results/scale.png and the results section of
BENCHMARKS.md, from the results of one run (or latest.json with --report-only)."""

from __future__ import annotations

import json
import statistics
from typing import Any

from common import (
    DEPLOY_STEPS,
    RESULTS,
    ROOT,
    STEP_TITLES,
    STEPS,
    TOOLS,
    fmt_r,
    fmt_s,
    log,
    ratio,
    summary,
)
from profiling import profile_markdown
from scale import DRIFT_ROUNDS

# The goals of issue 18: a fleet of FLEET namespaces in one play against `helm upgrade` looped
# over as many (collection / helm loop), the single release against F and the empty play, and
# the fleet's no-op against the one-release no-op of the same scale phase.
FLEET = 50
GOALS = {
    "fleet_first_helm": 0.9,
    "fleet_noop_helm": 0.6,
    "fleet_change_helm": 0.9,
    "render_empty": 1.3,
    "noop_f": 0.6,
    "fleet_noop_one": 6.0,
    "fleet_drift_kubectl": 0.5,  # issue 25
}
# Issue 15's "no step slower than before": the ratios of the benchmark run at commit d020383,
# before issue 15 (single-release steps to F, render to the empty play, FLEET namespaces in one
# play to one namespace). A step is not slower when this run's ratio is at most these.
BEFORE_ISSUE_15 = {
    "noop": 0.81,
    "check": 0.99,
    "first": 1.28,
    "change": 1.36,
    "render": 2.38,
    "fleet_first": 7.62,
    "fleet_noop": 8.43,
}
FLEET_STEP_TITLES = {
    "first": "first deploy",
    "noop": "no-op re-deploy",
    "check": "check, unchanged",
    "change": "image tag change",
}
VERSION_ORDER = [
    "collection commit",
    "ansible-core",
    "kubernetes.core",
    "kubernetes (Python)",
    "Python",
    "kube-apiserver",
    "kubectl",
    "helm",
]


def met(ok: bool | None, yes: str = "met", no: str = "not met") -> str:
    return "n/a" if ok is None else (f"**{yes}**" if ok else f"**{no}**")


def times_of(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        step: {
            tool: summary(
                [
                    r["seconds"]
                    for r in results["timed"]
                    if r["tool"] == tool and r["step"] == step and r["ok"]
                ]
            )
            for tool in TOOLS
        }
        for step in STEPS
    }


def scale_of(results: dict[str, Any]) -> dict[str, dict[str, dict[int, dict[str, Any]]]]:
    out: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for r in results["scale"]:
        if r["ok"]:
            out.setdefault(r["tool"], {}).setdefault(r["step"], {}).setdefault(r["namespaces"], [])
            out[r["tool"]][r["step"]][r["namespaces"]].append(r["seconds"])
    return {
        t: {s: {n: summary(v) for n, v in ns.items()} for s, ns in st.items()}
        for t, st in out.items()
    }


def header(results: dict[str, Any]) -> list[str]:
    m, v = results["machine"], results["versions"]
    code = results.get("code_at_start", {})
    tenants = results.get("other_tenants", [])
    return [
        f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['memory']} RAM, {m['os']}, "
        f"commit `{code.get('commit', '?')}`"
        + (
            " with uncommitted changes in roles/, plugins/ or playbooks/"
            if code.get("dirty") == "yes"
            else ""
        )
        + f". Load average (1/5/15 min) {m.get('loadavg_at_start', '?')} at the start, "
        f"{results.get('loadavg_at_end', '?')} at the end; at the round starts "
        + ", ".join(f"{t['loadavg_1m']:.1f}" for t in tenants)
        + f". `make bench` took {results['elapsed_seconds'] / 60:.1f} min; run id "
        f"`{results['run_id']}`; {results['args']['runs']} interleaved rounds.",
        "",
        "| component | version |",
        "| --- | --- |",
        *[f"| {k} | {v[k]} |" for k in VERSION_ORDER if k in v],
        "",
    ]


def scale_point(sc: dict[str, Any], tool: str, step: str, n: int | None) -> dict[str, Any]:
    """The summary of one tool's fleet step at n namespaces ({} when not measured)."""
    return sc.get(tool, {}).get(step, {}).get(n) or {}


def fleet_vs_helm(sc: dict[str, Any], step: str, n: int) -> tuple[float | None, str]:
    """Collection / helm loop for one fleet step at n namespaces, and the seconds it comes from
    (total and per release)."""
    a, b = scale_point(sc, "collection", step, n), scale_point(sc, "helm-loop", step, n)
    if not a.get("n") or not b.get("n"):
        return None, "not measured"
    r = ratio(a, b)
    return r, (
        f"{fmt_r(r)} ({a['median']:.1f} s vs {b['median']:.1f} s; per release "
        f"{a['median'] / n:.2f} s vs {b['median'] / n:.2f} s)"
    )


def fleet_vs_one(sc: dict[str, Any], step: str, n: int) -> float | None:
    """The collection's fleet step at n namespaces / the same step at one namespace."""
    return ratio(scale_point(sc, "collection", step, n), scale_point(sc, "collection", step, 1))


def _measured_row(
    title: str, goal: str, limit: float, a: dict[str, Any], b: dict[str, Any]
) -> tuple[str, str, str, bool | None]:
    """A goal row comparing two summaries: a / b against limit, with the medians behind it."""
    r = ratio(a, b) if a.get("n") and b.get("n") else None
    measured = (
        "not measured" if r is None else f"{fmt_r(r)} ({a['median']:.1f} s vs {b['median']:.2f} s)"
    )
    return title, goal, measured, _le(r, limit)


def drift_row(sc: dict[str, Any]) -> tuple[str, str, str, bool | None]:
    """Issue 25's goal row: diff.yml over the fleet against `kubectl diff` looped over it."""
    return _measured_row(
        f"{FLEET} namespaces: drift report (`diff.yml`)",
        f"≤ {GOALS['fleet_drift_kubectl']}x `kubectl diff` looped",
        GOALS["fleet_drift_kubectl"],
        scale_point(sc, "collection", "drift", FLEET),
        scale_point(sc, "kubectl-loop", "drift", FLEET),
    )


def goals(t: dict[str, Any], sc: dict[str, Any]) -> list[str]:
    def vs(step: str, tool: str, base: str = "floor") -> float | None:
        return ratio(t[step][tool], t[step][base])

    def beside(step: str, base: str = "floor") -> str:
        return ", ".join(
            f"{x} {fmt_r(vs(step, x, base))}"
            for x in ("helm", "kubectl", "naive")
            if t[step][x].get("n")
        )

    rows = []
    for step, key in (("first", "first"), ("noop", "noop"), ("change", "change")):
        r, measured = fleet_vs_helm(sc, step, FLEET)
        limit = GOALS[f"fleet_{key}_helm"]
        rows.append(
            (
                f"{FLEET} namespaces: {FLEET_STEP_TITLES[step]}",
                f"≤ {limit}x the helm loop",
                measured,
                _le(r, limit),
            )
        )
    render = vs("render", "collection", "empty")
    rows.append(
        (
            "render only",
            f"≤ {GOALS['render_empty']}x an empty play",
            f"{fmt_r(render)} (helm template {fmt_r(vs('render', 'helm', 'empty'))})",
            _le(render, GOALS["render_empty"]),
        )
    )
    noop = vs("noop", "collection")
    rows.append(
        (
            "single-release no-op re-deploy",
            f"≤ {GOALS['noop_f']}x F",
            f"{fmt_r(noop)} F ({beside('noop')})",
            _le(noop, GOALS["noop_f"]),
        )
    )
    rows.append(
        _measured_row(
            f"{FLEET} namespaces: no-op re-deploy",
            f"≤ {GOALS['fleet_noop_one']:g}x one release",
            GOALS["fleet_noop_one"],
            scale_point(sc, "collection", "noop", FLEET),
            scale_point(sc, "collection", "noop", 1),
        )
    )
    rows.append(drift_row(sc))
    md = [
        "### Goals of issues 18 and 25 (ratios of medians, this run)",
        "",
        f"Fleet rows: one play over {FLEET} namespaces (one inventory host each) against `helm "
        "upgrade` looped over as many, and against the one-namespace play of the same scale "
        "phase (section Scale). F = an empty play plus one `kubernetes.core.k8s` task that "
        "server-side applies the same Deployment, Service and HPA (`bench/floor.yml`). Ratios "
        "are compared at the two decimals shown.",
        "",
        "| step | goal | measured | |",
        "| --- | --- | --- | --- |",
    ]
    md += [f"| {a} | {b} | {c} | {met(d)} |" for a, b, c, d in rows]
    return [*md, ""]


def not_slower(t: dict[str, Any], sc: dict[str, Any]) -> list[str]:
    """Issue 15: this run's ratios beside those of the run before it (BEFORE_ISSUE_15)."""
    rows = [
        (
            STEP_TITLES[step],
            f"{BEFORE_ISSUE_15[step]:.2f}x {base}",
            ratio(t[step]["collection"], t[step]["empty" if step == "render" else "floor"]),
            BEFORE_ISSUE_15[step],
        )
        for step, base in (
            ("first", "F"),
            ("noop", "F"),
            ("check", "F"),
            ("change", "F"),
            ("render", "empty play"),
        )
    ]
    rows += [
        (
            f"{FLEET} namespaces in one play: {FLEET_STEP_TITLES[step]}",
            f"{BEFORE_ISSUE_15[f'fleet_{step}']:.2f}x one namespace",
            fleet_vs_one(sc, step, FLEET),
            BEFORE_ISSUE_15[f"fleet_{step}"],
        )
        for step in ("first", "noop")
    ]
    md = [
        "### Issue 15: no step slower than before",
        "",
        "The collection's ratios in this run beside those of the run at commit d020383, before "
        "issue 15 (single release to F, render to an empty play, the fleet to one namespace). "
        "Not slower: this run's ratio is at most the one before (at the two decimals shown).",
        "",
        "| step | before (d020383) | this run | |",
        "| --- | --- | --- | --- |",
    ]
    md += [
        f"| {a} | {b} | {fmt_r(r)} | {met(_le(r, limit), 'not slower', 'slower')} |"
        for a, b, r, limit in rows
    ]
    return [*md, ""]


def _le(r: float | None, limit: float) -> bool | None:
    """r ≤ limit at the two decimals the report shows; None when r was not measured."""
    return None if r is None else round(r, 2) <= limit


def wall_times(results: dict[str, Any], t: dict[str, Any]) -> list[str]:
    md = [
        f"### Wall time per step (seconds, median [min-max] of {results['args']['runs']} rounds)",
        "",
        "Every tool deploys the same objects into a fresh namespace per round; the six columns "
        "are interleaved and their order rotates each round. Ratios are against F (render: "
        "against the empty play).",
        "",
        "| step | " + " | ".join(TOOLS) + " |",
        "| --- |" + " --- |" * len(TOOLS),
    ]
    for step in STEPS:
        md.append(f"| {STEP_TITLES[step]} | " + " | ".join(fmt_s(t[step][x]) for x in TOOLS) + " |")
    md += [
        "",
        "| ratio to F (render: to the empty play) | " + " | ".join(TOOLS[:-1]) + " |",
        "| --- |" + " --- |" * (len(TOOLS) - 1),
    ]
    for step in STEPS:
        base = "empty" if step == "render" else "floor"
        md.append(
            f"| {STEP_TITLES[step]} | "
            + " | ".join(fmt_r(ratio(t[step][x], t[step][base])) for x in TOOLS[:-1])
            + " |"
        )
    return [
        *md,
        "",
        "What runs: collection `playbooks/deploy.yml` (`--check --diff`; `render.yml`); F "
        "`bench/floor.yml`; naive `bench/naive.yml` (one k8s task per object); kubectl "
        "`apply --server-side` + `rollout status` (`diff --server-side`); helm `upgrade --install "
        "--wait` (`--dry-run=server`: helm 4 sends no server-side dry-run, it checks less; "
        "`helm template`); empty `bench/profile/empty.yml`.",
        "",
    ]


def requests(results: dict[str, Any]) -> list[str]:
    counted = results["counted"]
    tools = [x for x in TOOLS if x in counted]
    md = [
        "### API requests per run, made by the tool (exact, from the apiserver's audit log)",
        "",
        "reads / writes / server-side dry-run writes / discovery; discovery caches warm. Each "
        "tool runs with a client certificate of the benchmark's own, so its requests are the "
        "audit events of that user (HTTP/2 where the tool's client uses it).",
        "",
        "| step | " + " | ".join(tools) + " |",
        "| --- |" + " --- |" * len(tools),
    ]
    for step in DEPLOY_STEPS:
        cells = []
        for x in tools:
            c = counted[x].get(step)
            cells.append(
                "n/a"
                if not c
                else f"{c['reads']} / {c['writes']} / {c['dry_run_writes']} / {c['discovery']}"
            )
        md.append(f"| {STEP_TITLES[step]} | " + " | ".join(cells) + " |")
    md += ["", "Writes by resource (first / no-op / change):", ""]
    for x in tools:
        parts = [
            ", ".join(f"{k} {n}" for k, n in sorted(counted[x][s]["writes_by_resource"].items()))
            or "none"
            for s in ("first", "noop", "change")
            if s in counted[x]
        ]
        md.append(f"- {x}: " + " / ".join(parts))
    md += by_verb_resource(counted, tools)
    cold = results.get("cold_discovery", {})
    if cold:
        md += [
            "",
            "Discovery with a cold cache (first contact with a server): "
            + "; ".join(f"{x} {cold[x]['discovery']} requests" for x in TOOLS if x in cold)
            + ".",
        ]
    idle = results.get("idle_per_second", {})
    md += [
        "",
        "As the apiserver counts them (`apiserver_request_total` deltas around each timed run, "
        "all clients incl. the controllers' reaction, minus an idle baseline of "
        f"{idle.get('reads', 0):.2f} reads/s and {idle.get('writes', 0):.2f} writes/s; median "
        "reads / writes):",
        "",
        "| step | " + " | ".join(tools) + " |",
        "| --- |" + " --- |" * len(tools),
    ]
    for step in DEPLOY_STEPS:
        cells = []
        for x in tools:
            rows = [
                r
                for r in results["timed"]
                if r["tool"] == x
                and r["step"] == step
                and r["ok"]
                and not r["metrics"].get("reset")
            ]
            if not rows:
                cells.append("n/a")
                continue
            med = {
                k: statistics.median(
                    max(0.0, r["metrics"][k] - idle.get(k, 0) * r["seconds"]) for r in rows
                )
                for k in ("reads", "writes")
            }
            cells.append(f"{med['reads']:.0f} / {med['writes']:.0f}")
        md.append(f"| {STEP_TITLES[step]} | " + " | ".join(cells) + " |")
    return [*md, ""]


def by_verb_resource(counted: dict[str, Any], tools: list[str]) -> list[str]:
    """Each tool's requests per audit verb and resource, one column per step."""
    md = ["", "Per audit verb and resource (discovery paths together):", ""]
    for x in tools:
        steps = [s for s in DEPLOY_STEPS if s in counted[x]]
        keys = sorted({k for s in steps for k in counted[x][s].get("by_verb_resource", {})})
        if not keys:
            continue
        md += [
            f"| {x} | " + " | ".join(STEP_TITLES[s].split(" (")[0] for s in steps) + " |",
            "| --- |" + " --- |" * len(steps),
        ]
        for k in keys:
            cells = [str(counted[x][s].get("by_verb_resource", {}).get(k, "")) for s in steps]
            md.append(f"| {k} | " + " | ".join(cells) + " |")
        md.append("")
    return md[:-1]


def scale_md(results: dict[str, Any], sc: dict[str, Any]) -> list[str]:
    if not results["scale"]:
        return []
    a = results["args"]
    cs, hl = sc.get("collection", {}), sc.get("helm-loop", {})
    md = [
        f"### Scale: N namespaces in one play (`-f {a['forks']}`), and helm looped over N",
        "",
        f"Median [min-max] of {a['scale_runs']} runs ({a['scale_runs_large']} of {FLEET} and "
        f"more; the helm loop {a['helm_loop_runs']}, over the largest N only). One inventory host "
        "per namespace, all on the one cluster; each run goes through the steps in this order on "
        "the same namespaces: first deploy, no-op re-deploy, check of the unchanged fleet "
        "(`--check --diff`; helm `upgrade --dry-run=server` looped) and an image tag change "
        "until rolled out. Per release = total seconds / N. `vs 1 namespace`: the "
        "collection's step over N namespaces / the same step over one.",
        "",
        "| namespaces | step | collection (s) | per release (s) | helm loop (s) | "
        "per release (s) | collection / helm loop | vs 1 namespace |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    sizes = sorted({n for src in (cs, hl) for steps in src.values() for n in steps})
    for n in sizes:
        for step in DEPLOY_STEPS:
            c, h = scale_point(sc, "collection", step, n), scale_point(sc, "helm-loop", step, n)
            if not c.get("n") and not h.get("n"):
                continue
            md.append(
                f"| {n} | {FLEET_STEP_TITLES[step]} | {fmt_s(c)} | {per_release(c, n)} | "
                f"{fmt_s(h)} | {per_release(h, n)} | {fmt_r(ratio(c, h))} | "
                f"{fmt_r(fleet_vs_one(sc, step, n)) if n != 1 else ''} |"
            )
    plot_scale(cs, hl, a["forks"])
    return [*md, "", "Plot: `bench/results/scale.png`.", ""]


def _sec(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _queries(case: dict[str, Any]) -> str:
    per = case.get("queries_per_step")
    shown = "n/a" if per is None else f"{per:.2f}"
    return f"{case.get('queries', 0)} / {case.get('steps', 0)} = {shown}"


def canary_md(c: dict[str, Any] | None) -> list[str]:
    """The canary row (bench/canary.py): a fleet canaried side by side, its abort and promote."""
    if not c or ("abort" not in c and "promote" not in c):
        return []
    steps = ", ".join(f"{s['weight']}% for {s['pause']} s" for s in c["steps"])
    last = c["steps"][-1]["weight"]
    abort, promote = c.get("abort", {}), c.get("promote", {})
    rows = []
    if abort:
        rows.append(
            f"| abort: at a recorded instant, every route at {last}%, the canaries' success rate "
            f"drops to {100 * c['failing']['2xx'] / sum(c['failing'].values()):g}% (< 99%) | "
            f"{_sec(abort.get('crossing_to_stable_seconds'))} (from the failing check's query: "
            f"{_sec(abort.get('failing_check_to_stable_seconds'))}) | {_queries(abort)} | "
            f"{abort.get('deploy_seconds', 0):.1f} s, {abort.get('aborted_releases', 0)} of "
            f"{c['releases']} aborted{'' if abort.get('ok') else ' **FAILED**'} |"
        )
    if promote:
        rows.append(
            f"| promote: healthy throughout, from the last step's check (the end of its pause) | "
            f"{_sec(promote.get('last_check_to_stable_seconds'))} | {_queries(promote)} | "
            f"{promote.get('deploy_seconds', 0):.1f} s, {promote.get('promoted_releases', 0)} of "
            f"{c['releases']} promoted{'' if promote.get('ok') else ' **FAILED**'} |"
        )
    return [
        f"### Canary: a fleet of {c['releases']} releases canaried side by side",
        "",
        f"One play over {c['releases']} namespaces (one inventory host each, `-f {c['forks']}`), "
        f"`exchange_router_canary` on with the steps {steps}, then an image change of the whole "
        "fleet, on the kwok cluster with the kind tier's Gateway API CRDs, a fake Gateway "
        "controller that accepts each route once (the deploy waits for Accepted and "
        "ResolvedRefs) and a fake Prometheus on 127.0.0.1 answering the engine's fleet query "
        f"(healthy: {c['healthy']['2xx']} requests per canary and window, p99 50 ms; "
        "`bench/canary.py`). Times: a watch of the routes, to the event that put the last of the "
        f"{c['releases']} at 100% stable (canary weight 0). Queries per step: the fake's queries "
        "over the steps the canaries took (one per step for the whole fleet).",
        "",
        f"| case | to all {c['releases']} routes at 100% stable | queries / steps = per step | "
        "the deploy |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        f"The fleet's first (plain) deploy took {c.get('first_deploy_seconds', 0):.1f} s; the row "
        f"{c.get('seconds', 0):.0f} s in all (load average {c.get('loadavg_1m_at_start', 0):.1f} "
        "at its start). The abort's time is mostly the rest of the step's pause: the canaries "
        "see the drop at their next check, and each puts every request back on stable in one "
        "write of its own. The promote's is the releases' own applies: each stable Deployment "
        "takes the new template, then its route and its canary are settled, each a "
        "kubernetes.core.k8s run of its own, one run at a time (3 per release).",
        "",
    ]


def report_part(results: dict[str, Any], part: str, body: list[str]) -> None:
    """`bench/run.sh --only PART`: one part alone, in bench/results/PART.{md,json}
    (BENCHMARKS.md and latest.* stay as the last whole run wrote them)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    m, code = results["machine"], results.get("code_at_start", {})
    head = [
        f"# exchange.platform benchmark: the {part} row alone",
        "",
        f"Generated by `bench/run.sh --only {part}`; `make bench` puts the same row in "
        "BENCHMARKS.md.",
        "",
        f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), commit "
        f"`{code.get('commit', '?')}`"
        + (" with uncommitted changes" if code.get("dirty") == "yes" else "")
        + f", kube-apiserver {results['versions'].get('kube-apiserver', '?')}; load average "
        f"{m.get('loadavg_at_start', '?')} at the start, {results.get('loadavg_at_end', '?')} at "
        f"the end; run id `{results['run_id']}`.",
        "",
    ]
    notes = [f"Note: {n}" for n in results["notes"]]
    (RESULTS / f"{part}.md").write_text("\n".join([*head, *body, *notes]) + "\n")
    slim = json.loads(json.dumps(results, default=str))
    (RESULTS / f"{part}.json").write_text(json.dumps(slim, indent=1, sort_keys=True) + "\n")
    log(f"wrote {RESULTS / f'{part}.md'}, {RESULTS / f'{part}.json'}")


def report_canary(results: dict[str, Any]) -> None:
    """`bench/run.sh --only canary`: the canary row alone."""
    body = canary_md(results.get("canary")) or ["The canary row was not measured."]
    report_part(results, "canary", body)


def report_drift(results: dict[str, Any]) -> None:
    """`bench/run.sh --only drift`: issue 25's drift row alone, with each run's seconds and the
    load average when it ended."""
    sc = scale_of(results)
    results["summary"] = {"drift": {t: sc.get(t, {}).get("drift", {}) for t in sc}}
    title, goal, measured, ok = drift_row(sc)
    body = [
        f"The {FLEET}-release fleet deployed and its image rolled once (as `make bench`'s scale "
        "phase does), then `ansible-playbook playbooks/diff.yml` over its inventory against "
        "`kubectl diff --server-side` looped over its namespaces, alternating, each "
        f"{DRIFT_ROUNDS} times (medians compared).",
        "",
        "| step | goal | measured | |",
        "| --- | --- | --- | --- |",
        f"| {title} | {goal} | {measured} | {met(ok)} |",
        "",
        "| run | tool | seconds | load average (1 min) at its end |",
        "| --- | --- | ---: | ---: |",
        *[
            f"| {i} | {r['tool']} | {r['seconds']:.2f} | {r['loadavg_1m']:.2f} |"
            for i, r in enumerate((r for r in results["scale"] if r["step"] == "drift"), 1)
        ],
        "",
    ]
    report_part(results, "drift", body)


def per_release(s: dict[str, Any], n: int) -> str:
    return f"{s['median'] / n:.2f}" if s.get("n") else "n/a"


def noise(results: dict[str, Any]) -> list[str]:
    tenants = results.get("other_tenants", [])
    md = [
        "### Noise",
        "",
        f"Integration tests (xr-it-* namespaces) were present in "
        f"{sum(1 for x in tenants if x['xr_it_namespaces'])} of {len(tenants)} rounds.",
    ]
    if results["failures"]:
        md.append(
            f"Failed commands (left out of the statistics): {len(results['failures'])}: "
            + "; ".join(
                f"{f.get('tool')} {f.get('namespaces', '')} {f['step']}".replace("  ", " ")
                for f in results["failures"]
            )
            + "."
        )
    if results["repeated"]:
        md.append("Repeated in a fresh namespace: " + "; ".join(results["repeated"]) + ".")
    start, end = results.get("code_at_start", {}), results.get("code_at_end", {})
    if start and end and start.get("content") != end.get("content"):
        md.append(
            "Note: roles/, plugins/ or playbooks/ changed on disk during the run (commit "
            f"{start.get('commit')} to {end.get('commit')}): the numbers mix versions."
        )
    md += [f"Note: {n}" for n in results["notes"]]
    return md


def report(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    t, sc = times_of(results), scale_of(results)
    results["summary"] = {
        "times": t,
        "scale": {
            k: {s: {str(n): v for n, v in ns.items()} for s, ns in st.items()}
            for k, st in sc.items()
        },
    }
    md = header(results) + goals(t, sc) + not_slower(t, sc)
    md += wall_times(results, t) + requests(results)
    md += scale_md(results, sc)
    md += canary_md(results.get("canary"))
    if "profile" in results:
        md += profile_markdown(results["profile"])
    md += noise(results)
    body = "\n".join(md) + "\n"
    (RESULTS / "latest.md").write_text(
        "# exchange.platform benchmark: latest results\n\n"
        "Generated by `make bench`; see BENCHMARKS.md.\n\n" + body
    )
    slim = json.loads(json.dumps(results, default=str))
    if not results["args"].get("keep_logs"):
        for tool in slim.get("counted", {}).values():
            for step in tool.values():
                step.pop("requests", None)
    (RESULTS / "latest.json").write_text(json.dumps(slim, indent=1, sort_keys=True) + "\n")
    update_benchmarks_md(body)
    log(f"wrote {RESULTS / 'latest.md'}, {RESULTS / 'latest.json'}, BENCHMARKS.md")


def plot_scale(cs: dict[str, Any], hl: dict[str, Any], forks: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    colors = dict(
        zip(DEPLOY_STEPS, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=True)
    )
    for src, who, style, marker in ((cs, "collection", "-", "o"), (hl, "helm loop", "--", "s")):
        for step in DEPLOY_STEPS:
            pts = sorted(src.get(step, {}).items())
            if pts:
                ax.plot(
                    [n for n, _stats in pts],
                    [s["median"] for _n, s in pts],
                    ls=style,
                    marker=marker,
                    color=colors[step],
                    label=f"{who}: {FLEET_STEP_TITLES[step]}",
                )
    one = cs.get("noop", {}).get(1)
    if one:
        limit = GOALS["fleet_noop_one"]
        ax.axhline(
            limit * one["median"],
            ls=":",
            color=colors["noop"],
            alpha=0.6,
            label=f"goal: {FLEET}-namespace no-op ≤ {limit:g}x one release",
        )
    ax.set_xlabel("namespaces")
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"exchange.platform: one play over N namespaces (-f {forks}) vs a helm loop")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(RESULTS / "scale.png")
    plt.close(fig)


BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


def update_benchmarks_md(body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    block = (
        f"{BEGIN}\n<!-- written by bench/run.py; edit outside these markers -->\n\n{body}\n{END}"
    )
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        path.write_text(head + block + rest.split(END, 1)[1])
    else:
        path.write_text("# Benchmarks\n\n## Latest results\n\n" + block + "\n")
