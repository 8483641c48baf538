# shellcheck shell=bash
# The kind tier's monitoring, built (sourced by cluster/kind.sh after edge-build.sh): Prometheus,
# built from its Go module source like the edge's Traefik, cached under ${CACHE_ROOT} and rebuilt
# only when its inputs change, and imported as a one-binary image (nothing is pulled).
# kind/install.sh installs it (install_monitoring, namespace monitoring), scraping Traefik;
# kind/smoke.sh queries it. See cluster/README-kind.md, "Monitoring".

# PROMETHEUS_VERSION (the module's) and PROMETHEUS_RELEASE: kind/versions.env.
# shellcheck disable=SC2153 # PROMETHEUS_RELEASE is kind/versions.env's
# Service discovery built in: Kubernetes only (plus file and http, which are always in), through
# the plugins' build tags; PROMETHEUS_SD=all builds every one of them (the release binary's set),
# PROMETHEUS_SD=kubernetes,dns a list. Another set than the default gets an image tag of its own.
PROMETHEUS_SD="${PROMETHEUS_SD:-kubernetes}"
PROMETHEUS_IMAGE="exchange-platform/prometheus:v${PROMETHEUS_RELEASE}"
if [[ "${PROMETHEUS_SD}" != kubernetes ]]; then PROMETHEUS_IMAGE+="-sd-${PROMETHEUS_SD//,/-}"; fi

# Prometheus's module source, copied so that Prometheus is the main module (its own go.mod and
# go.sum, replace directives included, apply). GOWORK=off (go_env): the module's go.work names
# directories the zip does not hold, so the copy drops it. The web UI's assets are not in the
# zip (built with npm): without the builtinassets tag the UI pages answer 404; the HTTP API,
# which the tests use, is complete.
prometheus_source() {
	local b="${CLUSTER_DIR}/builders/prometheus" v=${PROMETHEUS_VERSION} src dir hash
	src="${CACHE_ROOT}/src/prometheus-${v}"
	hash=$(inputs_hash "${b}/go.mod" "${b}/go.sum" "$(declare -f prometheus_source)")
	if [[ -f "${src}/.prepared" && "$(<"${src}/.prepared")" == "${hash}" ]]; then printf '%s' "${src}"; return 0; fi
	dir=$(cd "${b}" && "${GO}" mod download -json github.com/prometheus/prometheus | jq -r .Dir)
	[[ -d "${dir}" ]] || die "go mod download of github.com/prometheus/prometheus ${v} failed"
	[[ "$(<"${dir}/VERSION")" == "${PROMETHEUS_RELEASE}" ]] ||
		die "github.com/prometheus/prometheus ${v} is release $(<"${dir}/VERSION"), not ${PROMETHEUS_RELEASE}"
	rm -rf "${src}"
	mkdir -p "${src%/*}"
	cp -r "${dir}" "${src}"
	chmod -R u+w "${src}"
	rm -f "${src}/go.work" "${src}/go.work.sum"
	rm -f "$(edge_bin prometheus "${v}")"/sd-*/.inputs-prometheus-*
	printf '%s\n' "${hash}" >"${src}/.prepared"
	printf '%s' "${src}"
}

# The build tags of PROMETHEUS_SD: remove_all_sd leaves only file and http discovery, and
# enable_<name>_sd adds each one named (plugins/plugin_<name>.go); "all" is the default set.
prometheus_tags() {
	local sd tags=''
	[[ "${PROMETHEUS_SD}" == all ]] && return 0
	tags=remove_all_sd
	for sd in ${PROMETHEUS_SD//,/ }; do tags+=" enable_${sd}_sd"; done
	printf '%s' "${tags}"
}

build_prometheus() {
	local v=${PROMETHEUS_VERSION} src sd tags ldflags p=github.com/prometheus/common/version
	check_pin "${CLUSTER_DIR}/builders/prometheus/go.mod" "^require github.com/prometheus/prometheus ${v}\$"
	src=$(prometheus_source)
	for sd in ${PROMETHEUS_SD//,/ }; do
		[[ "${sd}" == all || -f "${src}/plugins/plugin_${sd}.go" ]] || die "PROMETHEUS_SD: no discovery plugin ${sd}"
	done
	tags=$(prometheus_tags)
	ldflags="-s -w -X ${p}.Version=${PROMETHEUS_RELEASE} -X ${p}.Revision=${v} -X ${p}.Branch=HEAD"
	ldflags+=" -X ${p}.BuildUser=exchange-platform -X ${p}.BuildDate=19700101-00:00:00"
	# One binary directory per discovery set, so switching PROMETHEUS_SD does not rebuild the other.
	go_build_cached "prometheus-${v}-sd-${PROMETHEUS_SD//,/-}" "${src}" "$(edge_bin prometheus "${v}")/sd-${PROMETHEUS_SD//,/-}" \
		"${ldflags}" "${tags}" ./cmd/prometheus
}

monitoring_images() { printf '%s\n' "${PROMETHEUS_IMAGE}"; }

build_monitoring() {
	build_prometheus
	import_cached "${PROMETHEUS_IMAGE}" '["/bin/prometheus"]' \
		"bin/prometheus=$(edge_bin prometheus "${PROMETHEUS_VERSION}")/sd-${PROMETHEUS_SD//,/-}/prometheus"
}
