//go:build tools

// Package tools records metrics-server's main package.
package tools

import (
	_ "sigs.k8s.io/metrics-server/cmd/metrics-server"
)
