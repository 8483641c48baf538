#!/usr/bin/env bash
# Where a `make test` spends its CPU: runs make with the given targets (default: test) under BSD
# process accounting and prints the machine's busy and idle CPU seconds, the CPU of each part
# (a pytest, coverage, molecule or lint process with everything it started), the commands that
# used the most, and what each kind node container used (its cgroup, as the node's processes
# outlive the run). Accounting is machine-wide: whatever else runs meanwhile is counted too.
# Root only (accton); Debian's `acct` package is installed if missing.
#   tools/test_cpu.sh            # make test
#   tools/test_cpu.sh tier-kwok
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ ${EUID} -eq 0 ]] || { echo "tools/test_cpu.sh: process accounting needs root" >&2; exit 2; }
command -v accton >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq acct >/dev/null
out=$(mktemp -d)
export DOCKER_HOST=unix://${EXCHANGE_PLATFORM_CACHE:-${HOME}/.cache/exchange-platform}/docker/docker.sock

# "<container name> <CPU nanoseconds>" of each kind node container, from its cpuacct cgroup.
node_cpu() {
	local id
	for id in $(docker ps -q --filter label=io.x-k8s.kind.cluster 2>/dev/null); do
		printf '%s %s\n' "$(docker inspect -f '{{.Name}}' "${id}")" \
			"$(cat /sys/fs/cgroup/cpuacct/docker/"$(docker inspect -f '{{.Id}}' "${id}")"/cpuacct.usage 2>/dev/null || echo 0)"
	done
}

node_cpu >"${out}/nodes0"
head -1 /proc/stat >"${out}/stat0"
touch "${out}/pacct" && accton "${out}/pacct" >/dev/null
rc=0
make --no-print-directory "${@:-test}" || rc=$?
accton off >/dev/null
head -1 /proc/stat >"${out}/stat1"
node_cpu >"${out}/nodes1"
.venv/bin/python tools/test_cpu.py "${out}"
echo "make exited ${rc}; accounting files in ${out}"
exit "${rc}"
