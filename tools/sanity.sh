#!/usr/bin/env bash
# `ansible-test sanity` for exchange.platform, without containers.
#
# ansible-test needs the collection at .../ansible_collections/exchange/platform, so this copies
# the checkout's files (tracked and untracked, minus what .gitignore ignores: .venv, .collections,
# caches, build output) to ${EXCHANGE_PLATFORM_CACHE:-~/.cache/exchange-platform}/sanity/
# ansible_collections/exchange/platform, links the dependency kubernetes.core next to it (from the
# virtualenv's `ansible` package) and runs
#     ansible-test sanity --local --python 3.11 [ARGS...]
# there. Extra arguments go to ansible-test, e.g. `tools/sanity.sh --test yamllint`.
#
# Python 3.11 only: it is the Python of .venv, the one this project supports (ansible 12.3).
# Each sanity test that needs Python packages runs in its own virtualenv that ansible-test makes
# under ~/.ansible/test/venv and fills from PyPI with its pinned requirements (cached after the
# first run). ansible-test would download a pip bootstrap script from ci-files.testing.ansible.com,
# which this network does not reach: tools/ansible_test_get_pip.py stands in for it (it uses
# ensurepip, then pip installs the pinned pip from PyPI).
#
# Tests that do not run here, and why:
#   - pslint needs PowerShell (pwsh), and the collection has no PowerShell code;
#   - the test of shell scripts runs when the ShellCheck binary is installed
#     (apt-get install shellcheck) and is skipped with a notice otherwise.
# Every other test of ansible-test 2.19 runs; action-plugin-docs checks that the release
# engine's action plugins (plugins/action/) have their documentation stubs in plugins/modules/.
# The ignores (tests/sanity/ignore-2.19.txt) each say why. None is for a plugin: they cover
# multi-document YAML streams under cluster/ and tests/fixtures/ (yamllint), the kind tier's OCI
# runtime wrapper (shebang) and unit tests that assert exact types (pylint unidiomatic-typecheck).
# The import test has none: plugin_utils guards its imports of the kubernetes client (the engine
# says so when it connects without it) instead of ignoring the test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${VENV_BIN:-${ROOT}/.venv/bin}"
export PATH="${VENV_BIN}:${PATH}"
PYTHON_VERSION=3.11
CACHE_ROOT="${EXCHANGE_PLATFORM_CACHE:-${HOME}/.cache/exchange-platform}"
SANITY_ROOT="${CACHE_ROOT}/sanity"
COLLECTION_DIR="${SANITY_ROOT}/ansible_collections/exchange/platform"

log() { printf '[sanity] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v ansible-test >/dev/null || die "ansible-test not found; run 'make setup'"
python="$(command -v "python${PYTHON_VERSION}")" || die "python${PYTHON_VERSION} not found"
[[ "$("${python}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" == "${PYTHON_VERSION}" ]] ||
	die "${python} is not Python ${PYTHON_VERSION}"

# --- the collection, at a path ansible-test accepts ---------------------------------------
log "copying the checkout to ${COLLECTION_DIR}"
rm -rf "${COLLECTION_DIR}"
mkdir -p "${COLLECTION_DIR}"
cd "${ROOT}"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard
else
	find . -path ./.git -prune -o -type f -print0 | sed -z 's|^\./||'
fi |
	grep -zvE '(^|/)(\.venv|\.collections|\.cache|\.git|\.pytest_cache|\.ruff_cache|\.mypy_cache|\.hypothesis|__pycache__)(/|$)|^(build|out|tests/output)/|\.pyc$' |
	while IFS= read -r -d '' file; do
		# deleted-but-tracked files are listed by git too
		[[ -e "${file}" || -L "${file}" ]] && printf '%s\0' "${file}"
	done |
	tar --null --files-from=- -cf - | tar -xf - -C "${COLLECTION_DIR}"

# --- dependencies next to it ----------------------------------------------------------------
k8s_core="$(python -c 'import importlib.util as u; print(list(u.find_spec("ansible_collections.kubernetes.core").submodule_search_locations)[0])')" ||
	die "kubernetes.core not found in the virtualenv"
mkdir -p "${SANITY_ROOT}/ansible_collections/kubernetes"
ln -sfn "${k8s_core}" "${SANITY_ROOT}/ansible_collections/kubernetes/core"

# --- offline stand-in for ansible-test's pip bootstrap script -------------------------------
pip_version="$(python - <<'EOF'
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
EOF
)"
bootstrap="${HOME}/.ansible/test/cache/get_pip_${pip_version//./_}.py"
stand_in="${ROOT}/tools/ansible_test_get_pip.py"
# Keep a real get-pip script if one was put there; refresh our stand-in if it changed.
if [[ ! -e "${bootstrap}" ]] || grep -q 'Offline stand-in for ansible-test' "${bootstrap}"; then
	mkdir -p "$(dirname "${bootstrap}")"
	cmp -s "${stand_in}" "${bootstrap}" || cp "${stand_in}" "${bootstrap}"
fi

# --- run ---------------------------------------------------------------------------------------
skip=(--skip-test pslint)
log "skipped: pslint (needs PowerShell; the collection has no PowerShell code)"
if ! command -v shellcheck >/dev/null; then
	skip+=(--skip-test shellcheck)
	log "skipped: shellcheck (not installed; apt-get install shellcheck to run it)"
fi

cd "${COLLECTION_DIR}"
log "ansible-test sanity --local --python ${PYTHON_VERSION} ${skip[*]} $*"
status=0
ansible-test sanity --local --python "${PYTHON_VERSION}" --color no "${skip[@]}" "$@" || status=$?
if ((status)); then
	log "FAILED (exit ${status}). Paths above are relative to the collection root (= the checkout);"
	log "fix the files in ${ROOT}, not the copy. False positives go in tests/sanity/ignore-2.19.txt."
	exit "${status}"
fi
log "OK: ansible-test sanity passed"
