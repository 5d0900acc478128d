package mock3ds_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"acpgw/payment"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 4, 17, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	testBase   = "https://acs.test/mock/3ds"
	notifyURL  = "https://agent.test/3ds/challenge"
	methodNote = "https://agent.test/3ds/method"
)

func newServer(t *testing.T) (*mock3ds.Server, *clock) {
	t.Helper()
	c := newClock()
	o := mock3ds.Options{BaseURL: testBase, Now: c.Now}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return mock3ds.New(o), c
}

func session(number string) *threeds.Session {
	return &threeds.Session{
		ID: "as_test", MerchantID: "acme",
		Card:   payment.Card{Number: number, ExpMonth: 12, ExpYear: 2030},
		Amount: payment.Money{Amount: 2599, Currency: "usd"},
		Status: threeds.StatusPending, ChallengeNotificationURL: notifyURL,
		Browser: &threeds.Browser{AcceptHeader: "text/html", IPAddress: "192.0.2.1", Language: "en", UserAgent: "test"},
	}
}

// create runs Create and keeps its state in sess, as acpgw does.
func create(t *testing.T, s *mock3ds.Server, sess *threeds.Session) threeds.Step {
	t.Helper()
	step, err := s.Create(t.Context(), sess)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	keep(sess, step)
	return step
}

func keep(sess *threeds.Session, step threeds.Step) {
	if step.State != nil {
		sess.State = step.State
	}
	sess.Status = step.Status
}

func authenticate(t *testing.T, s *mock3ds.Server, sess *threeds.Session, fp threeds.FingerprintCompletion) threeds.Step {
	t.Helper()
	step, err := s.Authenticate(t.Context(), sess, fp)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	keep(sess, step)
	return step
}

func result(t *testing.T, s *mock3ds.Server, sess *threeds.Session) threeds.Step {
	t.Helper()
	step, err := s.Result(t.Context(), sess)
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	return step
}

// post submits a form to the handler in process and returns the answer.
func post(s http.Handler, path string, fields url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(fields.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func openChallenge(t *testing.T, s *mock3ds.Server, ch *threeds.Challenge) {
	t.Helper()
	creq := mock3ds.CReq{ServerTransID: ch.ServerTransID, ACSTransID: ch.ACSTransID, MessageVersion: ch.MessageVersion,
		MessageType: "CReq", ChallengeWindowSize: "05"}
	if w := post(s, mock3ds.PathChallenge, url.Values{mock3ds.FieldCReq: {creq.Encode()}}); w.Code != http.StatusOK {
		t.Fatalf("creq: %d %s", w.Code, w.Body)
	}
}

func answer(t *testing.T, s *mock3ds.Server, ch *threeds.Challenge, action, code string) string {
	t.Helper()
	w := post(s, mock3ds.PathChallengeAnswer, url.Values{
		mock3ds.FieldACSTransID: {ch.ACSTransID}, mock3ds.FieldAction: {action}, mock3ds.FieldCode: {code},
	})
	if w.Code != http.StatusOK {
		t.Fatalf("answer: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

func TestCardTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	flows := map[mock3ds.Flow]bool{}
	for _, c := range mock3ds.Cards() {
		if seen[c.Number] {
			t.Errorf("%s listed twice", c.Number)
		}
		seen[c.Number] = true
		flows[c.Flow] = true
		if !payment.CardNumberValid(c.Number) {
			t.Errorf("%s is not a valid card number (length, Luhn check)", c.Number)
		}
		if got := mock3ds.LookupCard(c.Number); got != c {
			t.Errorf("LookupCard(%s) = %+v, want the table's %+v", c.Number, got, c)
		}
		wantBrand := "visa"
		if c.Number[0] == '5' || c.Number[0] == '2' {
			wantBrand = "mastercard"
		}
		if c.Brand != wantBrand {
			t.Errorf("%s: brand %q, want %q", c.Number, c.Brand, wantBrand)
		}
		if (c.Flow == mock3ds.FlowFrictionless) != (c.TransStatus != "") {
			t.Errorf("%s: trans status %q with flow %s", c.Number, c.TransStatus, c.Flow)
		}
		if c.Meaning == "" {
			t.Errorf("%s has no meaning", c.Number)
		}
	}
	for _, f := range []mock3ds.Flow{mock3ds.FlowNotEnrolled, mock3ds.FlowFrictionless, mock3ds.FlowChallenge, mock3ds.FlowAbandoned} {
		if !flows[f] {
			t.Errorf("no card has flow %s", f)
		}
	}
	cards := mock3ds.Cards()
	cards[0].Number = "changed"
	if mock3ds.Cards()[0].Number == "changed" {
		t.Error("Cards returns the table itself, not a copy")
	}
	// Numbers not in the table: any Luhn-valid one authenticates after a
	// fingerprint, anything else is not enrolled.
	if c := mock3ds.LookupCard("4111111111111111"); c.Flow != mock3ds.FlowFrictionless || c.TransStatus != "Y" || !c.Method || c.Brand != "visa" {
		t.Errorf("unlisted Visa: %+v", c)
	}
	if c := mock3ds.LookupCard("2223003122003222"); c.Brand != "mastercard" {
		t.Errorf("2-series Mastercard: %+v", c)
	}
	if c := mock3ds.LookupCard("4242424242424241"); c.Flow != mock3ds.FlowNotEnrolled {
		t.Errorf("a number failing Luhn: %+v", c)
	}
}

// TestFrictionless follows every card whose authentication ends at
// authenticate through Create, Authenticate and Result.
func TestFrictionless(t *testing.T) {
	t.Parallel()
	cases := []struct {
		number     string
		method     bool
		status     threeds.Status
		eci        string
		cryptogram bool
		reason     string
		outcome    payment.AuthenticationOutcome
	}{
		{"4242424242424242", true, threeds.StatusAuthenticated, "05", true, "", payment.AuthAuthenticated},
		{"5555555555554444", true, threeds.StatusAuthenticated, "02", true, "", payment.AuthAuthenticated},
		{"4000000000003006", false, threeds.StatusAuthenticated, "05", true, "", payment.AuthAuthenticated},
		{"4000000000003022", true, threeds.StatusAttempted, "06", true, "", payment.AuthAttemptAcknowledged},
		{"4000000000003030", true, threeds.StatusNotAuthenticated, "07", false, "01", payment.AuthDenied},
		{"4000000000003048", true, threeds.StatusRejected, "07", false, "11", payment.AuthRejected},
		{"4000000000003071", true, threeds.StatusUnavailable, "07", false, "14", payment.AuthInternalError},
		{"4111111111111111", true, threeds.StatusAuthenticated, "05", true, "", payment.AuthAuthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.number, func(t *testing.T) {
			t.Parallel()
			s, _ := newServer(t)
			sess := session(tc.number)
			step := create(t, s, sess)
			if strings.Contains(string(step.State), tc.number) {
				t.Fatal("the state holds the card number")
			}
			fp := threeds.FingerprintUnavailable
			if tc.method {
				if step.Status != threeds.StatusActionRequired || step.Action == nil || step.Action.Fingerprint == nil {
					t.Fatalf("create: %+v, want a fingerprint", step)
				}
				f := step.Action.Fingerprint
				if f.MethodURL != testBase+mock3ds.PathMethod || uuid.Validate(f.ServerTransID) != nil {
					t.Fatalf("fingerprint %+v", f)
				}
				fp = threeds.FingerprintCompleted
			} else if step.Status != threeds.StatusPending || step.Action != nil {
				t.Fatalf("create: %+v, want pending", step)
			}

			step = authenticate(t, s, sess, fp)
			if step.Status != tc.status || step.Action != nil || step.Result == nil {
				t.Fatalf("authenticate: %+v, want %s with a result", step, tc.status)
			}
			r := *step.Result
			if r.ECI != tc.eci || r.TransStatusReason != tc.reason || r.Version != mock3ds.MessageVersion {
				t.Errorf("result %+v: want ECI %s reason %q", r, tc.eci, tc.reason)
			}
			if uuid.Validate(r.TransactionID) != nil || uuid.Validate(r.ServerTransID) != nil {
				t.Errorf("result ids %q %q are not UUIDs", r.TransactionID, r.ServerTransID)
			}
			if tc.cryptogram != (r.Cryptogram != "") {
				t.Errorf("cryptogram present %v, want %v", r.Cryptogram != "", tc.cryptogram)
			}
			if r.Cryptogram != "" {
				if raw, err := base64.StdEncoding.DecodeString(r.Cryptogram); err != nil || len(raw) != 20 {
					t.Errorf("cryptogram is not base64 of 20 bytes")
				}
			}
			if a := r.Authentication(); a.Outcome != tc.outcome {
				t.Errorf("authentication outcome %s, want %s", a.Outcome, tc.outcome)
			}

			again := result(t, s, sess)
			if again.Status != tc.status || again.Result == nil || *again.Result != r {
				t.Errorf("result after the end: %+v, want the same %s", again, tc.status)
			}
			// A repeated authenticate changes nothing.
			if rep := authenticate(t, s, sess, fp); rep.Status != tc.status || *rep.Result != r {
				t.Errorf("repeated authenticate: %+v", rep)
			}
		})
	}
}

func TestNotEnrolled(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	for _, n := range []string{"4000000000003014", "4242424242424241", "", "not a number"} {
		step, err := s.Create(t.Context(), session(n))
		if err != nil || step.Status != threeds.StatusNotSupported || step.Action != nil || step.Result != nil {
			t.Errorf("create %q: %+v, %v; want not_supported", n, step, err)
		}
	}
}

// challenge takes a challenge card through create and authenticate and
// returns the challenge.
func challenge(t *testing.T, s *mock3ds.Server, sess *threeds.Session) *threeds.Challenge {
	t.Helper()
	create(t, s, sess)
	step := authenticate(t, s, sess, threeds.FingerprintCompleted)
	if step.Status != threeds.StatusActionRequired || step.Action == nil || step.Action.Challenge == nil {
		t.Fatalf("authenticate: %+v, want a challenge", step)
	}
	ch := step.Action.Challenge
	if ch.ACSURL != testBase+mock3ds.PathChallenge || uuid.Validate(ch.ACSTransID) != nil ||
		uuid.Validate(ch.ServerTransID) != nil || ch.MessageVersion != mock3ds.MessageVersion {
		t.Fatalf("challenge %+v", ch)
	}
	// Until the shopper finishes, result answers the same challenge, and
	// so does a repeated authenticate.
	for _, again := range []threeds.Step{result(t, s, sess), authenticate(t, s, sess, threeds.FingerprintCompleted)} {
		if again.Status != threeds.StatusActionRequired || again.Action == nil || again.Action.Challenge == nil ||
			*again.Action.Challenge != *ch {
			t.Fatalf("before the end: %+v, want the same challenge", again)
		}
	}
	return ch
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		number  string
		answers [][2]string // action, code
		status  threeds.Status
		eci     string
		tries   int
		cancel  string
	}{
		{"visa right code", "4000000000003220", [][2]string{{"submit", "1234"}}, threeds.StatusAuthenticated, "05", 1, ""},
		{"mastercard right code", "5200000000003225", [][2]string{{"", "1234"}}, threeds.StatusAuthenticated, "02", 1, ""},
		{"wrong then right", "4000000000003220", [][2]string{{"submit", "0000"}, {"submit", "1234"}}, threeds.StatusAuthenticated, "05", 2, ""},
		{"three wrong codes", "4000000000003220", [][2]string{{"submit", "1"}, {"submit", "2"}, {"submit", "3"}}, threeds.StatusNotAuthenticated, "07", 3, ""},
		{"cancel", "4000000000003220", [][2]string{{"cancel", ""}}, threeds.StatusChallengeAbandoned, "", 0, mock3ds.CancelByCardholder},
		{"cancel after a wrong code", "5200000000003225", [][2]string{{"submit", "9"}, {"cancel", "1234"}}, threeds.StatusChallengeAbandoned, "", 1, mock3ds.CancelByCardholder},
		{"mandated challenge on a frictionless card", "4242424242424242", [][2]string{{"submit", "1234"}}, threeds.StatusAuthenticated, "05", 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newServer(t)
			sess := session(tc.number)
			sess.Flow = &threeds.Flow{Type: "challenge", Challenge: "mandated"}
			ch := challenge(t, s, sess)
			openChallenge(t, s, ch)
			for _, a := range tc.answers {
				answer(t, s, ch, a[0], a[1])
			}
			step := result(t, s, sess)
			if step.Status != tc.status || step.Action != nil {
				t.Fatalf("result: %+v, want %s", step, tc.status)
			}
			tx, ok := s.Transaction(ch.ServerTransID)
			if !ok || tx.Tries != tc.tries || tx.ChallengeCancel != tc.cancel || !tx.ChallengeOpened || tx.Status != tc.status {
				t.Errorf("transaction %+v, ok %v", tx, ok)
			}
			if tc.status == threeds.StatusChallengeAbandoned {
				if step.Result != nil {
					t.Errorf("an abandoned challenge has a result: %v", step.Result)
				}
				return
			}
			if step.Result == nil || step.Result.ECI != tc.eci || step.Result.ServerTransID != ch.ServerTransID {
				t.Fatalf("result %v, want ECI %s", step.Result, tc.eci)
			}
			if tc.status == threeds.StatusAuthenticated {
				a := step.Result.Authentication()
				if !a.Info().Chargeable || !a.SendsData() || a.Outcome != payment.AuthAuthenticated {
					t.Errorf("authentication %v is not a chargeable authenticated result with data", a)
				}
			}
			// Answers after the end change nothing.
			answer(t, s, ch, "submit", "1234")
			if again := result(t, s, sess); again.Status != tc.status {
				t.Errorf("after a late answer: %s, want %s", again.Status, tc.status)
			}
		})
	}
}

// TestMandatedChallengeKeepsIssuerDecisions: only a frictionless
// authentication becomes a challenge; the issuer's other answers stand.
func TestMandatedChallengeKeepsIssuerDecisions(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	for number, want := range map[string]threeds.Status{
		"4000000000003030": threeds.StatusNotAuthenticated,
		"4000000000003048": threeds.StatusRejected,
		"4000000000003022": threeds.StatusAttempted,
	} {
		sess := session(number)
		sess.Flow = &threeds.Flow{Type: "challenge", Challenge: "mandated"}
		create(t, s, sess)
		if step := authenticate(t, s, sess, threeds.FingerprintCompleted); step.Status != want {
			t.Errorf("%s mandated: %s, want %s", number, step.Status, want)
		}
	}
	// A preferred challenge is a wish the mock's issuer ignores.
	sess := session("4242424242424242")
	sess.Flow = &threeds.Flow{Type: "challenge", Challenge: "preferred"}
	create(t, s, sess)
	if step := authenticate(t, s, sess, threeds.FingerprintCompleted); step.Status != threeds.StatusAuthenticated {
		t.Errorf("4242 preferred: %s, want authenticated", step.Status)
	}
}

func TestAbandonedCard(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	sess := session("4000000000003089")
	create(t, s, sess)
	step := authenticate(t, s, sess, threeds.FingerprintCompleted)
	if step.Status != threeds.StatusActionRequired || step.Action == nil || step.Action.Challenge == nil {
		t.Fatalf("authenticate: %+v, want a challenge", step)
	}
	got := result(t, s, sess)
	if got.Status != threeds.StatusChallengeAbandoned || got.Result != nil {
		t.Fatalf("result: %+v, want challenge_abandoned", got)
	}
	if tx, _ := s.Transaction(step.Action.Challenge.ServerTransID); tx.ChallengeCancel != mock3ds.CancelNoCReq {
		t.Errorf("challengeCancel %q, want %q", tx.ChallengeCancel, mock3ds.CancelNoCReq)
	}
}

func TestChallengeTimeout(t *testing.T) {
	t.Parallel()
	for _, opened := range []bool{false, true} {
		s, clk := newServer(t)
		sess := session("4000000000003220")
		ch := challenge(t, s, sess)
		if opened {
			openChallenge(t, s, ch)
		}
		clk.Advance(mock3ds.DefaultChallengeTimeout - time.Second)
		if step := result(t, s, sess); step.Status != threeds.StatusActionRequired {
			t.Fatalf("before the timeout: %s", step.Status)
		}
		clk.Advance(time.Second)
		if step := result(t, s, sess); step.Status != threeds.StatusChallengeAbandoned {
			t.Fatalf("after the timeout: %s, want challenge_abandoned", step.Status)
		}
		want := mock3ds.CancelNoCReq
		if opened {
			want = mock3ds.CancelTimedOut
		}
		if tx, _ := s.Transaction(ch.ServerTransID); tx.ChallengeCancel != want {
			t.Errorf("opened %v: challengeCancel %q, want %q", opened, tx.ChallengeCancel, want)
		}
		// The right code after the timeout is too late.
		if body := answer(t, s, ch, "submit", "1234"); !strings.Contains(body, `name="cres"`) {
			t.Errorf("a late answer did not get the final page")
		}
		if step := result(t, s, sess); step.Status != threeds.StatusChallengeAbandoned {
			t.Errorf("after a late answer: %s", step.Status)
		}
	}
}

// TestForgotten: a restarted mock (a new Server) or one past its
// retention does not hold the transaction; the session reads unavailable.
func TestForgotten(t *testing.T) {
	t.Parallel()
	s, clk := newServer(t)
	sess := session("4000000000003220")
	challenge(t, s, sess)

	restarted, _ := newServer(t)
	for name, call := range map[string]func() (threeds.Step, error){
		"result": func() (threeds.Step, error) { return restarted.Result(t.Context(), sess) },
		"authenticate": func() (threeds.Step, error) {
			return restarted.Authenticate(t.Context(), sess, threeds.FingerprintCompleted)
		},
	} {
		step, err := call()
		if err != nil || step.Status != threeds.StatusUnavailable || step.Result != nil || step.Action != nil {
			t.Errorf("%s after a restart: %+v, %v; want unavailable", name, step, err)
		}
	}

	clk.Advance(mock3ds.DefaultRetention)
	if step := result(t, s, sess); step.Status != threeds.StatusUnavailable {
		t.Errorf("past the retention: %s, want unavailable", step.Status)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	for _, st := range [][]byte{nil, []byte("{}"), []byte("garbage"), []byte(`{"three_ds_server_trans_id":""}`)} {
		sess := session("4242424242424242")
		sess.State = st
		if _, err := s.Result(t.Context(), sess); !errors.Is(err, mock3ds.ErrBadState) {
			t.Errorf("result with state %q: %v, want ErrBadState", st, err)
		}
		if _, err := s.Authenticate(t.Context(), sess, threeds.FingerprintCompleted); !errors.Is(err, mock3ds.ErrBadState) {
			t.Errorf("authenticate with state %q: %v, want ErrBadState", st, err)
		}
	}

	for _, u := range []string{"", "javascript:alert(1)", "/relative", "https://user:pw@agent.test/x", "ftp://agent.test/"} {
		sess := session("4000000000003220")
		create(t, s, sess)
		sess.ChallengeNotificationURL = u
		if _, err := s.Authenticate(t.Context(), sess, threeds.FingerprintCompleted); !errors.Is(err, mock3ds.ErrNotificationURL) {
			t.Errorf("notification URL %q: %v, want ErrNotificationURL", u, err)
		}
		// The refusal changed nothing: with a good URL it goes on.
		sess.ChallengeNotificationURL = notifyURL
		if step := authenticate(t, s, sess, threeds.FingerprintCompleted); step.Status != threeds.StatusActionRequired {
			t.Errorf("after the refusal: %s", step.Status)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Create(ctx, session("4242424242424242")); !errors.Is(err, threeds.ErrUnavailable) {
		t.Errorf("create with a done context: %v, want ErrUnavailable", err)
	}

	for _, o := range []mock3ds.Options{
		{BaseURL: "not a url"}, {BaseURL: "https://acs.test/x?q=1"}, {BaseURL: "ftp://acs.test"},
		{ChallengeTimeout: -1}, {Retention: -time.Second},
	} {
		if o.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", o)
		}
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	s := mock3ds.New(mock3ds.Options{BaseURL: "http://127.0.0.1:9/3ds/", ChallengeCode: "777777"})
	if s.BaseURL() != "http://127.0.0.1:9/3ds" || s.ChallengeCode() != "777777" {
		t.Fatalf("base %q code %q", s.BaseURL(), s.ChallengeCode())
	}
	sess := session("4000000000003220")
	if _, err := s.Create(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	d := mock3ds.New(mock3ds.Options{})
	if d.BaseURL() != mock3ds.DefaultBaseURL || d.ChallengeCode() != mock3ds.DefaultChallengeCode {
		t.Errorf("defaults: base %q code %q", d.BaseURL(), d.ChallengeCode())
	}
}

func TestPagesRefuseBadInput(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	sess := session("4000000000003220")
	ch := challenge(t, s, sess)
	good := mock3ds.CReq{ServerTransID: ch.ServerTransID, ACSTransID: ch.ACSTransID, MessageVersion: ch.MessageVersion,
		MessageType: "CReq", ChallengeWindowSize: "05"}
	wrongVersion, wrongTxn, unknown := good, good, good
	wrongVersion.MessageVersion = "2.1.0"
	wrongTxn.ServerTransID = uuid.NewString()
	unknown.ACSTransID = uuid.NewString()
	cases := []struct {
		name   string
		path   string
		fields url.Values
		status int
	}{
		{"method without data", mock3ds.PathMethod, nil, http.StatusBadRequest},
		{"method with garbage", mock3ds.PathMethod, url.Values{"threeDSMethodData": {"%%%"}}, http.StatusBadRequest},
		{"method with a javascript notification URL", mock3ds.PathMethod, url.Values{"threeDSMethodData": {
			mock3ds.MethodData{ServerTransID: ch.ServerTransID, NotificationURL: "javascript:alert(1)"}.Encode()}}, http.StatusBadRequest},
		{"method for an unknown transaction", mock3ds.PathMethod, url.Values{"threeDSMethodData": {
			mock3ds.MethodData{ServerTransID: uuid.NewString(), NotificationURL: methodNote}.Encode()}}, http.StatusNotFound},
		{"creq without data", mock3ds.PathChallenge, nil, http.StatusBadRequest},
		{"creq of another version", mock3ds.PathChallenge, url.Values{"creq": {wrongVersion.Encode()}}, http.StatusBadRequest},
		{"creq of another transaction", mock3ds.PathChallenge, url.Values{"creq": {wrongTxn.Encode()}}, http.StatusNotFound},
		{"creq of an unknown challenge", mock3ds.PathChallenge, url.Values{"creq": {unknown.Encode()}}, http.StatusNotFound},
		{"answer for an unknown challenge", mock3ds.PathChallengeAnswer, url.Values{"acsTransID": {"x"}, "code": {"1234"}}, http.StatusNotFound},
	}
	for _, tc := range cases {
		w := post(s, tc.path, tc.fields)
		if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want %d HTML", tc.name, w.Code, w.Header().Get("Content-Type"), tc.status)
		}
		if strings.Contains(w.Body.String(), "<form") {
			t.Errorf("%s: an error page with a form", tc.name)
		}
	}
	// The query string is not the form.
	r := httptest.NewRequest(http.MethodPost, mock3ds.PathChallenge+"?creq="+good.Encode(), nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Errorf("creq in the query: %d, want 400", w.Code)
	}
	r = httptest.NewRequest(http.MethodGet, mock3ds.PathChallenge, nil)
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", w.Code)
	}
	// None of it touched the challenge.
	if tx, _ := s.Transaction(ch.ServerTransID); tx.ChallengeOpened || tx.Tries != 0 || tx.Status != threeds.StatusActionRequired {
		t.Errorf("transaction after bad input: %+v", tx)
	}
}
