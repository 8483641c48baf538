//go:build tools

// Package tools records the etcd main package (go.etcd.io/etcd/server/v3).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
