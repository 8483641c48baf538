//go:build tools

// Package tools records the kind CLI (the module root is its main package) so that
// `go mod tidy` keeps its dependencies in go.mod/go.sum.
package tools

import (
	_ "sigs.k8s.io/kind"
)
