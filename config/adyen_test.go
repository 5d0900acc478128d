package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"acpgw/fees"
)

func TestAdyenInterchange(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parse(data, "example.yaml", func(k string) (string, bool) { v, ok := exampleEnv[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	ic := c.Processors["adyen_eu"].Adyen.Interchange
	want := fees.Interchange{Fixed: 11, Currency: "eur", Markup: 6000,
		InterchangeRates: fees.RegionRates{
			Domestic:      fees.FundingRates{Credit: 3000, Debit: 2000},
			IntraRegional: fees.FundingRates{Credit: 3000, Debit: 2000},
			InterRegional: fees.FundingRates{Credit: 15000, Debit: 11500},
		},
		SchemeRates: fees.RegionRates{
			Domestic:      fees.FundingRates{Credit: 1000, Debit: 1000},
			IntraRegional: fees.FundingRates{Credit: 1500, Debit: 1500},
			InterRegional: fees.FundingRates{Credit: 6000, Debit: 6000},
		},
	}
	if ic == nil || *ic != want {
		t.Fatalf("interchange = %+v, want %+v", ic, want)
	}

	base := vaultOK + "processors:\n  a:\n    type: adyen\n    api_key: k\n    merchant_account: M\n"
	if c, err := parse([]byte(base), "a.yaml", testEnv); err != nil || c.Processors["a"].Adyen.Interchange != nil {
		t.Fatalf("no interchange: %v", err)
	}
	for name, tc := range map[string]struct {
		doc, path string
		kind      error
	}{
		"unknown key":       {base + "    interchange: {markup: 0.6}\n", "processors.a.interchange.markup", ErrUnknownKey},
		"bad percent":       {base + "    interchange: {markup_percent: 1e2}\n", "processors.a.interchange.markup_percent", ErrInvalid},
		"fixed no currency": {base + "    interchange: {fixed: 11}\n", "processors.a.interchange.currency", ErrRequired},
		"too much":          {base + "    interchange: {markup_percent: 60, interchange: {domestic: {credit: 50}}}\n", "processors.a.interchange", ErrInvalid},
		"bad region":        {base + "    interchange: {interchange: {eu: {credit: 0.3}}}\n", "processors.a.interchange.interchange.eu", ErrUnknownKey},
		"on mock":           {vaultOK + "processors:\n  m:\n    type: mock\n    interchange: {}\n", "processors.m.interchange", ErrUnknownKey},
	} {
		_, err := parse([]byte(tc.doc), "a.yaml", testEnv)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: %v, want %v at %s", name, err, tc.kind, tc.path)
		}
	}
}
