#!/usr/bin/env bash
# make setup's virtualenv: tools/venv.sh VENV
#
# VENV becomes a link to ~/.cache/exchange-platform/venv/<key>, a virtualenv named by a hash of
# requirements.txt and the Python that makes it: a fresh clone with the same pins reuses it
# instead of installing about 900 MB again (72 s on this project's 2-core machine, before any
# other part of `make test` can start). The first checkout that needs a key builds it under a lock
# (another one waiting for it meanwhile), and marks it complete only once pip succeeded, so a
# killed install is built again, never reused. A VENV that is a directory of its own (made before
# this script) stays one and is installed into, as before.
set -euo pipefail

venv="${1:?usage: tools/venv.sh VENV}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${EXCHANGE_PLATFORM_CACHE:-${HOME}/.cache/exchange-platform}"
requirements="${ROOT}/requirements.txt"
PIP=(--quiet --disable-pip-version-check)

install_into() {
	python3 -m venv "$1"
	"$1/bin/pip" install "${PIP[@]}" -r "${requirements}"
}

if [[ -d "${venv}" && ! -L "${venv}" ]]; then
	install_into "${venv}"
	exit 0
fi

key="$({
	cat "${requirements}"
	python3 -c 'import sys; print(sys.version, sys.executable)'
} | sha256sum | cut -c1-16)"
store="${CACHE_ROOT}/venv/${key}"
mkdir -p "${CACHE_ROOT}/venv"
exec 9>"${store}.lock"
flock 9
if [[ ! -f "${store}/.complete" ]]; then
	echo "[venv] installing requirements.txt into ${store} (reused by every checkout with the same pins)" >&2
	rm -rf "${store}"
	install_into "${store}"
	touch "${store}/.complete"
fi
ln -sfn "${store}" "${venv}"
