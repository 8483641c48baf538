# shellcheck shell=bash
# The kind tier's production edge (issue 16), built (sourced by cluster/kind.sh after build.sh):
# Traefik (Ingress, the ingress-nginx annotations, the Gateway API and its own CRDs), cert-manager's controller,
# the Gateway API CRDs and kube-network-policies (NetworkPolicy enforcement), each built from Go
# modules, cached under ${CACHE_ROOT} and rebuilt only when its inputs change, and imported as a
# one-binary image (nothing is pulled). See cluster/README-kind.md, "The edge".
# kind/install.sh installs it into a cluster (install_edge); kind/smoke.sh proves it end to end.

# Traefik v3.7 is the first with ingress-nginx's rewrite-target (the seed's /backend rewrite).
TRAEFIK_VERSION=v3.7.13
# The last release whose cmd/controller is in the root module the proxy serves.
CERT_MANAGER_VERSION=v1.11.5
# The Gateway API version Traefik ${TRAEFIK_VERSION} is built against (build_gateway_api checks).
GATEWAY_API_VERSION=v1.6.1
KNP_VERSION=v0.8.0
TRAEFIK_IMAGE="exchange-platform/traefik:${TRAEFIK_VERSION}"
CM_IMAGE="exchange-platform/cert-manager-controller:${CERT_MANAGER_VERSION}"
KNP_IMAGE="exchange-platform/kube-network-policies:${KNP_VERSION}"

edge_bin() { printf '%s' "${CACHE_ROOT}/bin/$1/$2"; }

# Traefik's module source, copied so that Traefik is the main module (its own replace
# directives apply), with what the module zip lacks or the proxy refuses:
# - pkg/config/dynamic/ext, a nested module (empty extension points) left out of the zip;
# - webui/static, the built web UI (not in the zip): a placeholder if it is missing;
# - lego's registry of ACME DNS-01 providers: several of their SDKs are refused by the proxy
#   (403), so the DNS challenge is left out (HTTP-01/TLS-ALPN-01 stay; cert-manager issues here);
# - github.com/containous/go-http-auth (basic/digest auth), whose pinned fork commit the proxy
#   refuses: the fork's 2020 commit Traefik v3.5/v3.6 used.
traefik_source() {
	local b="${CLUSTER_DIR}/builders/traefik" v=${TRAEFIK_VERSION} src dir hash
	src="${CACHE_ROOT}/src/traefik-${v}"
	hash=$(inputs_hash "${b}/go.mod" "${b}/go.sum" "$(declare -f traefik_source)")
	if [[ -f "${src}/.prepared" && "$(<"${src}/.prepared")" == "${hash}" ]]; then printf '%s' "${src}"; return 0; fi
	dir=$(cd "${b}" && "${GO}" mod download -json github.com/traefik/traefik/v3 | jq -r .Dir)
	[[ -d "${dir}" ]] || die "go mod download of github.com/traefik/traefik/v3 ${v} failed"
	rm -rf "${src}"
	mkdir -p "${src%/*}"
	cp -r "${dir}" "${src}"
	chmod -R u+w "${src}"
	mkdir -p "${src}/webui/static" "${src}/pkg/config/dynamic/ext"
	[[ -n "$(ls -A "${src}/webui/static")" ]] || printf 'web UI not built\n' >"${src}/webui/static/README.md"
	printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' >"${src}/pkg/config/dynamic/ext/go.mod"
	printf '%s\n' '// Package ext holds the (empty) extension points of dynamic.HTTP and dynamic.Router.' \
		'package ext' '' '// HTTP extends dynamic.HTTP.' 'type HTTP struct{}' '' '// Router extends dynamic.Router.' \
		'type Router struct{}' >"${src}/pkg/config/dynamic/ext/ext.go"
	local acme="${src}/pkg/provider/acme/provider.go"
	grep -q '"github.com/go-acme/lego/v5/providers/dns"' "${acme}" || die "Traefik's ACME provider changed shape"
	sed -i -e '\|^\t"github.com/go-acme/lego/v5/providers/dns"$|d' \
		-e 's|dns\.NewDNSChallengeProviderByName(|noDNSChallengeProvider(|' "${acme}"
	cat >"${src}/pkg/provider/acme/zz_no_dns_providers.go" <<'EOF'
package acme

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// noDNSChallengeProvider stands in for lego's DNS provider registry, left out of this build.
func noDNSChallengeProvider(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("ACME DNS challenge provider %q is not built into this Traefik", name)
}
EOF
	(cd "${src}" && "${GO}" mod edit \
		-replace github.com/abbot/go-http-auth=github.com/containous/go-http-auth@v0.4.1-0.20200324110947-a37a7636d23e) ||
		die "go mod edit of Traefik's source failed"
	# go.sum gets the replacement's sums now, not during the build (go_build_cached's stamp hashes it).
	(cd "${src}" && "${GO}" list -deps ./cmd/traefik >/dev/null) || die "Traefik's source does not load"
	rm -f "$(edge_bin traefik "${v}")/.inputs-traefik-${v}"
	printf '%s\n' "${hash}" >"${src}/.prepared"
	printf '%s' "${src}"
}

build_traefik() {
	local v=${TRAEFIK_VERSION} src
	check_pin "${CLUSTER_DIR}/builders/traefik/go.mod" "^require github.com/traefik/traefik/v3 ${v}\$"
	src=$(traefik_source)
	go_build_cached "traefik-${v}" "${src}" "$(edge_bin traefik "${v}")" \
		"-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${v}" "" ./cmd/traefik
}

# Traefik's CRDs (IngressRoute, TraefikService, Middleware, ...) for its kubernetescrd provider,
# as its module source holds them (the reference documentation's definitions, which Traefik's own
# Helm chart carries).
build_traefik_crds() {
	local v=${TRAEFIK_VERSION} src out hash f
	src=$(traefik_source)
	out=$(edge_bin traefik "${v}")
	f="${src}/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
	hash=$(inputs_hash "${src}/.prepared" "$(declare -f build_traefik_crds)")
	[[ -f "${out}/crds.yaml" && "$(cat "${out}/crds.yaml.inputs" 2>/dev/null)" == "${hash}" ]] && return 0
	grep -q '^  name: traefikservices.traefik.io$' "${f}" || die "Traefik ${v}'s source has no TraefikService CRD in ${f}"
	mkdir -p "${out}"
	cp "${f}" "${out}/crds.yaml"
	printf '%s\n' "${hash}" >"${out}/crds.yaml.inputs"
}

# cert-manager's controller only: no webhook and no cainjector (see the README: every object
# cert-manager serves is v1 only, so no conversion is needed; what is lost is admission
# validation and defaulting of cert-manager's own objects). Its CRDs come from the module's
# deploy/crds, Helm's label templates replaced by fixed labels.
build_cert_manager() {
	local b="${CLUSTER_DIR}/builders/cert-manager" v=${CERT_MANAGER_VERSION} out dir hash
	out=$(edge_bin cert-manager "${v}")
	check_pin "${b}/go.mod" "^require github.com/cert-manager/cert-manager ${v}\$"
	go_build_cached "cert-manager-${v}" "${b}" "${out}" \
		"-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=${v}" "" \
		github.com/cert-manager/cert-manager/cmd/controller
	hash=$(inputs_hash "${b}/go.sum" "$(declare -f build_cert_manager)")
	[[ -f "${out}/crds.yaml" && "$(cat "${out}/crds.yaml.inputs" 2>/dev/null)" == "${hash}" ]] && return 0
	dir=$(cd "${b}" && "${GO}" list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)
	local f
	for f in "${dir}"/deploy/crds/crd-*.yaml; do
		printf -- '---\n'
		sed -e '/# Generated labels {{/d' -e "s|'{{ template \"cert-manager.name\" . }}'|cert-manager|" \
			-e "s|'{{ .Release.Name }}'|cert-manager|" "${f}"
	done >"${out}/crds.yaml.tmp"
	! grep -q '{{' "${out}/crds.yaml.tmp" || die "cert-manager's CRDs still hold Helm templates"
	mv "${out}/crds.yaml.tmp" "${out}/crds.yaml"
	printf '%s\n' "${hash}" >"${out}/crds.yaml.inputs"
}

# The Gateway API's standard channel CRDs, at the version Traefik is built against.
build_gateway_api() {
	local b="${CLUSTER_DIR}/builders/gateway-api" v=${GATEWAY_API_VERSION} out dir hash f
	out=$(edge_bin gateway-api "${v}")
	check_pin "${b}/go.mod" "^require sigs.k8s.io/gateway-api ${v}\$"
	grep -Eq "^\s*sigs.k8s.io/gateway-api ${v}\$" "$(traefik_source)/go.mod" ||
		die "Traefik ${TRAEFIK_VERSION} is not built against the Gateway API ${v}"
	hash=$(inputs_hash "${b}/go.sum" "$(declare -f build_gateway_api)")
	[[ -f "${out}/crds.yaml" && "$(cat "${out}/crds.yaml.inputs" 2>/dev/null)" == "${hash}" ]] && return 0
	dir=$(cd "${b}" && "${GO}" mod download -json sigs.k8s.io/gateway-api | jq -r .Dir)
	[[ -d "${dir}/config/crd/standard" ]] || die "sigs.k8s.io/gateway-api ${v} has no config/crd/standard"
	mkdir -p "${out}"
	for f in "${dir}"/config/crd/standard/*.yaml; do printf -- '---\n'; cat "${f}"; done >"${out}/crds.yaml"
	printf '%s\n' "${hash}" >"${out}/crds.yaml.inputs"
}

# kube-network-policies' module source, built as the main module with one change: this host's
# kernel has no nftables `queue` expression (CONFIG_NFT_QUEUE is not set; adding a rule with
# `queue num 98` fails with ENOENT, and so did every sync of the unpatched controller), but it has
# nft_compat and xtables' NFQUEUE target (iptables-nft's -j NFQUEUE works in the node). So the
# rules that send a packet to the controller's queue use that target (revision 3, through
# nft_compat) instead of nftables' queue expression: same queue number, same bypass flag.
knp_source() {
	local b="${CLUSTER_DIR}/builders/kube-network-policies" v=${KNP_VERSION} src dir hash
	src="${CACHE_ROOT}/src/kube-network-policies-${v}"
	hash=$(inputs_hash "${b}/go.mod" "${b}/go.sum" "$(declare -f knp_source)")
	if [[ -f "${src}/.prepared" && "$(<"${src}/.prepared")" == "${hash}" ]]; then printf '%s' "${src}"; return 0; fi
	dir=$(cd "${b}" && "${GO}" mod download -json sigs.k8s.io/kube-network-policies | jq -r .Dir)
	[[ -d "${dir}" ]] || die "sigs.k8s.io/kube-network-policies ${v} is not downloaded"
	rm -rf "${src}"
	mkdir -p "${src%/*}"
	cp -r "${dir}" "${src}"
	chmod -R u+w "${src}"
	local np="${src}/pkg/networkpolicy"
	[[ "$(grep -c 'queue := &expr.Queue{Num: uint16(c.config.QueueID)}' "${np}/controller.go")" == 2 &&
		"$(grep -c '&expr.Queue{Num: uint16(n.nfQueueID), Flag: expr.QueueFlagBypass}' "${np}/dnsagent.go")" == 1 ]] ||
		die "kube-network-policies' queue rules changed shape"
	perl -0pi -e 's/queue := &expr\.Queue\{Num: uint16\(c\.config\.QueueID\)\}\n\tif c\.config\.FailOpen \{\n\t\tqueue\.Flag = expr\.QueueFlagBypass\n\t\}/queue := nfQueueTarget(uint16(c.config.QueueID), c.config.FailOpen)/g' "${np}/controller.go"
	sed -i 's|&expr.Queue{Num: uint16(n.nfQueueID), Flag: expr.QueueFlagBypass}|nfQueueTarget(uint16(n.nfQueueID), true)|' "${np}/dnsagent.go"
	! grep -q 'expr.Queue' "${np}/controller.go" "${np}/dnsagent.go" || die "kube-network-policies still uses nftables' queue"
	cat >"${np}/zz_nfqueue_target.go" <<'EOF'
package networkpolicy

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// nfQueueTarget sends the packet to NFQUEUE queue num through xtables' NFQUEUE target (revision 3,
// struct xt_NFQ_info_v3: queuenum, queues_total, flags; flag 1 = bypass when nobody listens),
// for kernels with nft_compat but without nftables' queue expression.
func nfQueueTarget(num uint16, bypass bool) expr.Any {
	info := make([]byte, 6)
	binary.NativeEndian.PutUint16(info[0:], num)
	binary.NativeEndian.PutUint16(info[2:], 1)
	if bypass {
		binary.NativeEndian.PutUint16(info[4:], 1)
	}
	raw := xt.Unknown(info)
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &raw}
}
EOF
	rm -f "$(edge_bin kube-network-policies "${v}")/.inputs-kube-network-policies-${v}"
	printf '%s\n' "${hash}" >"${src}/.prepared"
	printf '%s' "${src}"
}

# kube-network-policies: its main package is ./cmd (binary "cmd").
build_kube_network_policies() {
	local b="${CLUSTER_DIR}/builders/kube-network-policies" v=${KNP_VERSION} src
	check_pin "${b}/go.mod" "^require sigs.k8s.io/kube-network-policies ${v}\$"
	src=$(knp_source)
	go_build_cached "kube-network-policies-${v}" "${src}" "$(edge_bin kube-network-policies "${v}")" "-s -w" "" ./cmd
}

edge_images() { printf '%s\n' "${TRAEFIK_IMAGE}" "${CM_IMAGE}" "${KNP_IMAGE}"; }

build_edge() {
	local start=${SECONDS}
	build_traefik
	build_traefik_crds
	build_cert_manager
	build_gateway_api
	build_kube_network_policies
	import_cached "${TRAEFIK_IMAGE}" '["/traefik"]' "traefik=$(edge_bin traefik "${TRAEFIK_VERSION}")/traefik"
	import_cached "${CM_IMAGE}" '["/controller"]' \
		"controller=$(edge_bin cert-manager "${CERT_MANAGER_VERSION}")/controller"
	import_cached "${KNP_IMAGE}" '["/bin/netpol"]' "bin/netpol=$(edge_bin kube-network-policies "${KNP_VERSION}")/cmd"
	if ((SECONDS - start > 2)); then log "edge built in $((SECONDS - start))s"; fi
}
