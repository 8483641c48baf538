#!/usr/bin/env bash
# Check execution-environment.yml as far as a machine without a container engine can:
#   1. build the collection tarball into build/ (what `make build` does), after checking that
#      ee/requirements.yml and execution-environment.yml name the tarball of galaxy.yml's version;
#   2. `ansible-builder create` into a temp dir: validates the definition (schema v3) and writes
#      the build context; check that context/Containerfile and everything it COPYs exist;
#   3. replay the image's galaxy stage for the local tarball (`ansible-galaxy collection install
#      --offline` from context/_build, as the Containerfile does) next to kubernetes.core from the
#      virtualenv, and run the builder stage's introspection on that, printing the Python and
#      system requirements the image would get.
# Building the image itself (`ansible-builder build`) needs podman or docker: see
# docs/execution-environment.md.  Usage: tools/ee.sh [--keep]  (--keep leaves the temp dir)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${VENV_BIN:-${ROOT}/.venv/bin}"
export PATH="${VENV_BIN}:${PATH}"
keep=0
[[ "${1:-}" == --keep ]] && keep=1

log() { printf '[ee] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for tool in python ansible-galaxy ansible-builder; do
	command -v "${tool}" >/dev/null || die "${tool} not found; run 'make setup'"
done

cd "${ROOT}"
version="$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')"
tarball="exchange-platform-${version}.tar.gz"
grep -q "build/${tarball}" execution-environment.yml ||
	die "execution-environment.yml does not copy build/${tarball} (galaxy.yml version ${version}); update additional_build_files"
grep -q "collections/${tarball}" ee/requirements.yml ||
	die "ee/requirements.yml does not install collections/${tarball} (galaxy.yml version ${version}); update it"

work="$(mktemp -d)"
if ((keep)); then log "keeping ${work}"; else trap 'rm -rf "${work}"' EXIT; fi

log "building build/${tarball}"
ansible-galaxy collection build --force --output-path build . >/dev/null

log "ansible-builder create -> ${work}/context"
ansible-builder create --file execution-environment.yml --context "${work}/context" \
	--output-filename Containerfile >"${work}/create.log" 2>&1 || { cat "${work}/create.log" >&2; die "ansible-builder create failed"; }
context="${work}/context"
[[ -s "${context}/Containerfile" ]] || die "ansible-builder create wrote no ${context}/Containerfile"
grep -q '^FROM ' "${context}/Containerfile" || die "${context}/Containerfile has no FROM line"
# Every local source the Containerfile copies must be in the context.
while read -r src; do
	[[ -e "${context}/${src}" ]] || die "the Containerfile copies ${src}, which is not in the build context"
done < <(awk '$1 == "COPY" && $2 !~ /^--from/ { print $2 }' "${context}/Containerfile")
for f in _build/requirements.yml _build/requirements.txt "_build/collections/${tarball}"; do
	[[ -s "${context}/${f}" ]] || die "build context lacks ${f}"
done

log "replaying the galaxy stage offline for ${tarball}"
collections="${work}/collections"
(cd "${context}/_build" &&
	ansible-galaxy collection install --offline --no-deps -p "${collections}" "collections/${tarball}" >"${work}/install.log" 2>&1) ||
	{ cat "${work}/install.log" >&2; die "the tarball in the build context does not install"; }
k8s_core="$(python -c 'import importlib.util as u; print(list(u.find_spec("ansible_collections.kubernetes.core").submodule_search_locations)[0])')"
mkdir -p "${collections}/ansible_collections/kubernetes"
cp -r "${k8s_core}" "${collections}/ansible_collections/kubernetes/core"
pinned="$(python - <<'EOF'
import yaml
for c in yaml.safe_load(open("ee/requirements.yml"))["collections"]:
    if c["name"] == "kubernetes.core":
        print(c.get("version", ""))
EOF
)"
local_version="$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' "${k8s_core}/MANIFEST.json")"
[[ "${pinned}" == "${local_version}" ]] ||
	log "WARNING: ee/requirements.yml pins kubernetes.core ${pinned}, the virtualenv (what the tests use) has ${local_version}"

log "replaying the builder stage's introspection"
python "${context}/_build/scripts/introspect.py" introspect "${collections}" \
	--user-pip "${context}/_build/requirements.txt" \
	--write-pip "${work}/python-requirements.txt" --write-bindep "${work}/bindep.txt" >"${work}/introspect.log" 2>&1 ||
	{ cat "${work}/introspect.log" >&2; die "introspection of the collections failed"; }
grep -qi '^kubernetes' "${work}/python-requirements.txt" || die "the image would not get the kubernetes Python client"
log "Python requirements of the image:"
sed 's/^/    /' "${work}/python-requirements.txt" >&2
log "OK: ${context}/Containerfile and its build context are valid; build the image with"
log "    ansible-builder build -f execution-environment.yml -t exchange-platform-ee:${version}   (needs podman or docker)"
