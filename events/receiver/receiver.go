// Package receiver is a merchant's events endpoint for demos and tests: it
// verifies each delivery's Acpgw-Signature, keeps what it received, and
// can be told to fail, so that acpgw's retries can be watched. `acpgw
// mock-server --events-secret S` serves it beside the mock processor.
//
// Routes (under the same listener):
//
//	POST PathEvents           a delivery: 200, 400 when the signature does not verify,
//	                          or the status the control asked for
//	GET  PathEvents           every delivery received, oldest first (JSON)
//	POST PathControl          {"fail_next": N, "status": 500} answers the next N deliveries
//	                          with status; {"down": true} answers 503 until {"down": false}
package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"acpgw/events"
)

// The receiver's paths.
const (
	PathEvents  = "/merchant/events"
	PathControl = "/merchant/events/control"
)

// maxBody bounds a delivery's body.
const maxBody = 1 << 20

// Delivery is one POST the receiver got.
type Delivery struct {
	// ID, Type, PaymentID and PaymentStatus come from the body; Attempt
	// from the Acpgw-Delivery-Attempt header.
	ID            string `json:"id"`
	Type          string `json:"type"`
	PaymentID     string `json:"payment_id"`
	PaymentStatus string `json:"payment_status"`
	Attempt       int    `json:"attempt"`
	// Verified: the signature verified with one of the receiver's secrets.
	Verified bool `json:"verified"`
	// SignatureError says why it did not.
	SignatureError string `json:"signature_error,omitempty"`
	// Signatures is how many v1 values the header carried.
	Signatures int `json:"signatures"`
	// Status is what the receiver answered.
	Status int `json:"status"`
	// Overlapped: another delivery of the same event id was being received
	// when this one arrived (two senders at once).
	Overlapped bool      `json:"overlapped"`
	ReceivedAt time.Time `json:"received_at"`
}

// Control changes how the receiver answers.
type Control struct {
	// FailNext answers the next FailNext deliveries with Status (500 when
	// 0), after verifying them.
	FailNext int `json:"fail_next"`
	Status   int `json:"status"`
	// Down, when set, answers 503 to every delivery until set false.
	Down *bool `json:"down,omitempty"`
}

// Options configures a Receiver.
type Options struct {
	// Secrets verify signatures; any of them may match (a rotation).
	Secrets []string
	// Now is the receiver's clock; time.Now when nil.
	Now func() time.Time
	// Tolerance is events.DefaultTolerance when 0.
	Tolerance time.Duration
	// Hold, when set, is called with each delivery's event id before it is
	// answered, so a test can hold deliveries in flight.
	Hold func(id string)
}

// Receiver is an http.Handler of the routes above. It is safe for
// concurrent use.
type Receiver struct {
	o        Options
	mux      *http.ServeMux
	mu       sync.Mutex
	got      []Delivery
	inFlight map[string]int
	failNext int
	status   int
	down     bool
}

// New returns a Receiver.
func New(o Options) *Receiver {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Receiver{o: o, mux: http.NewServeMux(), inFlight: map[string]int{}}
	r.mux.HandleFunc("POST "+PathEvents, r.receive)
	r.mux.HandleFunc("GET "+PathEvents, r.list)
	r.mux.HandleFunc("POST "+PathControl, r.control)
	return r
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// Deliveries returns what was received so far, oldest first.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Set applies c.
func (r *Receiver) Set(c Control) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNext, r.status = c.FailNext, c.Status
	if r.status == 0 {
		r.status = http.StatusInternalServerError
	}
	if c.Down != nil {
		r.down = *c.Down
	}
}

func (r *Receiver) receive(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	d := Delivery{ReceivedAt: r.o.Now().UTC(), Signatures: bytes.Count([]byte(req.Header.Get(events.SignatureHeader)), []byte("v1="))}
	d.Attempt, _ = strconv.Atoi(req.Header.Get("Acpgw-Delivery-Attempt"))
	var b struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Payment struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"payment"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &b); err == nil {
		d.ID, d.Type, d.PaymentID, d.PaymentStatus = b.ID, b.Type, b.Data.Payment.ID, b.Data.Payment.Status
	}
	if err := events.Verify(req.Header.Get(events.SignatureHeader), raw, r.o.Now(), r.o.Tolerance, r.o.Secrets...); err != nil {
		d.SignatureError = err.Error()
	} else {
		d.Verified = true
	}

	r.mu.Lock()
	d.Overlapped = r.inFlight[d.ID] > 0
	r.inFlight[d.ID]++
	switch {
	case !d.Verified:
		d.Status = http.StatusBadRequest
	case r.down:
		d.Status = http.StatusServiceUnavailable
	case r.failNext > 0:
		r.failNext--
		d.Status = r.status
	default:
		d.Status = http.StatusOK
	}
	r.mu.Unlock()

	if r.o.Hold != nil {
		r.o.Hold(d.ID)
	}

	r.mu.Lock()
	r.inFlight[d.ID]--
	r.got = append(r.got, d)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(d.Status)
	fmt.Fprintf(w, `{"received":%q}`, d.ID)
}

func (r *Receiver) list(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(r.Deliveries())
}

func (r *Receiver) control(w http.ResponseWriter, req *http.Request) {
	var c Control
	if err := json.NewDecoder(io.LimitReader(req.Body, 4096)).Decode(&c); err != nil {
		http.Error(w, "want {\"fail_next\": N, \"status\": S} or {\"down\": true|false}", http.StatusBadRequest)
		return
	}
	r.Set(c)
	w.WriteHeader(http.StatusNoContent)
}

// Fetch returns the deliveries the receiver at baseURL (http://host:port)
// got.
func Fetch(ctx context.Context, baseURL string) ([]Delivery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+PathEvents, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("receiver: GET %s: %s", PathEvents, resp.Status)
	}
	var out []Delivery
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// Send applies c at the receiver at baseURL.
func Send(ctx context.Context, baseURL string, c Control) error {
	body, _ := json.Marshal(c)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+PathControl, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("receiver: POST %s: %s", PathControl, resp.Status)
	}
	return nil
}
