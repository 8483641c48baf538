// Builder module: pins Flux's source-controller and kustomize-controller for the kwok tier's
// GitOps tests (cluster/kwok/flux.sh). Each is built as the main module from a copy of its module
// source, so its own replace directives apply (those flux.sh changes are listed there).
module exchange.platform/cluster/builders/flux

go 1.26.0

require (
	github.com/fluxcd/kustomize-controller v1.9.6
	github.com/fluxcd/source-controller v1.9.6
)
