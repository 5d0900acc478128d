package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/payment"
	"acpgw/store"
	"acpgw/vault"
)

// ErrUnknownMerchant: the allowance names a merchant this gateway does not
// serve.
var ErrUnknownMerchant = errors.New("merchant not served by this gateway")

// DelegateInput is a validated delegate_payment call.
type DelegateInput struct {
	AgentID string
	Request acp.DelegateRequest
	// Idempotency is the request's key; zero when it has none. Its Key is
	// echoed in the answer's metadata.
	Idempotency Idempotency
}

// Delegate seals the card of an ACP delegate_payment request and stores it as
// a single-use vt_ token bound to the request's allowance. The token, the
// claim of the request's key and its answer (201) commit in one
// transaction. A request whose risk signals the merchant's risk policy
// blocks (config risk:) gets a 422 *acp.Error and no token.
func (s *Service) Delegate(ctx context.Context, in DelegateInput) (Answer, error) {
	rt, release := s.acquire()
	defer release()
	req := in.Request
	merchant, ok := rt.Merchant(req.Allowance.MerchantID)
	if !ok {
		return s.beforeWrite(ctx, in.Idempotency, publicError(ErrUnknownMerchant, "merchant %q is not served by this gateway", req.Allowance.MerchantID))
	}
	allowance := payment.Money{Amount: req.Allowance.MaxAmount, Currency: req.Allowance.Currency}
	if err := checkMaxAmount(rt, allowance, "$.allowance.max_amount"); err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	if refusal, reason := riskRefusal(merchant.Risk, req.RiskSignals); refusal != nil {
		// A replay of a refused request gets the stored refusal and is not
		// counted again.
		ans, err := s.beforeWrite(ctx, in.Idempotency, refusal)
		if err == error(refusal) {
			s.metrics.TokensRefused.WithLabelValues(rt.labels.Label(merchant.ID), reason).Inc()
			s.log.LogAttrs(ctx, slog.LevelInfo, "delegate_payment refused by the risk policy",
				slog.String("request_id", RequestID(ctx)), slog.String("merchant", merchant.ID),
				slog.String("agent", in.AgentID), slog.String("reason", reason), slog.String("param", refusal.Param))
		}
		return ans, err
	}
	pm := req.PaymentMethod
	month, err1 := strconv.Atoi(pm.ExpMonth)
	year, err2 := strconv.Atoi(pm.ExpYear)
	if err := errors.Join(err1, err2); err != nil {
		// acp validated the expiry; this is a programming error.
		return Answer{}, fmt.Errorf("gateway: expiry not numeric after validation")
	}
	card := payment.Card{
		NumberType: pm.CardNumberType, Number: pm.Number, ExpMonth: month, ExpYear: year,
		Name: pm.Name, CVC: pm.CVC, Cryptogram: pm.Cryptogram, ECI: pm.ECIValue,
	}
	now := s.now().UTC()
	if err := checkTokenTTL(rt, req.Allowance.ExpiresAt, now); err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	id := vault.NewTokenID()
	sealed, err := rt.Vault.SealCard(id, card)
	if err != nil {
		return Answer{}, err
	}
	cvc, err := s.sealCVC(id, card.CVC, now, cvcEnd(rt, now, req.Allowance.ExpiresAt))
	if err != nil {
		return Answer{}, err
	}
	iin := pm.IIN
	if iin == "" && pm.CardNumberType == "fpan" && len(pm.Number) >= 6 {
		iin = pm.Number[:6]
	}
	last4 := pm.DisplayLast4
	if last4 == "" {
		last4 = lastN(pm.Number, 4)
	}
	t := store.Token{
		ID:                id,
		MerchantID:        req.Allowance.MerchantID,
		CheckoutSessionID: req.Allowance.CheckoutSessionID,
		MaxAmount:         req.Allowance.MaxAmount,
		Currency:          req.Allowance.Currency,
		ExpiresAt:         req.Allowance.ExpiresAt.UTC(),
		Reason:            req.Allowance.Reason,
		KeyID:             sealed.KeyID,
		Credential:        sealed.Credential,
		CVC:               cvc,
		Brand:             pm.DisplayBrand,
		Funding:           pm.DisplayCardFundingType,
		Last4:             last4,
		IIN:               iin,
		Metadata:          cleanMetadata(req.Metadata),
		AgentID:           in.AgentID,
		IdempotencyKey:    in.Idempotency.Key,
		CreatedAt:         now,
	}
	if req.BillingAddress != nil {
		t.Country = req.BillingAddress.Country
	}
	ans, err := tokenAnswer(t)
	if err != nil {
		return Answer{}, err
	}
	rec := s.idemRecord(in.Idempotency, now, t.ID)
	rec.State, rec.Status, rec.Body = store.IdemDone, ans.Status, ans.Body
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		begin, err := s.claim(ctx, tx, in.Idempotency, rec, now)
		if err != nil {
			return err
		}
		if err := tx.InsertToken(ctx, t); err != nil {
			return err
		}
		if begin != store.IdemTakenOver {
			return nil
		}
		// A taken-over record kept its in-flight state: store the answer.
		return tx.CompleteIdempotency(ctx, rec.Scope, rec.Key, ans.Status, ans.Body)
	})
	if err != nil {
		// No token: its CVC key is not kept either.
		s.cvcs.Destroy(id)
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	s.metrics.TokensIssued.WithLabelValues(rt.labels.Label(t.MerchantID)).Inc()
	return ans, nil
}

// Reasons of a risk refusal, in metrics and logs.
const (
	refusedRiskAction = "risk_action"
	refusedRiskScore  = "risk_score"
)

// riskRefusal applies the merchant's risk policy to a request's risk
// signals: the first signal whose action the policy blocks, or whose score
// is above its maximum, refuses the token with a 422 in the Delegate
// Payment Error shape (invalid_request/invalid_card, the only code of that
// enum for a request that cannot be served) and param at the signal's
// field. The message does not say the threshold.
func riskRefusal(policy config.Risk, signals []acp.RiskSignal) (*acp.Error, string) {
	for i, sig := range signals {
		p := fmt.Sprintf("$.risk_signals[%d]", i)
		switch {
		case policy.Blocks(sig.Action):
			return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidCard, p+".action",
				"risk_signals[%d] has action %s, which this gateway's risk policy refuses; no token was issued", i, sig.Action), refusedRiskAction
		case policy.MaxScore != nil && int64(sig.Score) > *policy.MaxScore:
			return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidCard, p+".score",
				"risk_signals[%d].score is above what this gateway's risk policy accepts; no token was issued", i), refusedRiskScore
		}
	}
	return nil, ""
}
