# shellcheck shell=bash
# Build steps of cluster/kind.sh (sourced): Go binaries, the node image and the images the
# cluster runs, each cached under ${CACHE_ROOT} and rebuilt only when its inputs change (the
# deployer image: kind/deployer-build.sh; the edge: kind/edge-build.sh).
# Every image is made with `docker import` (or `docker commit` of a locally built image):
# nothing is pulled.

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# metrics-server, its version stamped where `metrics-server --version` (kwokctl) reads it.
build_metrics_server() {
	local b="${CLUSTER_DIR}/builders/metrics-server" v=${METRICS_SERVER_VERSION}
	check_pin "${b}/go.mod" "^require sigs.k8s.io/metrics-server ${v}\$"
	go_build_cached "metrics-server-${v}" "${b}" "${MS_BIN_DIR}" \
		"-s -w -X k8s.io/client-go/pkg/version.gitVersion=${v} -X k8s.io/component-base/version.gitVersion=${v}" \
		"" sigs.k8s.io/metrics-server/cmd/metrics-server
}

build_binaries() {
	local b="${CLUSTER_DIR}/builders"
	check_pin "${b}/kind/go.mod" "^require sigs.k8s.io/kind ${KIND_VERSION}\$"
	check_pin "${b}/containerd/go.mod" "^require github.com/containerd/containerd/v2 ${CONTAINERD_VERSION}\$"
	check_pin "${b}/coredns/go.mod" "^require github.com/coredns/coredns ${COREDNS_VERSION}\$"
	go_build_cached "kind-${KIND_VERSION}" "${b}/kind" "${KIND_BIN_DIR}" "-s -w" "" sigs.k8s.io/kind
	# The node binaries come from the same builder module and GOCACHE as the control plane
	# (kwok.sh build), so the packages they share compile once.
	go_build_cached "kubernetes-node-${KUBE_VERSION}" "${b}/kubernetes" "${KUBE_BIN_DIR}" "$(kube_ldflags)" "" \
		k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-proxy
	go_build_cached "containerd-${CONTAINERD_VERSION}" "${b}/containerd" "${CACHE_ROOT}/bin/containerd/${CONTAINERD_VERSION}" \
		"-s -w -X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}" \
		"no_aufs no_zfs no_btrfs no_devmapper" github.com/containerd/containerd/v2/cmd/containerd \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/ctr
	go_build_cached "coredns-${COREDNS_VERSION}" "${b}/coredns" "${CACHE_ROOT}/bin/coredns/${COREDNS_VERSION}" \
		"-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" "" .
	build_metrics_server
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
	# shellcheck disable=SC2086 # each PATH is a glob
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
	wait_for 30 "containerd in the build container" docker exec "${cid}" ctr version || die "containerd did not start in ${cid}"
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

# The stand-in application, named by a hash of its source: two checkouts with different
# stand-ins never load each other's (`kind.sh up` names it :dev and :side-effect in the node).
# Sets STANDIN_BUILT_IMAGE. The Docker tags :dev and :side-effect follow the latest build.
build_standin() {
	local src="${KIND_DIR}/standin" hash bin
	hash=$(inputs_hash "${src}/go.mod" "${src}"/*.go)
	bin="${CACHE_ROOT}/bin/standin/${hash}"
	go_build_cached standin "${src}" "${bin}" "-s -w" "" .
	STANDIN_BUILT_IMAGE="${STANDIN_IMAGE%:*}:${hash}"
	import_cached "${STANDIN_BUILT_IMAGE}" '["/standin"]' "standin=${bin}/standin"
	docker tag "${STANDIN_BUILT_IMAGE}" "${STANDIN_IMAGE}"
	docker tag "${STANDIN_BUILT_IMAGE}" "${STANDIN_SIDE_EFFECT_IMAGE}"
}

# Images of the workloads kind.sh installs and the tests run: loaded into the node by `up`.
build_app_images() {
	local ss="${CACHE_ROOT}/bin/sealed-secrets/${SEALED_SECRETS_VERSION}"
	build_standin
	import_cached "${MS_IMAGE}" '["/metrics-server"]' "metrics-server=${MS_BIN_DIR}/metrics-server"
	if [[ -x "${ss}/controller" ]]; then
		import_cached "${SS_IMAGE}" '["/controller"]' "controller=${ss}/controller"
	else
		log "warning: ${ss}/controller missing (cluster/kwok.sh build makes it); no Sealed Secrets on kind"
	fi
}
