// Builder module: pins kube-network-policies (NetworkPolicy enforcement with nftables and
// NFQUEUE) for the kind tier's edge. cluster/kind/edge-build.sh builds it as the main module
// from a patched copy of this module's source (its queue rules use xtables' NFQUEUE target: see
// knp_source there).
module exchange.platform/cluster/builders/kube-network-policies

go 1.26.0

require sigs.k8s.io/kube-network-policies v0.8.0
