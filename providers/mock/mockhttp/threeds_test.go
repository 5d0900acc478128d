package mockhttp_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
	"acpgw/threeds/mock3ds/mock3dstest"
)

// threeDSServer starts a Server whose mock serves its 3-D Secure pages at
// the Server's own address, as `acpgw mock-server` does, and returns a
// Client of it with the processor behind.
func threeDSServer(t *testing.T) (*mockhttp.Client, *mock.Provider) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	p := mock.New(mock.Config{Name: "mock", ThreeDS: mock3ds.Options{BaseURL: base + mockhttp.PathThreeDSPages}})
	srv.Config.Handler = mockhttp.NewServer(p)
	srv.Start()
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL), p
}

func threeDSSession(number, notify string) *threeds.Session {
	return &threeds.Session{
		ID: "as_1", MerchantID: "acme", Card: card(number), Amount: payment.Money{Amount: 2599, Currency: "usd"},
		ChallengeNotificationURL: notify, Browser: &threeds.Browser{UserAgent: "test"}, Status: threeds.StatusPending,
	}
}

// TestThreeDSOverHTTP plays whole flows through the Server's JSON API with
// the Client's Authenticator, the browser on the Server's pages, and pays
// with the result.
func TestThreeDSOverHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		number  string
		create  threeds.Status
		answers []string // nil: frictionless
		status  threeds.Status
		paid    payment.Status
	}{
		{"frictionless", "4242424242424242", threeds.StatusActionRequired, nil, threeds.StatusAuthenticated, payment.StatusCaptured},
		{"challenge passed", "4000000000003220", threeds.StatusActionRequired, []string{"1234"}, threeds.StatusAuthenticated, payment.StatusCaptured},
		{"wrong code three times", "4000000000003220", threeds.StatusActionRequired, []string{"0", "1", "2"}, threeds.StatusNotAuthenticated, payment.StatusDeclined},
		{"cancel", "5200000000003225", threeds.StatusActionRequired, []string{mock3dstest.Cancel}, threeds.StatusChallengeAbandoned, ""},
		{"no 3DS Method", "4000000000003006", threeds.StatusPending, nil, threeds.StatusAuthenticated, payment.StatusCaptured},
		{"rejected", "4000000000003048", threeds.StatusActionRequired, nil, threeds.StatusRejected, ""},
		{"not enrolled", "4000000000003014", threeds.StatusNotSupported, nil, threeds.StatusNotSupported, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := threeDSServer(t)
			var authn providers.Authenticating = c
			a := authn.Authenticator()
			b := mock3dstest.NewBrowser(t)
			ctx := t.Context()
			sess := threeDSSession(tc.number, b.Shop.ChallengeNotificationURL())

			step, err := a.Create(ctx, sess)
			if err != nil {
				t.Fatal(err)
			}
			if step.Status != tc.create {
				t.Fatalf("create: %s, want %s", step.Status, tc.create)
			}
			if step.Status == threeds.StatusNotSupported {
				return
			}
			sess.State, sess.Status = step.State, step.Status
			fp := threeds.FingerprintUnavailable
			if step.Action != nil {
				note, err := b.Fingerprint(ctx, *step.Action.Fingerprint)
				if err != nil || note.ServerTransID != step.Action.Fingerprint.ServerTransID {
					t.Fatalf("fingerprint: %+v, %v", note, err)
				}
				fp = threeds.FingerprintCompleted
			}
			if step, err = a.Authenticate(ctx, sess, fp); err != nil {
				t.Fatal(err)
			}
			if tc.answers != nil {
				if step.Action == nil || step.Action.Challenge == nil {
					t.Fatalf("authenticate: %+v, want a challenge", step)
				}
				ch := *step.Action.Challenge
				// Before the shopper acts, result answers the same challenge.
				if again, err := a.Result(ctx, sess); err != nil || again.Action == nil || *again.Action.Challenge != ch {
					t.Fatalf("result before the challenge: %+v, %v", again, err)
				}
				cres, err := b.Challenge(ctx, ch, tc.answers...)
				if err != nil || cres.ACSTransID != ch.ACSTransID {
					t.Fatalf("challenge: %+v, %v", cres, err)
				}
				if step, err = a.Result(ctx, sess); err != nil {
					t.Fatal(err)
				}
			}
			if step.Status != tc.status {
				t.Fatalf("final: %+v, want %s", step, tc.status)
			}
			if tc.paid == "" {
				return
			}
			req := authReq(tc.name)
			req.Instrument.Card = &sess.Card
			au := step.Result.Authentication()
			req.Authentication = &au
			res, err := c.Authorize(ctx, req)
			if err != nil || res.Status != tc.paid {
				t.Fatalf("payment: %+v, %v; want %s", res, err, tc.paid)
			}
		})
	}
}

// TestThreeDSErrors: failures to reach the Server, its 5xx and unreadable
// answers are threeds.ErrUnavailable; a session it refuses is a 400
// StatusError, not unavailable; no error shows the card number.
func TestThreeDSErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	answer := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	good, _ := threeDSServer(t)
	for _, tc := range []struct {
		name        string
		client      *mockhttp.Client
		state       []byte
		unavailable bool
		status      int
	}{
		{"connection refused", newClient(t, refused), nil, true, 0},
		{"500", newClient(t, answer(500, `{"code":"internal_error"}`)), nil, true, 500},
		{"502 not ours", newClient(t, answer(502, `<html>bad gateway</html>`)), nil, true, 502},
		{"200 garbled", newClient(t, answer(200, `{"status":`)), nil, true, 0},
		{"200 unknown status", newClient(t, answer(200, `{"status":"maybe"}`)), nil, true, 0},
		{"200 action without status", newClient(t, answer(200, `{"status":"authenticated","action":{"fingerprint":{}}}`)), nil, true, 0},
		{"200 two actions", newClient(t, answer(200, `{"status":"action_required","action":{"fingerprint":{},"challenge":{}}}`)), nil, true, 0},
		{"bad state", good, []byte(`{"x":1}`), false, 400},
	} {
		sess := threeDSSession("4000000000003220", "https://agent.test/n")
		sess.State = tc.state
		_, err := tc.client.Authenticator().Result(t.Context(), sess)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if errors.Is(err, threeds.ErrUnavailable) != tc.unavailable {
			t.Errorf("%s: %v; unavailable %v, want %v", tc.name, err, errors.Is(err, threeds.ErrUnavailable), tc.unavailable)
		}
		var se *mockhttp.StatusError
		if tc.status != 0 && (!errors.As(err, &se) || se.Status != tc.status) {
			t.Errorf("%s: %v, want a StatusError %d", tc.name, err, tc.status)
		}
		if strings.Contains(err.Error(), "4000000000003220") {
			t.Errorf("%s: the error shows the card number", tc.name)
		}
	}

	// A bad notification URL is refused, and the transaction can go on.
	sess := threeDSSession("4000000000003220", "javascript:alert(1)")
	a := good.Authenticator()
	step, err := a.Create(t.Context(), sess)
	if err != nil {
		t.Fatal(err)
	}
	sess.State = step.State
	var se *mockhttp.StatusError
	if _, err := a.Authenticate(t.Context(), sess, threeds.FingerprintCompleted); !errors.As(err, &se) || se.Code != "invalid_notification_url" {
		t.Fatalf("bad notification URL: %v", err)
	}
}
