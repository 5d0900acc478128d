package metrics

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

// touch gives every vector one series, so that collection sees every
// metric family.
func touch(m *Metrics) {
	m.HTTPRequests.WithLabelValues("/v1/payments", "POST", "201").Inc()
	m.HTTPDuration.WithLabelValues("/v1/payments", "POST").Observe(0.01)
	m.ProcessorDuration.WithLabelValues("mock", "authorize", "captured").Observe(0.002)
	m.Payments.WithLabelValues("mock", "captured", OtherMerchant).Inc()
	m.Declines.WithLabelValues("mock", "card_declined").Inc()
	m.PaymentAmount.WithLabelValues("mock", "usd", OtherMerchant).Add(2599)
	m.Fees.WithLabelValues("mock", "usd", "estimated").Add(105)
	m.FeeRate.WithLabelValues("mock").Observe(404)
	m.RoutingDecisions.WithLabelValues("priority", "mock", "selected").Inc()
	m.Failovers.WithLabelValues("a", "b", "not_processed").Inc()
	m.ProcessorUp.WithLabelValues("mock").Set(1)
	m.CircuitState.WithLabelValues("mock").Set(0)
	m.ConfigReloadSuccess.Set(1)
	m.PendingAttempts.Set(0)
	m.Reconciliations.WithLabelValues("mock", "resolved").Inc()
	m.IdempotentReplays.WithLabelValues("/v1/payments", "replayed").Inc()
	m.TokensIssued.WithLabelValues(OtherMerchant).Inc()
	m.TokensRefused.WithLabelValues(OtherMerchant, "risk_action").Inc()
	m.Webhooks.WithLabelValues("stripe_us", "accepted").Inc()
	m.UnknownDeclineCodes.WithLabelValues("stripe_us").Inc()
	m.ProcessorRetries.WithLabelValues("adyen_eu", "authorize", "in_progress").Inc()
	m.RateLimitBackendErrors.WithLabelValues("allowed").Inc()
	m.RateLimitBackendUp.Set(1)
	m.Build.WithLabelValues("dev", "go1.26").Set(1)
	m.EventsCreated.WithLabelValues("payment.captured").Inc()
	m.EventDeliveries.WithLabelValues(OtherMerchant, "delivered").Inc()
	m.EventDeliveryDuration.WithLabelValues(OtherMerchant).Observe(0.05)
	m.EventsGivenUp.WithLabelValues(OtherMerchant).Inc()
	m.EventBacklog.WithLabelValues(OtherMerchant).Set(3)
	m.EventBacklogAge.WithLabelValues(OtherMerchant).Set(42)
	m.AuthSessions.WithLabelValues("mock", "authenticated").Inc()
	m.AuthStepDuration.WithLabelValues("mock", "create").Observe(0.01)
}

func TestLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	touch(m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "acpgw_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestGolden pins every acpgw metric name, type and label set: they are a
// contract once shipped. Run with -update after a deliberate change.
func TestGolden(t *testing.T) {
	reg := prometheus.NewRegistry()
	touch(New(reg))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "acpgw_") {
			continue
		}
		var labels []string
		for _, l := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		sort.Strings(labels)
		lines = append(lines, mf.GetName()+" "+strings.ToLower(mf.GetType().String())+" {"+strings.Join(labels, ",")+"}")
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Fatalf("metrics changed:\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestMerchantLabels(t *testing.T) {
	l := MerchantLabels{"acme": true}
	if l.Label("acme") != "acme" || l.Label("tiny-shop") != OtherMerchant {
		t.Fatal("label policy")
	}
}
