//go:build tools

// Package tools records the main packages built from k8s.io/kubernetes so
// that `go mod tidy` keeps their dependencies in go.mod/go.sum: the control
// plane and kubectl (both tiers) and the node binaries (kind tier).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
