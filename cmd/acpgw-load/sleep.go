package main

import (
	"context"
	"time"
)

// coarseSlack is how much before a due time the open loop stops trusting the
// Go timer and waits on a precise one. Go's timers wake through the network
// poller, which waits in whole milliseconds when the process is idle, so a
// plain timer sends a request up to a millisecond late: at 1,000/s that is
// the same order as the latency being measured. Sleeping in a blocking
// system call instead would hold one of the few Ps and stall the workers
// reading answers.
const coarseSlack = 2 * time.Millisecond

// pacer makes a worker wait until a request's due time.
type pacer struct {
	timer *time.Timer
	fine  *fineTimer // nil where unsupported: the Go timer alone
}

func newPacer(precise bool) *pacer {
	p := &pacer{timer: time.NewTimer(time.Hour)}
	p.timer.Stop()
	if precise {
		p.fine, _ = newFineTimer()
	}
	return p
}

func (p *pacer) close() {
	p.timer.Stop()
	if p.fine != nil {
		p.fine.close()
	}
}

// sleepUntil returns true at due (or soon after), or false if ctx ends first.
func (p *pacer) sleepUntil(ctx context.Context, due time.Time) bool {
	for {
		wait := time.Until(due)
		if wait <= 0 {
			return ctx.Err() == nil
		}
		if p.fine == nil || wait > coarseSlack {
			d := wait
			if p.fine != nil {
				d = wait - coarseSlack
			}
			p.timer.Reset(d)
			select {
			case <-p.timer.C:
			case <-ctx.Done():
				return false
			}
			continue
		}
		if err := p.fine.sleep(wait); err != nil {
			p.fine.close()
			p.fine = nil
		}
	}
}
