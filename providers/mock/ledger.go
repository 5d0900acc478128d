package mock

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"time"

	"acpgw/payment"
	"acpgw/providers"
)

// keyEntry is the stored answer for an idempotency key, with a fingerprint
// of the request that produced it so that a reuse of the key for another
// request is refused rather than answered with the wrong result.
type keyEntry struct {
	op          providers.Operation
	fingerprint [sha256.Size]byte
	result      providers.Result
}

// lookupKey returns the stored answer for key. It must be called with p.mu
// held. A known key used for another operation or other parameters is
// refused, like Stripe's idempotency error; an identical request replays.
func (p *Provider) lookupKey(key string, op providers.Operation, fp [sha256.Size]byte) (providers.Result, bool, error) {
	if key == "" {
		return providers.Result{}, false, nil
	}
	if p.held[key] {
		// Like Adyen's 704 or Stripe's idempotency_key_in_use: the first
		// request with the key may be charging right now.
		return providers.Result{}, false, providers.OutcomeUnknown("in_progress",
			fmt.Errorf("mock: a request with idempotency key %q is still in progress", key))
	}
	e, ok := p.keys[key]
	if !ok {
		return providers.Result{}, false, nil
	}
	if e.op != op || e.fingerprint != fp {
		return providers.Result{}, false, providers.Rejected("idempotency_key_reused",
			fmt.Errorf("mock: idempotency key %q was used for a different %s request", key, e.op))
	}
	return cloneResult(e.result), true, nil
}

// HoldKey makes the mock behave as if a request with the idempotency key
// were still in progress: every request with it fails with an unknown
// outcome (code in_progress) and changes nothing, until release is called.
// It is the mock's form of Adyen's 704 and Stripe's idempotency_key_in_use,
// for tests.
func (p *Provider) HoldKey(key string) (release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held[key] = true
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.held, key)
	}
}

// storeKey remembers res as the answer for key. It must be called with p.mu
// held.
func (p *Provider) storeKey(key string, op providers.Operation, fp [sha256.Size]byte, res providers.Result) {
	if key == "" {
		return
	}
	p.keys[key] = &keyEntry{op: op, fingerprint: fp, result: cloneResult(res)}
}

// cloneResult copies the pointed-to parts of r, so that a caller changing its
// Result cannot change the stored answer.
func cloneResult(r providers.Result) providers.Result {
	if r.Decline != nil {
		d := *r.Decline
		r.Decline = &d
	}
	if r.Fee != nil {
		f := *r.Fee
		r.Fee = &f
	}
	return r
}

// authorize applies an authorization to the ledger. hang reports that the
// charge was made but its answer must never arrive.
func (p *Provider) authorize(req providers.AuthorizeRequest) (res providers.Result, hang bool, err error) {
	fp := authorizeFingerprint(req)
	p.mu.Lock()
	defer p.mu.Unlock()
	if stored, ok, err := p.lookupKey(req.IdempotencyKey, providers.OpAuthorize, fp); ok || err != nil {
		return stored, false, err
	}

	switch req.Instrument.Kind {
	case providers.TokenVault:
	case providers.TokenSharedPayment:
		return res, false, providers.NotProcessed("token_not_supported",
			errors.New("mock: shared payment tokens are not supported"))
	default:
		return res, false, providers.NotProcessed("token_not_supported",
			fmt.Errorf("mock: token kind %q is not supported", req.Instrument.Kind))
	}
	card := req.Instrument.Card
	if card == nil {
		return res, false, providers.NotProcessed("invalid_request", errors.New("mock: vault instrument without a card"))
	}
	if !p.supportsCurrency(req.Amount.Currency) {
		return res, false, providers.NotProcessed("currency_not_supported",
			fmt.Errorf("mock: currency %q is not supported", req.Amount.Currency))
	}
	if !req.Capture.Valid() {
		return res, false, providers.NotProcessed("invalid_request",
			fmt.Errorf("mock: capture mode %q is not valid", req.Capture))
	}

	behaviour := cardBehaviour(card.Number)
	if behaviour.processorError {
		// Refused before processing: nothing is recorded, not even the key,
		// so a re-send is processed afresh.
		return res, false, providers.NotProcessed("processing_error",
			errors.New("mock: processor error before processing; nothing was charged"))
	}

	ref := newReference()
	decline := func(code payment.DeclineCode, raw string) providers.Result {
		d := payment.NewDecline(code, raw, "")
		r := providers.Result{Status: payment.StatusDeclined, Reference: ref, Decline: &d, Message: d.Message}
		p.storeKey(req.IdempotencyKey, providers.OpAuthorize, fp, r)
		return r
	}
	// The fee on the full amount must fit in int64 even for a manual
	// authorization, so that any later capture of it has a fee too.
	feeAmount, feeOK := fee(req.Amount.Amount, p.feeRatePPM, p.fixedFee(req.Amount.Currency))
	switch {
	case req.Amount.Amount <= 0:
		return decline(payment.DeclineInvalidAmount, "invalid_amount"), false, nil
	case !feeOK:
		return decline(payment.DeclineInvalidAmount, "amount_too_large"), false, nil
	case behaviour.decline != "":
		return decline(behaviour.decline, behaviour.raw), false, nil
	case behaviour.needsAuthentication && !authenticated(req.Authentication):
		return decline(payment.DeclineAuthenticationRequired, "authentication_required"), false, nil
	}

	c := &Charge{
		Reference:      ref,
		PaymentID:      req.PaymentID,
		IdempotencyKey: req.IdempotencyKey,
		Amount:         req.Amount.Amount,
		Currency:       req.Amount.Currency,
		CreatedAt:      time.Now(),
	}
	res = providers.Result{Status: payment.StatusAuthorized, Reference: ref}
	if req.Capture == payment.CaptureAutomatic {
		c.Captured = c.Amount
		res.Status = payment.StatusCaptured
		res.Fee = &payment.Money{Amount: feeAmount, Currency: c.Currency}
	}
	p.charges[ref] = c
	p.order = append(p.order, c)
	p.storeKey(req.IdempotencyKey, providers.OpAuthorize, fp, res)
	return cloneResult(res), behaviour.hang, nil
}

// authenticated reports whether a carries an authenticated 3-D Secure
// result with its data: the issuer of the mock's 3-D Secure card takes that
// and nothing less (an attempt or an informational result is not enough).
func authenticated(a *payment.Authentication) bool {
	return a != nil && a.Outcome == payment.AuthAuthenticated && a.SendsData()
}

// applyFunc changes one charge for a modification of amount, or refuses it
// with a providers.Rejected error leaving the charge as it was. It is called
// with p.mu held.
type applyFunc func(c *Charge, amount int64) (providers.Result, error)

// modifyLedger applies a capture, void or refund to the ledger.
func (p *Provider) modifyLedger(op providers.Operation, req providers.ModifyRequest, apply applyFunc) (providers.Result, error) {
	fp := modifyFingerprint(op, req)
	p.mu.Lock()
	defer p.mu.Unlock()
	if stored, ok, err := p.lookupKey(req.IdempotencyKey, op, fp); ok || err != nil {
		return stored, err
	}
	c, ok := p.charges[req.Reference]
	if !ok {
		return providers.Result{}, providers.Rejected("resource_missing",
			fmt.Errorf("mock: %s: no authorization %q", op, req.Reference))
	}
	if req.PaymentID != "" && req.PaymentID != c.PaymentID {
		return providers.Result{}, providers.Rejected("payment_mismatch",
			fmt.Errorf("mock: %s: authorization %s belongs to payment %q, not %q", op, c.Reference, c.PaymentID, req.PaymentID))
	}
	voidWithoutAmount := op == providers.OpVoid && req.Amount == payment.Money{}
	if !voidWithoutAmount && req.Amount.Currency != c.Currency {
		return providers.Result{}, providers.Rejected("currency_mismatch",
			fmt.Errorf("mock: %s: currency %q differs from the authorization's %q", op, req.Amount.Currency, c.Currency))
	}
	res, err := apply(c, req.Amount.Amount)
	if err != nil {
		return providers.Result{}, err
	}
	p.storeKey(req.IdempotencyKey, op, fp, res)
	return res, nil
}

// capture captures amount of c once; the fee is on the captured amount.
func (p *Provider) capture(c *Charge, amount int64) (providers.Result, error) {
	switch {
	case c.Voided:
		return providers.Result{}, rejected(c, "charge_voided", "capture: the authorization was voided")
	case c.Captured > 0:
		return providers.Result{}, rejected(c, "charge_already_captured", "capture: the authorization was already captured")
	case amount <= 0:
		return providers.Result{}, rejected(c, "invalid_amount", "capture: amount "+strconv.FormatInt(amount, 10)+" must be positive")
	case amount > c.Amount:
		return providers.Result{}, rejected(c, "amount_too_large",
			fmt.Sprintf("capture: amount %d is above the authorized %d", amount, c.Amount))
	}
	// The fee of the full amount was checked to fit at authorization, and
	// the fee grows with the amount, so this one fits too.
	f, _ := fee(amount, p.feeRatePPM, p.fixedFee(c.Currency))
	c.Captured = amount
	return providers.Result{
		Status:    payment.StatusCaptured,
		Reference: c.Reference,
		Fee:       &payment.Money{Amount: f, Currency: c.Currency},
	}, nil
}

// voidCharge voids c if nothing of it was captured.
func voidCharge(c *Charge, amount int64) (providers.Result, error) {
	switch {
	case c.Voided:
		return providers.Result{}, rejected(c, "charge_voided", "void: the authorization was already voided")
	case c.Captured > 0:
		return providers.Result{}, rejected(c, "charge_already_captured", "void: the authorization was captured; refund it instead")
	case amount != 0 && amount != c.Amount:
		return providers.Result{}, rejected(c, "amount_mismatch",
			fmt.Sprintf("void: amount %d is not the authorized %d", amount, c.Amount))
	}
	c.Voided = true
	return providers.Result{Status: payment.StatusVoided, Reference: c.Reference}, nil
}

// refundCharge refunds amount of c, keeping all refunds within the captured
// amount.
func refundCharge(c *Charge, amount int64) (providers.Result, error) {
	switch {
	case c.Captured == 0:
		return providers.Result{}, rejected(c, "charge_not_captured", "refund: nothing was captured")
	case amount <= 0:
		return providers.Result{}, rejected(c, "invalid_amount", "refund: amount "+strconv.FormatInt(amount, 10)+" must be positive")
	case amount > c.Captured-c.Refunded:
		return providers.Result{}, rejected(c, "amount_too_large",
			fmt.Sprintf("refund: amount %d is above the %d left of the captured %d", amount, c.Captured-c.Refunded, c.Captured))
	}
	c.Refunded += amount
	return providers.Result{Status: payment.StatusRefunded, Reference: c.Reference}, nil
}

func rejected(c *Charge, code, msg string) error {
	return providers.Rejected(code, fmt.Errorf("mock: %s: %s", c.Reference, msg))
}

// newReference returns a fresh processor reference.
func newReference() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return "mock_ch_" + hex.EncodeToString(b[:])
}

// authorizeFingerprint digests the parameters that make two authorizations
// the same request. The card enters only hashed, and the CVC, cryptogram and
// name not at all: a re-send after a timeout comes without the CVC (it is
// deleted after first use) and must still replay. The 3-D Secure
// authentication stays out for the same reason: its cryptogram lives in the
// gateway's memory only, so a re-send after a restart comes without it.
func authorizeFingerprint(req providers.AuthorizeRequest) [sha256.Size]byte {
	h := sha256.New()
	writeFields(h, string(providers.OpAuthorize), req.PaymentID, req.AttemptID, req.MerchantID,
		strconv.FormatInt(req.Amount.Amount, 10), req.Amount.Currency, string(req.Capture),
		string(req.Instrument.Kind), req.Instrument.SharedToken)
	if c := req.Instrument.Card; c != nil {
		writeFields(h, "card", c.NumberType, c.Number, strconv.Itoa(c.ExpMonth), strconv.Itoa(c.ExpYear))
	}
	keys := make([]string, 0, len(req.Metadata))
	for k := range req.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	writeFields(h, "metadata", strconv.Itoa(len(keys)))
	for _, k := range keys {
		writeFields(h, k, req.Metadata[k])
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// modifyFingerprint digests the parameters of a capture, void or refund.
func modifyFingerprint(op providers.Operation, req providers.ModifyRequest) [sha256.Size]byte {
	h := sha256.New()
	writeFields(h, string(op), req.PaymentID, req.Reference,
		strconv.FormatInt(req.Amount.Amount, 10), req.Amount.Currency)
	return [sha256.Size]byte(h.Sum(nil))
}

// writeFields writes each field length-prefixed, so that field boundaries
// cannot be shifted to forge an equal digest.
func writeFields(h hash.Hash, fields ...string) {
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
}
