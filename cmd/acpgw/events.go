package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"acpgw/config"
	"acpgw/gateway"
)

// eventsTailCmd prints a merchant's events as they are written and as
// their deliveries succeed, fail or are given up, for an operator.
func eventsTailCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("events tail", stdout, stderr)
	path := fs.String("config", "", "config file whose store is read (default: the embedded demo config, as serve)")
	merchant := fs.String("merchant", "", "merchant id (required)")
	n := fs.Int("n", 10, "how many of the latest events to show first")
	follow := fs.Bool("follow", true, "keep printing new events and delivery changes until interrupted")
	interval := fs.Duration("interval", time.Second, "how often the store is read while following")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *merchant == "":
		return fs.fail("--merchant ID is required")
	case *n < 0:
		return fs.fail("--n must not be negative")
	case *interval <= 0:
		return fs.fail("--interval must be positive")
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if !merchantConfigured(cfg.Merchants, *merchant) {
		return fmt.Errorf("merchant %q is not in %s", *merchant, configName(cfg.Path))
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	every := *interval
	if !*follow {
		every = 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	show := func(e gateway.EventObject) {
		d := e.Delivery
		state := fmt.Sprintf("%s (%d attempts)", d.Status, d.Attempts)
		if d.Status == "pending" && d.NextAttemptAt != nil && d.Attempts > 0 {
			state += " next " + *d.NextAttemptAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Created, e.ID, e.Type, e.PaymentID, state, d.LastError)
		tw.Flush()
	}
	return gateway.TailEvents(ctx, st, *merchant, *n, every, show)
}

func merchantConfigured(list []*config.Merchant, id string) bool {
	for _, m := range list {
		if m.ID == id {
			return true
		}
	}
	return false
}

func configName(path string) string {
	if path == "" {
		return "the demo config"
	}
	return path
}
