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

# The goals of issue 12 and what the issue measured before the release engine.
GOALS = {
    "noop_f": 1.3,
    "noop_naive": 0.6,
    "first_f": 1.3,
    "check_f": 1.2,
    "render_empty": 1.3,
    "scale": 8.0,
    "writes_per_object": 2,
}
BEFORE = {
    "noop": "2.49x F, 1.22x naive",
    "first": "~2.5x F",
    "check": "~1.9x F",
    "render": "~5x",
    "scale": "24x",
    "writes": "met",
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


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


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


def goals(results: dict[str, Any], t: dict[str, Any], sc: dict[str, Any]) -> list[str]:
    col = results["counted"].get("collection", {})
    deploys = [col[s] for s in ("first", "noop", "change") if s in col]
    max_writes = max((c["max_writes_per_object"] for c in deploys), default=None)
    repeated = {s: c["repeated_discovery"] for s, c in col.items() if c["repeated_discovery"]}
    cs = sc.get("collection", {})
    big = max((n for n in cs.get("first", {})), default=None)
    r_scale = {s: ratio(cs.get(s, {}).get(big), cs.get(s, {}).get(1)) for s in ("first", "noop")}

    def vs(step: str, tool: str, base: str = "floor") -> float | None:
        return ratio(t[step][tool], t[step][base])

    def beside(step: str, base: str = "floor") -> str:
        return ", ".join(
            f"{x} {fmt_r(vs(step, x, base))}"
            for x in ("helm", "kubectl", "naive")
            if t[step][x].get("n")
        )

    n_f, n_n = vs("noop", "collection"), vs("noop", "collection", "naive")
    rows = [
        (
            "no-op re-deploy",
            "≤ 1.3x F and ≤ 0.6x naive",
            f"{fmt_r(n_f)} F, {fmt_r(n_n)} naive",
            None
            if n_f is None or n_n is None
            else n_f <= GOALS["noop_f"] and n_n <= GOALS["noop_naive"],
            BEFORE["noop"],
            beside("noop"),
        ),
        (
            "first deploy until rolled out",
            "≤ 1.3x (F + the rollout wait)",
            f"{fmt_r(vs('first', 'collection'))} F",
            _le(vs("first", "collection"), GOALS["first_f"]),
            BEFORE["first"],
            beside("first"),
        ),
        (
            "`--check --diff`, unchanged",
            "≤ 1.2x F",
            f"{fmt_r(vs('check', 'collection'))} F",
            _le(vs("check", "collection"), GOALS["check_f"]),
            BEFORE["check"],
            beside("check"),
        ),
        (
            "render only",
            "≤ 1.3x an empty play",
            f"{fmt_r(vs('render', 'collection', 'empty'))} empty play",
            _le(vs("render", "collection", "empty"), GOALS["render_empty"]),
            BEFORE["render"],
            f"helm template {fmt_r(vs('render', 'helm', 'empty'))}",
        ),
        (
            f"{big} namespaces in one play",
            "≤ 8x one namespace",
            f"first {fmt_r(r_scale['first'])}, no-op {fmt_r(r_scale['noop'])}",
            None if None in r_scale.values() else max(r_scale.values()) <= GOALS["scale"],
            BEFORE["scale"],
            fleet_vs_helm(sc, big),
        ),
        (
            "writes per object per deploy",
            "≤ 2, no repeated discovery",
            f"max {max_writes}; "
            + ("no discovery repeated" if not repeated else f"repeated: {repeated}"),
            None
            if max_writes is None
            else max_writes <= GOALS["writes_per_object"] and not repeated,
            BEFORE["writes"],
            "",
        ),
    ]
    md = [
        "### Goals of issue 12 (ratios of medians, this run)",
        "",
        "F = an empty play plus one `kubernetes.core.k8s` task that server-side applies the same "
        "Deployment, Service and HPA (`bench/floor.yml`); for the steps that roll out, "
        "`kubectl rollout status` follows it, so F there is F + the rollout wait. Render is "
        "compared with an empty play. `beside` gives the other tools on the same base.",
        "",
        "| step | goal | measured | | before (issue 12) | beside (same base) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    md += [f"| {a} | {b} | {c} | {met(d)} | {e} | {f} |" for a, b, c, d, e, f in rows]
    return [*md, ""]


def _le(r: float | None, limit: float) -> bool | None:
    return None if r is None else r <= limit


def fleet_vs_helm(sc: dict[str, Any], n: int | None) -> str:
    cs, hl = sc.get("collection", {}), sc.get("helm-loop", {})
    parts = []
    for step in ("first", "noop"):
        a, b = cs.get(step, {}).get(n), hl.get(step, {}).get(n)
        if a and b:
            parts.append(
                f"{step} {a['median']:.1f} s vs helm loop {b['median']:.1f} s "
                f"({fmt_r(ratio(a, b))})"
            )
    return "; ".join(parts)


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
        f"Median [min-max] of {a['scale_runs']} runs ({a['scale_runs_large']} of 50; the helm "
        f"loop {a['helm_loop_runs']}). One inventory host per namespace, all on the one cluster.",
        "",
        "| namespaces | collection first (s) | collection no-op (s) | first per namespace | "
        "helm loop first (s) | helm loop no-op (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for n in sorted(cs.get("first", {})):
        f = cs["first"][n]
        md.append(
            f"| {n} | {fmt_s(f)} | {fmt_s(cs.get('noop', {}).get(n))} | "
            f"{f['median'] / n:.2f} | {fmt_s(hl.get('first', {}).get(n))} | "
            f"{fmt_s(hl.get('noop', {}).get(n))} |"
        )
    for n in sorted(cs.get("first", {}))[1:]:
        md.append(
            f"\n{n} / 1 namespaces: first {fmt_r(ratio(cs['first'][n], cs['first'].get(1)))}"
            f", no-op {fmt_r(ratio(cs.get('noop', {}).get(n), cs.get('noop', {}).get(1)))}."
        )
    plot_scale(cs, hl, a["forks"])
    return [*md, "", "Plot: `bench/results/scale.png`.", ""]


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
    md = header(results) + goals(results, t, sc) + wall_times(results, t) + requests(results)
    md += scale_md(results, sc)
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

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    lines = [
        (cs, "first", "collection first deploy", "tab:blue", "o"),
        (cs, "noop", "collection no-op", "tab:orange", "o"),
        (hl, "first", "helm loop first", "tab:green", "s"),
        (hl, "noop", "helm loop no-op", "tab:red", "s"),
    ]
    for src, step, label, color, marker in lines:
        pts = sorted(src.get(step, {}).items())
        if pts:
            ax.plot(
                [n for n, _stats in pts],
                [s["median"] for _n, s in pts],
                marker=marker,
                color=color,
                label=label,
            )
    for step, color in (("first", "tab:blue"), ("noop", "tab:orange")):
        one = cs.get(step, {}).get(1)
        if one:
            ax.axhline(
                GOALS["scale"] * one["median"],
                ls=":",
                color=color,
                alpha=0.6,
                label=f"goal: 8x one namespace ({step})",
            )
    ax.set_xlabel("namespaces")
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"exchange.platform: one play over N namespaces (-f {forks}) vs a helm loop")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
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
