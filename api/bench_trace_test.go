package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPayTracing is BenchmarkPayEndToEnd with tracing off and on at
// the default 10% sampling (every span exported over OTLP/HTTP to a
// loopback collector that reads and drops them), on the same machine in
// the same run: the cost of tracing. Besides ns/op (wall time per payment
// with 16 concurrent clients) it reports cpu-us/op, the process's user and
// system CPU per payment (server and in-process client together: the
// client's share is the same in both), steadier than wall time on a shared
// machine. Run with a fixed count so each run pays exactly the tokens it
// issued:
//
//	go test ./api -run '^$' -bench PayTracing -benchtime 3000x -count 5
func BenchmarkPayTracing(b *testing.B) {
	var exported atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		exported.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer sink.Close()
	for _, c := range []struct {
		name string
		o    harnessOpts
	}{
		{"off", harnessOpts{}},
		{"on-10pct", harnessOpts{tracing: sink.URL, sampleRatio: 0.1}},
		{"on-100pct", harnessOpts{tracing: sink.URL, sampleRatio: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := newHarness(b, c.o)
			bodies := make([][]byte, b.N)
			keys := make([]string, b.N)
			for i := range bodies {
				keys[i] = h.delegate("4242424242424242", 1000)
				bodies[i], _ = json.Marshal(payBody(keys[i], 1000, "automatic"))
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			var next atomic.Int64
			exported.Store(0)
			cpu0 := cpuTime()
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1) - 1)
					req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/payments", bytes.NewReader(bodies[i]))
					req.Header.Set("Authorization", "Bearer "+acmeKey)
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", keys[i])
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						b.Errorf("status %d", resp.StatusCode)
					}
				}
			})
			b.StopTimer()
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
			if h.tracing != nil {
				_ = h.tracing.ForceFlush(b.Context())
				b.ReportMetric(float64(exported.Load())/float64(b.N), "otlp-B/op")
			}
		})
	}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
