"""execution-environment.yml builds from a base image pinned by tag and digest.

`make ee` (tools/ee.sh) checks the definition with `ansible-builder create`, which accepts any
image name; this keeps `:latest` (a different image every few weeks) from coming back. Whether
the digest exists only a registry can say: docs/execution-environment.md says how to refresh it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(
    r"registry\.access\.redhat\.com/ubi9/ubi"
    r":(?P<tag>9\.\d+-\d+)"  # <version>-<release>: which UBI build the digest is
    r"@sha256:[0-9a-f]{64}"
)


def base_image() -> str:
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    return definition["images"]["base_image"]["name"]


def test_the_base_image_is_pinned_by_tag_and_digest() -> None:
    name = base_image()
    assert PINNED.fullmatch(name), (
        f"images.base_image.name is {name!r}; pin it as "
        "registry.access.redhat.com/ubi9/ubi:<version>-<release>@sha256:<digest> "
        "(docs/execution-environment.md, 'Refresh the base image pin')"
    )


def test_the_docs_name_the_pinned_build() -> None:
    match = PINNED.fullmatch(base_image())
    assert match
    docs = (ROOT / "docs/execution-environment.md").read_text()
    assert f"`{match['tag']}`" in docs, (
        f"docs/execution-environment.md does not name the pinned build {match['tag']}"
    )
