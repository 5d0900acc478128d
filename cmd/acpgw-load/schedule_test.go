package main

import (
	"testing"
	"time"
)

func TestScheduleOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		k    int64
		rate float64
		want time.Duration
	}{
		{"first is at the start", 0, 1000, 0},
		{"1000/s is every ms", 1, 1000, time.Millisecond},
		{"1000/s, k=9999", 9999, 1000, 9999 * time.Millisecond},
		{"3/s rounds to the ns", 1, 3, 333333333},
		{"3/s rounds up", 2, 3, 666666667},
		// Computed from k, not summed: no drift after many requests.
		{"3/s after 10 s is exactly 10 s", 30, 3, 10 * time.Second},
		{"7/s after an hour is exactly an hour", 7 * 3600, 7, time.Hour},
		{"fractional rate", 1, 0.5, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := scheduleOffset(tt.k, tt.rate); got != tt.want {
				t.Errorf("scheduleOffset(%d, %v) = %v, want %v", tt.k, tt.rate, got, tt.want)
			}
		})
	}
}

func TestScheduleOffsetIsMonotonic(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{1, 3, 999.7, 1000, 12345} {
		prev := time.Duration(-1)
		for k := range int64(50000) {
			o := scheduleOffset(k, rate)
			if o <= prev {
				t.Fatalf("rate %v: offset(%d) = %v not after offset(%d) = %v", rate, k, o, k-1, prev)
			}
			prev = o
		}
	}
}

func TestScheduledCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rate float64
		d    time.Duration
		want int64
	}{
		{"1000/s for 10 s", 1000, 10 * time.Second, 10000},
		{"1000/s for 2 s", 1000, 2 * time.Second, 2000},
		{"3/s for 1 s", 3, time.Second, 3},
		{"3/s for 1.1 s", 3, 1100 * time.Millisecond, 4},
		{"0.5/s for 3 s: at 0 and 2", 0.5, 3 * time.Second, 2},
		{"0.5/s for 2 s: the one at 2 s is out", 0.5, 2 * time.Second, 1},
		{"rate 0", 0, time.Second, 0},
		{"duration 0", 1000, 0, 0},
		{"odd rate", 999.7, 10 * time.Second, 9997},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := scheduledCount(tt.rate, tt.d)
			if got != tt.want {
				t.Fatalf("scheduledCount(%v, %v) = %d, want %d", tt.rate, tt.d, got, tt.want)
			}
			// The definition: the last one is inside d, the next is not.
			if got > 0 && scheduleOffset(got-1, tt.rate) >= tt.d {
				t.Errorf("request %d is due at %v, not before %v", got-1, scheduleOffset(got-1, tt.rate), tt.d)
			}
			if tt.rate > 0 && scheduleOffset(got, tt.rate) < tt.d {
				t.Errorf("request %d is due at %v, before %v, but not counted", got, scheduleOffset(got, tt.rate), tt.d)
			}
		})
	}
}

func TestTokensFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, margin float64
		want      int
	}{
		{10000, 1.1, 11000},
		{2000, 1.1, 2200},
		{3, 1.1, 4},
		{0, 1.5, 0},
		{100, 0.5, 100}, // never fewer than the requests
		{1500.5, 1, 1501},
	}
	for _, tt := range tests {
		if got := tokensFor(tt.n, tt.margin); got != tt.want {
			t.Errorf("tokensFor(%v, %v) = %d, want %d", tt.n, tt.margin, got, tt.want)
		}
	}
}
