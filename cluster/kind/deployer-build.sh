# shellcheck shell=bash
# The deployer image of cluster/kind.sh (sourced after build.sh): what an AWX container group runs
# a job in, cut to what the playbooks need.
# Debian's Python 3.11 with a virtualenv of ansible-core and the kubernetes client (and their
# dependencies) at requirements.txt's pins, kubernetes.core from the pinned `ansible` wheel (not
# its other collections) and this checkout's collection. Three cached steps: the Debian root
# filesystem (tarball), the virtualenv on it (image deployer-base:<hash>, rebuilt when
# requirements.txt changes) and the collection on top (deployer:<hash of it>, made when a file of
# it changes: seconds).
DEPLOYER_PACKAGES=python3,python3-venv,passwd
DEPLOYER_VENV=/opt/deployer
DEPLOYER_COLLECTIONS=/usr/share/ansible/collections
# The Python packages installed; their dependencies come at requirements.txt's pins too.
DEPLOYER_PIP=(ansible-core kubernetes)

deployer_rootfs_tar() { printf '%s' "${CACHE_ROOT}/kind/deployer-rootfs-${NODE_SUITE}-$(inputs_hash "${DEPLOYER_PACKAGES}").tar"; }

build_deployer_rootfs() { debootstrap_tar "$(deployer_rootfs_tar)" "${DEPLOYER_PACKAGES}" deployer-rootfs 'usr/share/locale/*'; }

# deployer_pin NAME: NAME's line in requirements.txt (the build stops when there is none).
deployer_pin() {
	grep -iE "^${1//[-_.]/[-_.]}==" "${ROOT_DIR}/requirements.txt" || die "requirements.txt pins no $1"
}

# The root filesystem with the virtualenv: pip runs in a chroot (its Python, its platform) with
# requirements.txt as constraints, wheels only.
build_deployer_base() {
	local pins hash
	pins=$(for p in "${DEPLOYER_PIP[@]}" ansible; do deployer_pin "${p}"; done)
	hash=$(inputs_hash "rootfs=$(deployer_rootfs_tar)" "${ROOT_DIR}/requirements.txt" "${pins}" \
		"$(declare -f build_deployer_base)")
	DEPLOYER_BASE="exchange-platform/deployer-base:${hash}"
	image_exists "${DEPLOYER_BASE}" && return 0
	local r="${CACHE_ROOT}/kind/deployer-base.tmp" logf="${LOG_DIR}/build-deployer-base.log" start=${SECONDS} v
	rm -rf "${r}"
	mkdir -p "${r}"
	tar -C "${r}" -xf "$(deployer_rootfs_tar)"
	# What pip in the chroot needs from this machine: name resolution, the CA bundle (this
	# machine's, which may hold a proxy's CA), the pins.
	cp -L /etc/resolv.conf "${r}/etc/resolv.conf"
	cp -L "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "${r}/tmp/ca.crt"
	cp "${ROOT_DIR}/requirements.txt" "${r}/tmp/constraints.txt"
	printf '%s\n' "${pins}" | grep -iv '^ansible==' >"${r}/tmp/requirements.txt"
	printf '%s\n' "${pins}" | grep -i '^ansible==' >"${r}/tmp/ansible.txt"
	log "deployer virtualenv: pip install ${DEPLOYER_PIP[*]} (log: ${logf}) ..."
	local -a env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PIP_CERT=/tmp/ca.crt
		PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-180}")
	for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
		if [[ -n "${!v:-}" ]]; then env+=("${v}=${!v}"); fi
	done
	# kubernetes.core: the directory of it in the pinned `ansible` wheel, unpacked where
	# ansible-core looks for collections.
	if ! "${env[@]}" chroot "${r}" /bin/sh -euxc "
		python3 -m venv ${DEPLOYER_VENV}
		${DEPLOYER_VENV}/bin/pip install --only-binary=:all: -c /tmp/constraints.txt -r /tmp/requirements.txt
		${DEPLOYER_VENV}/bin/pip download --only-binary=:all: --no-deps -d /tmp/ansible-wheel -r /tmp/ansible.txt
		mkdir -p ${DEPLOYER_COLLECTIONS}
		${DEPLOYER_VENV}/bin/python3 - ${DEPLOYER_COLLECTIONS} /tmp/ansible-wheel/*.whl <<'PY'
import sys, zipfile
dest, wheel = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith('ansible_collections/kubernetes/core/')]
    assert names, 'no kubernetes.core in ' + wheel
    z.extractall(dest, names)
PY
		${DEPLOYER_VENV}/bin/pip freeze >/tmp/freeze.txt
		useradd --uid 1000 --gid 0 --home-dir /runner --create-home --no-log-init runner
		chmod 0775 /runner
	" >"${logf}" 2>&1; then
		tail -n 30 "${logf}" >&2
		die "the deployer's virtualenv failed (log: ${logf})"
	fi
	# Every package installed is at its requirements.txt pin (pip's names are case- and
	# separator-insensitive).
	local line pin
	while read -r line; do
		pin=$(deployer_pin "${line%%==*}")
		[[ "${pin#*==}" == "${line#*==}" ]] || die "deployer: ${line} is not requirements.txt's pin (${pin})"
	done <"${r}/tmp/freeze.txt"
	{ cat "${r}/tmp/freeze.txt"; printf '# kubernetes.core from %s\n' "$(cat "${r}/tmp/ansible.txt")"; } \
		>"${r}${DEPLOYER_VENV}/requirements-frozen.txt"
	rm -rf "${r}"/tmp/* "${r}/etc/resolv.conf" "${r}"/root/.cache
	tar -C "${r}" --numeric-owner -c . | docker import - "${DEPLOYER_BASE}" >/dev/null
	rm -rf "${r}"
	# Bases of other requirements are not used again (~230 MB each).
	local old
	for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "${DEPLOYER_BASE%:*}"); do
		# (one that deployer images of another checkout still build on stays)
		if [[ "${old}" != "${DEPLOYER_BASE}" ]]; then docker rmi "${old}" >/dev/null 2>&1 || true; fi
	done
	log "deployer base image ${DEPLOYER_BASE} built in $((SECONDS - start))s"
}

# The base image with the collection (galaxy.yml, meta/, plugins/, roles/, playbooks/ of this
# checkout, as an installed collection is laid out) and the job's environment: user 1000 (group 0)
# with HOME /runner as in AWX's execution environments, no kubeconfig. Named by a hash of the
# collection, so two checkouts never load each other's: sets DEPLOYER_BUILT_IMAGE, which
# `kind.sh up` names DEPLOYER_IMAGE (:dev) in the node. The Docker tag :dev follows the latest build.
build_deployer_image() {
	build_deployer_base
	local tarball hash cid start=${SECONDS}
	tarball=$(mktemp "${CACHE_ROOT}/kind/deployer-collection.XXXXXX")
	tar -C "${ROOT_DIR}" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=u+rwX,go+rX,go-w \
		--exclude=__pycache__ --exclude='*.pyc' --exclude='.*' \
		--transform 's,^,ansible_collections/exchange/platform/,' \
		-cf "${tarball}" galaxy.yml meta plugins roles playbooks
	hash=$(inputs_hash "${DEPLOYER_BASE}" "${tarball}" "$(declare -f build_deployer_image)")
	DEPLOYER_BUILT_IMAGE="${DEPLOYER_IMAGE%:*}:${hash}"
	if ! image_exists "${DEPLOYER_BUILT_IMAGE}"; then
		cid=$(docker create "${DEPLOYER_BASE}" /bin/true)
		docker cp - "${cid}:${DEPLOYER_COLLECTIONS}" <"${tarball}" >/dev/null
		docker commit --change "ENV PATH=${DEPLOYER_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
			--change 'ENV LANG=C.UTF-8' --change 'ENV HOME=/runner' \
			--change "ENV ANSIBLE_COLLECTIONS_PATH=${DEPLOYER_COLLECTIONS}" \
			--change 'ENV ANSIBLE_FORCE_COLOR=0' --change 'ENV ANSIBLE_NOCOLOR=1' \
			--change 'WORKDIR /runner' --change 'USER 1000' \
			--change 'CMD ["ansible-playbook", "--version"]' "${cid}" "${DEPLOYER_BUILT_IMAGE}" >/dev/null
		docker rm "${cid}" >/dev/null
		log "deployer image ${DEPLOYER_BUILT_IMAGE} built in $((SECONDS - start))s"
	fi
	rm -f "${tarball}"
	docker tag "${DEPLOYER_BUILT_IMAGE}" "${DEPLOYER_IMAGE}"
}
