package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func seq(n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = time.Duration(i+1) * time.Millisecond
	}
	return s
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample any p", seq(1), 99.9, time.Millisecond},
		{"p0 is the minimum", seq(100), 0, 1 * time.Millisecond},
		{"p50 of 100", seq(100), 50, 50 * time.Millisecond},
		{"p50 of 101 is the middle", seq(101), 50, 51 * time.Millisecond},
		{"p90 of 100", seq(100), 90, 90 * time.Millisecond},
		{"p99 of 100", seq(100), 99, 99 * time.Millisecond},
		{"p99.9 of 100 is the max", seq(100), 99.9, 100 * time.Millisecond},
		{"p99.9 of 1000 is the 999th, not the max", seq(1000), 99.9, 999 * time.Millisecond},
		{"p99 of 1000", seq(1000), 99, 990 * time.Millisecond},
		{"p99 of 10000", seq(10000), 99, 9900 * time.Millisecond},
		{"p100 is the max", seq(7), 100, 7 * time.Millisecond},
		{"p above 100 clamps", seq(7), 150, 7 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(%d samples, %v) = %v, want %v", len(tt.in), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsAndIsExact(t *testing.T) {
	t.Parallel()
	s := seq(1000)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	got := summarize(s)
	want := latencySummary{P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000, Mean: 500.5}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if (summarize(nil) != latencySummary{}) {
		t.Errorf("summarize(nil) is not zero")
	}
}

func TestSummaryRatio(t *testing.T) {
	t.Parallel()
	a := &report{Target: "acpgw", Mode: "closed", PaymentsPerSec: 500}
	o := &report{Target: "acpgw", Mode: "open", Rate: 1000, PaymentsPerSec: 999}
	c := &report{Target: "bare", Mode: "closed", PaymentsPerSec: 2000}
	var buf bytes.Buffer
	writeSummary(&buf, []string{"a", "b", "c"}, []*report{a, o, c}, "c")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), buf.String())
	}
	if !strings.HasSuffix(lines[1], "25.0%") {
		t.Errorf("closed-loop row does not end in 25.0%%: %q", lines[1])
	}
	if !strings.HasSuffix(lines[2], "-") || !strings.HasSuffix(lines[3], "-") {
		t.Errorf("open-loop and ceiling rows should have no ratio:\n%s", buf.String())
	}
}

// TestBareHandler checks the ceiling answers the load tool's body with a 201
// captured payment and rejects a broken one, so a run against it measures
// successes.
func TestBareHandler(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(bareHandler())
	defer srv.Close()
	r := &runner{cfg: runConfig{merchant: "demo", processorHint: "stripe"}}
	good := r.bareBodies()
	for _, tc := range []struct {
		name   string
		body   string
		code   int
		status string
	}{
		{"load body", string(good), http.StatusCreated, "captured"},
		{"not json", "{", http.StatusBadRequest, ""},
		{"missing fields", "{}", http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/v1/payments", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			var p barePayment
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tc.status {
				t.Errorf("payment status %q, want %q", p.Status, tc.status)
			}
			if tc.code == http.StatusCreated && (p.Object != "payment" || p.Amount != 1999 || p.MerchantID != "demo") {
				t.Errorf("payment %+v does not echo the request", p)
			}
		})
	}
}

// TestSummaryCPUAndOperation: the CPU/op column shows the server's CPU per
// success where it was measured and "-" elsewhere; a delegate_payment run
// gets no ratio to the payments ceiling and no target verdict.
func TestSummaryCPUAndOperation(t *testing.T) {
	t.Parallel()
	cpu := func(v float64) *float64 { return &v }
	a := &report{Target: "acpgw", Operation: opPayment, Mode: "closed", PaymentsPerSec: 500, CPUSeconds: cpu(1.2), CPUPerOpUS: cpu(412.4)}
	d := &report{Target: "acpgw", Operation: opDelegate, Mode: "closed", PaymentsPerSec: 1500}
	c := &report{Target: "bare", Mode: "closed", PaymentsPerSec: 2000, CPUSeconds: cpu(0.3), CPUPerOpUS: cpu(61)}
	var buf bytes.Buffer
	writeSummary(&buf, []string{"a", "d", "c"}, []*report{a, d, c}, "c")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], " CPU/op ") {
		t.Fatalf("table:\n%s", buf.String())
	}
	for i, want := range []string{"412µs 25.0%", "- -", "61µs -"} {
		if f := strings.Fields(lines[i+1]); strings.Join(f[len(f)-2:], " ") != want {
			t.Errorf("row %d ends %q, want %q:\n%s", i+1, f[len(f)-2:], want, buf.String())
		}
	}
	// With a database's CPU measured (--db-pid), a db CPU/op column follows.
	a.DBCPUSeconds, a.DBCPUPerOpUS = cpu(2.5), cpu(871.6)
	buf.Reset()
	writeSummary(&buf, []string{"a", "d", "c"}, []*report{a, d, c}, "c")
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], " CPU/op db CPU/op vs ceiling") {
		t.Fatalf("table with the database's CPU:\n%s", buf.String())
	}
	for i, want := range []string{"412µs 872µs 25.0%", "- - -", "61µs - -"} {
		if f := strings.Fields(lines[i+1]); strings.Join(f[len(f)-3:], " ") != want {
			t.Errorf("row %d ends %q, want %q:\n%s", i+1, f[len(f)-3:], want, buf.String())
		}
	}
	buf.Reset()
	writeTargets(&buf, []string{"a", "d", "c"}, []*report{a, d, c}, "c", 25, 0)
	if got := strings.TrimSpace(buf.String()); got != "target a: >= 25% of the ceiling: 25.0%: met" {
		t.Errorf("targets:\n%s", got)
	}
}
