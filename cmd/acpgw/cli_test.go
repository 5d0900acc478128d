package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCmd runs a command line and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// runStopped runs a command line whose context is already cancelled, so
// that a command which wrongly starts serving stops at once.
func runStopped(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestStrayArguments: every command refuses positional arguments it does
// not take, so `acpgw serve my.yaml` (a forgotten --config) cannot start
// the demo with its well-known keys. The list comes from the usage table,
// so a new command is covered when it is listed.
func TestStrayArguments(t *testing.T) {
	for _, c := range commands {
		args := append(strings.Fields(c.name), "stray.yaml")
		if c.name == "fees import-adyen" { // takes one REPORT.csv
			args = append(args, "second.csv")
		}
		t.Run(c.name, func(t *testing.T) {
			code, out, errb := runStopped(t, args...)
			if code != 2 {
				t.Fatalf("%q: exit %d, want 2\nstdout %s\nstderr %s", args, code, out, errb)
			}
			if !strings.Contains(errb, "stray.yaml") || !strings.Contains(errb, "usage: acpgw "+c.name) {
				t.Errorf("%q: stderr does not name the argument and the usage:\n%s", args, errb)
			}
		})
	}
	_, _, errb := runStopped(t, "serve", "my.yaml")
	if !strings.Contains(errb, "did you mean --config my.yaml?") {
		t.Errorf("serve my.yaml: no hint at --config:\n%s", errb)
	}
}

// TestHelp: groups and commands print their usage to stdout and exit 0 when
// asked; mistakes print to stderr and exit 2.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		// want is in stdout when code is 0, in stderr otherwise.
		want []string
	}{
		{[]string{"--help"}, 0, []string{"usage: acpgw <command>", "fees report", "serve"}},
		{[]string{"fees", "--help"}, 0, []string{"usage: acpgw fees <command>", "fees report", "fees import-adyen"}},
		{[]string{"fees", "-h"}, 0, []string{"fees report"}},
		{[]string{"route", "--help"}, 0, []string{"route explain"}},
		{[]string{"config", "--help"}, 0, []string{"config check"}},
		{[]string{"serve", "--help"}, 0, []string{"usage: acpgw serve", "-listen", "-debug-listen"}},
		{[]string{"fees", "report", "-h"}, 0, []string{"usage: acpgw fees report", "-group-by"}},
		{[]string{"fees"}, 2, []string{"usage: acpgw fees <command>"}},
		{[]string{"fees", "bogus"}, 2, []string{`unknown fees command "bogus"`, "fees report"}},
		{[]string{"config", "lint"}, 2, []string{`unknown config command "lint"`}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
	} {
		code, out, errb := runStopped(t, tc.args...)
		where := errb
		if tc.code == 0 {
			where = out
			if errb != "" {
				t.Errorf("%q: stderr %q, want nothing", tc.args, errb)
			}
		}
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d", tc.args, code, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(where, w) {
				t.Errorf("%q: %q missing from\n%s", tc.args, w, where)
			}
		}
	}
}

// TestErrorsPrintOnce: a bad flag is reported once (by the flag parser,
// with the usage), not again by run.
func TestErrorsPrintOnce(t *testing.T) {
	code, _, errb := runStopped(t, "serve", "--bogus")
	if code != 2 || strings.Count(errb, "flag provided but not defined: -bogus") != 1 {
		t.Errorf("exit %d, stderr:\n%s", code, errb)
	}
	code, _, errb = runCmd(t, "config", "check", "--config", filepath.Join(t.TempDir(), "none.yaml"))
	if code != 1 || strings.Count(errb, "none.yaml") != 1 {
		t.Errorf("exit %d, stderr:\n%s", code, errb)
	}
}

func TestRouteExplainInputs(t *testing.T) {
	base := []string{"route", "explain", "--config", "testdata/routing.yaml", "--merchant", "acme", "--amount", "4500"}
	code, out, errb := runCmd(t, append(base, "--currency", "EUR", "--card-country", "de", "--json")...)
	if code != 0 || !strings.Contains(out, `"rule": "eur-to-adyen"`) {
		t.Fatalf("--currency EUR: exit %d\n%s%s", code, out, errb)
	}
	for _, bad := range [][]string{
		{"--currency", "eur", "--card-country", "germany"},
		{"--currency", "eur", "--card-country", "D1"},
		{"--currency", "euro"},
	} {
		code, _, errb := runCmd(t, append(base, bad...)...)
		if code != 2 || !strings.Contains(errb, bad[len(bad)-1]) {
			t.Errorf("%q: exit %d, stderr:\n%s", bad, code, errb)
		}
	}
}

func TestSimulateErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, csv, want string
	}{
		// The blank line is skipped by the CSV reader; the line number
		// still counts it.
		{"unknown.csv", "merchant,amount,currency\nacme,100,usd\n\nnobody,100,usd\n", `unknown.csv:4: merchant "nobody"`},
		{"empty.csv", "", "empty.csv: the file is empty"},
		{"header.csv", "merchant,amount,currency,card_country,brand\n", "header.csv: no rows"},
		{"country.csv", "merchant,amount,currency,card_country\nacme,100,usd,germany\n", "country.csv:2: card_country"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.csv), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errb := runCmd(t, "simulate", "--config", "testdata/routing.yaml", "--traffic", path)
		if code != 1 || !strings.Contains(errb, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", tc.name, code, errb, tc.want)
		}
	}
	// Upper-case currencies are read as their lower-case codes.
	ok := filepath.Join(dir, "upper.csv")
	if err := os.WriteFile(ok, []byte("merchant,amount,currency\nacme,100,USD\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errb := runCmd(t, "simulate", "--config", "testdata/routing.yaml", "--traffic", ok); code != 0 || !strings.Contains(out, "1 payments") {
		t.Errorf("upper-case currency: exit %d\n%s%s", code, out, errb)
	}
}

// TestLogDurations: durations in log lines read as durations, not
// nanoseconds.
func TestLogDurations(t *testing.T) {
	var b bytes.Buffer
	newLogger(&b).Info("shutting down", slog.Duration("grace", 15*time.Second), slog.Group("g", slog.Duration("wait", 250*time.Millisecond)))
	if !strings.Contains(b.String(), `"grace":"15s"`) || !strings.Contains(b.String(), `"wait":"250ms"`) {
		t.Errorf("log line %s", b.String())
	}
}

// TestDemoDefault: commands that read the store use the embedded demo config
// when --config is absent, as serve does (./data in the current folder),
// and the demo has a fee report reader.
func TestDemoDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, out, errb := runCmd(t, "migrate"); code != 0 || !strings.Contains(out, "sqlite store") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errb)
	}
	if _, err := os.Stat(filepath.Join("data", "acpgw.db")); err != nil {
		t.Fatalf("migrate without --config did not use the demo store: %v", err)
	}
	code, out, errb := runCmd(t, "fees", "report")
	if code != 0 || !strings.HasPrefix(out, "from,to,processor") {
		t.Fatalf("fees report: exit %d\n%s%s", code, out, errb)
	}

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var logs, errs bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--listen", addr}, &logs, &errs) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errs.String())
		}
		if !strings.Contains(logs.String(), "demo-reports-key") {
			t.Errorf("the start-up line does not print the report reader's key:\n%s", logs.String())
		}
	}()
	waitReady(t, "http://"+addr)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/reports/fees?format=csv", nil)
	req.Header.Set("Authorization", "Bearer demo-reports-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("fee report with the demo reader key: %d", resp.StatusCode)
	}
}
