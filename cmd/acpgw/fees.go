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
	fs := newFlags("fees report", stdout, stderr)
	path := fs.String("config", "", "config file whose store is read (default: the embedded demo config, as serve)")
	from := fs.String("from", "", "start, RFC 3339 or YYYY-MM-DD (default 30 days ago)")
	to := fs.String("to", "", "end, exclusive (default now)")
	groupBy := fs.String("group-by", "processor", "comma-separated: processor, currency, merchant, day")
	merchant := fs.String("merchant", "", "only this merchant")
	format := fs.String("format", "csv", "csv or json")
	if err := fs.parse(args); err != nil {
		return err
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
	fs := newFlags("migrate", stdout, stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config, as serve)")
	if err := fs.parse(args); err != nil {
		return err
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
