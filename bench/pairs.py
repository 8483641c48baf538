"""Two commands timed as whole processes in alternating pairs (A B A B ...), for the Analysis
sections of BENCHMARKS.md: each one's median wall time, the ratio of the medians and the median
of the pair-by-pair ratios (which holds when the machine's speed drifts). Not run by make bench.

    python bench/pairs.py --runs 12 \\
        -a 'ansible-playbook playbooks/render.yml -e exchange_router_render_dir=/tmp/r' \\
        -b 'ansible-playbook bench/profile/empty.yml'

Run from the repository root with the venv active and ANSIBLE_CONFIG=ansible.cfg (and, for
deploys, K8S_AUTH_KUBECONFIG); the first pair is a warm-up and is not counted. A command that
fails stops the run with its stderr.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{shlex.join(argv)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("-a", required=True, help="command A, split as a shell splits words")
    parser.add_argument("-b", required=True, help="command B")
    parser.add_argument("--runs", type=int, default=12, help="counted pairs (default 12)")
    args = parser.parse_args()
    a, b = shlex.split(args.a), shlex.split(args.b)
    timed(a), timed(b)  # warm-up
    pairs = [(timed(a), timed(b)) for _run in range(args.runs)]
    for label, times in (("A", [p[0] for p in pairs]), ("B", [p[1] for p in pairs])):
        low, high = min(times), max(times)
        print(f"{label} median {statistics.median(times):.3f} s [{low:.3f}-{high:.3f}]")
    med_a = statistics.median(p[0] for p in pairs)
    med_b = statistics.median(p[1] for p in pairs)
    ratios = [x / y for x, y in pairs]
    print(
        f"A/B: ratio of medians {med_a / med_b:.2f}x, median of pair ratios "
        f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}], {args.runs} pairs"
    )


if __name__ == "__main__":
    main()
