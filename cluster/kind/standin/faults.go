package main

// Faults a canary's analysis must see (issue 26), set by env and deterministic, so a test knows
// how many requests fail and which ones are slow:
//
//	ERROR_RATE=F    answer a fraction F (0 to 1) of the requests with 500: request n (counted
//	                from 1 by this process) fails when floor(n*F) > floor((n-1)*F), so exactly
//	                floor(N*F) of the first N fail, spread evenly (0.05: every 20th request)
//	LATENCY_MS=M    delay answers by M milliseconds before serving them
//	LATENCY_RATE=F  only a fraction F of the requests (the same rule, a counter of its own) are
//	                delayed; default 1, every request
//
// Requests of the kubelet's probes (User-Agent kube-probe/...) are neither counted nor failed nor
// delayed: a pod with faults stays Ready, as a bad release that passes its health check does,
// and only clients see the errors. Invalid values stop the application with exit 2, and a
// message naming the variable (never its value).

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

type faults struct {
	errorRate, latencyRate float64
	latency                time.Duration
	errorCount, slowCount  atomic.Uint64
}

// faultsFromEnv reads ERROR_RATE, LATENCY_MS and LATENCY_RATE; the error names the variable.
func faultsFromEnv() (*faults, error) {
	f := &faults{latencyRate: 1}
	rate := func(name string, into *float64) error {
		raw, ok := os.LookupEnv(name)
		if !ok || raw == "" {
			return nil
		}
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("%s must be a fraction between 0 and 1", name)
		}
		*into = v
		return nil
	}
	if err := rate("ERROR_RATE", &f.errorRate); err != nil {
		return nil, err
	}
	if err := rate("LATENCY_RATE", &f.latencyRate); err != nil {
		return nil, err
	}
	if raw, ok := os.LookupEnv("LATENCY_MS"); ok && raw != "" {
		ms, err := strconv.Atoi(raw)
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("LATENCY_MS must be a whole number of milliseconds")
		}
		f.latency = time.Duration(ms) * time.Millisecond
	}
	return f, nil
}

// hit counts one more request on counter and says whether it is one of the fraction rate.
func hit(counter *atomic.Uint64, rate float64) bool {
	if rate <= 0 {
		return false
	}
	n := counter.Add(1)
	return math.Floor(float64(n)*rate) > math.Floor(float64(n-1)*rate)
}

// wrap serves next with the faults; with none set it returns next unchanged.
func (f *faults) wrap(next http.Handler) http.Handler {
	if f.errorRate == 0 && (f.latency == 0 || f.latencyRate == 0) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			next.ServeHTTP(w, r)
			return
		}
		if f.latency > 0 && hit(&f.slowCount, f.latencyRate) {
			time.Sleep(f.latency)
		}
		if hit(&f.errorCount, f.errorRate) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintln(w, `{"error":"injected by ERROR_RATE"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}
