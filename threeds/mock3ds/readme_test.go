package mock3ds_test

import (
	"os"
	"strings"
	"testing"

	"acpgw/threeds/mock3ds"
)

// TestREADMECards: the README's 3-D Secure test card table is the card
// table, row for row.
func TestREADMECards(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "### The mock's 3-D Secure test cards\n")
	if !ok {
		t.Fatal("the README has no section on the mock's 3-D Secure test cards")
	}
	section, _, _ = strings.Cut(section, "\n#")
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| card number") && !strings.HasPrefix(line, "| ---") {
			rows = append(rows, line)
		}
	}
	cards := mock3ds.Cards()
	if len(rows) != len(cards) {
		t.Fatalf("the README lists %d cards, the table has %d", len(rows), len(cards))
	}
	for i, c := range cards {
		if want := "| " + c.Number + " | " + c.Meaning + " |"; rows[i] != want {
			t.Errorf("README row %d:\n%s\nwant\n%s", i+1, rows[i], want)
		}
	}
}
