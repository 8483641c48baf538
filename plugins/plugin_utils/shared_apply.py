# Copyright: exchange.platform maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One kubernetes.core.k8s run for a whole batch: a wrapper around the apply, not a step of any
action.

Each deploy of a batch on one cluster is a member. A member's first apply waits until every
member has either applied or left (its action ended without applying: nothing changed, check
mode, a failure before the apply); then one run applies everything. If that run fails, the
cluster's words cannot say whose object it was: each member's objects are applied on their own,
so the release the cluster rejects fails alone, and each is told so. Any later apply (a rollback
after a failed rollout) goes straight through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# objects -> '' or why the apply failed (kubernetes.core.k8s in production)
ApplyObjects = Callable[[list[dict[str, Any]]], str]
SHARED_APPLY_FAILED = (
    "the batch's shared kubernetes.core.k8s run failed, so each release of the batch on this "
    "cluster was applied on its own"
)


@dataclass(frozen=True)
class Applied:
    error: str = ""  # '' or why the apply failed
    warnings: tuple[str, ...] = ()


def direct(apply: ApplyObjects) -> Callable[[list[dict[str, Any]]], Applied]:
    """An apply of one release on its own."""
    return lambda objects: Applied(apply(objects))


class SharedApply:
    def __init__(self, apply: ApplyObjects, members: int) -> None:
        self._apply = apply
        self._waiting = members  # members that have neither applied nor left
        self._queued: dict[int, list[dict[str, Any]]] = {}
        self._answers: dict[int, Applied] = {}
        self._flushed = members == 0
        self._cond = threading.Condition()

    def member(self) -> Member:
        return Member(self)

    def _arrive(self, member: Member, objects: list[dict[str, Any]]) -> Applied:
        with self._cond:
            if self._flushed or member.done:
                flush_now, queued = False, False
            else:
                member.done = True
                self._queued[id(member)] = objects
                self._waiting -= 1
                flush_now, queued = self._waiting == 0, True
        if not queued:
            return Applied(self._apply(objects))
        if flush_now:
            self._flush()
        with self._cond:
            self._cond.wait_for(lambda: self._flushed)
            return self._answers[id(member)]

    def _leave(self, member: Member) -> None:
        with self._cond:
            if self._flushed or member.done:
                return
            member.done = True
            self._waiting -= 1
            flush_now = self._waiting == 0
        if flush_now:
            self._flush()

    def _flush(self) -> None:
        queued = self._queued
        everything = [obj for objects in queued.values() for obj in objects]
        error = self._apply(everything) if everything else ""
        if not error:
            answers = dict.fromkeys(queued, Applied())
        elif len(queued) == 1:
            answers = dict.fromkeys(queued, Applied(error))
        else:
            answers = {
                key: Applied(self._apply(objects), (SHARED_APPLY_FAILED,))
                for key, objects in queued.items()
            }
        with self._cond:
            self._answers, self._flushed = answers, True
            self._cond.notify_all()


@dataclass(eq=False)
class Member:
    """One release's share of the batch: call it to apply, `leave` when its action ends."""

    batch: SharedApply
    done: bool = field(default=False)

    def __call__(self, objects: list[dict[str, Any]]) -> Applied:
        return self.batch._arrive(self, objects)

    def leave(self) -> None:
        self.batch._leave(self)
