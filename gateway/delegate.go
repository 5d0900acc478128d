package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"acpgw/acp"
	"acpgw/providers"
	"acpgw/store"
	"acpgw/vault"
)

// ErrUnknownMerchant: the allowance names a merchant this gateway does not
// serve.
var ErrUnknownMerchant = errors.New("merchant not served by this gateway")

// DelegateInput is a validated delegate_payment call.
type DelegateInput struct {
	AgentID        string
	IdempotencyKey string
	Request        acp.DelegateRequest
}

// Delegate seals the card of an ACP delegate_payment request and stores it as
// a single-use vt_ token bound to the request's allowance.
func (s *Service) Delegate(ctx context.Context, in DelegateInput) (store.Token, error) {
	rt := s.rt.Load()
	req := in.Request
	if _, ok := rt.Merchant(req.Allowance.MerchantID); !ok {
		return store.Token{}, fmt.Errorf("%w: %q", ErrUnknownMerchant, req.Allowance.MerchantID)
	}
	pm := req.PaymentMethod
	month, err1 := strconv.Atoi(pm.ExpMonth)
	year, err2 := strconv.Atoi(pm.ExpYear)
	if err := errors.Join(err1, err2); err != nil {
		// acp validated the expiry; this is a programming error.
		return store.Token{}, fmt.Errorf("gateway: expiry not numeric after validation")
	}
	card := providers.Card{
		NumberType: pm.CardNumberType, Number: pm.Number, ExpMonth: month, ExpYear: year,
		Name: pm.Name, CVC: pm.CVC, Cryptogram: pm.Cryptogram, ECI: pm.ECIValue,
	}
	id := vault.NewTokenID()
	sealed, err := rt.Vault.SealCard(id, card)
	if err != nil {
		return store.Token{}, err
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
		CVC:               sealed.CVC,
		Brand:             pm.DisplayBrand,
		Funding:           pm.DisplayCardFundingType,
		Last4:             last4,
		IIN:               iin,
		Metadata:          cleanMetadata(req.Metadata),
		AgentID:           in.AgentID,
		IdempotencyKey:    in.IdempotencyKey,
		CreatedAt:         s.now().UTC(),
	}
	if req.BillingAddress != nil {
		t.Country = req.BillingAddress.Country
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.InsertToken(ctx, t); err != nil {
			return err
		}
		return link(ctx, tx, t.ID)
	})
	if err != nil {
		return store.Token{}, err
	}
	markLinked(ctx)
	if s.metrics != nil {
		s.metrics.TokensIssued.WithLabelValues(rt.labels.Label(t.MerchantID)).Inc()
	}
	return t, nil
}

// Token returns a stored token, for answering a replayed delegate_payment
// whose response was lost.
func (s *Service) Token(ctx context.Context, id string) (store.Token, error) {
	return s.store.GetToken(ctx, id)
}
