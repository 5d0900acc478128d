package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/events/receiver"
)

// eventsSecret signs the deliveries of the clusters here; the mock-server's
// receiver verifies with it.
const eventsSecret = "whsec_e2e_events_0001"

// eventsCluster is a cluster whose merchant m sends its events (of types,
// all when empty) to the mock-server's verifying receiver, retried quickly.
func eventsCluster(t *testing.T, kind string, n int, types string, mockArgs ...string) *cluster {
	t.Helper()
	ev := `, events: {url: "MOCK_URL` + receiver.PathEvents + `", secret: ` + eventsSecret
	if types != "" {
		ev += ", types: " + types
	}
	return newClusterWith(t, kind, n, "", clusterOpts{
		mockArgs: append([]string{"--events-secret", eventsSecret}, mockArgs...),
		merchant: ev + "}",
		extra:    "events: {timeout: 2s, retry_initial: 200ms, retry_max: 1s, give_up_after: 1h, workers: 4}\n",
	})
}

// received returns what the receiver got.
func (c *cluster) received() []receiver.Delivery {
	c.t.Helper()
	got, err := receiver.Fetch(c.t.Context(), c.mockURL)
	if err != nil {
		c.t.Fatalf("receiver: %v", err)
	}
	return got
}

// control changes how the receiver answers.
func (c *cluster) control(ctl receiver.Control) {
	c.t.Helper()
	if err := receiver.Send(c.t.Context(), c.mockURL, ctl); err != nil {
		c.t.Fatal(err)
	}
}

// awaitDeliveries polls the receiver (another process) until done says its
// deliveries are complete, for at most within.
func (c *cluster) awaitDeliveries(within time.Duration, done func([]receiver.Delivery) bool) []receiver.Delivery {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := c.received()
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("deliveries not complete after %s; got %d: %+v", within, len(got), got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ofPayment(ds []receiver.Delivery, id string) []receiver.Delivery {
	var out []receiver.Delivery
	for _, d := range ds {
		if d.PaymentID == id {
			out = append(out, d)
		}
	}
	return out
}

func payment(t *testing.T, c *cluster, replica int, cs, capture string) string {
	t.Helper()
	body := payBody(c.delegate(cs), cs)
	body["capture"] = capture
	a := c.post(replica, "/v1/payments", "merchant-key", "pay-"+cs, body)
	if a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("payment %s: %v %d %v", cs, a.err, a.status, a.body)
	}
	return a.body["id"].(string)
}

// TestEventsEndToEnd, through the binary on the mock: a payment, its
// capture and a refund reach the merchant's receiver as three events in
// order, each signed; a receiver that answers 500 twice gets the same
// event id a third time; the events API and `acpgw events tail` show them.
func TestEventsEndToEnd(t *testing.T) {
	c := eventsCluster(t, "sqlite", 1, "[payment.authorized, payment.captured, refund.succeeded]")

	id := payment(t, c, 0, "cs_events_1", "manual")
	if a := c.post(0, "/v1/payments/"+id+"/capture", "merchant-key", "cap-"+id, map[string]any{}); a.status != http.StatusOK {
		t.Fatalf("capture: %v %d %v", a.err, a.status, a.body)
	}
	if a := c.post(0, "/v1/payments/"+id+"/refunds", "merchant-key", "ref-"+id, map[string]any{"amount": 500}); a.status != http.StatusCreated {
		t.Fatalf("refund: %v %d %v", a.err, a.status, a.body)
	}
	got := ofPayment(c.awaitDeliveries(30*time.Second, func(ds []receiver.Delivery) bool { return len(ofPayment(ds, id)) >= 3 }), id)
	var types, statuses []string
	for _, d := range got {
		types = append(types, d.Type)
		statuses = append(statuses, d.PaymentStatus)
		if !d.Verified || d.Status != http.StatusOK || d.Attempt != 1 || d.Signatures != 1 || !strings.HasPrefix(d.ID, "evt_") {
			t.Errorf("delivery %+v: want verified, answered 200, first attempt", d)
		}
	}
	if !slices.Equal(types, []string{"payment.authorized", "payment.captured", "refund.succeeded"}) ||
		!slices.Equal(statuses, []string{"authorized", "captured", "partially_refunded"}) {
		t.Fatalf("events %v with payment statuses %v", types, statuses)
	}

	// A receiver that fails twice gets the same event a third time.
	c.control(receiver.Control{FailNext: 2, Status: http.StatusInternalServerError})
	id2 := payment(t, c, 0, "cs_events_2", "automatic")
	got = ofPayment(c.awaitDeliveries(30*time.Second, func(ds []receiver.Delivery) bool {
		p := ofPayment(ds, id2)
		return len(p) > 0 && p[len(p)-1].Status == http.StatusOK
	}), id2)
	if len(got) != 3 {
		t.Fatalf("deliveries of the retried event: %+v", got)
	}
	for i, d := range got {
		want := http.StatusInternalServerError
		if i == 2 {
			want = http.StatusOK
		}
		if d.ID != got[0].ID || d.Attempt != i+1 || d.Status != want || !d.Verified {
			t.Errorf("attempt %d: %+v; want the same id, attempt %d, answered %d", i+1, d, i+1, want)
		}
	}

	// The events API shows the three attempts.
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.addrs[0]+"/v1/events/"+got[0].ID, nil)
	req.Header.Set("Authorization", "Bearer merchant-key")
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Delivery struct {
			Status   string `json:"status"`
			Attempts int    `json:"attempts"`
		} `json:"delivery"`
		Attempts []struct {
			StatusCode *int `json:"status_code"`
		} `json:"attempts"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ev)
	resp.Body.Close()
	if err != nil || ev.Delivery.Status != "delivered" || ev.Delivery.Attempts != 3 || len(ev.Attempts) != 3 || *ev.Attempts[0].StatusCode != 500 {
		t.Fatalf("GET /v1/events/%s: %v %+v", got[0].ID, err, ev)
	}

	// An operator's view of the same.
	out, err := exec.Command(c.bin, "events", "tail", "--config", c.cfg, "--merchant", "m", "--follow=false").CombinedOutput()
	if err != nil {
		t.Fatalf("events tail: %v %s", err, out)
	}
	lines := 0
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); lines++ {
		if !strings.Contains(sc.Text(), "delivered") {
			t.Errorf("events tail line %q: want every event delivered", sc.Text())
		}
	}
	if lines != 4 || !bytes.Contains(out, []byte(got[0].ID)) {
		t.Errorf("events tail printed %d lines, want 4:\n%s", lines, out)
	}
	c.noCardData()
}

// TestEventsSurviveKill9: events written while the merchant's endpoint is
// down, acpgw killed -9 with them undelivered and started again, the
// endpoint back: every event arrives, and no change arrives under two
// different event ids.
func TestEventsSurviveKill9(t *testing.T) {
	c := eventsCluster(t, "sqlite", 1, "[payment.captured, payment.fee_settled]")
	down, up := true, false
	c.control(receiver.Control{Down: &down})
	const n = 20
	var ids []string
	for i := range n {
		ids = append(ids, payment(t, c, 0, fmt.Sprintf("cs_kill_%d", i), "automatic"))
	}
	// Attempts are being made (and refused) when the process dies.
	c.awaitDeliveries(30*time.Second, func(ds []receiver.Delivery) bool { return len(ds) >= n })
	c.kill(0)
	c.start(0)
	c.control(receiver.Control{Down: &up})

	byPayment := map[string]map[string]map[string]bool{} // payment -> type -> event ids delivered
	c.awaitDeliveries(90*time.Second, func(ds []receiver.Delivery) bool {
		byPayment = map[string]map[string]map[string]bool{}
		for _, d := range ds {
			if d.Status != http.StatusOK {
				continue
			}
			if byPayment[d.PaymentID] == nil {
				byPayment[d.PaymentID] = map[string]map[string]bool{}
			}
			if byPayment[d.PaymentID][d.Type] == nil {
				byPayment[d.PaymentID][d.Type] = map[string]bool{}
			}
			byPayment[d.PaymentID][d.Type][d.ID] = true
		}
		for _, id := range ids {
			if len(byPayment[id]) < 2 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		for typ, evs := range byPayment[id] {
			if len(evs) != 1 {
				t.Errorf("payment %s: %s arrived under %d event ids %v", id, typ, len(evs), evs)
			}
		}
	}
	for _, d := range c.received() {
		if !d.Verified {
			t.Errorf("unverified delivery %+v", d)
		}
	}
	// The store agrees: every event written is delivered, none invented.
	var written, delivered int
	if err := c.db().QueryRow(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) FROM outbox_events`).Scan(&written, &delivered); err != nil {
		t.Fatal(err)
	}
	if written != 2*n || delivered != 2*n {
		t.Errorf("outbox: %d written, %d delivered; want %d and %d", written, delivered, 2*n, 2*n)
	}
}

// TestEventsTwoReplicasPostgres: two replicas on one PostgreSQL, 500
// payments spread over both: every event is delivered, none by both
// replicas at the same time, each payment's in order.
func TestEventsTwoReplicasPostgres(t *testing.T) {
	c := eventsCluster(t, "postgres", 2, "", "--events-hold", "5ms")
	const n = 500
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ids[i] = payment(t, c, i%2, fmt.Sprintf("cs_pg_%d", i), "automatic")
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Every payment captures with its fee: payment.captured then
	// payment.fee_settled.
	got := c.awaitDeliveries(2*time.Minute, func(ds []receiver.Delivery) bool {
		ok := map[string]bool{}
		for _, d := range ds {
			if d.Status == http.StatusOK {
				ok[d.ID] = true
			}
		}
		return len(ok) >= 2*n
	})
	seen := map[string]int{}
	order := map[string][]string{}
	for _, d := range got {
		if d.Overlapped {
			t.Errorf("event %s was being received twice at once", d.ID)
		}
		if !d.Verified || d.Status != http.StatusOK {
			t.Errorf("delivery %+v", d)
		}
		seen[d.ID]++
		if seen[d.ID] == 1 {
			order[d.PaymentID] = append(order[d.PaymentID], d.Type)
		}
	}
	dups := 0
	for _, k := range seen {
		dups += k - 1
	}
	t.Logf("%d events delivered, %d deliveries repeated (at least once allows them after a lost answer)", len(seen), dups)
	for _, id := range ids {
		if !slices.Equal(order[id], []string{"payment.captured", "payment.fee_settled"}) {
			t.Errorf("payment %s: events %v, want payment.captured then payment.fee_settled", id, order[id])
		}
	}
}
