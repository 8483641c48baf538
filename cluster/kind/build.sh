# shellcheck shell=bash
# Build steps of cluster/kind.sh (sourced): Go binaries, the node image and the images the
# cluster runs, each cached under ${CACHE_ROOT} and rebuilt only when its inputs change.
# Every image is made with `docker import` (or `docker commit` of a locally built image):
# nothing is pulled.

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# go_build NAME BUILDER OUT_DIR LDFLAGS TAGS PKG...: build into OUT_DIR unless the stamp there
# matches the builder's go.mod/go.sum/*.go, the flags and the Go version.
go_build() {
	local name=$1 builder=$2 out=$3 ldflags=$4 tags=$5
	shift 5
	local stamp="${out}/.inputs-${name}" hash logf="${LOG_DIR}/build-${name}.log" start=${SECONDS}
	hash=$(inputs_hash "${builder}"/go.mod "${builder}"/go.sum "${builder}"/*.go "${ldflags}" "${tags}" "$*" \
		"$("${GO}" env GOVERSION)")
	[[ -f "${stamp}" && "$(<"${stamp}")" == "${hash}" ]] && return 0
	log "building ${name} (log: ${logf}) ..."
	local tmp="${out}.tmp.$$"
	rm -rf "${tmp}"
	mkdir -p "${tmp}" "${out}"
	if ! (cd "${builder}" && nice -n 10 "${GO}" build -trimpath -tags "${tags}" -ldflags "${ldflags}" \
		-o "${tmp}/" "$@") >"${logf}" 2>&1; then
		tail -n 30 "${logf}" >&2
		rm -rf "${tmp}"
		die "build of ${name} failed"
	fi
	mv "${tmp}"/* "${out}/"
	rmdir "${tmp}"
	printf '%s\n' "${hash}" >"${stamp}"
	log "built ${name} in $((SECONDS - start))s"
}

# metrics-server, its version stamped where `metrics-server --version` (kwokctl) reads it.
build_metrics_server() {
	local b="${CLUSTER_DIR}/builders/metrics-server" v=${METRICS_SERVER_VERSION}
	check_pin "${b}/go.mod" "^require sigs.k8s.io/metrics-server ${v}\$"
	go_build "metrics-server-${v}" "${b}" "${MS_BIN_DIR}" \
		"-s -w -X k8s.io/client-go/pkg/version.gitVersion=${v} -X k8s.io/component-base/version.gitVersion=${v}" \
		"" sigs.k8s.io/metrics-server/cmd/metrics-server
}

build_binaries() {
	local b="${CLUSTER_DIR}/builders"
	check_pin "${b}/kind/go.mod" "^require sigs.k8s.io/kind ${KIND_VERSION}\$"
	check_pin "${b}/containerd/go.mod" "^require github.com/containerd/containerd/v2 ${CONTAINERD_VERSION}\$"
	check_pin "${b}/coredns/go.mod" "^require github.com/coredns/coredns ${COREDNS_VERSION}\$"
	go_build "kind-${KIND_VERSION}" "${b}/kind" "${KIND_BIN_DIR}" "-s -w" "" sigs.k8s.io/kind
	# The node binaries come from the same builder module and GOCACHE as the control plane
	# (kwok.sh build), so the packages they share compile once.
	go_build "kubernetes-node-${KUBE_VERSION}" "${b}/kubernetes" "${KUBE_BIN_DIR}" "$(kube_ldflags)" "" \
		k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-proxy
	go_build "containerd-${CONTAINERD_VERSION}" "${b}/containerd" "${CACHE_ROOT}/bin/containerd/${CONTAINERD_VERSION}" \
		"-s -w -X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}" \
		"no_aufs no_zfs no_btrfs no_devmapper" github.com/containerd/containerd/v2/cmd/containerd \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/ctr
	go_build "coredns-${COREDNS_VERSION}" "${b}/coredns" "${CACHE_ROOT}/bin/coredns/${COREDNS_VERSION}" \
		"-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" "" .
	build_metrics_server
	go_build "standin" "${KIND_DIR}/standin" "${CACHE_ROOT}/bin/standin" "-s -w" "" .
	local pause="${CACHE_ROOT}/bin/pause/pause" hash
	hash=$(inputs_hash "${KIND_DIR}/pause/pause.c")
	if [[ ! -x "${pause}" || "$(cat "${pause}.inputs" 2>/dev/null)" != "${hash}" ]]; then
		mkdir -p "${pause%/*}"
		gcc -Os -static -o "${pause}" "${KIND_DIR}/pause/pause.c" && strip "${pause}"
		printf '%s\n' "${hash}" >"${pause}.inputs"
	fi
}

# import_image IMAGE ENTRYPOINT_JSON DEST=SRC...: a one-layer image holding the given files
# (mode 0755), a passwd/group with root and nobody, and a world-writable /tmp.
import_image() {
	local image=$1 entrypoint=$2 stage f
	shift 2
	stage=$(mktemp -d "${CACHE_ROOT}/kind/stage.XXXXXX")
	mkdir -p "${stage}/etc" "${stage}/tmp"
	chmod 1777 "${stage}/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"${stage}/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"${stage}/etc/group"
	for f in "$@"; do install -D -m 0755 "${f#*=}" "${stage}/${f%%=*}"; done
	tar -C "${stage}" --numeric-owner --owner=0 --group=0 -c . |
		docker import --change "ENTRYPOINT ${entrypoint}" - "${image}" >/dev/null
	rm -rf "${stage}"
}

# file_ids FILE...: name, size and mtime of (large) files, cheaper to hash than their contents.
file_ids() { stat -L -c '%n %s %Y' "$@"; }

# import_cached IMAGE ENTRYPOINT_JSON DEST=SRC...: import_image unless IMAGE was made from
# the same files (stamp in ${CACHE_ROOT}/kind/images).
import_cached() {
	local image=$1 f srcs=() hash stamp
	for f in "${@:3}"; do srcs+=("${f#*=}"); done
	hash=$(inputs_hash "$*" "$(file_ids "${srcs[@]}")")
	stamp="${CACHE_ROOT}/kind/images/${image//[\/:]/_}"
	if [[ -f "${stamp}" && "$(<"${stamp}")" == "${hash}" ]] && image_exists "${image}"; then return 0; fi
	import_image "$@"
	mkdir -p "${stamp%/*}"
	printf '%s\n' "${hash}" >"${stamp}"
}

# The Debian root filesystem, kept as a tarball so a containerd or kind change does not
# debootstrap again.
NODE_PACKAGES=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,runc,containernetworking-plugins,e2fsprogs,socat,ebtables

rootfs_tar() { printf '%s' "${CACHE_ROOT}/kind/rootfs-${NODE_SUITE}-$(inputs_hash "${NODE_PACKAGES}").tar"; }

build_rootfs() { debootstrap_tar "$(rootfs_tar)" "${NODE_PACKAGES}" rootfs; }

# debootstrap_tar TARBALL PACKAGES NAME [PATH...]: unless TARBALL exists, a minbase ${NODE_SUITE}
# root filesystem with PACKAGES, without apt's lists and archives, docs, man pages and the PATHs
# given (relative to the root), as TARBALL. NAME names the log (build-NAME.log).
debootstrap_tar() {
	local tarball=$1 packages=$2 name=$3 start=${SECONDS} p
	shift 3
	[[ -f "${tarball}" ]] && return 0
	local dir="${tarball%.tar}.tmp" logf="${LOG_DIR}/build-${name}.log"
	rm -rf "${dir}"
	log "debootstrap ${NODE_SUITE} for ${name} (log: ${logf}) ..."
	debootstrap --variant=minbase --include="${packages}" "${NODE_SUITE}" "${dir}" \
		http://deb.debian.org/debian >"${logf}" 2>&1 || die "debootstrap of ${name} failed (log: ${logf})"
	rm -rf "${dir}"/var/lib/apt/lists/* "${dir}"/var/cache/apt/*.bin "${dir}"/var/cache/apt/archives/*.deb \
		"${dir}"/usr/share/doc/* "${dir}"/usr/share/man/*
	for p in "$@"; do rm -rf "${dir:?}/"${p}; done
	tar -C "${dir}" --numeric-owner -cf "${tarball}.tmp" .
	mv "${tarball}.tmp" "${tarball}"
	rm -rf "${dir}"
	log "${name} built in $((SECONDS - start))s"
}

# The kind base image (what kindest/base holds): the root filesystem, kind's own files from the
# pinned module, containerd, the static CNI configuration and two sandbox settings.
build_base_image() {
	local kindsrc ctrd="${CACHE_ROOT}/bin/containerd/${CONTAINERD_VERSION}" hash
	kindsrc=$(cd "${CLUSTER_DIR}/builders/kind" && "${GO}" list -m -f '{{.Dir}}' sigs.k8s.io/kind)/images/base/files
	hash=$(inputs_hash "rootfs=$(rootfs_tar)" "${ctrd}/.inputs-containerd-${CONTAINERD_VERSION}" \
		"${KIND_DIR}/node/10-exchange-platform.conflist" "${KIND_VERSION}" "$(declare -f build_base_image)")
	BASE_IMAGE="exchange-platform/kind-base:${hash}"
	image_exists "${BASE_IMAGE}" && return 0
	local r="${CACHE_ROOT}/kind/base.tmp" start=${SECONDS}
	rm -rf "${r}"
	mkdir -p "${r}"
	tar -C "${r}" -xf "$(rootfs_tar)"
	install -m 0755 "${kindsrc}"/usr/local/bin/* "${r}/usr/local/bin/"
	mkdir -p "${r}/kind" "${r}/etc/containerd" "${r}/etc/systemd/system/kubelet.service.d" "${r}/opt/cni/bin" \
		"${r}/etc/cni/net.d" "${r}/etc/kubernetes/manifests"
	cp -r "${kindsrc}/kind/." "${r}/kind/"
	chmod -R u=rwX,go=rX "${r}/kind"
	chmod 0755 "${r}"/kind/bin/*
	install -m 0644 "${kindsrc}/etc/crictl.yaml" "${r}/etc/"
	install -m 0644 "${kindsrc}"/etc/containerd/* "${r}/etc/containerd/"
	install -m 0644 "${kindsrc}"/etc/default/* "${r}/etc/default/"
	install -m 0644 "${kindsrc}"/etc/sysctl.d/* "${r}/etc/sysctl.d/"
	install -m 0644 "${kindsrc}"/etc/systemd/system/*.service "${kindsrc}"/etc/systemd/system/*.slice "${r}/etc/systemd/system/"
	install -m 0644 "${kindsrc}"/etc/systemd/system/kubelet.service.d/* "${r}/etc/systemd/system/kubelet.service.d/"
	# Sandbox workaround: without CAP_SYS_RESOURCE nobody in the node can lower oom_score_adj
	# (kubelet asks -998 for static pods); kind's rootless setting clamps it instead.
	sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "${r}/etc/containerd/config.toml"
	grep -q 'restrict_oom_score_adj = true' "${r}/etc/containerd/config.toml" || die "containerd config changed shape"
	install -m 0755 "${ctrd}"/containerd "${ctrd}"/containerd-shim-runc-v2 "${ctrd}"/ctr "${r}/usr/local/bin/"
	cp -a "${r}"/usr/lib/cni/. "${r}/opt/cni/bin/"
	install -m 0644 "${KIND_DIR}/node/10-exchange-platform.conflist" "${r}/etc/cni/net.d/"
	"${ctrd}/ctr" oci spec | jq '.hooks.createContainer += [{"path": "/kind/bin/mount-product-files.sh"}] | del(.process.rlimits)' \
		>"${r}/etc/containerd/cri-base.json"
	# systemd trimmed as kind's base Dockerfile does.
	rm -f "${r}"/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service \
		"${r}"/lib/systemd/system/multi-user.target.wants/* "${r}"/etc/systemd/system/*.wants/* \
		"${r}"/lib/systemd/system/local-fs.target.wants/* "${r}"/lib/systemd/system/sockets.target.wants/*udev* \
		"${r}"/lib/systemd/system/sockets.target.wants/*initctl* "${r}"/lib/systemd/system/basic.target.wants/*
	echo "ReadKMsg=no" >>"${r}/etc/systemd/journald.conf"
	ln -sf /usr/lib/systemd/systemd "${r}/sbin/init"
	chroot "${r}" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
	chroot "${r}" systemctl mask systemd-binfmt.service >/dev/null 2>&1
	tar -C "${r}" --numeric-owner -c . | docker import --change 'ENV container=docker' \
		--change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - "${BASE_IMAGE}" >/dev/null
	rm -rf "${r}"
	log "base image ${BASE_IMAGE} built in $((SECONDS - start))s"
}

# The images kubeadm runs, named as `kubeadm config images list` says, plus kind's sandbox tag.
build_component_images() {
	local k="${KUBE_BIN_DIR}" c
	for c in kube-apiserver kube-controller-manager kube-scheduler; do
		import_image "registry.k8s.io/${c}:${KUBE_VERSION}" "[\"/usr/local/bin/${c}\"]" "usr/local/bin/${c}=${k}/${c}"
	done
	import_image "registry.k8s.io/etcd:${ETCD_IMAGE_TAG}" '["/usr/local/bin/etcd"]' \
		"usr/local/bin/etcd=${CACHE_ROOT}/bin/etcd/${ETCD_VERSION}/etcd"
	import_image "registry.k8s.io/pause:${PAUSE_TAG}" '["/pause"]' "pause=${CACHE_ROOT}/bin/pause/pause"
	docker tag "registry.k8s.io/pause:${PAUSE_TAG}" registry.k8s.io/pause:3.10
	import_image "registry.k8s.io/coredns/coredns:${COREDNS_VERSION}" '["/coredns"]' \
		"coredns=${CACHE_ROOT}/bin/coredns/${COREDNS_VERSION}/coredns"
	# kube-proxy needs iptables, nft and conntrack: the Debian base image holds them.
	local cid
	cid=$(docker create --entrypoint /usr/local/bin/kube-proxy "${BASE_IMAGE}")
	docker cp "${k}/kube-proxy" "${cid}:/usr/local/bin/kube-proxy"
	docker commit --change 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]' --change 'CMD []' "${cid}" \
		"registry.k8s.io/kube-proxy:${KUBE_VERSION}" >/dev/null
	docker rm "${cid}" >/dev/null
}

# The node image: the base image with kubelet, kubeadm, kubectl, /kind/version, kind's
# manifests and every component image imported into containerd (as kind's builder does).
build_node_image() {
	local k="${KUBE_BIN_DIR}" hash
	hash=$(inputs_hash "${BASE_IMAGE}" "${k}/.inputs-kubernetes-node-${KUBE_VERSION}" \
		"$(file_ids "${k}"/kube-* "${CACHE_ROOT}/bin/etcd/${ETCD_VERSION}/etcd")" \
		"${CACHE_ROOT}/bin/coredns/${COREDNS_VERSION}/.inputs-coredns-${COREDNS_VERSION}" \
		"${CACHE_ROOT}/bin/pause/pause.inputs" "${KIND_DIR}"/node/*.yaml \
		"$(declare -f build_node_image build_component_images import_image)")
	NODE_IMAGE="exchange-platform/kind-node:${KUBE_VERSION}-${hash}"
	image_exists "${NODE_IMAGE}" && return 0
	local start=${SECONDS} cid images img
	ETCD_IMAGE_TAG=$("${k}/kubeadm" config images list --kubernetes-version "${KUBE_VERSION}" 2>/dev/null |
		sed -n 's|^registry.k8s.io/etcd:||p')
	PAUSE_TAG=$("${k}/kubeadm" config images list --kubernetes-version "${KUBE_VERSION}" 2>/dev/null |
		sed -n 's|^registry.k8s.io/pause:||p')
	[[ -n "${ETCD_IMAGE_TAG}" && -n "${PAUSE_TAG}" ]] || die "kubeadm config images list gave no etcd/pause tag"
	build_component_images
	cid=$(docker run -d --entrypoint sleep "${BASE_IMAGE}" infinity)
	# shellcheck disable=SC2064 # expand now
	trap "docker rm -f ${cid} >/dev/null 2>&1 || true" RETURN
	for img in kubelet kubeadm kubectl; do docker cp "${k}/${img}" "${cid}:/usr/bin/${img}"; done
	docker exec "${cid}" sh -c "chown root:root /usr/bin/kube* && chmod 0755 /usr/bin/kube* &&
		mkdir -p /kind/manifests && echo ${KUBE_VERSION} >/kind/version"
	docker cp "${KIND_DIR}/node/default-storage.yaml" "${cid}:/kind/manifests/default-storage.yaml"
	docker cp "${KIND_DIR}/node/default-cni.yaml" "${cid}:/kind/manifests/default-cni.yaml"
	docker exec "${cid}" sh -c 'containerd >/var/log/containerd-build.log 2>&1 & echo $! >/run/ctrd.pid'
	for _ in $(seq 1 30); do docker exec "${cid}" ctr version >/dev/null 2>&1 && break; sleep 1; done
	images=$("${k}/kubeadm" config images list --kubernetes-version "${KUBE_VERSION}" 2>/dev/null)
	for img in ${images} registry.k8s.io/pause:3.10; do
		image_exists "${img}" || die "component image ${img} was not built"
		docker save "${img}" | docker exec -i "${cid}" ctr --namespace=k8s.io images import \
			--label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >>"${LOG_DIR}/build-node-image.log" 2>&1
	done
	# `sleep` (pid 1 here) never reaps: wait until containerd is gone or a zombie.
	docker exec "${cid}" sh -c 'p=$(cat /run/ctrd.pid); kill "$p"
		while [ -e /proc/"$p" ] && ! grep -q "^State:.*Z" /proc/"$p"/status; do sleep 0.2; done
		rm -f /run/ctrd.pid /var/log/containerd-build.log'
	docker commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
		"${cid}" "${NODE_IMAGE}" >/dev/null
	log "node image ${NODE_IMAGE} built in $((SECONDS - start))s"
}

# Images of the workloads kind.sh installs and the tests run: loaded into the node after create.
build_app_images() {
	local ss="${CACHE_ROOT}/bin/sealed-secrets/${SEALED_SECRETS_VERSION}"
	import_cached "${STANDIN_IMAGE}" '["/standin"]' "standin=${CACHE_ROOT}/bin/standin/standin"
	docker tag "${STANDIN_IMAGE}" "${STANDIN_IMAGE%:*}:side-effect"
	import_cached "${MS_IMAGE}" '["/metrics-server"]' "metrics-server=${MS_BIN_DIR}/metrics-server"
	if [[ -x "${ss}/controller" ]]; then
		import_cached "${SS_IMAGE}" '["/controller"]' "controller=${ss}/controller"
	else
		log "warning: ${ss}/controller missing (cluster/kwok.sh build makes it); no Sealed Secrets on kind"
	fi
}

# ---------------------------------------------------------------- deployer
# The deployer image: what an AWX container group runs a job in, cut to what the playbooks need.
# Debian's Python 3.11 with a virtualenv of ansible-core and the kubernetes client (and their
# dependencies) at requirements.txt's pins, kubernetes.core from the pinned `ansible` wheel (not
# its other collections) and this checkout's collection. Three cached steps: the Debian root
# filesystem (tarball), the virtualenv on it (image deployer-base:<hash>, rebuilt when
# requirements.txt changes) and the collection on top (DEPLOYER_IMAGE, rebuilt when a file of it
# changes: seconds).
DEPLOYER_PACKAGES=python3,python3-venv,passwd
DEPLOYER_VENV=/opt/deployer
DEPLOYER_COLLECTIONS=/usr/share/ansible/collections
# The Python packages installed; their dependencies come at requirements.txt's pins too.
DEPLOYER_PIP=(ansible-core kubernetes)

deployer_rootfs_tar() { printf '%s' "${CACHE_ROOT}/kind/deployer-rootfs-${NODE_SUITE}-$(inputs_hash "${DEPLOYER_PACKAGES}").tar"; }

build_deployer_rootfs() { debootstrap_tar "$(deployer_rootfs_tar)" "${DEPLOYER_PACKAGES}" deployer-rootfs 'usr/share/locale/*'; }

# deployer_pin NAME: NAME's line in requirements.txt (the build stops when there is none).
deployer_pin() {
	grep -iE "^$(sed 's/[-_.]/[-_.]/g' <<<"$1")==" "${ROOT_DIR}/requirements.txt" || die "requirements.txt pins no $1"
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
		if [[ "${old}" != "${DEPLOYER_BASE}" ]]; then docker rmi "${old}" >/dev/null; fi
	done
	log "deployer base image ${DEPLOYER_BASE} built in $((SECONDS - start))s"
}

# DEPLOYER_IMAGE: the base image with the collection (galaxy.yml, meta/, plugins/, roles/,
# playbooks/ of this checkout, as an installed collection is laid out) and the job's environment:
# user 1000 (group 0) with HOME /runner as in AWX's execution environments, no kubeconfig.
build_deployer_image() {
	build_deployer_base
	local tarball="${CACHE_ROOT}/kind/deployer-collection.tar" hash stamp cid start=${SECONDS}
	tar -C "${ROOT_DIR}" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=u+rwX,go+rX,go-w \
		--exclude=__pycache__ --exclude='*.pyc' --exclude='.*' \
		--transform 's,^,ansible_collections/exchange/platform/,' \
		-cf "${tarball}" galaxy.yml meta plugins roles playbooks
	hash=$(inputs_hash "${DEPLOYER_BASE}" "${tarball}" "$(declare -f build_deployer_image)")
	stamp="${CACHE_ROOT}/kind/images/${DEPLOYER_IMAGE//[\/:]/_}"
	if [[ -f "${stamp}" && "$(<"${stamp}")" == "${hash}" ]] && image_exists "${DEPLOYER_IMAGE}"; then
		rm -f "${tarball}"
		return 0
	fi
	cid=$(docker create "${DEPLOYER_BASE}" /bin/true)
	docker cp - "${cid}:${DEPLOYER_COLLECTIONS}" <"${tarball}" >/dev/null
	docker commit --change "ENV PATH=${DEPLOYER_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		--change 'ENV LANG=C.UTF-8' --change 'ENV HOME=/runner' \
		--change "ENV ANSIBLE_COLLECTIONS_PATH=${DEPLOYER_COLLECTIONS}" \
		--change 'ENV ANSIBLE_FORCE_COLOR=0' --change 'ENV ANSIBLE_NOCOLOR=1' \
		--change 'WORKDIR /runner' --change 'USER 1000' \
		--change 'CMD ["ansible-playbook", "--version"]' "${cid}" "${DEPLOYER_IMAGE}" >/dev/null
	docker rm "${cid}" >/dev/null
	rm -f "${tarball}"
	mkdir -p "${stamp%/*}"
	printf '%s\n' "${hash}" >"${stamp}"
	log "deployer image ${DEPLOYER_IMAGE} built in $((SECONDS - start))s"
}
