package gateway

import (
	"context"
	"errors"
	"fmt"
	"reflect"

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
// to the sum of its records, with a payment.fee_settled event when it
// changes. Importing the same report again changes nothing.
func (s *Service) ImportFees(ctx context.Context, processor, source string, recs []FeeImport) (FeeImportResult, error) {
	var res FeeImportResult
	rt := s.rt.Load()
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
		var changed bool
		for round := 1; ; round++ {
			changed, err = s.importFee(ctx, rt, processor, src, r, p.ID)
			if !errors.Is(err, errStale) || round == maxSettleRounds {
				break
			}
		}
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

// importFee stores one fee record of src and sets the payment's actual fee
// to the sum of src's records. Like settleModification it works the change
// out, and renders its event, from a read; its transaction re-reads the
// payment and the records under lock and starts again (errStale) if they
// changed in between. It reports whether the payment's fee changed.
func (s *Service) importFee(ctx context.Context, rt *Runtime, processor, src string, r FeeImport, paymentID string) (bool, error) {
	v, err := s.viewOf(ctx, paymentID)
	if err != nil {
		return false, err
	}
	now := s.now().UTC()
	rec := store.FeeRecord{Source: src, SourceRef: r.Key, PaymentID: paymentID, Processor: processor,
		Amount: r.Fee.Amount, Currency: r.Fee.Currency, CreatedAt: now}
	old, err := s.store.ListFeeRecords(ctx, paymentID)
	if err != nil {
		return false, err
	}
	total, err := feeTotal(append(old, rec), src, paymentID, r.Fee.Currency)
	if err != nil {
		return false, err
	}
	before := v.Payment
	after := v
	changed := before.FeeActual == nil || *before.FeeActual != total.Amount || before.FeeCurrency != total.Currency
	var evs *batch
	if changed {
		after.Payment.FeeActual, after.Payment.FeeCurrency, after.Payment.UpdatedAt = &total.Amount, total.Currency, now
		evs = s.changeEvents(rt, before, after, nil)
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.InsertFeeRecord(ctx, rec); err != nil {
			return err
		}
		cur, err := tx.GetPaymentForUpdate(ctx, paymentID)
		if err != nil {
			return err
		}
		all, err := tx.ListFeeRecords(ctx, paymentID)
		if err != nil {
			return err
		}
		got, err := feeTotal(all, src, paymentID, r.Fee.Currency)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(cur, before) || got != total {
			return errStale
		}
		if !changed {
			return nil
		}
		if err := tx.UpdatePayment(ctx, after.Payment); err != nil {
			return err
		}
		return evs.write(ctx, tx)
	})
	if err != nil {
		return false, err
	}
	evs.committed()
	return changed, nil
}

// feeTotal sums the records of src.
func feeTotal(recs []store.FeeRecord, src, paymentID, currency string) (payment.Money, error) {
	total := payment.Money{Currency: currency}
	for _, f := range recs {
		if f.Source != src {
			continue
		}
		var err error
		if total, err = total.Add(payment.Money{Amount: f.Amount, Currency: f.Currency}); err != nil {
			return payment.Money{}, fmt.Errorf("payment %s: fee records in several currencies: %w", paymentID, err)
		}
	}
	return total, nil
}
