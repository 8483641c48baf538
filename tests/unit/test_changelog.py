"""The changelog holds every fragment, as antsibull-changelog records it.

changelogs/config.yaml keeps fragments (keep_fragments) and changelogs/changelog.yaml lists, per
release, the fragments it was made from. A fragment that no release lists is in neither
changelog.yaml nor CHANGELOG.md; a fragment edited after it was recorded says something the
changelog does not. Either way: `antsibull-changelog release --version <galaxy.yml's version>`
(with `--refresh-fragments` for an edited one) before the release is tagged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHANGELOGS = ROOT / "changelogs"
FRAGMENTS = CHANGELOGS / "fragments"
FIX = (
    "run `antsibull-changelog release --version <galaxy.yml's version> --refresh-fragments` "
    "(see changelogs/config.yaml)"
)


def fragment_paths() -> list[Path]:
    # config.yaml: ignore_other_fragment_extensions, so only these are fragments.
    return sorted(p for p in FRAGMENTS.iterdir() if p.suffix in (".yaml", ".yml"))


def releases() -> dict[str, dict]:
    return yaml.safe_load((CHANGELOGS / "changelog.yaml").read_text())["releases"]


def release_of(fragment: str) -> tuple[str, dict]:
    owners = [(v, r) for v, r in releases().items() if fragment in r.get("fragments", [])]
    assert owners, f"{fragment} is in no release of changelogs/changelog.yaml: {FIX}"
    assert len(owners) == 1, (
        f"{fragment} is listed by releases {[version for version, _release in owners]}"
    )
    return owners[0]


def test_there_are_fragments() -> None:
    assert len(fragment_paths()) > 5


@pytest.mark.parametrize("path", fragment_paths(), ids=lambda p: p.name)
def test_the_fragment_is_recorded_as_it_reads(path: Path) -> None:
    version, release = release_of(path.name)
    changes = release.get("changes", {})
    for section, entries in yaml.safe_load(path.read_text()).items():
        if section == "trivial":  # config.yaml's trivial_section_name: never in the changelog
            continue
        if section == "release_summary":
            assert changes.get(section) == entries, (
                f"{path.name}: the release summary differs from {version}'s: {FIX}"
            )
            continue
        for entry in entries:
            assert entry in changes.get(section, []), (
                f"{path.name}: this {section} entry is not in {version}'s changes: {FIX}\n{entry}"
            )


@pytest.mark.parametrize("version", sorted(releases()))
def test_the_release_says_what_its_fragments_say(version: str) -> None:
    """Nothing more either: an entry taken out of a fragment leaves the changelog too."""
    release = releases()[version]
    expected: dict[str, list[str]] = {}
    for name in release.get("fragments", []):
        for section, entries in yaml.safe_load((FRAGMENTS / name).read_text()).items():
            if section == "trivial":
                continue
            if section == "release_summary":
                expected[section] = entries
            else:
                expected.setdefault(section, []).extend(entries)
    recorded = {
        s: e if s == "release_summary" else sorted(e)
        for s, e in release.get("changes", {}).items()
        if s != "trivial"  # antsibull-changelog records it; CHANGELOG.md never shows it
    }
    expected = {s: e if s == "release_summary" else sorted(e) for s, e in expected.items()}
    assert recorded == expected, f"{version}'s changes are not what its fragments say: {FIX}"


def test_every_recorded_fragment_is_kept() -> None:
    kept = {p.name for p in fragment_paths()}
    recorded = {f for r in releases().values() for f in r.get("fragments", [])}
    assert recorded <= kept, f"keep_fragments is set, yet these are gone: {recorded - kept}"


def test_changelog_md_is_what_antsibull_changelog_generates(tmp_path: Path) -> None:
    """CHANGELOG.md was written from changelog.yaml as it is now (no plugin loading: < 1 s)."""
    out = tmp_path / "CHANGELOG.md"
    tool = Path(sys.executable).with_name("antsibull-changelog")
    subprocess.run(
        [str(tool), "generate", "--output", str(out), "--output-format", "md"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert out.read_text() == (ROOT / "CHANGELOG.md").read_text(), (
        "CHANGELOG.md is not what changelogs/changelog.yaml generates: "
        "run `antsibull-changelog generate`"
    )
