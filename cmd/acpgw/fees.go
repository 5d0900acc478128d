package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"acpgw/gateway"
)

// feesReportCmd prints the fee report from the ledger, like
// GET /v1/reports/fees.
func feesReportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fees report", stderr)
	path := fs.String("config", "", "config file (its store is read)")
	from := fs.String("from", "", "start, RFC 3339 or YYYY-MM-DD (default 30 days ago)")
	to := fs.String("to", "", "end, exclusive (default now)")
	groupBy := fs.String("group-by", "processor", "comma-separated: processor, currency, merchant, day")
	merchant := fs.String("merchant", "", "only this merchant")
	format := fs.String("format", "csv", "csv or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "acpgw fees report: --config FILE is required")
		return errUsage
	}
	q, err := gateway.ParseReportQuery(*from, *to, *groupBy, time.Now())
	if err != nil {
		return err
	}
	q.MerchantID = *merchant
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := gateway.BuildFeeReport(ctx, st, q)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "csv":
		return rep.WriteCSV(stdout)
	default:
		return fmt.Errorf("unknown --format %q (csv or json)", *format)
	}
}
