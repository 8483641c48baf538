package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// serving starts the application with these extra variables; returns its base URL.
func serving(t *testing.T, extra ...string) string {
	t.Helper()
	up, port := listener(t), freePort(t)
	env := append([]string{
		"SERVER_ADDR=127.0.0.1:" + port,
		"DATABASE_URL=postgres://router:pw@127.0.0.1:" + up + "/exchange",
		"REDIS_URL=redis://127.0.0.1:" + up + "/0",
	}, extra...)
	cmd := standin(t, env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://127.0.0.1:" + port
	for i := 0; i < 50; i++ {
		if resp, err := http.Get(base + "/api/v1/health"); err == nil {
			_ = resp.Body.Close()
			return base
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the application never answered")
	return ""
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServesFilesUnderTheListedDirectoriesOnly(t *testing.T) {
	dir := t.TempDir()
	config, scratch := filepath.Join(dir, "config"), filepath.Join(dir, "scratch")
	// As the kubelet mounts a ConfigMap: the file is a symlink into ..data.
	write(t, filepath.Join(config, "..data", "app.yaml"), "level: info\n")
	if err := os.Symlink("..data/app.yaml", filepath.Join(config, "app.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "secret.txt"), "never shown")
	if err := os.Symlink("../secret.txt", filepath.Join(config, "escape")); err != nil {
		t.Fatal(err)
	}
	base := serving(t, "STANDIN_FILES="+config+":"+scratch)

	if code, body := fetch(t, base+"/files"+config+"/app.yaml"); code != 200 || body != "level: info\n" {
		t.Fatalf("the mounted file: %d %q", code, body)
	}
	code, body := fetch(t, base+"/files"+scratch)
	var names []string
	if err := json.Unmarshal([]byte(body), &names); code != 200 || err != nil || len(names) != 0 {
		t.Fatalf("the empty directory: %d %q", code, body)
	}
	for _, outside := range []string{dir + "/secret.txt", config + "/escape", config + "/../secret.txt", "/etc/hostname"} {
		if code, body := fetch(t, base+"/files"+outside); code != 404 || body == "never shown" {
			t.Errorf("%s: want 404, got %d %q", outside, code, body)
		}
	}
}

func TestServesNoFilesWithoutTheList(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.txt"), "a")
	base := serving(t)
	if code, _ := fetch(t, base+"/files"+dir+"/a.txt"); code != 404 {
		t.Fatalf("want 404, got %d", code)
	}
}

func TestEchoesOnlyEchoVariables(t *testing.T) {
	base := serving(t, "ECHO_GREETING=hello from the inventory")
	if code, body := fetch(t, base+"/env/ECHO_GREETING"); code != 200 || body != "hello from the inventory" {
		t.Fatalf("ECHO_GREETING: %d %q", code, body)
	}
	for _, name := range []string{"DATABASE_URL", "ECHO_UNSET"} {
		if code, body := fetch(t, base+"/env/"+name); code != 404 {
			t.Errorf("%s: want 404, got %d %q", name, code, body)
		}
	}
}
