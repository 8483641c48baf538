// Builder module: pins Prometheus for the kind tier's monitoring (cluster/kind/monitoring-build.sh).
// Prometheus is built as the main module from a copy of this module's source (GOWORK=off: the
// module carries a go.work), so its own replace directives apply.
module exchange.platform/cluster/builders/prometheus

go 1.26.0

require github.com/prometheus/prometheus v0.316.0
