//go:build tools

// Package tools records kube-network-policies' main package (sigs.k8s.io/kube-network-policies/cmd).
package tools

import (
	_ "sigs.k8s.io/kube-network-policies/cmd"
)
