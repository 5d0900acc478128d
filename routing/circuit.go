package routing

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"acpgw/config"
)

// State is a circuit breaker's state; its numeric value is exported as
// acpgw_circuit_state.
type State int

// The breaker states.
const (
	Closed   State = 0
	HalfOpen State = 1
	Open     State = 2
)

func (s State) String() string {
	switch s {
	case HalfOpen:
		return "half_open"
	case Open:
		return "open"
	}
	return "closed"
}

const (
	buckets        = 10
	latencySamples = 1024
)

// Breakers holds one circuit breaker and latency tracker per processor. It
// outlives config reloads (a reload reconfigures, it does not reset), and
// implements Health. It is safe for concurrent use.
type Breakers struct {
	now      func() time.Time
	onChange func(processor string, s State)
	mu       sync.Mutex
	// m is replaced, never mutated, so readers need no lock.
	m atomic.Pointer[map[string]*Breaker]
}

// NewBreakers returns an empty set. now is the clock (time.Now when nil);
// onChange, when set, is called after each state change (for metrics and
// logs), outside the breaker's lock.
func NewBreakers(now func() time.Time, onChange func(processor string, s State)) *Breakers {
	if now == nil {
		now = time.Now
	}
	b := &Breakers{now: now, onChange: onChange}
	empty := map[string]*Breaker{}
	b.m.Store(&empty)
	return b
}

// Configure creates the processor's breaker or updates its settings,
// keeping its state and history.
func (b *Breakers) Configure(processor string, c config.Circuit) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.m.Load()
	if br, ok := old[processor]; ok {
		br.mu.Lock()
		br.cfg = c
		br.mu.Unlock()
		return
	}
	next := make(map[string]*Breaker, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	br := &Breaker{name: processor, cfg: c, now: b.now, onChange: b.onChange}
	next[processor] = br
	b.m.Store(&next)
	if b.onChange != nil {
		b.onChange(processor, Closed)
	}
}

// Get returns the processor's breaker, nil when it has none.
func (b *Breakers) Get(processor string) *Breaker {
	return (*b.m.Load())[processor]
}

// Open implements Health.
func (b *Breakers) Open(processor string) bool {
	br := b.Get(processor)
	return br != nil && br.State() == Open
}

// LatencyP99 implements Health.
func (b *Breakers) LatencyP99(processor string) time.Duration {
	br := b.Get(processor)
	if br == nil {
		return 0
	}
	return time.Duration(br.p99.Load())
}

// Allow asks the processor's breaker for permission to call it. A closed
// circuit always allows; a half-open one admits a bounded number of probes.
func (b *Breakers) Allow(processor string) bool {
	br := b.Get(processor)
	return br == nil || br.Allow()
}

// Record feeds one call's outcome to the processor's breaker. failure is
// true for errors (not processed, outcome unknown); declines and other
// answers are successes: the processor worked.
func (b *Breakers) Record(processor string, failure bool, latency time.Duration) {
	if br := b.Get(processor); br != nil {
		br.Record(failure, latency)
	}
}

// Breaker is one processor's circuit breaker.
type Breaker struct {
	name     string
	now      func() time.Time
	onChange func(string, State)

	mu       sync.Mutex
	cfg      config.Circuit
	state    State
	openedAt time.Time
	// counts is a ring of buckets over the window.
	counts    [buckets]struct{ ok, fail int }
	bucketAt  [buckets]int64
	lat       [latencySamples]time.Duration
	latN      int
	latPos    int
	p99At     time.Time
	p99       atomic.Int64
	probesOut int
}

// State returns the current state, moving an open circuit whose time is up
// to half-open.
func (br *Breaker) State() State {
	br.mu.Lock()
	s, changed := br.stateLocked()
	br.mu.Unlock()
	br.notify(changed, s)
	return s
}

func (br *Breaker) stateLocked() (State, bool) {
	if br.cfg.Disabled {
		return Closed, false
	}
	if br.state == Open && !br.now().Before(br.openedAt.Add(br.cfg.OpenFor)) {
		br.state = HalfOpen
		br.probesOut = 0
		return HalfOpen, true
	}
	return br.state, false
}

func (br *Breaker) notify(changed bool, s State) {
	if changed && br.onChange != nil {
		br.onChange(br.name, s)
	}
}

// Allow reports whether a call may go to the processor now.
func (br *Breaker) Allow() bool {
	br.mu.Lock()
	s, changed := br.stateLocked()
	ok := true
	switch s {
	case Open:
		ok = false
	case HalfOpen:
		ok = br.probesOut < max(br.cfg.HalfOpenProbes, 1)
		if ok {
			br.probesOut++
		}
	}
	br.mu.Unlock()
	br.notify(changed, s)
	return ok
}

// Record feeds one outcome.
func (br *Breaker) Record(failure bool, latency time.Duration) {
	br.mu.Lock()
	now := br.now()
	br.recordLatency(latency, now)
	s, changed := br.stateLocked()
	next := s
	switch s {
	case HalfOpen:
		if failure {
			next = Open
			br.openedAt = now
		} else {
			next = Closed
			br.counts = [buckets]struct{ ok, fail int }{}
		}
		br.probesOut = max(br.probesOut-1, 0)
	case Closed:
		i, _ := br.bucket(now)
		if failure {
			br.counts[i].fail++
		} else {
			br.counts[i].ok++
		}
		var ok, fail int
		for j := range br.counts {
			if br.live(j, now) {
				ok += br.counts[j].ok
				fail += br.counts[j].fail
			}
		}
		total := ok + fail
		if !br.cfg.Disabled && total >= max(br.cfg.MinRequests, 1) && int64(fail)*1_000_000 >= br.cfg.FailureRatio*int64(total) {
			next = Open
			br.openedAt = now
		}
	case Open:
		// A late answer of a call made before the circuit opened.
	}
	if next != s {
		br.state = next
		changed = true
	}
	br.mu.Unlock()
	br.notify(changed, next)
}

// bucket returns the ring slot for now, clearing it if it holds an older
// period.
func (br *Breaker) bucket(now time.Time) (int, int64) {
	width := br.cfg.Window / buckets
	if width <= 0 {
		width = time.Second
	}
	period := now.UnixNano() / int64(width)
	i := int(period % buckets)
	if br.bucketAt[i] != period {
		br.bucketAt[i] = period
		br.counts[i] = struct{ ok, fail int }{}
	}
	return i, period
}

func (br *Breaker) live(i int, now time.Time) bool {
	width := br.cfg.Window / buckets
	if width <= 0 {
		width = time.Second
	}
	period := now.UnixNano() / int64(width)
	return period-br.bucketAt[i] < buckets
}

// recordLatency keeps the last latencySamples latencies and recomputes the
// p99 at most once a second, so reading it costs one atomic load.
func (br *Breaker) recordLatency(d time.Duration, now time.Time) {
	br.lat[br.latPos] = d
	br.latPos = (br.latPos + 1) % latencySamples
	if br.latN < latencySamples {
		br.latN++
	}
	if now.Sub(br.p99At) < time.Second && br.latN > 1 {
		return
	}
	br.p99At = now
	s := slices.Clone(br.lat[:br.latN])
	slices.Sort(s)
	br.p99.Store(int64(s[(len(s)*99)/100]))
}
