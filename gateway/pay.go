package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/metrics"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/routing"
	"acpgw/store"
	"acpgw/tracing"
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
	// Idempotency is the request's key; zero when it has none.
	Idempotency Idempotency
}

// Pay charges an approved token and returns the request's answer: 201 with
// the payment (approved, declined or failed), or 202 while the outcome is
// unknown (reconciliation settles it later). Token problems are errors
// wrapping the payment.ErrToken... sentinels; payment.ErrNoProcessor means
// nothing was charged and the token is still usable. The token is held
// from the intent to the settlement, which consumes it or, after a
// retryable decline, reopens it (retry.go).
//
// A payment is two write transactions: the intent (token read, checked
// and routed on, key claimed, token held, payment and first attempt
// written) before the processor call,
// the settlement (attempt, payment, CVC erasure, stored answer) after it;
// a failover adds one per extra processor. Everything after the intent runs
// to its end even if the caller's context ends.
func (s *Service) Pay(ctx context.Context, in PayInput) (Answer, error) {
	rt, release := s.acquire()
	defer release()
	sctx, span := s.step(ctx, "payment.prepare", "")
	pl, err := s.preparePay(sctx, rt, in)
	tracing.End(span, err)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	// The payment's id is made in the intent, once its token is routed on.
	sctx, span = s.step(ctx, "payment.intent", "")
	err = s.openIntent(sctx, rt, pl)
	if pl.p.ID != "" && span.IsRecording() {
		span.SetAttributes(tracing.AttrPaymentID.String(pl.p.ID))
	}
	tracing.End(span, err)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	ctx, cancel := s.detach(ctx, rt)
	defer cancel()
	out := s.tryCandidates(ctx, rt, pl)
	sctx, span = s.step(ctx, "payment.settle", pl.p.ID)
	ans, err := s.settlePayment(sctx, rt, pl, out)
	tracing.End(span, err)
	return ans, err
}

// payPlan is a payment between its steps: what prepare decided and what
// the later steps wrote.
type payPlan struct {
	idem     Idempotency
	merchant *config.Merchant
	req      acp.PaymentRequest
	kind     acp.TokenKind
	amount   payment.Money
	capture  payment.CaptureMode
	decision routing.Decision
	tok      store.Token
	p        store.Payment
	// atts are the payment's attempts so far; the last is the current one.
	atts []store.Attempt
	now  time.Time
	// auth is the buyer's 3-D Secure authentication, nil without one; its
	// cryptogram is in memory only (retry.go).
	auth *payment.Authentication
	// tokenAttempts is the token's count of payments, this one included,
	// as the intent's ConsumeToken left it (retry.go).
	tokenAttempts int
	// resolving is set when reconciliation settles a payment that was
	// answered pending (its events say so).
	resolving bool
}

func (pl *payPlan) att() *store.Attempt { return &pl.atts[len(pl.atts)-1] }

// preparePay checks what the request says by itself. It reads and writes
// nothing: the token is read, checked and routed on in the intent's
// transaction (openIntent).
func (s *Service) preparePay(ctx context.Context, rt *Runtime, in PayInput) (*payPlan, error) {
	req := in.Request
	if req.MerchantID != in.MerchantID {
		return nil, publicError(ErrForbidden, "merchant may not act for another merchant")
	}
	merchant, ok := rt.Merchant(req.MerchantID)
	if !ok {
		return nil, publicError(ErrUnknownMerchant, "merchant %q is not served by this gateway", req.MerchantID)
	}
	amount, err := payment.New(req.Amount, req.Currency)
	if err != nil {
		// The request decoder has checked both already.
		return nil, publicError(err, "amount must be a positive integer of minor units of a currency acpgw supports")
	}
	if err := checkMaxAmount(rt, amount, "$.amount"); err != nil {
		return nil, err
	}
	capture := payment.CaptureMode(req.Capture)
	if capture == "" {
		capture = payment.CaptureAutomatic
	}
	kind, ok := acp.KindOf(req.PaymentData.Token)
	if !ok {
		return nil, publicError(payment.ErrTokenInvalid, "unrecognised token")
	}
	return &payPlan{idem: in.Idempotency, merchant: merchant, req: req, kind: kind, amount: amount, capture: capture,
		now: s.now().UTC(), auth: req.Authentication}, nil
}

// plan routes the payment on the token pl.tok (zero for a Shared Payment
// Token) and makes its record and its first attempt. It does no I/O.
func (s *Service) plan(ctx context.Context, rt *Runtime, pl *payPlan) error {
	paymentID := vault.NewID("pay_")
	rreq := routing.Request{
		MerchantID:  pl.merchant.ID,
		PaymentID:   paymentID,
		Amount:      pl.amount,
		SharedToken: pl.kind == acp.TokenSharedPayment,
		CardCountry: pl.tok.Country,
		CardBrand:   pl.tok.Brand,
		Funding:     pl.tok.Funding,
		IIN:         pl.tok.IIN,
		Metadata:    pl.req.Metadata,
	}
	_, span := s.step(ctx, "routing.decide", paymentID)
	err := rt.Routing.Route(&rreq, s.health, &pl.decision)
	endDecision(span, &pl.decision, err)
	if err != nil {
		return err
	}
	if len(pl.decision.Candidates) == 0 {
		s.metrics.RoutingDecisions.WithLabelValues(string(pl.decision.Strategy), "none", routing.ReasonNoneViable).Inc()
		if pl.decision.OnlyUnroutable() {
			return publicError(payment.ErrTokenNotRoutable, "no processor of merchant %q takes this token and currency", pl.merchant.ID)
		}
		return publicError(payment.ErrNoProcessor, msgNoProcessor)
	}
	first := pl.decision.Candidates[0]
	prov, _ := rt.Providers.Get(first.Processor)
	pl.p = store.Payment{
		ID:                paymentID,
		MerchantID:        pl.merchant.ID,
		CheckoutSessionID: pl.req.CheckoutSessionID,
		TokenID:           pl.req.PaymentData.Token,
		TokenKind:         string(pl.kind),
		Amount:            pl.amount.Amount,
		Currency:          pl.amount.Currency,
		Capture:           pl.capture,
		Status:            payment.StatusPending,
		Processor:         first.Processor,
		ProcessorType:     prov.Type(),
		FeeEstimated:      first.EstimatedFee,
		FeeCurrency:       pl.amount.Currency,
		Routing:           pl.decision.JSON(),
		Metadata:          cleanMetadata(pl.req.Metadata),
		CreatedAt:         pl.now,
		UpdatedAt:         pl.now,
	}
	pl.atts = []store.Attempt{s.newAttempt(rt, pl.p, 1, first.Processor, providers.OpAuthorize, pl.p.Amount, pl.now)}
	pl.atts[0].Authentication = authRecord(pl.auth)
	return nil
}

// newAttempt is the pending record of a processor call, written before the
// call is made, with the latest deadline the call can have (see attemptCtx).
func (s *Service) newAttempt(rt *Runtime, p store.Payment, seq int, processor string, op providers.Operation, amount int64, now time.Time) store.Attempt {
	return store.Attempt{
		ID:             vault.NewID("att_"),
		PaymentID:      p.ID,
		Seq:            seq,
		Processor:      processor,
		Operation:      string(op),
		IdempotencyKey: attemptKey(p.ID, seq),
		Amount:         amount,
		Currency:       p.Currency,
		State:          store.AttemptPending,
		StartedAt:      now,
		Deadline:       now.Add(startBudget + rt.timeout(processor)),
	}
}

// openIntent is the payment's first transaction: it reads and checks the
// token (a vault token's allowance), routes on it, claims the request's
// key for the payment, takes the token (ConsumeToken holds it for this
// payment and counts the use), and writes the payment and its first
// attempt, so that the processor call that follows is on record. The token
// is read in the transaction that takes it (on SQLite by the writer, whose
// page cache holds it, instead of a reader whose cache every commit
// empties); a check that fails there has written nothing yet, which costs
// the transactions that share its group commit nothing (store/sqlite).
func (s *Service) openIntent(ctx context.Context, rt *Runtime, pl *payPlan) error {
	var consumed *store.Token // a token found consumed: answered after the transaction
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		consumed = nil
		pl.tok = store.Token{}
		if pl.kind == acp.TokenVault {
			tok, err := tx.GetTokenForUpdate(ctx, pl.req.PaymentData.Token)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return publicError(payment.ErrTokenInvalid, "unknown token")
			case err != nil:
				return err
			}
			if err := checkAllowance(tok, pl.req, pl.now); err != nil {
				if errors.Is(err, payment.ErrTokenConsumed) {
					consumed = &tok
				}
				return err
			}
			pl.tok = tok
		}
		if err := s.plan(ctx, rt, pl); err != nil {
			return err
		}
		rec := s.idemRecord(pl.idem, pl.now, pl.p.ID)
		if _, err := s.claim(ctx, tx, pl.idem, rec, pl.now); err != nil {
			return err
		}
		var err error
		if pl.kind == acp.TokenSharedPayment {
			pl.tokenAttempts, err = consumeShared(ctx, tx, pl.p, pl.now)
		} else {
			pl.tokenAttempts, err = tx.ConsumeToken(ctx, pl.tok.ID, pl.p.ID, pl.now)
		}
		if err != nil {
			return err
		}
		if err := tx.InsertPayment(ctx, pl.p); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, *pl.att())
	})
	switch {
	case consumed != nil:
		return s.consumedError(ctx, *consumed)
	case errors.Is(err, store.ErrTokenConsumed):
		return s.raceConsumedError(ctx, pl.req.PaymentData.Token)
	case err == nil:
		s.metrics.RoutingDecisions.WithLabelValues(string(pl.decision.Strategy), pl.p.Processor, pl.decision.Reason).Inc()
	}
	return err
}

// detach returns the context of the work after an intent committed: it
// keeps ctx's values but not its cancellation (a caller that hangs up must
// not leave a charge half-recorded), bounded by the configured settle
// timeout instead.
func (s *Service) detach(ctx context.Context, rt *Runtime) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rt.settleTimeout())
}

// callOutcome is a processor's answer to one attempt.
type callOutcome struct {
	res     providers.Result
	err     error
	latency time.Duration
}

// tryCandidates calls the routed processors in turn until one gives an
// answer that ends the payment, writing one transaction per failover. It
// returns the last answer; pl.atts ends with the attempt it belongs to.
func (s *Service) tryCandidates(ctx context.Context, rt *Runtime, pl *payPlan) callOutcome {
	ins, err := s.instrument(rt, pl.p, pl.tok)
	if err != nil {
		// The credential cannot be opened (a vault key was removed): nothing
		// was sent anywhere.
		return callOutcome{err: providers.NotProcessed("vault", err)}
	}
	cands := pl.decision.Candidates
	for i := range cands {
		out := s.tryCandidate(ctx, rt, pl, ins)
		reason := failoverReason(pl.merchant, out.res, out.err)
		if reason == "" || i+1 == len(cands) {
			return out
		}
		if err := s.failover(ctx, rt, pl, cands[i+1], out); err != nil {
			// The failover could not be recorded, so the next processor is
			// not called; this answer stands (nothing was charged).
			s.log.LogAttrs(ctx, slog.LevelError, "failover not recorded", slog.String("payment_id", pl.p.ID),
				slog.String("error", err.Error()))
			return out
		}
		if out.err == nil && ins.Card != nil {
			// The declined attempt used the CVC: it is not sent again.
			ins.Card.CVC = ""
		}
		s.metrics.Failovers.WithLabelValues(cands[i].Processor, cands[i+1].Processor, reason).Inc()
	}
	panic("gateway: unreachable: the last candidate always returns")
}

// tryCandidate makes the current attempt's processor call, unless the
// processor's circuit opened since routing.
func (s *Service) tryCandidate(ctx context.Context, rt *Runtime, pl *payPlan, ins providers.Instrument) callOutcome {
	att := pl.att()
	prov, _ := rt.Providers.Get(att.Processor)
	if !s.health.Allow(att.Processor) {
		// The circuit opened (or its half-open probes are taken) since
		// routing: the call is not made, which is "not processed".
		return callOutcome{err: providers.NotProcessed(routing.SkipCircuitOpen, errCircuitOpen)}
	}
	res, err, latency := s.authorize(ctx, rt, prov, pl.p, *att, ins, pl.auth)
	s.health.Record(att.Processor, err != nil, latency)
	return callOutcome{res: res, err: err, latency: latency}
}

// failover records, in one transaction, the end of the current attempt and
// the next attempt at next's processor.
func (s *Service) failover(ctx context.Context, rt *Runtime, pl *payPlan, next routing.Candidate, out callOutcome) error {
	now := s.now().UTC()
	cur := *pl.att()
	declined := out.err == nil
	if declined {
		finishAttempt(&cur, store.AttemptDone, string(out.res.Status), out.res.Reference, nil, out.latency, now)
	} else {
		finishAttempt(&cur, store.AttemptNotProcessed, "", "", out.err, out.latency, now)
	}
	nextProv, _ := rt.Providers.Get(next.Processor)
	p := pl.p
	p.Processor, p.ProcessorType = next.Processor, nextProv.Type()
	p.FeeEstimated = next.EstimatedFee
	p.UpdatedAt = now
	nextAtt := s.newAttempt(rt, p, cur.Seq+1, next.Processor, providers.OpAuthorize, p.Amount, now)
	nextAtt.Authentication = cur.Authentication
	eraseCVC := declined && pl.tok.CVC != nil
	ctx, span := s.step(ctx, "payment.failover", p.ID)
	defer span.End()
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateAttempt(ctx, cur); err != nil {
			return err
		}
		if eraseCVC {
			if err := tx.DeleteTokenCVC(ctx, pl.tok.ID); err != nil {
				return err
			}
		}
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, nextAtt)
	})
	if err != nil {
		return err
	}
	if eraseCVC {
		pl.tok.CVC = nil
	}
	pl.p = p
	*pl.att() = cur
	pl.atts = append(pl.atts, nextAtt)
	return nil
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

// settlePayment is the payment's last transaction: it records the final
// answer (or the unknown outcome) of the current attempt, erases a used
// CVC, and stores the request's answer under its key. The answer is
// rendered before the transaction begins.
func (s *Service) settlePayment(ctx context.Context, rt *Runtime, pl *payPlan, out callOutcome) (Answer, error) {
	now := s.now().UTC()
	att := pl.att()
	state := store.AttemptDone
	if out.err != nil {
		state = classify(out.err)
	}
	p := &pl.p
	notProcessed := false
	switch state {
	case store.AttemptDone:
		applyAuthorization(p, out.res)
		finishAttempt(att, state, string(out.res.Status), out.res.Reference, nil, out.latency, now)
	case store.AttemptNotProcessed, store.AttemptRejected:
		// No processor charged: the payment failed and the buyer's approval
		// can be used again.
		p.Status = payment.StatusFailed
		notProcessed = true
		finishAttempt(att, state, "", "", out.err, out.latency, now)
	default:
		p.Status = payment.StatusPending
		finishAttempt(att, store.AttemptPending, "", "", out.err, out.latency, now)
	}
	p.UpdatedAt = now
	tokenAct := tokenOutcome(p, notProcessed, pl.tokenAttempts, rt.tokenMaxAttempts())
	view := View{Payment: *p, Attempts: pl.atts}
	ans, err := paymentAnswer(view)
	if err != nil {
		return Answer{}, err
	}
	evs := s.settlementEvents(rt, pl, view)
	eraseCVC := p.Status != payment.StatusPending && pl.tok.CVC != nil
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.SettleAttempt(ctx, *att); err != nil {
			return err
		}
		if err := tx.UpdatePayment(ctx, *p); err != nil {
			return err
		}
		if eraseCVC {
			// The CVC may be used once: erase it as soon as the attempt that
			// used it has a final answer (not before, so that a re-send with
			// the same idempotency key carries identical parameters).
			if err := tx.DeleteTokenCVC(ctx, pl.tok.ID); err != nil {
				return err
			}
		}
		if err := applyTokenAction(ctx, tx, *p, tokenAct); err != nil {
			return err
		}
		if err := evs.write(ctx, tx); err != nil {
			return err
		}
		return storeAnswer(ctx, tx, pl.idem, ans, notProcessed, now)
	})
	s.keepCryptogram(rt, p.ID, pl.auth, err == nil && p.Status != payment.StatusPending, now)
	if errors.Is(err, store.ErrSettled) {
		// Reconciliation settled the attempt first: answer from the store.
		v, err := s.viewOf(ctx, p.ID)
		if err != nil {
			return Answer{}, err
		}
		return paymentAnswer(v)
	}
	if err != nil {
		return Answer{}, err
	}
	evs.committed()
	s.recordPayment(ctx, rt, *p, out.latency)
	if notProcessed {
		return Answer{}, publicError(fmt.Errorf("%w: %s", payment.ErrNoProcessor, errorText(out.err)), msgNoProcessor)
	}
	return ans, nil
}

// storeAnswer stores a request's answer under its key in the transaction
// of its last write: a final answer as it is; a 202 as pending (replays
// answer from the resource until it is final); nothing, and the claim
// released, when the request changed nothing (its 503 is not stored and a
// retry runs afresh).
func storeAnswer(ctx context.Context, tx store.Tx, idem Idempotency, ans Answer, abandon bool, now time.Time) error {
	switch {
	case idem.none():
		return nil
	case abandon:
		return tx.AbandonIdempotency(ctx, idem.Scope, idem.Key)
	case ans.Status == statusAccepted:
		return tx.PendIdempotency(ctx, idem.Scope, idem.Key, now)
	default:
		return tx.CompleteIdempotency(ctx, idem.Scope, idem.Key, ans.Status, ans.Body)
	}
}

// consumeShared records a Shared Payment Token's use, so that it is single
// use here too (Stripe enforces its own allowance as well), and returns its
// count of payments, this one included.
func consumeShared(ctx context.Context, tx store.Tx, p store.Payment, now time.Time) (int, error) {
	_, err := tx.GetTokenForUpdate(ctx, p.TokenID)
	if errors.Is(err, store.ErrNotFound) {
		return 1, tx.InsertToken(ctx, store.Token{
			ID: p.TokenID, MerchantID: p.MerchantID, CheckoutSessionID: p.CheckoutSessionID,
			Currency: p.Currency, MaxAmount: p.Amount, ExpiresAt: now, Reason: "shared_payment_token",
			CreatedAt: now, ConsumedAt: &now, PaymentID: p.ID, Attempts: 1,
		})
	}
	if err != nil {
		return 0, err
	}
	return tx.ConsumeToken(ctx, p.TokenID, p.ID, now)
}

func checkAllowance(tok store.Token, req acp.PaymentRequest, now time.Time) error {
	switch {
	case tok.MerchantID != req.MerchantID:
		// Said before anything else so another merchant learns nothing more
		// about the token.
		return publicError(payment.ErrMerchantMismatch, "the token was delegated to another merchant")
	case tok.CheckoutSessionID != req.CheckoutSessionID:
		return publicError(payment.ErrCheckoutSessionMismatch, "the token belongs to another checkout session")
	case tok.ConsumedAt != nil:
		return publicError(payment.ErrTokenConsumed, msgTokenConsumed)
	case !now.Before(tok.ExpiresAt):
		return publicError(payment.ErrTokenExpired, "the allowance expired at %s", tok.ExpiresAt.Format(time.RFC3339))
	case tok.Currency != req.Currency:
		return publicError(payment.ErrCurrencyMismatch, "the allowance is in %s", tok.Currency)
	case req.Amount > tok.MaxAmount:
		return publicError(payment.ErrAllowanceExceeded, "the amount %d is above the allowance's max_amount %d", req.Amount, tok.MaxAmount)
	}
	return nil
}

// instrument opens the payment's credential for the processor call.
func (s *Service) instrument(rt *Runtime, p store.Payment, tok store.Token) (providers.Instrument, error) {
	if p.TokenKind == string(acp.TokenSharedPayment) {
		return providers.Instrument{Kind: providers.TokenSharedPayment, SharedToken: p.TokenID}, nil
	}
	card, err := rt.Vault.OpenCard(tok.ID, vault.SealedCard{KeyID: tok.KeyID, Credential: tok.Credential})
	if err != nil {
		return providers.Instrument{}, fmt.Errorf("gateway: token %s: %w", tok.ID, err)
	}
	card.Brand, card.Funding = tok.Brand, tok.Funding
	card.CVC = s.openCVC(tok)
	return providers.Instrument{Kind: providers.TokenVault, Card: &card}, nil
}

// authorize makes one processor call for the authorization attempt att,
// with the buyer's 3-D Secure authentication auth (nil without one).
func (s *Service) authorize(ctx context.Context, rt *Runtime, prov providers.Provider, p store.Payment, att store.Attempt, ins providers.Instrument, auth *payment.Authentication) (providers.Result, error, time.Duration) {
	cctx, cancel := s.attemptCtx(ctx, rt, att)
	defer cancel()
	start := time.Now()
	res, err := prov.Authorize(cctx, providers.AuthorizeRequest{
		PaymentID:      p.ID,
		AttemptID:      att.ID,
		IdempotencyKey: att.IdempotencyKey,
		Attempt:        att.Seq,
		MerchantID:     p.MerchantID,
		Amount:         payment.Money{Amount: p.Amount, Currency: p.Currency},
		Capture:        p.Capture,
		Instrument:     ins,
		Metadata:       p.Metadata,
		Authentication: auth,
	})
	latency := time.Since(start)
	metrics.Observe(ctx, s.metrics.ProcessorDuration.WithLabelValues(prov.Name(), string(providers.OpAuthorize), outcomeLabel(res, err)), latency.Seconds())
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
	endCall(a, now)
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
