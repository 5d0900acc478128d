package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/routing"
	"acpgw/store"
	"acpgw/vault"
)

// ErrForbidden: the authenticated merchant asked to act for another merchant.
var ErrForbidden = errors.New("merchant may not act for another merchant")

// PayInput is a validated POST /v1/payments call by an authenticated
// merchant.
type PayInput struct {
	// MerchantID is the authenticated merchant.
	MerchantID string
	Request    acp.PaymentRequest
}

// Pay charges an approved token. It returns the payment view; the payment's
// status tells approved, declined, failed or pending (outcome unknown, to be
// reconciled). Token problems are errors wrapping the payment.ErrToken...
// sentinels; payment.ErrNoProcessor means nothing was charged and the token
// is still usable.
func (s *Service) Pay(ctx context.Context, in PayInput) (View, error) {
	rt := s.rt.Load()
	req := in.Request
	if req.MerchantID != in.MerchantID {
		return View{}, ErrForbidden
	}
	merchant, ok := rt.Merchant(req.MerchantID)
	if !ok {
		return View{}, fmt.Errorf("%w: %q", ErrUnknownMerchant, req.MerchantID)
	}
	amount, err := payment.New(req.Amount, req.Currency)
	if err != nil {
		return View{}, err
	}
	capture := payment.CaptureMode(req.Capture)
	if capture == "" {
		capture = payment.CaptureAutomatic
	}
	kind, ok := acp.KindOf(req.PaymentData.Token)
	if !ok {
		return View{}, fmt.Errorf("%w: unrecognised token", payment.ErrTokenInvalid)
	}
	now := s.now().UTC()
	var tok store.Token
	if kind == acp.TokenVault {
		if tok, err = s.store.GetToken(ctx, req.PaymentData.Token); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return View{}, fmt.Errorf("%w: unknown token", payment.ErrTokenInvalid)
			}
			return View{}, err
		}
		if err := checkAllowance(tok, req, now); err != nil {
			return View{}, err
		}
	}
	paymentID := vault.NewID("pay_")
	rreq := routing.Request{
		MerchantID:  merchant.ID,
		PaymentID:   paymentID,
		Amount:      amount,
		SharedToken: kind == acp.TokenSharedPayment,
		CardCountry: tok.Country,
		CardBrand:   tok.Brand,
		Funding:     tok.Funding,
		IIN:         tok.IIN,
		Metadata:    req.Metadata,
	}
	var decision routing.Decision
	if err := rt.Routing.Route(&rreq, s.health, &decision); err != nil {
		return View{}, err
	}
	if len(decision.Candidates) == 0 {
		s.metrics.RoutingDecisions.WithLabelValues(string(decision.Strategy), "none", routing.ReasonNoneViable).Inc()
		if decision.OnlyUnroutable() {
			return View{}, fmt.Errorf("%w: no processor of merchant %q takes this token and currency", payment.ErrTokenNotRoutable, merchant.ID)
		}
		return View{}, payment.ErrNoProcessor
	}
	first := decision.Candidates[0].Processor
	prov, _ := rt.Providers.Get(first)
	p := store.Payment{
		ID:                paymentID,
		MerchantID:        merchant.ID,
		CheckoutSessionID: req.CheckoutSessionID,
		TokenID:           req.PaymentData.Token,
		TokenKind:         string(kind),
		Amount:            amount.Amount,
		Currency:          amount.Currency,
		Capture:           capture,
		Status:            payment.StatusPending,
		Processor:         first,
		ProcessorType:     prov.Type(),
		FeeEstimated:      decision.Candidates[0].EstimatedFee,
		FeeCurrency:       amount.Currency,
		Routing:           decision.JSON(),
		Metadata:          cleanMetadata(req.Metadata),
		CreatedAt:         now,
		UpdatedAt:         now,
	}
	att := store.Attempt{
		ID:             vault.NewID("att_"),
		PaymentID:      p.ID,
		Seq:            1,
		Processor:      first,
		Operation:      string(providers.OpAuthorize),
		IdempotencyKey: attemptKey(p.ID, 1),
		Amount:         p.Amount,
		Currency:       p.Currency,
		State:          store.AttemptPending,
		StartedAt:      now,
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if kind == acp.TokenSharedPayment {
			if err := consumeShared(ctx, tx, p, now); err != nil {
				return err
			}
		} else if err := tx.ConsumeToken(ctx, tok.ID, p.ID, now); err != nil {
			return err
		}
		if err := tx.InsertPayment(ctx, p); err != nil {
			return err
		}
		if err := tx.InsertAttempt(ctx, att); err != nil {
			return err
		}
		return link(ctx, tx, p.ID)
	})
	if err != nil {
		if errors.Is(err, store.ErrTokenConsumed) {
			return View{}, fmt.Errorf("%w: the token was already used", payment.ErrTokenConsumed)
		}
		return View{}, err
	}
	markLinked(ctx)
	s.metrics.RoutingDecisions.WithLabelValues(string(decision.Strategy), first, decision.Reason).Inc()

	ins, err := s.instrument(rt, p, tok)
	if err != nil {
		return View{}, err
	}
	for i := range decision.Candidates {
		name := decision.Candidates[i].Processor
		prov, _ := rt.Providers.Get(name)
		var (
			res     providers.Result
			callErr error
			latency time.Duration
		)
		if s.health.Allow(name) {
			res, callErr, latency = s.authorize(ctx, rt, prov, p, att, ins)
			s.health.Record(name, callErr != nil, latency)
		} else {
			// The circuit opened (or its half-open probes are taken) since
			// routing: the call is not made, which is "not processed".
			callErr = providers.NotProcessed(routing.SkipCircuitOpen, errCircuitOpen)
		}
		reason := failoverReason(merchant, res, callErr)
		if reason == "" || i+1 == len(decision.Candidates) {
			return s.settleAuthorization(ctx, rt, p, att, tok, res, callErr, latency)
		}
		next := decision.Candidates[i+1]
		nextProv, _ := rt.Providers.Get(next.Processor)
		nextAtt := att
		nextAtt.ID = vault.NewID("att_")
		nextAtt.Seq = att.Seq + 1
		nextAtt.Processor = next.Processor
		nextAtt.IdempotencyKey = attemptKey(p.ID, nextAtt.Seq)
		nextAtt.StartedAt = s.now().UTC()
		declined := callErr == nil
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			if declined {
				finishAttempt(&att, store.AttemptDone, string(res.Status), res.Reference, nil, latency, s.now())
			} else {
				finishAttempt(&att, store.AttemptNotProcessed, "", "", callErr, latency, s.now())
			}
			if err := tx.UpdateAttempt(ctx, att); err != nil {
				return err
			}
			if declined && tok.CVC != nil {
				// The CVC was used by the declined attempt: it may not be
				// sent again.
				if err := tx.DeleteTokenCVC(ctx, tok.ID); err != nil {
					return err
				}
			}
			p.Processor, p.ProcessorType = next.Processor, nextProv.Type()
			p.FeeEstimated = next.EstimatedFee
			p.UpdatedAt = s.now().UTC()
			if err := tx.UpdatePayment(ctx, p); err != nil {
				return err
			}
			return tx.InsertAttempt(ctx, nextAtt)
		})
		if err != nil {
			return View{}, err
		}
		if declined && ins.Card != nil {
			tok.CVC = nil
			ins.Card.CVC = ""
		}
		s.metrics.Failovers.WithLabelValues(name, next.Processor, reason).Inc()
		att = nextAtt
	}
	// Unreachable: the last candidate always settles.
	return View{}, errors.New("gateway: no candidate settled")
}

var errCircuitOpen = errors.New("circuit open")

// failoverReason says why the next candidate should be tried after this
// answer, or "" when the answer is final. Only an answer that surely charged
// nothing fails over; a soft decline cascades only when the merchant lists
// its code. An unknown outcome never fails over.
func failoverReason(m *config.Merchant, res providers.Result, callErr error) string {
	if callErr != nil {
		if classify(callErr) != store.AttemptNotProcessed {
			return ""
		}
		var pe *providers.Error
		if errors.As(callErr, &pe) && pe.Code == routing.SkipCircuitOpen {
			return routing.SkipCircuitOpen
		}
		return "not_processed"
	}
	if res.Status != payment.StatusDeclined || res.Decline == nil || res.Decline.Category != payment.Soft {
		return ""
	}
	for _, code := range m.Routing.CascadeOn {
		if payment.DeclineCode(code) == res.Decline.Code {
			return "soft_decline"
		}
	}
	return ""
}

// consumeShared records a Shared Payment Token's use, so that it is single
// use here too (Stripe enforces its own allowance as well).
func consumeShared(ctx context.Context, tx store.Tx, p store.Payment, now time.Time) error {
	_, err := tx.GetTokenForUpdate(ctx, p.TokenID)
	if errors.Is(err, store.ErrNotFound) {
		return tx.InsertToken(ctx, store.Token{
			ID: p.TokenID, MerchantID: p.MerchantID, CheckoutSessionID: p.CheckoutSessionID,
			Currency: p.Currency, MaxAmount: p.Amount, ExpiresAt: now, Reason: "shared_payment_token",
			CreatedAt: now, ConsumedAt: &now, PaymentID: p.ID,
		})
	}
	if err != nil {
		return err
	}
	return tx.ConsumeToken(ctx, p.TokenID, p.ID, now)
}

func checkAllowance(tok store.Token, req acp.PaymentRequest, now time.Time) error {
	switch {
	case tok.MerchantID != req.MerchantID:
		// Said before anything else so another merchant learns nothing more
		// about the token.
		return fmt.Errorf("%w: the token was delegated to another merchant", payment.ErrMerchantMismatch)
	case tok.CheckoutSessionID != req.CheckoutSessionID:
		return fmt.Errorf("%w: the token belongs to another checkout session", payment.ErrCheckoutSessionMismatch)
	case tok.ConsumedAt != nil:
		return fmt.Errorf("%w: the token was already used", payment.ErrTokenConsumed)
	case !now.Before(tok.ExpiresAt):
		return fmt.Errorf("%w: the allowance expired at %s", payment.ErrTokenExpired, tok.ExpiresAt.Format(time.RFC3339))
	case tok.Currency != req.Currency:
		return fmt.Errorf("%w: the allowance is in %s", payment.ErrCurrencyMismatch, tok.Currency)
	case req.Amount > tok.MaxAmount:
		return fmt.Errorf("%w: the amount %d is above the allowance's max_amount %d", payment.ErrAllowanceExceeded, req.Amount, tok.MaxAmount)
	}
	return nil
}

// instrument opens the payment's credential for the processor call.
func (s *Service) instrument(rt *Runtime, p store.Payment, tok store.Token) (providers.Instrument, error) {
	if p.TokenKind == string(acp.TokenSharedPayment) {
		return providers.Instrument{Kind: providers.TokenSharedPayment, SharedToken: p.TokenID}, nil
	}
	card, err := rt.Vault.OpenCard(tok.ID, vault.SealedCard{KeyID: tok.KeyID, Credential: tok.Credential, CVC: tok.CVC})
	if err != nil {
		return providers.Instrument{}, fmt.Errorf("gateway: token %s: %w", tok.ID, err)
	}
	card.Brand, card.Funding = tok.Brand, tok.Funding
	return providers.Instrument{Kind: providers.TokenVault, Card: &card}, nil
}

// authorize makes one processor call for the authorization attempt att.
func (s *Service) authorize(ctx context.Context, rt *Runtime, prov providers.Provider, p store.Payment, att store.Attempt, ins providers.Instrument) (providers.Result, error, time.Duration) {
	cctx, cancel := callCtx(ctx, rt.timeout(prov.Name()))
	defer cancel()
	start := time.Now()
	res, err := prov.Authorize(cctx, providers.AuthorizeRequest{
		PaymentID:      p.ID,
		AttemptID:      att.ID,
		IdempotencyKey: att.IdempotencyKey,
		MerchantID:     p.MerchantID,
		Amount:         payment.Money{Amount: p.Amount, Currency: p.Currency},
		Capture:        p.Capture,
		Instrument:     ins,
		Metadata:       p.Metadata,
	})
	latency := time.Since(start)
	s.metrics.ProcessorDuration.WithLabelValues(prov.Name(), string(providers.OpAuthorize), outcomeLabel(res, err)).Observe(latency.Seconds())
	return res, err, latency
}

func finishAttempt(a *store.Attempt, state store.AttemptState, outcome, ref string, err error, latency time.Duration, now time.Time) {
	a.State = state
	a.Outcome = outcome
	if ref != "" {
		a.Reference = ref
	}
	a.Error = errorText(err)
	a.LatencyMS = latency.Milliseconds()
	if state != store.AttemptPending {
		t := now.UTC()
		a.FinishedAt = &t
	}
}

// settleAuthorization records the final answer (or the unknown outcome) of
// an authorization attempt and returns the payment view.
func (s *Service) settleAuthorization(ctx context.Context, rt *Runtime, p store.Payment, att store.Attempt, tok store.Token, res providers.Result, callErr error, latency time.Duration) (View, error) {
	now := s.now().UTC()
	state := store.AttemptDone
	if callErr != nil {
		state = classify(callErr)
	}
	releaseToken := false
	switch state {
	case store.AttemptDone:
		applyAuthorization(&p, res)
		finishAttempt(&att, state, string(res.Status), res.Reference, nil, latency, now)
	case store.AttemptNotProcessed, store.AttemptRejected:
		// No processor charged: the payment failed and the buyer's approval
		// can be used again.
		p.Status = payment.StatusFailed
		releaseToken = true
		finishAttempt(&att, state, "", "", callErr, latency, now)
	default:
		p.Status = payment.StatusPending
		finishAttempt(&att, store.AttemptPending, "", "", callErr, latency, now)
	}
	p.UpdatedAt = now
	var atts []store.Attempt
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		if atts, err = stillPending(ctx, tx, att); err != nil {
			return err
		}
		if err := tx.UpdateAttempt(ctx, att); err != nil {
			return err
		}
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		if releaseToken {
			if err := tx.ReleaseToken(ctx, p.TokenID, p.ID); err != nil {
				return err
			}
			// Nothing was charged and the answer is a 503, which is not
			// stored: unlink the failed payment so that a retry with the same
			// key runs afresh instead of being answered from it.
			if err := link(ctx, tx, ""); err != nil {
				return err
			}
		}
		if p.Status != payment.StatusPending && tok.CVC != nil {
			// The CVC may be used once: erase it as soon as the attempt that
			// used it has a final answer (not before, so that a re-send with
			// the same idempotency key carries identical parameters).
			if err := tx.DeleteTokenCVC(ctx, tok.ID); err != nil {
				return err
			}
		}
		if ref := idemFrom(ctx); ref != nil && ref.Render != nil && !releaseToken {
			view := make([]store.Attempt, len(atts))
			copy(view, atts)
			for i := range view {
				if view[i].ID == att.ID {
					view[i] = att
				}
			}
			status, body, err := ref.Render(View{Payment: p, Attempts: view})
			if err != nil {
				return err
			}
			if err := tx.CompleteIdempotency(ctx, ref.Scope, ref.Key, status, body); err != nil {
				return err
			}
			ref.status, ref.body = status, body
		}
		return nil
	})
	if errors.Is(err, errSettled) {
		return s.Get(ctx, p.MerchantID, p.ID)
	}
	if err != nil {
		return View{}, err
	}
	if ref := idemFrom(ctx); ref != nil && ref.body != nil {
		ref.completed.Store(true)
	}
	s.recordPayment(ctx, rt, p, latency)
	if releaseToken {
		if ref := idemFrom(ctx); ref != nil {
			ref.linked.Store(false)
		}
		return View{}, fmt.Errorf("%w: %s", payment.ErrNoProcessor, errorText(callErr))
	}
	// The view is built from what this transaction read and wrote: a new
	// authorization has no refunds yet.
	for i := range atts {
		if atts[i].ID == att.ID {
			atts[i] = att
		}
	}
	return View{Payment: p, Attempts: atts}, nil
}

// applyAuthorization writes an authorization result onto the payment.
func applyAuthorization(p *store.Payment, res providers.Result) {
	p.Status = res.Status
	p.ProcessorReference = res.Reference
	p.Decline = res.Decline
	if res.Status == payment.StatusCaptured {
		p.CapturedAmount = p.Amount
	}
	if res.Fee != nil {
		fee := res.Fee.Amount
		p.FeeActual = &fee
		p.FeeCurrency = res.Fee.Currency
	}
}

// recordPayment exports a payment that reached a status and logs its line.
func (s *Service) recordPayment(ctx context.Context, rt *Runtime, p store.Payment, latency time.Duration) {
	merchant := rt.labels.Label(p.MerchantID)
	m := s.metrics
	m.Payments.WithLabelValues(p.Processor, string(p.Status), merchant).Inc()
	switch p.Status {
	case payment.StatusDeclined:
		if p.Decline != nil {
			m.Declines.WithLabelValues(p.Processor, string(p.Decline.Code)).Inc()
		}
	case payment.StatusAuthorized, payment.StatusCaptured:
		m.PaymentAmount.WithLabelValues(p.Processor, p.Currency, merchant).Add(float64(p.Amount))
		m.Fees.WithLabelValues(p.Processor, p.Currency, "estimated").Add(float64(p.FeeEstimated))
		if p.Amount > 0 {
			m.FeeRate.WithLabelValues(p.Processor).Observe(float64(p.FeeEstimated) * 10000 / float64(p.Amount))
		}
		if p.FeeActual != nil {
			m.Fees.WithLabelValues(p.Processor, p.FeeCurrency, "actual").Add(float64(*p.FeeActual))
		}
	}
	attrs := []slog.Attr{
		slog.String("request_id", RequestID(ctx)),
		slog.String("payment_id", p.ID),
		slog.String("merchant", p.MerchantID),
		slog.String("processor", p.Processor),
		slog.String("status", string(p.Status)),
		slog.Int64("amount", p.Amount),
		slog.String("currency", p.Currency),
		slog.Int64("fee_estimated", p.FeeEstimated),
		slog.Int64("latency_ms", latency.Milliseconds()),
	}
	if p.Decline != nil {
		attrs = append(attrs, slog.String("decline_code", string(p.Decline.Code)))
	}
	if p.FeeActual != nil {
		attrs = append(attrs, slog.Int64("fee_actual", *p.FeeActual))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "payment", attrs...)
}

// errSettled: another path (reconciliation, a webhook) settled the attempt
// first; the later answer is the same and is not applied twice.
var errSettled = errors.New("gateway: attempt already settled")

// stillPending checks, under the transaction, that att has not been settled
// by someone else in the meantime, and returns the payment's attempts.
func stillPending(ctx context.Context, tx store.Tx, att store.Attempt) ([]store.Attempt, error) {
	atts, err := tx.ListAttempts(ctx, att.PaymentID)
	if err != nil {
		return nil, err
	}
	for _, a := range atts {
		if a.ID == att.ID && a.State != store.AttemptPending {
			return nil, errSettled
		}
	}
	return atts, nil
}
