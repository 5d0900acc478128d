package payment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestCardNeverPrinted prints a card in every way a stray log line or error
// could, alone and inside a struct, and looks for its number, CVC and
// cryptogram.
func TestCardNeverPrinted(t *testing.T) {
	t.Parallel()
	c := Card{NumberType: "fpan", Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, Name: "Jane",
		CVC: "987", Cryptogram: "CRYPTO", Brand: "visa"}
	holder := struct {
		Card  Card
		Ptr   *Card
		Other string
	}{c, &c, "x"}
	var textLog, jsonLog bytes.Buffer
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("x", "card", c, "holder", holder)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("x", "card", c, "ptr", &c)
	jsonCard, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jsonHolder, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String": c.String(), "GoString": c.GoString(),
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c), "%q": fmt.Sprintf("%q", c), "%d": fmt.Sprintf("%d", c), "%x": fmt.Sprintf("%x", c),
		"ptr %v": fmt.Sprintf("%v", &c), "ptr %+v": fmt.Sprintf("%+v", &c),
		"holder %v": fmt.Sprintf("%v", holder), "holder %+v": fmt.Sprintf("%+v", holder),
		"holder %#v": fmt.Sprintf("%#v", holder), "Println": fmt.Sprintln(c, &c, holder),
		"error":     fmt.Errorf("charge %v: %w", c, errFake).Error(),
		"slog text": textLog.String(), "slog json": jsonLog.String(),
		"json": string(jsonCard), "json holder": string(jsonHolder),
	}
	for name, out := range outputs {
		if strings.Contains(out, "424242424242") || strings.Contains(out, "987") || strings.Contains(out, "CRYPTO") {
			t.Errorf("%s leaks the card: %s", name, out)
		}
		if !strings.Contains(out, "4242") {
			t.Errorf("%s lost the last four digits: %s", name, out)
		}
	}
}

var errFake = errors.New("declined")

func TestCardNumberValid(t *testing.T) {
	for number, want := range map[string]bool{
		"4242424242424242":     true,
		"4000000000003220":     true,
		"5555555555554444":     true,
		"4242424242424241":     false, // check digit
		"424242424246":         false, // 12 digits, bad check digit
		"424242424242":         true,  // 12 digits
		"4242424242424242428":  true,  // 19 digits
		"42424242424242424200": false, // 20 digits
		"4242-4242-4242-4242":  false,
		"":                     false,
	} {
		if got := CardNumberValid(number); got != want {
			t.Errorf("CardNumberValid(%q) = %v, want %v", number, got, want)
		}
	}
}
