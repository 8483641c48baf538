"""The collection tarball: exactly the collection, and it works once installed from Galaxy's format.

`ansible-galaxy collection build` of the checkout (galaxy.yml's build_ignore decides what goes
in) must hold the collection's content and docs and nothing of the repository's tooling, caches,
virtualenvs, test cluster or binaries. The tarball is then installed offline into an empty
collections path and used from there, with nothing of the checkout visible to Ansible
(kubernetes.core comes from the virtualenv's `ansible` package, found on sys.path).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"
ROLE = f"{FQCN}.exchange_router"

# Every top-level entry of the tarball, and nothing else.
TOP_LEVEL = {
    "MANIFEST.json",  # galaxy.yml, as ansible-galaxy writes it
    "FILES.json",
    "README.md",
    "COPYING",
    "CHANGELOG.md",
    "changelogs",
    "docs",
    "meta",
    "playbooks",
    "plugins",
    "roles",
}
# Directories whose whole content is fixed.
EXACT_CONTENT = {
    "changelogs": {"changelogs/changelog.yaml", "changelogs/config.yaml"},
    "meta": {"meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt"},
    "playbooks": {
        f"playbooks/{name}.yml"
        for name in (
            "abort",
            "deploy",
            "diff",
            "history",
            "promote",
            "rbac",
            "remove",
            "render",
            "rollback",
        )
    },
}
# The plugin types shipped since 2.0.0: the release engine is an action plugin documented by a
# module stub of the same name, over plugin_utils; module_utils and doc_fragments are gone.
PLUGIN_TYPES = {"action", "filter", "modules", "plugin_utils", "test"}
# Modules of 1.0.0 that 2.0.0 removed: meta/runtime.yml tombstones them.
REMOVED_MODULES = ("k8s_secret", "k8s_lock", "k8s_rollout")
REQUIRED = {
    "README.md",
    "CHANGELOG.md",
    "COPYING",
    "meta/runtime.yml",
    "changelogs/changelog.yaml",
    "docs/README.rst",
    "docs/exchange_router_role.rst",
    "docs/release_module.rst",
    "docs/release_report_module.rst",
    "docs/playbooks.md",
    "docs/execution-environment.md",
    "roles/exchange_router/meta/argument_specs.yml",
    "roles/exchange_router/meta/main.yml",
    "roles/exchange_router/tasks/main.yml",
    "roles/exchange_router/tasks/remove.yml",
    "roles/exchange_router/tasks/diff.yml",
    "plugins/action/release.py",
    "plugins/action/release_report.py",
    "plugins/modules/release.py",
    "plugins/modules/release_report.py",
    "plugins/plugin_utils/engine.py",
}
# Path components that never belong in the tarball, at any depth.
FORBIDDEN_PARTS = {
    ".git",
    ".venv",
    "venv",
    ".collections",
    ".cache",
    ".ci",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
    ".tox",
    "__pycache__",
    "build",
    "out",
    "bench",
    "tests",
    "molecule",
    "cluster",
    "inventories",
    "tools",
    "ee",
    "fragments",
}
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".so", ".tar.gz", ".zip", ".whl", ".retry", ".log")
MAX_FILE_BYTES = 512 * 1024  # the largest content file (COPYING) is 35 KiB


def tool(name: str) -> str:
    """The Ansible CLI from the virtualenv running the tests, else from PATH."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    assert found, f"{name} not found"
    return found


def isolated_env(collections: Path) -> dict[str, str]:
    """Environment in which Ansible sees only `collections` (and sys.path's collections)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    config = collections / "ansible.cfg"
    config.write_text(f"[defaults]\ncollections_path = {collections}\n", encoding="utf-8")
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_COLLECTIONS_PATH=str(collections),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOME=str(collections / ".ansible-home"),
    )
    return env


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=300, **kwargs
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    env = isolated_env(tmp_path_factory.mktemp("build-collections"))
    run(
        [tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), str(ROOT)],
        env=env,
    )
    built = sorted(out.glob("*.tar.gz"))
    assert [p.name for p in built] == [
        f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    ]
    return built[0]


@pytest.fixture(scope="module")
def members(tarball: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


@pytest.fixture(scope="module")
def installed(
    tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    collections = tmp_path_factory.mktemp("collections")
    env = isolated_env(collections)
    # --offline: the dependency kubernetes.core must already be installed; it is, in the
    # virtualenv's `ansible` package, which ansible-galaxy and Ansible find on sys.path.
    run(
        [
            tool("ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            str(tarball),
            "-p",
            str(collections),
        ],
        env=env,
        cwd=collections,
    )
    return collections, env


def test_top_level_entries_are_exactly_the_collection(members: dict[str, tarfile.TarInfo]) -> None:
    top = {PurePosixPath(name).parts[0] for name in members}
    assert top == TOP_LEVEL, (
        f"unexpected: {sorted(top - TOP_LEVEL)}, missing: {sorted(TOP_LEVEL - top)} "
        "(galaxy.yml build_ignore decides what goes in)"
    )


def test_required_paths_are_present(members: dict[str, tarfile.TarInfo]) -> None:
    assert sorted(REQUIRED - set(members)) == []
    docs = {n for n, m in members.items() if n.startswith("docs/") and m.isfile()}
    checkout = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*") if p.is_file()}
    assert docs == checkout, "the tarball's docs/ differs from the checkout's docs/"


@pytest.mark.parametrize("directory", sorted(EXACT_CONTENT))
def test_directories_with_fixed_content(
    members: dict[str, tarfile.TarInfo], directory: str
) -> None:
    files = {n for n, m in members.items() if n.startswith(f"{directory}/") and m.isfile()}
    assert files == EXACT_CONTENT[directory]


def test_plugins_are_exactly_the_checkouts(members: dict[str, tarfile.TarInfo]) -> None:
    """Every plugin file of the checkout ships (build_ignore drops none), and nothing else."""
    shipped = {n for n, m in members.items() if n.startswith("plugins/") and m.isfile()}
    types = {PurePosixPath(n).parts[1] for n in shipped}
    assert types == PLUGIN_TYPES
    checkout = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "plugins").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert shipped == checkout
    for name in REMOVED_MODULES:
        assert f"plugins/modules/{name}.py" not in shipped
    # An action plugin is documented by the module stub of its name, and a stub has its action.
    actions = {PurePosixPath(n).stem for n in shipped if n.startswith("plugins/action/")}
    stubs = {PurePosixPath(n).stem for n in shipped if n.startswith("plugins/modules/")}
    assert actions == stubs == {"release", "release_report"}


def test_no_caches_venvs_tooling_or_binaries(
    tarball: Path, members: dict[str, tarfile.TarInfo]
) -> None:
    problems = []
    with tarfile.open(tarball) as tar:
        for name, member in sorted(members.items()):
            parts = PurePosixPath(name).parts
            if forbidden := FORBIDDEN_PARTS.intersection(parts):
                problems.append(f"{name}: under {sorted(forbidden)}")
            if name.endswith(FORBIDDEN_SUFFIXES):
                problems.append(f"{name}: forbidden file type")
            if member.issym() or member.islnk():
                problems.append(f"{name}: a link")
            if not member.isfile():
                continue
            if member.size > MAX_FILE_BYTES:
                problems.append(f"{name}: {member.size} bytes")
            fileobj = tar.extractfile(member)
            assert fileobj is not None
            head = fileobj.read(4)
            if head == b"\x7fELF" or head[:2] == b"MZ":
                problems.append(f"{name}: an executable binary")
    assert problems == []


def test_manifest_is_galaxy_yml(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        fileobj = tar.extractfile("MANIFEST.json")
        assert fileobj is not None
        info = json.load(fileobj)["collection_info"]
    for key in (
        "namespace",
        "name",
        "version",
        "description",
        "license",
        "tags",
        "dependencies",
        "repository",
        "documentation",
        "homepage",
        "issues",
        "readme",
    ):
        assert info[key] == GALAXY.get(key), key  # the URLs are optional (none leads anywhere yet)
    assert info["description"] and info["tags"]


def test_role_documentation_from_the_installed_copy(installed: tuple[Path, dict[str, str]]) -> None:
    collections, env = installed
    role_dir = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert (role_dir / "MANIFEST.json").is_file()
    text = run([tool("ansible-doc"), "-t", "role", ROLE], env=env, cwd=collections).stdout
    assert "exchange_router_image" in text
    assert "exchange_router_autoscaling" in text
    doc = json.loads(
        run([tool("ansible-doc"), "-t", "role", "--json", ROLE], env=env, cwd=collections).stdout
    )
    path = Path(doc[ROLE]["path"]).resolve()
    assert path.is_relative_to(collections.resolve()), f"{ROLE} was loaded from {path}"


def test_plugins_load_from_the_installed_copy(installed: tuple[Path, dict[str, str]]) -> None:
    collections, env = installed
    filters = json.loads(
        run(
            [tool("ansible-doc"), "-t", "filter", "-l", "--json", FQCN], env=env, cwd=collections
        ).stdout
    )
    shipped = {p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml")}
    assert {f"{FQCN}.{name}" for name in shipped} <= set(filters)
    # The release engine: an action plugin whose docs are the module stub of the same name.
    modules = json.loads(
        run(
            [tool("ansible-doc"), "-t", "module", "-l", "--json", FQCN], env=env, cwd=collections
        ).stdout
    )
    assert set(modules) == {f"{FQCN}.release", f"{FQCN}.release_report"}
    for name, options in (
        ("release", {"require_state"}),
        ("release_report", {"release", "releases"}),
    ):
        module = json.loads(
            run([tool("ansible-doc"), "--json", f"{FQCN}.{name}"], env=env, cwd=collections).stdout
        )
        doc = module[f"{FQCN}.{name}"]["doc"]
        assert Path(doc["filename"]).resolve().is_relative_to(collections.resolve())
        assert set(doc["options"]) == options
        assert doc["version_added"] == "2.0.0"


@pytest.mark.parametrize("name", REMOVED_MODULES)
def test_removed_modules_fail_with_the_tombstone_text(
    installed: tuple[Path, dict[str, str]], tmp_path: Path, name: str
) -> None:
    """A playbook that still calls a 1.0.0 module fails before running, saying what replaced it."""
    collections, env = installed
    playbook = tmp_path / "old.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - {FQCN}.{name}:\n        name: exchange-router\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [tool("ansible-playbook"), str(playbook)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
        cwd=collections,
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert f"The '{FQCN}.{name}' module has been removed." in output
    assert f"{FQCN}.exchange_router role's release engine" in output
    assert "removed from collection 'exchange.platform' version 2.0.0" in output


def test_installed_render_playbook_writes_the_manifests(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    collections, env = installed
    out = tmp_path / "manifests"
    run(
        [
            tool("ansible-playbook"),
            f"{FQCN}.render",
            "-e",
            f"exchange_router_render_dir={out}",
        ],
        env=env,
        cwd=collections,
    )
    assert sorted(p.name for p in (out / "default" / "exchange-router").iterdir()) == [
        "deployment.yaml",
        "horizontalpodautoscaler.yaml",
        "kustomization.yaml",
        "service.yaml",
    ]


def test_a_report_of_several_lines_reads_one_line_each_under_ansible_s_default_callback(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """history.yml's table, reported by the installed collection outside the checkout, with
    Ansible's defaults (no callback_result_format = yaml): one printed line per revision, not
    one string with its newlines escaped."""
    _collections, env = installed
    table = [
        "REVISION  STATUS      IMAGE",
        "1         superseded  router:a",
        "2         deployed    router:b",
    ]
    playbook = tmp_path / "report.yml"
    outcome = {"msg": "\n".join(table), "history": []}  # this host's part of the engine's result
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [{f"{FQCN}.release_report": {"release": outcome}}],
                }
            ]
        )
    )
    result = run([tool("ansible-playbook"), str(playbook)], env=env, cwd=tmp_path)
    printed = [line.strip().strip('",') for line in result.stdout.splitlines()]
    for line in table:
        assert line in printed, result.stdout
