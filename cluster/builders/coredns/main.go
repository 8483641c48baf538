// Command coredns is CoreDNS with only the plugins kubeadm's default Corefile names:
// errors, health, ready, kubernetes, prometheus (package metrics), forward, cache, loop,
// reload, loadbalance. forward is compiled in so kubeadm's Corefile parses; kind.sh then
// removes it from the ConfigMap, so no query ever leaves the cluster.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
