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

// migrateCmd applies the store's pending migrations. SQLite also migrates
// when serve opens it; Postgres only here, so that replicas never race to
// change a shared schema.
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	path := fs.String("config", "", "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(stderr, "acpgw migrate: --config FILE is required")
		return errUsage
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	n, version, err := migrateStore(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s store: %d migrations applied, schema version %d\n", cfg.Store.Driver, n, version)
	return nil
}
