package fees

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"acpgw/payment"
)

// Region is where a card was issued relative to the merchant, the first
// thing interchange and scheme fees depend on.
type Region string

// The regions of an Interchange++ schedule.
const (
	// RegionDomestic: card and merchant in the same country.
	RegionDomestic Region = "domestic"
	// RegionIntra: different countries of one scheme region (the EEA).
	RegionIntra Region = "intra_regional"
	// RegionInter: different regions, or a region acpgw cannot tell.
	RegionInter Region = "inter_regional"
)

// Funding is a card's funding type; interchange differs by it.
type Funding string

// The funding types. Prepaid cards pay debit rates in the EEA.
const (
	FundingCredit  Funding = "credit"
	FundingDebit   Funding = "debit"
	FundingUnknown Funding = ""
)

// eea lists the ISO 3166 alpha-2 countries of the European Economic Area,
// the one scheme region acpgw knows (its interchange caps make it the
// region where the domestic/intra/inter split matters most).
var eea = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true, "FI": true,
	"FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
	"IS": true, "LI": true, "NO": true,
}

// RegionOf classifies a card by its issuing country against the
// merchant's: same country domestic, both in the EEA intra-regional,
// anything else (an unknown country included) inter-regional, the dearest
// and so the cautious estimate.
func RegionOf(cardCountry, merchantCountry string) Region {
	c, m := strings.ToUpper(cardCountry), strings.ToUpper(merchantCountry)
	switch {
	case c == "" || m == "":
		return RegionInter
	case c == m:
		return RegionDomestic
	case eea[c] && eea[m]:
		return RegionIntra
	default:
		return RegionInter
	}
}

// FundingRates are rates by funding type. An unknown funding type uses
// the higher of the two.
type FundingRates struct {
	Credit Rate `yaml:"credit"`
	Debit  Rate `yaml:"debit"`
}

func (f FundingRates) rate(fu Funding) Rate {
	switch fu {
	case FundingCredit:
		return f.Credit
	case FundingDebit:
		return f.Debit
	default:
		return max(f.Credit, f.Debit)
	}
}

// RegionRates are rates by region and funding type.
type RegionRates struct {
	Domestic      FundingRates `yaml:"domestic"`
	IntraRegional FundingRates `yaml:"intra_regional"`
	InterRegional FundingRates `yaml:"inter_regional"`
}

func (r RegionRates) rate(reg Region, fu Funding) Rate {
	switch reg {
	case RegionDomestic:
		return r.Domestic.rate(fu)
	case RegionIntra:
		return r.IntraRegional.rate(fu)
	default:
		return r.InterRegional.rate(fu)
	}
}

func (r RegionRates) all() []Rate {
	return []Rate{r.Domestic.Credit, r.Domestic.Debit, r.IntraRegional.Credit, r.IntraRegional.Debit, r.InterRegional.Credit, r.InterRegional.Debit}
}

// Interchange is an Interchange++ fee schedule (Adyen's pricing): the
// card's interchange and the scheme fee are passed through at cost, and the
// processor adds a markup and a fixed processing fee. The schedule holds
// estimates of the pass-through parts; the actual ones come later in the
// processor's settlement report.
type Interchange struct {
	// Fixed is the processing fee per payment, in minor units of Currency.
	Fixed int64 `yaml:"fixed"`
	// Currency is the lowercase ISO 4217 currency of Fixed; empty means
	// the payment's currency.
	Currency string `yaml:"currency"`
	// Markup is the processor's own percentage.
	Markup Rate `yaml:"markup_percent"`
	// InterchangeRates estimate the issuer's interchange.
	InterchangeRates RegionRates `yaml:"interchange"`
	// SchemeRates estimate the card scheme's fees.
	SchemeRates RegionRates `yaml:"scheme"`
}

// ErrInvalidInterchange is returned (wrapped) by Interchange.Validate.
var ErrInvalidInterchange = errors.New("invalid interchange++ schedule")

// Validate reports whether s is usable: every rate between 0 and 100%,
// markup plus the dearest interchange and scheme rates at most 100%, Fixed
// not negative and Currency empty or a known code.
func (s Interchange) Validate() error {
	var errs []error
	maxIC, maxScheme := Rate(0), Rate(0)
	for _, r := range append([]Rate{s.Markup}, append(s.InterchangeRates.all(), s.SchemeRates.all()...)...) {
		if r < 0 || r > OneHundredPercent {
			errs = append(errs, fmt.Errorf("%w: rate %s must be between 0 and 100%%", ErrInvalidInterchange, r))
		}
	}
	for _, r := range s.InterchangeRates.all() {
		maxIC = max(maxIC, r)
	}
	for _, r := range s.SchemeRates.all() {
		maxScheme = max(maxScheme, r)
	}
	if len(errs) == 0 && s.Markup+maxIC+maxScheme > OneHundredPercent {
		errs = append(errs, fmt.Errorf("%w: markup, interchange and scheme rates add up to more than 100%%", ErrInvalidInterchange))
	}
	if s.Fixed < 0 {
		errs = append(errs, fmt.Errorf("%w: fixed %d must not be negative", ErrInvalidInterchange, s.Fixed))
	}
	if s.Currency != "" && !payment.ValidCurrency(s.Currency) {
		errs = append(errs, fmt.Errorf("%w: currency %q is not a known lowercase ISO 4217 code", ErrInvalidInterchange, s.Currency))
	}
	return errors.Join(errs...)
}

// InterchangeInput is the payment an Interchange++ fee is estimated for.
type InterchangeInput struct {
	// Amount is the payment amount; its currency is the fee's currency.
	Amount payment.Money
	// CardCountry and MerchantCountry are ISO 3166 alpha-2 codes, "" when
	// unknown; they give the Region.
	CardCountry     string
	MerchantCountry string
	// Funding is the card's funding type, FundingUnknown when unknown.
	Funding Funding
}

// InterchangeFee is an estimate split into its parts, each in the payment
// currency.
type InterchangeFee struct {
	Interchange int64
	Scheme      int64
	Markup      int64
	Fixed       int64
	// Total is the sum of the parts.
	Total payment.Money
	// Region is the region the rates were taken for.
	Region Region
	// FixedApplied is false when Fixed is in another currency than the
	// payment and was left out (acpgw does not convert currencies).
	FixedApplied bool
}

// Estimate returns the estimated fee of a payment. Each percentage part is
// rounded half up on its own, as the parts are charged separately.
func (s Interchange) Estimate(in InterchangeInput) (InterchangeFee, error) {
	cur := in.Amount.Currency
	if !payment.ValidCurrency(cur) {
		return InterchangeFee{}, fmt.Errorf("interchange++ estimate: %w: %q", payment.ErrUnknownCurrency, cur)
	}
	if in.Amount.Amount < 0 {
		return InterchangeFee{}, fmt.Errorf("interchange++ estimate: %w: %d is negative", payment.ErrInvalidAmount, in.Amount.Amount)
	}
	if err := s.Validate(); err != nil {
		return InterchangeFee{}, fmt.Errorf("interchange++ estimate: %w", err)
	}
	reg := RegionOf(in.CardCountry, in.MerchantCountry)
	fee := InterchangeFee{Region: reg, FixedApplied: true}
	amt := uint64(in.Amount.Amount)
	var err error
	if fee.Interchange, err = applyRate(amt, uint64(s.InterchangeRates.rate(reg, in.Funding))); err != nil {
		return InterchangeFee{}, fmt.Errorf("interchange++ estimate: %w", err)
	}
	if fee.Scheme, err = applyRate(amt, uint64(s.SchemeRates.rate(reg, in.Funding))); err != nil {
		return InterchangeFee{}, fmt.Errorf("interchange++ estimate: %w", err)
	}
	if fee.Markup, err = applyRate(amt, uint64(s.Markup)); err != nil {
		return InterchangeFee{}, fmt.Errorf("interchange++ estimate: %w", err)
	}
	if s.Currency == "" || s.Currency == cur {
		fee.Fixed = s.Fixed
	} else if s.Fixed != 0 {
		fee.FixedApplied = false
	}
	var total int64
	for _, p := range []int64{fee.Interchange, fee.Scheme, fee.Markup, fee.Fixed} {
		if total > math.MaxInt64-p {
			return InterchangeFee{}, fmt.Errorf("interchange++ estimate: %w", payment.ErrOverflow)
		}
		total += p
	}
	fee.Total = payment.Money{Amount: total, Currency: cur}
	return fee, nil
}
