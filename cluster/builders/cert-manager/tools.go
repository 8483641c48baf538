//go:build tools

// Package tools records cert-manager's controller main package.
package tools

import (
	_ "github.com/cert-manager/cert-manager/cmd/controller"
)
