//go:build !linux

package main

import (
	"errors"
	"time"
)

// fineTimer is unsupported here; pacer falls back to the Go timer, so
// open-loop send lag may reach a millisecond.
type fineTimer struct{}

func newFineTimer() (*fineTimer, error) { return nil, errors.ErrUnsupported }

func (*fineTimer) sleep(time.Duration) error { return errors.ErrUnsupported }

func (*fineTimer) close() {}
