// Builder module: pins Traefik for the kind tier's edge (cluster/kind/edge-build.sh). Traefik is
// built as the main module from a copy of this module's source, so its own replace directives
// apply.
module exchange.platform/cluster/builders/traefik

go 1.26.0

require github.com/traefik/traefik/v3 v3.7.13
