package gateway

import (
	"context"
	"errors"
	"fmt"

	"acpgw/payment"
	"acpgw/store"
)

// FeeImport is one actual fee from a processor's report: the processing fee
// of the payment the processor knows as Reference.
type FeeImport struct {
	// Key identifies the report line across imports.
	Key       string
	Reference string
	Fee       payment.Money
}

// FeeImportResult says what an import did.
type FeeImportResult struct {
	// Imported records are new; AlreadyImported were stored by an earlier
	// import and changed nothing.
	Imported, AlreadyImported int
	// UnknownPayment records name a reference no payment of the processor
	// has.
	UnknownPayment int
	// Payments whose actual fee changed.
	Payments int
}

// ImportFees stores actual fees from a processor's report (source names the
// report kind, e.g. "adyen_settlement") and sets each payment's actual fee
// to the sum of its records. Importing the same report again changes
// nothing.
func (s *Service) ImportFees(ctx context.Context, processor, source string, recs []FeeImport) (FeeImportResult, error) {
	var res FeeImportResult
	src := source + ":" + processor
	for _, r := range recs {
		p, err := s.store.FindPaymentByReference(ctx, processor, r.Reference)
		if errors.Is(err, store.ErrNotFound) {
			res.UnknownPayment++
			continue
		}
		if err != nil {
			return res, err
		}
		changed := false
		err = s.store.Tx(ctx, func(tx store.Tx) error {
			err := tx.InsertFeeRecord(ctx, store.FeeRecord{
				Source: src, SourceRef: r.Key, PaymentID: p.ID, Processor: processor,
				Amount: r.Fee.Amount, Currency: r.Fee.Currency, CreatedAt: s.now().UTC(),
			})
			if err != nil {
				return err
			}
			all, err := tx.ListFeeRecords(ctx, p.ID)
			if err != nil {
				return err
			}
			total := payment.Money{Currency: r.Fee.Currency}
			for _, f := range all {
				if f.Source != src {
					continue
				}
				if total, err = total.Add(payment.Money{Amount: f.Amount, Currency: f.Currency}); err != nil {
					return fmt.Errorf("payment %s: fee records in several currencies: %w", p.ID, err)
				}
			}
			cur, err := tx.GetPaymentForUpdate(ctx, p.ID)
			if err != nil {
				return err
			}
			if cur.FeeActual != nil && *cur.FeeActual == total.Amount && cur.FeeCurrency == total.Currency {
				return nil
			}
			cur.FeeActual, cur.FeeCurrency, cur.UpdatedAt = &total.Amount, total.Currency, s.now().UTC()
			changed = true
			return tx.UpdatePayment(ctx, cur)
		})
		switch {
		case errors.Is(err, store.ErrDuplicate):
			res.AlreadyImported++
			continue
		case err != nil:
			return res, err
		}
		res.Imported++
		if changed {
			res.Payments++
			s.metrics.Fees.WithLabelValues(processor, r.Fee.Currency, "actual").Add(float64(r.Fee.Amount))
		}
	}
	return res, nil
}
