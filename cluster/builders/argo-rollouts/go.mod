// Builder module: pins Argo Rollouts for the kind tier's side-by-side canary (issue 26;
// cluster/kind/rollouts-build.sh). Its controller is built as the main module from a copy of this
// module's source, so its own replace directives apply.
module exchange.platform/cluster/builders/argo-rollouts

go 1.26.0

require github.com/argoproj/argo-rollouts v1.10.1
