package main

// The tests' view of the pod's egress: whether the application's own pod can open a connection.
//
//	GET /dial?addr=host:port  open a TCP connection (3 s at most) and close it: 200 "ok", or 502
//	                          "timeout", "refused" or "error", each followed by the address

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

const dialTimeout = 3 * time.Second

// dialOutcome is "ok", "timeout", "refused" or "error" for one TCP connection to addr.
func dialOutcome(addr string) string {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	var netErr net.Error
	switch {
	case err == nil:
		_ = conn.Close()
		return "ok"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	default:
		return "error"
	}
}

func dial(w http.ResponseWriter, r *http.Request) {
	addr := r.URL.Query().Get("addr")
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		http.Error(w, "addr must be host:port", http.StatusBadRequest)
		return
	}
	outcome := dialOutcome(addr)
	if outcome != "ok" {
		w.WriteHeader(http.StatusBadGateway)
	}
	fmt.Fprintln(w, outcome, addr)
}
