// CoreDNS for the local stack's real node, built from the pinned github.com/coredns/coredns module with
// only the plugins the node's Corefile uses (devstack/k8sta_devstack/node/coredns.py). Upstream's main
// imports every plugin (core/plugin, generated from plugin.cfg); this is CoreDNS's documented way of a
// smaller build: the same coremain, a shorter plugin list, the directives in upstream's order.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The subset of upstream's core/dnsserver/zdirectives.go, in its order (the order plugins run in).
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "cache", "hosts", "kubernetes"}
}

func main() {
	coremain.Run()
}
