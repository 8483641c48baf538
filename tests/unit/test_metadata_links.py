"""galaxy.yml and the docs (README.md, docs/, generated or not) link nowhere that leads nowhere:
no host of a domain reserved for examples (RFC 2606: .invalid, .example, .test, .localhost,
example.com/.net/.org), and not the collection's Galaxy page, since it is not published there."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
OWN_GALAXY_PAGE = f"galaxy.ansible.com/ui/repo/published/{GALAXY['namespace']}/{GALAXY['name']}"
RESERVED_TLDS = (".invalid", ".example", ".test", ".localhost")
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")
URL = re.compile(r"https?://[^\s<>`'\")\]]+")


def dead_links(text: str) -> list[str]:
    dead = []
    for url in URL.findall(text):
        host = urlsplit(url).hostname or ""
        reserved = host.endswith(RESERVED_TLDS) or any(
            host == d or host.endswith("." + d) for d in EXAMPLE_DOMAINS
        )
        if reserved or OWN_GALAXY_PAGE in url:
            dead.append(url)
    return dead


def documents() -> list[Path]:
    docs = sorted((ROOT / "docs").glob("*.rst")) + sorted((ROOT / "docs").glob("*.md"))
    return [ROOT / "galaxy.yml", ROOT / "README.md", *docs]


def test_no_link_leads_nowhere() -> None:
    found = {
        str(path.relative_to(ROOT)): sorted(set(dead_links(path.read_text())))
        for path in documents()
    }
    found = {path: urls for path, urls in found.items() if urls}
    assert found == {}, f"links that lead nowhere (make docs regenerates docs/): {found}"


def test_a_link_that_leads_nowhere_is_found() -> None:
    """The control: the same check passes real links and finds each kind of dead one."""
    text = (
        "repository: https://example.invalid/exchange/platform\n"
        "* `Repository <https://git.example.com/x>`__ and https://github.com/bitnami-labs/x\n"
        f"part of the `collection <https://{OWN_GALAXY_PAGE}/>`_, see https://kubernetes.io/docs/\n"
    )
    assert dead_links(text) == [
        "https://example.invalid/exchange/platform",
        "https://git.example.com/x",
        f"https://{OWN_GALAXY_PAGE}/",
    ]
