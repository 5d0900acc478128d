package main

import (
	"math"
	"time"
)

// The open loop sends request k at start+offset(k), whatever happened to the
// requests before it. Offsets are computed from k, never by adding an interval
// to the previous send time, so rounding cannot accumulate into drift and a
// late request does not push the ones after it back (which would hide a stall:
// coordinated omission).

// scheduleOffset is when request k is due, relative to the start of an open
// loop at rate requests per second.
func scheduleOffset(k int64, rate float64) time.Duration {
	return time.Duration(math.Round(float64(k) * float64(time.Second) / rate))
}

// scheduledCount is how many requests an open loop at rate per second sends in
// d: those with scheduleOffset(k) < d.
func scheduledCount(rate float64, d time.Duration) int64 {
	if rate <= 0 || d <= 0 {
		return 0
	}
	// The epsilon keeps an exact product (1000/s for 10 s) from becoming
	// 10001 through floating-point noise.
	n := int64(math.Ceil(rate*d.Seconds() - 1e-9))
	// Guard the boundary against rounding in scheduleOffset itself.
	for n > 0 && scheduleOffset(n-1, rate) >= d {
		n--
	}
	for scheduleOffset(n, rate) < d {
		n++
	}
	return n
}

// tokensFor is how many single-use tokens n requests need with a safety
// margin: ceil(n*margin), at least n.
func tokensFor(n float64, margin float64) int {
	t := int(math.Ceil(n*margin - 1e-9))
	if t < int(math.Ceil(n)) {
		t = int(math.Ceil(n))
	}
	return t
}
