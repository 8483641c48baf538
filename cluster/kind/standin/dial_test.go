package main

import (
	"net/url"
	"strings"
	"testing"
)

func TestDialsFromThePod(t *testing.T) {
	base := serving(t)
	open, closed := "127.0.0.1:"+listener(t), "127.0.0.1:"+freePort(t)
	cases := []struct {
		addr, want string
		code       int
	}{
		{open, "ok " + open, 200},
		{closed, "refused " + closed, 502},
		// TEST-NET-1 (RFC 5737) routes nowhere: the connection times out, or no route (error).
		{"192.0.2.1:5432", "192.0.2.1:5432", 502},
		{"no-port", "addr must be host:port", 400},
	}
	for _, c := range cases {
		code, body := fetch(t, base+"/dial?addr="+url.QueryEscape(c.addr))
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: want %d %q, got %d %q", c.addr, c.code, c.want, code, body)
		}
	}
}
