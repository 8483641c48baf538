"""ansible-playbook under cProfile, the forked workers included (bench/profiling.py).

The linear strategy forks one WorkerProcess per host and task; the action plugins run there, so
each worker's _run is profiled into $XR_BENCH_PROFILE_DIR/worker-<pid>-<task>.prof, and the
parent into parent.prof.  Usage: python cprofile_playbook.py <ansible-playbook arguments>
"""

from __future__ import annotations

import cProfile
import os
import re
import sys

from ansible.cli.playbook import main
from ansible.executor.process import worker

OUT = os.environ["XR_BENCH_PROFILE_DIR"]
_run = worker.WorkerProcess._run


def profiled_run(self: worker.WorkerProcess) -> None:
    prof = cProfile.Profile()
    prof.enable()
    try:
        return _run(self)
    finally:
        prof.disable()
        task = re.sub(r"[^A-Za-z0-9_.-]+", "_", self._task.get_name())[:80]
        prof.dump_stats(os.path.join(OUT, f"worker-{os.getpid()}-{task}.prof"))


worker.WorkerProcess._run = profiled_run

if __name__ == "__main__":
    sys.argv[0] = "ansible-playbook"
    parent = cProfile.Profile()
    parent.enable()
    try:
        code = main()
    finally:
        parent.disable()
        parent.dump_stats(os.path.join(OUT, "parent.prof"))
    sys.exit(code)
