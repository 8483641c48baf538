"""plugins/plugin_utils/canary_query.py: the batch's one query per check (members arrive or
leave, one query per URL and window), a canary's query of its own, and the HTTP GET."""

from __future__ import annotations

import io
import threading
import urllib.error
from typing import Any

import pytest
from ansible.module_utils.urls import SSLValidationError

from ansible_collections.exchange.platform.plugins.plugin_utils import canary_query
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_analysis import Sample
from ansible_collections.exchange.platform.plugins.plugin_utils.canary_metrics import (
    Backend,
    MetricsError,
)
from ansible_collections.exchange.platform.plugins.plugin_utils.configuration import Configuration
from ansible_collections.exchange.platform.tests.unit.plugins.plugin_utils.fakes import (
    FakeCluster,
    MemoryStore,
)

EMPTY = {"status": "success", "data": {"resultType": "vector", "result": []}}
A = Backend("a", "xr-route", "xr-canary", 80, 1)
B = Backend("b", "xr-route", "xr-canary", 80, 1)


def test_a_member_waits_for_the_others_and_one_leaving_releases_it() -> None:
    urls: list[str] = []
    checks = canary_query.Checks(lambda url: urls.append(url) or EMPTY, 2)
    first, second = checks.member(), checks.member()
    got: list[dict[str, Sample]] = []
    waiting = threading.Thread(target=lambda: got.append(first.measure("http://p", {"x": A}, 60)))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive() and urls == []  # the other member has not arrived
    second.leave()
    second.leave()  # twice is once
    waiting.join(5)
    assert got == [{"x": Sample(0, 0, None)}] and len(urls) == 1 and checks.queries == 1
    first.leave()


def test_members_of_one_url_and_window_share_a_query_others_get_their_own() -> None:
    urls: list[str] = []
    checks = canary_query.Checks(lambda url: urls.append(url) or EMPTY, 3)
    members = [checks.member(), checks.member(), checks.member()]
    asks = [("http://p", {"x": A}, 60), ("http://p", {"x": B}, 60), ("http://q", {"x": A}, 60)]
    threads = [
        threading.Thread(target=m.measure, args=ask) for m, ask in zip(members, asks, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(urls) == 2 and sum("http://p/" in u for u in urls) == 1


def test_an_answer_that_is_no_vector_fails_every_member_of_that_query() -> None:
    checks = canary_query.Checks(lambda url: {"status": "error", "errorType": "x"}, 1)
    with pytest.raises(MetricsError, match="answered x"):
        checks.member().measure("http://p", {"x": A}, 60)


def test_a_canary_alone_queries_for_itself() -> None:
    cfg = Configuration(FakeCluster(), MemoryStore(), lambda objects: None, metrics=lambda u: EMPTY)  # type: ignore[arg-type,return-value]
    query = cfg.query()
    assert isinstance(query, canary_query.Alone)
    assert query.measure("http://p", {"x": A}, 60) == {"x": Sample(0, 0, None)}
    query.leave()


class Answer(io.BytesIO):
    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def test_the_get_reads_json_and_says_why_it_could_not(monkeypatch: pytest.MonkeyPatch) -> None:
    def serve(body: bytes) -> Any:
        return lambda url, timeout: Answer(body)

    monkeypatch.setattr(canary_query, "open_url", serve(b'{"status": "success"}'))
    assert canary_query.http_get("http://p/api/v1/query") == {"status": "success"}

    def refuse(code: int, body: bytes) -> Any:
        def urlopen(url: str, timeout: float) -> Any:
            raise urllib.error.HTTPError(url, code, "no", {}, io.BytesIO(body))  # type: ignore[arg-type]

        return urlopen

    monkeypatch.setattr(canary_query, "open_url", refuse(400, b'{"status": "error"}'))
    assert canary_query.http_get("http://p") == {"status": "error"}
    monkeypatch.setattr(canary_query, "open_url", refuse(502, b"<html>bad gateway"))
    with pytest.raises(MetricsError, match="answered 502"):
        canary_query.http_get("http://p")

    def unreachable(url: str, timeout: float) -> Any:
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(canary_query, "open_url", unreachable)
    with pytest.raises(MetricsError, match="could not be read: <urlopen error connection refused>"):
        canary_query.http_get("http://p")

    def untrusted(url: str, timeout: float) -> Any:
        raise SSLValidationError("certificate verify failed")

    monkeypatch.setattr(canary_query, "open_url", untrusted)
    with pytest.raises(MetricsError, match="could not be read: certificate verify failed"):
        canary_query.http_get("https://p")
