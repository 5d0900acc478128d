package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// percentile is the nearest-rank percentile p (0..100) of sorted: the
// smallest sample with at least p% of the samples at or below it. It is exact,
// not interpolated, so p99.9 of 1,000 samples is the 999th.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The epsilon keeps 99.9% of 1000 from rounding up to rank 1000.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// latencySummary is a distribution of durations, in milliseconds.
type latencySummary struct {
	// P50 is the median, in ms.
	P50 float64 `json:"p50"`
	// P90 is the 90th percentile, in ms.
	P90 float64 `json:"p90"`
	// P99 is the 99th percentile, in ms.
	P99 float64 `json:"p99"`
	// P999 is the 99.9th percentile, in ms.
	P999 float64 `json:"p99_9"`
	// Max is the largest sample, in ms.
	Max float64 `json:"max"`
	// Mean is the arithmetic mean, in ms.
	Mean float64 `json:"mean"`
}

// summarize sorts samples in place and summarizes them.
func summarize(samples []time.Duration) latencySummary {
	if len(samples) == 0 {
		return latencySummary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return latencySummary{
		P50:  ms(percentile(samples, 50)),
		P90:  ms(percentile(samples, 90)),
		P99:  ms(percentile(samples, 99)),
		P999: ms(percentile(samples, 99.9)),
		Max:  ms(samples[len(samples)-1]),
		Mean: ms(sum / time.Duration(len(samples))),
	}
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// report is the result of one run, printed as a table or as one JSON object.
type report struct {
	// Target is "acpgw" or "bare".
	Target string `json:"target"`
	// Operation is what was measured: "payment" (POST /v1/payments) or
	// "delegate_payment"; empty in reports from before it existed, which
	// were payments.
	Operation string `json:"operation,omitempty"`
	// URL is the base URL that was loaded.
	URL string `json:"url"`
	// Mode is "closed" (as fast as the workers can) or "open" (fixed rate).
	Mode string `json:"mode"`
	// Concurrency is the number of workers (and idle connections kept).
	Concurrency int `json:"concurrency"`
	// Rate is the open loop's target requests per second; 0 in a closed loop.
	Rate float64 `json:"rate,omitempty"`
	// Duration is the requested measurement time, in seconds.
	Duration float64 `json:"duration_s"`
	// Elapsed is from the first send (or scheduled send) to the last answer, in seconds.
	Elapsed float64 `json:"elapsed_s"`
	// Requests counts requests that were sent and answered or failed.
	Requests int `json:"requests"`
	// Successes counts HTTP 201 answers with the expected status.
	Successes int `json:"successes"`
	// Errors counts the other answers by HTTP status, "transport" for no answer,
	// and "201:<status>" for a 201 with an unexpected payment status.
	Errors map[string]int `json:"errors"`
	// Statuses counts the payment status of every 201 answer.
	Statuses map[string]int `json:"statuses"`
	// Throughput is Requests per second of Elapsed.
	Throughput float64 `json:"throughput_rps"`
	// PaymentsPerSec is Successes per second of Elapsed.
	PaymentsPerSec float64 `json:"payments_per_s"`
	// Latency is over all requests, from send (closed loop) or scheduled
	// send (open loop) to the end of the answer's body.
	Latency latencySummary `json:"latency_ms"`
	// SendLag is, in an open loop, how late requests left after their
	// scheduled time (timer wake-up plus waiting for a free worker); it is
	// part of Latency and shows the load tool's own share.
	SendLag *latencySummary `json:"send_lag_ms,omitempty"`
	// MaxInFlight is the most requests outstanding at once.
	MaxInFlight int `json:"max_in_flight"`
	// TokensIssued counts tokens issued before the measurement (warm-up included).
	TokensIssued int `json:"tokens_issued"`
	// TokensExhausted says the closed loop ran out of tokens before Duration.
	TokensExhausted bool `json:"tokens_exhausted"`
	// SetupSeconds is the time spent issuing tokens.
	SetupSeconds float64 `json:"setup_s"`
	// WarmupRPS is the closed-loop throughput seen during warm-up.
	WarmupRPS float64 `json:"warmup_rps,omitempty"`
	// FirstError describes the first failed request, to say why.
	FirstError string `json:"first_error,omitempty"`
	// ServerPID is the server process whose CPU time was sampled (--server-pid).
	ServerPID int `json:"server_pid,omitempty"`
	// CPUSeconds is the server's user+system CPU time over the measured
	// window only (not setup or warm-up); absent without --server-pid.
	CPUSeconds *float64 `json:"cpu_seconds,omitempty"`
	// CPUPerOpUS is CPUSeconds per success, in microseconds.
	CPUPerOpUS *float64 `json:"cpu_per_op_us,omitempty"`
	// DBPID is the database server process whose CPU time, with its
	// children's, was sampled (--db-pid).
	DBPID int `json:"db_pid,omitempty"`
	// DBCPUSeconds is the database server's user+system CPU time, its
	// children's included, over the measured window; absent without
	// --db-pid.
	DBCPUSeconds *float64 `json:"db_cpu_seconds,omitempty"`
	// DBCPUPerOpUS is DBCPUSeconds per success, in microseconds.
	DBCPUPerOpUS *float64 `json:"db_cpu_per_op_us,omitempty"`
}

// payments reports whether r measured POST /v1/payments, the operation the
// ceiling is for.
func (r *report) payments() bool { return r.Operation == "" || r.Operation == opPayment }

// writeTable prints r for humans.
func (r *report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "target       %s (%s)\n", r.Target, r.URL)
	if r.Operation != "" {
		fmt.Fprintf(w, "operation    %s\n", r.Operation)
	}
	if r.Mode == "open" {
		fmt.Fprintf(w, "mode         open loop at %.0f/s, %d workers, %.1fs\n", r.Rate, r.Concurrency, r.Duration)
	} else {
		fmt.Fprintf(w, "mode         closed loop, %d workers, %.1fs\n", r.Concurrency, r.Duration)
	}
	if r.TokensIssued > 0 {
		fmt.Fprintf(w, "setup        %d tokens in %.2fs\n", r.TokensIssued, r.SetupSeconds)
	}
	if r.WarmupRPS > 0 {
		fmt.Fprintf(w, "warm-up      %.0f req/s\n", r.WarmupRPS)
	}
	fmt.Fprintf(w, "requests     %d in %.2fs (max %d in flight)\n", r.Requests, r.Elapsed, r.MaxInFlight)
	fmt.Fprintf(w, "successes    %d\n", r.Successes)
	fmt.Fprintf(w, "errors       %s\n", countList(r.Errors))
	fmt.Fprintf(w, "statuses     %s\n", countList(r.Statuses))
	fmt.Fprintf(w, "throughput   %.1f req/s, %.1f payments/s\n", r.Throughput, r.PaymentsPerSec)
	l := r.Latency
	fmt.Fprintf(w, "latency ms   p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	if s := r.SendLag; s != nil {
		fmt.Fprintf(w, "send lag ms  p50 %.3f  p99 %.3f  max %.3f (included in latency)\n", s.P50, s.P99, s.Max)
	}
	if r.CPUSeconds != nil {
		fmt.Fprintf(w, "server CPU   %.2fs over the measured window (pid %d), %s per success\n", *r.CPUSeconds, r.ServerPID, perOpCell(r.CPUPerOpUS))
	}
	if r.DBCPUSeconds != nil {
		fmt.Fprintf(w, "db CPU       %.2fs over the measured window (pid %d and its children), %s per success\n",
			*r.DBCPUSeconds, r.DBPID, perOpCell(r.DBCPUPerOpUS))
	}
	if r.TokensExhausted {
		fmt.Fprintln(w, "WARNING      ran out of tokens before the duration ended; pass a larger --tokens")
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", r.FirstError)
	}
}

func countList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ", ")
}

// writeSummary prints one line per named report and each one's throughput as
// a share of the ceiling's (when a ceiling is named and present).
func writeSummary(w io.Writer, names []string, reports []*report, ceiling string) {
	var ceil *report
	for i, n := range names {
		if n == ceiling {
			ceil = reports[i]
		}
	}
	// The database's CPU column is there when a run measured it (--db-pid).
	db := false
	for _, r := range reports {
		db = db || r.DBCPUPerOpUS != nil
	}
	dbHead := ""
	if db {
		dbHead = fmt.Sprintf(" %9s", "db CPU/op")
	}
	fmt.Fprintf(w, "%-14s %-7s %-6s %10s %9s %9s %9s %7s %9s%s %s\n",
		"run", "target", "mode", "payments/s", "p50 ms", "p99 ms", "max ms", "errors", "CPU/op", dbHead, "vs ceiling")
	for i, r := range reports {
		errs := 0
		for _, n := range r.Errors {
			errs += n
		}
		mode := r.Mode
		if mode == "open" {
			mode = fmt.Sprintf("%.0f/s", r.Rate)
		}
		ratio := "-"
		if ceil != nil && ceil.PaymentsPerSec > 0 && r != ceil && r.Mode == "closed" && r.payments() {
			ratio = fmt.Sprintf("%.1f%%", 100*r.PaymentsPerSec/ceil.PaymentsPerSec)
		}
		dbCol := ""
		if db {
			dbCol = fmt.Sprintf(" %9s", perOpCell(r.DBCPUPerOpUS))
		}
		fmt.Fprintf(w, "%-14s %-7s %-6s %10.1f %9.3f %9.3f %9.3f %7d %9s%s %s\n",
			names[i], r.Target, mode, r.PaymentsPerSec, r.Latency.P50, r.Latency.P99, r.Latency.Max, errs,
			perOpCell(r.CPUPerOpUS), dbCol, ratio)
	}
}

// perOpCell is a CPU time per success for the table, "-" when it was not
// measured.
func perOpCell(us *float64) string {
	if us == nil {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", *us)
}

func decodeReport(data []byte) (*report, error) {
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// writeTargets says whether each run met the targets: closed-loop
// throughput of at least minRatio percent of the ceiling's, and open-loop p99
// under maxP99 with no errors.
func writeTargets(w io.Writer, names []string, reports []*report, ceiling string, minRatio float64, maxP99 time.Duration) {
	var ceil *report
	for i, n := range names {
		if n == ceiling {
			ceil = reports[i]
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	for i, r := range reports {
		errs := 0
		for _, n := range r.Errors {
			errs += n
		}
		switch {
		case minRatio > 0 && ceil != nil && r != ceil && r.Mode == "closed" && r.payments() && ceil.PaymentsPerSec > 0:
			got := 100 * r.PaymentsPerSec / ceil.PaymentsPerSec
			fmt.Fprintf(w, "target %s: >= %.0f%% of the ceiling: %.1f%%: %s\n", names[i], minRatio, got, verdict(got >= minRatio))
		case maxP99 > 0 && r.Mode == "open" && r.payments():
			ok := r.Latency.P99 < ms(maxP99) && errs == 0 && r.PaymentsPerSec >= 0.99*r.Rate
			fmt.Fprintf(w, "target %s: p99 < %s at %.0f/s without errors: p99 %.3f ms, %.1f payments/s, %d errors: %s\n",
				names[i], maxP99, r.Rate, r.Latency.P99, r.PaymentsPerSec, errs, verdict(ok))
		}
	}
}
