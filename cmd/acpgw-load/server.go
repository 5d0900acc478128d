package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/procfs"
)

// The measured server's side of a run: its CPU time over the measured
// window (--server-pid), its database's (--db-pid), and a CPU profile of
// that window (--cpu-profile), so that all exclude token setup and warm-up.

// cpuTicks is the user+system CPU time the process pid has used so far, in
// clock ticks (utime and stime of /proc/<pid>/stat).
func cpuTicks(pid int) (uint64, error) {
	s, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return uint64(s.UTime) + uint64(s.STime), nil
}

// procStat reads /proc/<pid>/stat.
func procStat(pid int) (procfs.ProcStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, err
	}
	return p.Stat()
}

// treeTicks is the CPU time, in clock ticks, that the process pid and its
// children have used so far: pid's own, its children's that have ended
// and been waited for (cutime and cstime), and each live child's (its own
// and its ended children's). A database server such as PostgreSQL does its
// work in child processes (a backend per connection) that start and end
// while it runs; a child that ends between two samples counted in the
// first as live and in the second through its parent's cutime, so the
// difference stays the CPU used in between.
func treeTicks(pid int) (uint64, error) {
	s, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	total := uint64(s.UTime) + uint64(s.STime) + uint64(s.CUTime) + uint64(s.CSTime)
	procs, err := procfs.AllProcs()
	if err != nil {
		return 0, err
	}
	for _, c := range procs {
		cs, err := c.Stat()
		if err != nil || cs.PPID != pid {
			continue // ended since the listing, or not a child
		}
		total += uint64(cs.UTime) + uint64(cs.STime) + uint64(cs.CUTime) + uint64(cs.CSTime)
	}
	return total, nil
}

// cpuWindow is a process's CPU time between two samples: the server's
// (--server-pid), or a database server's with its children (--db-pid).
type cpuWindow struct {
	pid    int
	clkTck int
	start  uint64
	flag   string
	ticks  func(pid int) (uint64, error)
}

// startCPU samples the server pid's CPU time; nil when no pid is given.
func startCPU(pid, clkTck int) (*cpuWindow, error) {
	return startWindow(pid, clkTck, "--server-pid", cpuTicks)
}

// startDBCPU samples the CPU time of the database server pid and its
// children; nil when no pid is given.
func startDBCPU(pid, clkTck int) (*cpuWindow, error) {
	return startWindow(pid, clkTck, "--db-pid", treeTicks)
}

func startWindow(pid, clkTck int, flag string, ticks func(int) (uint64, error)) (*cpuWindow, error) {
	if pid == 0 {
		return nil, nil
	}
	t, err := ticks(pid)
	if err != nil {
		return nil, fmt.Errorf("%s %d: %w", flag, pid, err)
	}
	return &cpuWindow{pid: pid, clkTck: clkTck, start: t, flag: flag, ticks: ticks}, nil
}

// result stops w and returns the CPU seconds of the window and their share
// of each of successes, for the report; nils without a window.
func (w *cpuWindow) result(successes int) (secs, perOp *float64, err error) {
	if w == nil {
		return nil, nil, nil
	}
	s, err := w.stop()
	if err != nil {
		return nil, nil, err
	}
	p := cpuPerOp(s, successes)
	return &s, &p, nil
}

// stop samples again and returns the CPU seconds used since the window
// started.
func (w *cpuWindow) stop() (float64, error) {
	t, err := w.ticks(w.pid)
	if err != nil {
		return 0, fmt.Errorf("%s %d: %w", w.flag, w.pid, err)
	}
	if t < w.start {
		// A child that ended between the samples without being waited
		// for by pid (it was reparented) took its time with it.
		return 0, fmt.Errorf("%s %d: CPU time went from %d to %d ticks: a child ended that pid did not wait for", w.flag, w.pid, w.start, t)
	}
	return float64(t-w.start) / float64(w.clkTck), nil
}

// cpuPerOp is CPU seconds per successful request, in microseconds.
func cpuPerOp(seconds float64, successes int) float64 {
	if successes == 0 {
		return 0
	}
	return seconds / float64(successes) * 1e6
}

// profileSeconds is the whole number of seconds pprof's CPU profile runs for
// a measured window of d (its seconds parameter is an integer): d rounded,
// at least 1.
func profileSeconds(d time.Duration) int {
	return max(1, int(d.Round(time.Second)/time.Second))
}

// cpuProfile is a CPU profile being taken by the server.
type cpuProfile struct {
	done chan error
}

// startProfile asks the server's pprof endpoint (base, e.g.
// http://127.0.0.1:6060) for a CPU profile of d and writes it to file when
// it arrives; wait returns once it has.
func startProfile(ctx context.Context, base, file string, d time.Duration) *cpuProfile {
	p := &cpuProfile{done: make(chan error, 1)}
	url := base + "/debug/pprof/profile?seconds=" + strconv.Itoa(profileSeconds(d))
	go func() { p.done <- fetchProfile(ctx, url, file, d) }()
	return p
}

func fetchProfile(ctx context.Context, url, file string, d time.Duration) error {
	// The answer comes when the profile ends: allow its duration and more,
	// not the per-request timeout of the load.
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("cpu profile: %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// wait returns the profile's error, if any, once it is written.
func (p *cpuProfile) wait() error {
	if p == nil {
		return nil
	}
	return <-p.done
}
