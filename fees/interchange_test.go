package fees

import (
	"errors"
	"math"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"acpgw/payment"
)

// euICPP is a typical EEA Interchange++ schedule: capped consumer
// interchange of 0.2% debit / 0.3% credit inside the EEA, 1.15% / 1.5% for
// cards from outside it.
var euICPP = Interchange{
	Fixed: 11, Currency: "eur", Markup: 6000,
	InterchangeRates: RegionRates{
		Domestic:      FundingRates{Credit: 3000, Debit: 2000},
		IntraRegional: FundingRates{Credit: 3000, Debit: 2000},
		InterRegional: FundingRates{Credit: 15000, Debit: 11500},
	},
	SchemeRates: RegionRates{
		Domestic:      FundingRates{Credit: 1000, Debit: 1000},
		IntraRegional: FundingRates{Credit: 1500, Debit: 1500},
		InterRegional: FundingRates{Credit: 6000, Debit: 6000},
	},
}

func TestRegionOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		card, merchant string
		want           Region
	}{
		{"NL", "NL", RegionDomestic},
		{"nl", "NL", RegionDomestic},
		{"DE", "NL", RegionIntra},
		{"NO", "FR", RegionIntra},
		{"US", "NL", RegionInter},
		{"US", "US", RegionDomestic},
		{"CA", "US", RegionInter},
		{"", "NL", RegionInter},
		{"NL", "", RegionInter},
	} {
		if got := RegionOf(tt.card, tt.merchant); got != tt.want {
			t.Errorf("RegionOf(%q, %q) = %s, want %s", tt.card, tt.merchant, got, tt.want)
		}
	}
}

func TestInterchangeEstimate(t *testing.T) {
	t.Parallel()
	eur := func(a int64) payment.Money { return payment.Money{Amount: a, Currency: "eur"} }
	for _, tt := range []struct {
		name                             string
		in                               InterchangeInput
		ic, scheme, markup, fixed, total int64
		fixedApplied                     bool
	}{
		// 10000: ic 0.2% = 20, scheme 0.1% = 10, markup 0.6% = 60, + 11
		{"domestic debit", InterchangeInput{Amount: eur(10000), CardCountry: "NL", MerchantCountry: "NL", Funding: FundingDebit}, 20, 10, 60, 11, 101, true},
		// ic 0.3% = 30, scheme 0.15% = 15
		{"intra credit", InterchangeInput{Amount: eur(10000), CardCountry: "DE", MerchantCountry: "NL", Funding: FundingCredit}, 30, 15, 60, 11, 116, true},
		// unknown funding takes credit (the higher); ic 1.5% = 150, scheme 0.6% = 60
		{"inter unknown funding", InterchangeInput{Amount: eur(10000), CardCountry: "US", MerchantCountry: "NL"}, 150, 60, 60, 11, 281, true},
		// unknown country: inter-regional
		{"unknown country", InterchangeInput{Amount: eur(10000), Funding: FundingDebit}, 115, 60, 60, 11, 246, true},
		// 2599 * 0.2% = 5.198 -> 5; * 0.1% = 2.599 -> 3; * 0.6% = 15.594 -> 16
		{"rounding per part", InterchangeInput{Amount: eur(2599), CardCountry: "NL", MerchantCountry: "NL", Funding: FundingDebit}, 5, 3, 16, 11, 35, true},
		// jpy: the fixed fee in eur is left out
		{"other currency", InterchangeInput{Amount: payment.Money{Amount: 3000, Currency: "jpy"}, CardCountry: "JP", MerchantCountry: "JP", Funding: FundingCredit}, 9, 3, 18, 0, 30, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := euICPP.Estimate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if f.Interchange != tt.ic || f.Scheme != tt.scheme || f.Markup != tt.markup || f.Fixed != tt.fixed ||
				f.Total.Amount != tt.total || f.Total.Currency != tt.in.Amount.Currency || f.FixedApplied != tt.fixedApplied {
				t.Fatalf("Estimate = %+v, want ic %d scheme %d markup %d fixed %d total %d applied %v",
					f, tt.ic, tt.scheme, tt.markup, tt.fixed, tt.total, tt.fixedApplied)
			}
		})
	}
	if f, err := euICPP.Estimate(InterchangeInput{Amount: payment.Money{Amount: math.MaxInt64, Currency: "eur"}}); err != nil || f.Total.Amount <= 0 {
		t.Errorf("max amount: %+v, %v", f, err)
	}
	if _, err := (Interchange{Markup: OneHundredPercent, Fixed: 1}).Estimate(InterchangeInput{Amount: payment.Money{Amount: math.MaxInt64, Currency: "eur"}}); !errors.Is(err, payment.ErrOverflow) {
		t.Errorf("max amount: %v, want overflow", err)
	}
	if _, err := euICPP.Estimate(InterchangeInput{Amount: payment.Money{Amount: 1, Currency: "xxx"}}); !errors.Is(err, payment.ErrUnknownCurrency) {
		t.Errorf("unknown currency: %v", err)
	}
	if _, err := (Interchange{Markup: -1}).Estimate(InterchangeInput{Amount: eur(1)}); !errors.Is(err, ErrInvalidInterchange) {
		t.Errorf("invalid schedule: %v", err)
	}
}

func TestInterchangeValidate(t *testing.T) {
	t.Parallel()
	if err := euICPP.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Interchange{
		"negative fixed":  {Fixed: -1},
		"bad currency":    {Currency: "EUR"},
		"rate above 100":  {Markup: OneHundredPercent + 1},
		"sum above 100":   {Markup: 500_000, InterchangeRates: RegionRates{InterRegional: FundingRates{Credit: 400_000}}, SchemeRates: RegionRates{Domestic: FundingRates{Debit: 100_001}}},
		"negative scheme": {SchemeRates: RegionRates{IntraRegional: FundingRates{Credit: -1}}},
	} {
		if err := s.Validate(); !errors.Is(err, ErrInvalidInterchange) {
			t.Errorf("%s: Validate() = %v", name, err)
		}
	}
}

func TestInterchangeYAML(t *testing.T) {
	t.Parallel()
	doc := `fixed: 11
currency: eur
markup_percent: 0.6
interchange:
  domestic: {credit: 0.3, debit: 0.2}
  intra_regional: {credit: 0.3, debit: 0.2}
  inter_regional: {credit: 1.5, debit: 1.15}
scheme:
  domestic: {credit: 0.1, debit: 0.1}
  intra_regional: {credit: 0.15, debit: 0.15}
  inter_regional: {credit: 0.6, debit: 0.6}
`
	var s Interchange
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s != euICPP {
		t.Fatalf("decoded %+v, want %+v", s, euICPP)
	}
}
