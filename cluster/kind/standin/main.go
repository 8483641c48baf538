// Command standin behaves like exchange-router where a deploy can tell the difference, and
// doubles as the tests' Postgres/Redis stand-in and HTTP client:
//
//	standin                 the application: binds SERVER_ADDR (host:port), checks that
//	                        DATABASE_URL and REDIS_URL are set and accept TCP, and about 1 s
//	                        after it started (as the real one, which creates its table; or
//	                        STARTUP_DELAY_SECONDS, a slow start for a startupProbe) serves
//	                        GET /api/v1/health, GET /env-hashes, GET /burn?seconds=N,
//	                        GET /files/{path...} and GET /env/ECHO_{name} (files.go), and
//	                        GET /dial?addr=host:port (dial.go: can the pod connect there)
//	standin listen PORT...  accept TCP connections on each port (Postgres/Redis stand-in)
//	standin get URL         GET URL, retrying for up to 60 s; print the body; exit 0 on 200
//
// Error messages name a variable, never its value.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

var envNames = []string{"SERVER_ADDR", "DATABASE_URL", "REDIS_URL"}

// startupDelay is the real application's time from start to listening (its table creation),
// unless STARTUP_DELAY_SECONDS (a whole number) asks for a slower start.
func startupDelay() time.Duration {
	raw, ok := os.LookupEnv("STARTUP_DELAY_SECONDS")
	if !ok {
		return time.Second
	}
	seconds, err := strconv.Atoi(raw)
	if err != nil || seconds < 0 {
		fail(2, "STARTUP_DELAY_SECONDS must be a whole number of seconds")
	}
	return time.Duration(seconds) * time.Second
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "standin: "+format+"\n", args...)
	os.Exit(code)
}

// backendAddr returns host:port of a postgres:// or redis:// URL (default port by scheme).
func backendAddr(name string) string {
	raw, ok := os.LookupEnv(name)
	if !ok || raw == "" {
		fail(1, "%s is not set", name)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		fail(1, "%s is not a URL with a host", name)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"postgres": "5432", "postgresql": "5432", "redis": "6379"}[u.Scheme]
	}
	if port == "" {
		fail(1, "%s has no port and an unknown scheme", name)
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func checkBackend(name string) {
	conn, err := net.DialTimeout("tcp", backendAddr(name), 5*time.Second)
	if err != nil {
		fail(1, "%s: its host does not accept TCP connections", name)
	}
	_ = conn.Close()
}

func envHashes(w http.ResponseWriter, _ *http.Request) {
	out := map[string]string{}
	for _, name := range envNames {
		sum := sha256.Sum256([]byte(os.Getenv(name)))
		out[name] = hex.EncodeToString(sum[:])
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// burn keeps one core busy for ?seconds=N (default 60, at most 600); it answers at once.
func burn(w http.ResponseWriter, r *http.Request) {
	seconds, err := strconv.Atoi(r.URL.Query().Get("seconds"))
	if err != nil || seconds <= 0 {
		seconds = 60
	}
	seconds = min(seconds, 600)
	go func() {
		end := time.Now().Add(time.Duration(seconds) * time.Second)
		x := 0
		for time.Now().Before(end) {
			for i := 0; i < 1_000_000; i++ {
				x += i
			}
		}
		_ = x
	}()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "burning one core for %ds\n", seconds)
}

func serve() {
	addr := os.Getenv("SERVER_ADDR")
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		fail(2, "SERVER_ADDR must be host:port (invalid socket address)")
	}
	delay := startupDelay()
	injected, err := faultsFromEnv()
	if err != nil {
		fail(2, "%v", err)
	}
	checkBackend("DATABASE_URL")
	checkBackend("REDIS_URL")
	// The real application creates its table before it listens: it answers about 1 s after it
	// starts, which is what makes a readiness probe's period show in every rollout.
	time.Sleep(delay)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(1, "cannot bind SERVER_ADDR: %v", err.(*net.OpError).Err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /env-hashes", envHashes)
	mux.HandleFunc("GET /burn", burn)
	mux.HandleFunc("GET /files/{path...}", files)
	mux.HandleFunc("GET /env/{name}", echoEnv)
	mux.HandleFunc("GET /dial", dial)
	fmt.Println("standin: listening")
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		os.Exit(0)
	}()
	fail(1, "server stopped: %v", http.Serve(ln, injected.wrap(mux)))
}

func listen(ports []string) {
	for _, port := range ports {
		ln, err := net.Listen("tcp", ":"+port)
		if err != nil {
			fail(1, "listen on %s: %v", port, err)
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err == nil {
					go func() { _, _ = io.Copy(io.Discard, conn); _ = conn.Close() }()
				}
			}
		}()
		fmt.Println("standin: accepting TCP on port", port)
	}
	select {}
}

func get(target string) {
	client := &http.Client{Timeout: 5 * time.Second}
	for attempt := 0; attempt < 20; attempt++ {
		resp, err := client.Get(target)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				fmt.Print(string(body))
				os.Exit(0)
			}
			fmt.Fprintf(os.Stderr, "GET %s: %d\n", target, resp.StatusCode)
		} else {
			fmt.Fprintln(os.Stderr, "GET", target+":", err)
		}
		time.Sleep(3 * time.Second)
	}
	os.Exit(1)
}

func main() {
	switch {
	case len(os.Args) >= 3 && os.Args[1] == "listen":
		listen(os.Args[2:])
	case len(os.Args) == 3 && os.Args[1] == "get":
		get(os.Args[2])
	case len(os.Args) == 1:
		serve()
	default:
		fail(2, "usage: standin | standin listen PORT... | standin get URL")
	}
}
