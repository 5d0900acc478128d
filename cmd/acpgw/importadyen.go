package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"acpgw/config"
	"acpgw/gateway"
	"acpgw/payment"
	"acpgw/providers/adyen"
	"acpgw/store"
)

// importAdyenCmd imports actual fees from an Adyen Settlement details
// report. Only Settled rows are processing fees of a payment; refund and
// chargeback fees are reported but not stored as the payment's fee.
func importAdyenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fees import-adyen", stdout, stderr)
	fs.args = []string{"REPORT.csv"}
	path := fs.String("config", "", "config file whose store is written (default: the embedded demo config, as serve)")
	processor := fs.String("processor", "", "the adyen processor the report belongs to")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *processor == "" {
		return fs.fail("--processor NAME is required")
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if p, ok := cfg.Processors[*processor]; !ok || p.Type != config.TypeAdyen {
		return fmt.Errorf("--processor %q is not an adyen processor of %s", *processor, *path)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := adyen.ParseSettlementReport(f)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	rt, err := gateway.NewRuntime(cfg, newFactory(nil, nil, ""))
	if err != nil {
		return err
	}
	svc := gateway.New(gateway.Options{Store: st}, rt)
	var lookupErr error
	imp, err := adyen.Reconcile(rows, func(psp string) bool {
		_, err := st.FindPaymentByReference(ctx, *processor, psp)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			lookupErr = err
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	if lookupErr != nil {
		return lookupErr
	}
	var recs []gateway.FeeImport
	other := map[string]int{}
	for _, r := range imp.Matched {
		if r.Type != adyen.TypeSettled {
			other[r.Type]++
			continue
		}
		recs = append(recs, gateway.FeeImport{Key: r.Key, Reference: r.PSPReference, Fee: r.Fee})
	}
	res, err := svc.ImportFees(ctx, *processor, "adyen_settlement", recs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d rows\n", fs.Arg(0), len(rows))
	fmt.Fprintf(stdout, "  settled fees imported: %d new, %d already imported; %d payments' actual fee updated\n",
		res.Imported, res.AlreadyImported, res.Payments)
	for _, t := range slices.Sorted(maps.Keys(other)) {
		fmt.Fprintf(stdout, "  %s rows (fees not counted as processing fees): %d\n", t, other[t])
	}
	fmt.Fprintf(stdout, "  unmatched (no such payment): %d, duplicate rows in the file: %d, batch-level rows: %d\n",
		len(imp.Unmatched), len(imp.Duplicates), len(imp.BatchLevel))
	for _, u := range imp.Unmatched {
		fmt.Fprintf(stdout, "    line %d: %s %s\n", u.Line, u.PSPReference, u.Type)
	}
	for _, cur := range slices.Sorted(maps.Keys(imp.Totals)) {
		fmt.Fprintf(stdout, "  matched fees total: %s\n", payment.Money{Amount: imp.Totals[cur], Currency: cur})
	}
	return nil
}
