// Builder module: pins the Gateway API whose standard-channel CRDs (config/crd/standard) the
// kind tier's edge installs: the version Traefik is built against (cluster/kind/edge-build.sh
// checks).
module exchange.platform/cluster/builders/gateway-api

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.1
