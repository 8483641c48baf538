package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
}

// failedRequests serves n requests with the given User-Agent and returns the 1-based numbers of the 500s.
func failedRequests(h http.Handler, n int, userAgent string) []int {
	var failed []int
	for i := 1; i <= n; i++ {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/health", nil)
		req.Header.Set("User-Agent", userAgent)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError {
			failed = append(failed, i)
		}
	}
	return failed
}

func TestErrorRateFailsExactlyThatShareEvenly(t *testing.T) {
	cases := []struct {
		rate string
		n    int
		want []int
	}{
		{"0.05", 100, []int{20, 40, 60, 80, 100}},
		{"0.25", 10, []int{4, 8}},
		{"0.5", 6, []int{2, 4, 6}},
		{"1", 3, []int{1, 2, 3}},
		{"0", 50, nil},
	}
	for _, c := range cases {
		t.Run(c.rate, func(t *testing.T) {
			t.Setenv("ERROR_RATE", c.rate)
			f, err := faultsFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			got := failedRequests(f.wrap(okHandler()), c.n, "curl/8")
			if len(got) != len(c.want) {
				t.Fatalf("ERROR_RATE=%s: requests %v failed, want %v", c.rate, got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("ERROR_RATE=%s: requests %v failed, want %v", c.rate, got, c.want)
				}
			}
		})
	}
}

func TestProbesAreNeverFailedNorCounted(t *testing.T) {
	t.Setenv("ERROR_RATE", "0.5")
	f, err := faultsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	h := f.wrap(okHandler())
	if got := failedRequests(h, 20, "kube-probe/1.36"); len(got) != 0 {
		t.Fatalf("the kubelet's probes got 500 at %v", got)
	}
	// The probes did not move the counter: the clients' 2nd and 4th requests fail.
	if got := failedRequests(h, 4, "curl/8"); len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Fatalf("clients' failed requests %v, want [2 4]", got)
	}
}

func TestLatencyDelaysTheGivenFraction(t *testing.T) {
	t.Setenv("LATENCY_MS", "60")
	t.Setenv("LATENCY_RATE", "0.5")
	f, err := faultsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	h := f.wrap(okHandler())
	for i := 1; i <= 4; i++ {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/health", nil))
		took := time.Since(start)
		slow := i%2 == 0
		if rec.Code != http.StatusOK || (slow && took < 60*time.Millisecond) || (!slow && took > 30*time.Millisecond) {
			t.Fatalf("request %d: %d after %s (slow: %v)", i, rec.Code, took, slow)
		}
	}
}

func TestNoFaultsLeavesTheHandlerAlone(t *testing.T) {
	f, err := faultsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if f.errorRate != 0 || f.latency != 0 || f.latencyRate != 1 {
		t.Fatalf("defaults: %+v", f)
	}
	if got := failedRequests(f.wrap(okHandler()), 100, "curl/8"); len(got) != 0 {
		t.Fatalf("requests %v failed without ERROR_RATE", got)
	}
}

func TestBadFaultSettingsStopTheApplication(t *testing.T) {
	up := listener(t)
	cases := []struct{ env, want string }{
		{"ERROR_RATE=1.5", "ERROR_RATE must be a fraction between 0 and 1"},
		{"ERROR_RATE=lots", "ERROR_RATE must be a fraction between 0 and 1"},
		{"LATENCY_RATE=-0.1", "LATENCY_RATE must be a fraction between 0 and 1"},
		{"LATENCY_MS=0.5", "LATENCY_MS must be a whole number of milliseconds"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			cmd := standin(t, "SERVER_ADDR=127.0.0.1:0", "DATABASE_URL=postgres://127.0.0.1:"+up,
				"REDIS_URL=redis://127.0.0.1:"+up, c.env)
			out, err := cmd.CombinedOutput()
			exit, ok := err.(*exec.ExitError)
			value := c.env[strings.Index(c.env, "=")+1:]
			if !ok || exit.ExitCode() != 2 || !strings.Contains(string(out), c.want) || strings.Contains(string(out), value) {
				t.Fatalf("%s: %v %q", c.env, err, out)
			}
		})
	}
}

func TestServesInjectedErrorsButProbesPass(t *testing.T) {
	// serving() polls /api/v1/health once it answers (its requests are counted: ERROR_RATE=1
	// fails every client request, whatever the poll took).
	base := serving(t, "ERROR_RATE=1")
	if code, body := fetch(t, base+"/api/v1/health"); code != 500 || !strings.Contains(body, "injected by ERROR_RATE") {
		t.Fatalf("client: %d %q, want the injected 500", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/health", nil)
	req.Header.Set("User-Agent", "kube-probe/1.36")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("probe: %d, want 200", resp.StatusCode)
	}
}
