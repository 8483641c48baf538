package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary runs main() itself when STANDIN_TEST_MAIN is set (the re-exec pattern).
func TestMain(m *testing.M) {
	if os.Getenv("STANDIN_TEST_MAIN") == "1" {
		os.Args = []string{"standin"}
		main()
		return
	}
	os.Exit(m.Run())
}

func standin(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{"STANDIN_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, env...)
	return cmd
}

// listener accepts TCP connections on 127.0.0.1 until the test ends; returns its port.
func listener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func TestRefusesToStart(t *testing.T) {
	up := listener(t)
	secret := "p4ssw0rd-never-printed"
	cases := []struct {
		name, want string
		code       int
		env        []string
	}{
		{"server addr without port", "SERVER_ADDR must be host:port", 2,
			[]string{"SERVER_ADDR=0.0.0.0", "DATABASE_URL=postgres://127.0.0.1:" + up, "REDIS_URL=redis://127.0.0.1:" + up}},
		{"database url unset", "DATABASE_URL is not set", 1,
			[]string{"SERVER_ADDR=127.0.0.1:0", "REDIS_URL=redis://127.0.0.1:" + up}},
		{"redis unreachable", "REDIS_URL: its host does not accept TCP connections", 1,
			[]string{"SERVER_ADDR=127.0.0.1:0", "DATABASE_URL=postgres://127.0.0.1:" + up,
				"REDIS_URL=redis://:" + secret + "@127.0.0.1:" + freePort(t) + "/0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := standin(t, c.env...).CombinedOutput()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != c.code {
				t.Fatalf("want exit %d, got %v (%s)", c.code, err, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("want %q in %q", c.want, out)
			}
			if strings.Contains(string(out), secret) || strings.Contains(string(out), "127.0.0.1") {
				t.Fatalf("the message shows a value: %q", out)
			}
		})
	}
}

func TestServesHealthAndEnvHashes(t *testing.T) {
	up, port := listener(t), freePort(t)
	env := map[string]string{
		"SERVER_ADDR":  "127.0.0.1:" + port,
		"DATABASE_URL": "postgres://router:pw@127.0.0.1:" + up + "/exchange",
		"REDIS_URL":    "redis://127.0.0.1:" + up + "/0",
	}
	cmd := standin(t, "SERVER_ADDR="+env["SERVER_ADDR"], "DATABASE_URL="+env["DATABASE_URL"], "REDIS_URL="+env["REDIS_URL"])
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + env["SERVER_ADDR"]
	var resp *http.Response
	var err error
	for i := 0; i < 50; i++ {
		if resp, err = http.Get(base + "/api/v1/health"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp, err = http.Get(base + "/env-hashes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	for name, value := range env {
		sum := sha256.Sum256([]byte(value))
		if got[name] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: hash %s does not match", name, got[name])
		}
	}
	if resp, err := http.Get(base + "/burn?seconds=1"); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("burn: %v %v", resp, err)
	}
}

func TestStartsAfterStartupDelaySeconds(t *testing.T) {
	start := time.Now()
	base := serving(t, "STARTUP_DELAY_SECONDS=3")
	if waited := time.Since(start); waited < 3*time.Second {
		t.Fatalf("answered after %s, before STARTUP_DELAY_SECONDS=3", waited)
	}
	if code, _ := fetch(t, base+"/api/v1/health"); code != 200 {
		t.Fatalf("health: %d", code)
	}
	cmd := standin(t, "SERVER_ADDR=127.0.0.1:0", "STARTUP_DELAY_SECONDS=soon")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "STARTUP_DELAY_SECONDS must be a whole number") ||
		strings.Contains(string(out), "soon") {
		t.Fatalf("bad STARTUP_DELAY_SECONDS: %v %q", err, out)
	}
}
