// Package mock3ds simulates a 3-D Secure 2 Server and the issuers' ACS
// behind it, for acpgw's mock processor and `acpgw mock-server`: a
// threeds.Provider in process, and an http.Handler that serves the pages a
// shopper's browser meets (the 3DS Method and the challenge) as real HTML
// forms. What happens is decided by the card number (Cards).
//
// The flow, as ACP's Delegate Authentication RFC (section 6) has it:
//
//   - Create answers action_required with a fingerprint (the card's ACS
//     runs a 3DS Method), pending (it does not), or not_supported (the
//     card is not enrolled).
//   - The browser POSTs threeDSMethodData (base64url JSON with
//     threeDSServerTransID and threeDSMethodNotificationURL) to the method
//     URL (PathMethod); the page records that the fingerprint ran and
//     POSTs threeDSMethodData back to the notification URL.
//   - Authenticate answers a final status (frictionless) or action_required
//     with a challenge.
//   - The browser POSTs creq (base64url JSON CReq) to the ACS URL
//     (PathChallenge) and gets a form asking for a one-time code
//     (Options.ChallengeCode, DefaultChallengeCode unless set) with a
//     Cancel button, which posts to PathChallengeAnswer. The right code
//     authenticates (Y, a fresh cryptogram); a wrong one shows the form
//     again, and the third wrong one fails (N); Cancel abandons the
//     challenge (challengeCancel 01). Each end answers a page that POSTs
//     cres (base64url JSON CRes) to the session's
//     challenge_notification_url.
//   - Result answers action_required with the same challenge until the
//     shopper has finished, then the final status and Result.
//
// A flow preference of a mandated challenge turns a card's frictionless
// authentication (Y) into a challenge; the other frictionless outcomes
// stay as they are (the issuer decides). A challenge not finished within
// Options.ChallengeTimeout is abandoned (challengeCancel 04, or 05 when
// its CReq never arrived).
//
// Transactions are kept in memory, keyed by threeDSServerTransID, for
// Options.Retention: it is a mock. A restart of the process that holds the
// ACS forgets its open transactions, and a session whose transaction is
// forgotten reads unavailable. A Step's State holds the transaction's id
// only: no card number, no cryptogram; the transactions themselves keep
// the card's behaviour, never its number.
package mock3ds

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"acpgw/payment"
	"acpgw/threeds"
)

// The paths of the pages, relative to where the handler is mounted
// (Options.BaseURL's path, with http.StripPrefix).
const (
	// PathMethod is the 3DS Method URL (the fingerprint).
	PathMethod = "/method"
	// PathChallenge is the ACS URL the browser POSTs the CReq to.
	PathChallenge = "/challenge"
	// PathChallengeAnswer is where the challenge page's form posts the
	// shopper's code or Cancel.
	PathChallengeAnswer = "/challenge/answer"
)

// Defaults of Options.
const (
	// DefaultBaseURL is where acpgw's demo serves the pages of its mock
	// processor ("mock").
	DefaultBaseURL = "http://127.0.0.1:8080/mock/3ds/mock"
	// DefaultChallengeCode is the one-time code the challenge page takes.
	DefaultChallengeCode = "1234"
	// DefaultChallengeTimeout is how long a challenge may stay open.
	DefaultChallengeTimeout = 10 * time.Minute
	// DefaultRetention is how long a transaction is kept after its
	// creation.
	DefaultRetention = 24 * time.Hour
)

// MessageVersion is the EMV 3-D Secure protocol version the mock speaks.
const MessageVersion = "2.2.0"

// MaxTries is how many codes a challenge takes: the last wrong one ends it
// not authenticated.
const MaxTries = 3

// The challengeCancel values of the RReq (EMV 3DS) the mock records.
const (
	CancelByCardholder = "01" // the shopper pressed Cancel
	CancelTimedOut     = "04" // the ACS timed out (other timeouts)
	CancelNoCReq       = "05" // the ACS timed out: the first CReq never arrived
)

const (
	// maxURLLen bounds the URLs the browser hands the ACS.
	maxURLLen = 2048
	// cryptogramByteCount is the size of a CAVV or AAV.
	cryptogramByteCount = 20
)

// ErrBadState: a call's Session.State is not a state the mock returned.
var ErrBadState = errors.New("mock3ds: the session's state is not a mock 3-D Secure state")

// ErrNotificationURL: a challenge needs an absolute http or https
// challenge_notification_url.
var ErrNotificationURL = errors.New("mock3ds: challenge_notification_url must be an absolute http or https URL")

// Options configures a Server.
type Options struct {
	// BaseURL is where browsers reach the handler (e.g.
	// http://127.0.0.1:8080/mock/3ds/mock): the method and ACS URLs the
	// Server hands out are BaseURL plus PathMethod and PathChallenge.
	// Default DefaultBaseURL.
	BaseURL string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ChallengeCode is the one-time code the challenge page takes; default
	// DefaultChallengeCode.
	ChallengeCode string
	// ChallengeTimeout bounds an open challenge; default
	// DefaultChallengeTimeout.
	ChallengeTimeout time.Duration
	// Retention is how long a transaction is kept after its creation;
	// default DefaultRetention.
	Retention time.Duration
}

// Validate reports the first problem with o.
func (o Options) Validate() error {
	if o.BaseURL != "" {
		if err := checkHTTPURL(o.BaseURL); err != nil {
			return fmt.Errorf("mock3ds: base URL %q: %w", o.BaseURL, err)
		}
		if u, _ := url.Parse(o.BaseURL); u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("mock3ds: base URL %q: want no query or fragment", o.BaseURL)
		}
	}
	if o.ChallengeTimeout < 0 || o.Retention < 0 {
		return errors.New("mock3ds: challenge timeout and retention must not be negative")
	}
	return nil
}

// Server is the simulated 3DS Server and ACS. It is safe for concurrent
// use.
type Server struct {
	base      string
	now       func() time.Time
	code      string
	timeout   time.Duration
	retention time.Duration
	pages     *pages

	mu        sync.Mutex
	txns      map[string]*txn // by threeDSServerTransID
	byACS     map[string]*txn // by acsTransID, challenges only
	lastSweep time.Time
}

var (
	_ threeds.Provider = (*Server)(nil)
	_ http.Handler     = (*Server)(nil)
)

// New returns a Server with no transactions. New does not fail: call
// Options.Validate first; zero options take their defaults.
func New(o Options) *Server {
	s := &Server{
		base: strings.TrimRight(o.BaseURL, "/"), now: o.Now, code: o.ChallengeCode,
		timeout: o.ChallengeTimeout, retention: o.Retention,
		txns: make(map[string]*txn), byACS: make(map[string]*txn),
	}
	if s.base == "" {
		s.base = DefaultBaseURL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.code == "" {
		s.code = DefaultChallengeCode
	}
	if s.timeout <= 0 {
		s.timeout = DefaultChallengeTimeout
	}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	s.pages = newPages(s)
	return s
}

// BaseURL returns where browsers reach the pages.
func (s *Server) BaseURL() string { return s.base }

// ChallengeCode returns the one-time code the challenge page takes.
func (s *Server) ChallengeCode() string { return s.code }

// phase is where a transaction is in its flow.
type phase int

const (
	phaseCreated   phase = iota // waiting for authenticate
	phaseChallenge              // a challenge is presented and not finished
	phaseDone                   // final
)

// txn is one 3DS Server transaction. It keeps the card's behaviour, not
// its number. Guarded by Server.mu.
type txn struct {
	serverTransID string
	acsTransID    string
	card          Card // Number cleared
	amount        payment.Money
	merchantID    string
	created       time.Time

	methodRan   bool
	completion  threeds.FingerprintCompletion
	phase       phase
	notifyURL   string
	challengeAt time.Time
	opened      bool // the CReq arrived
	tries       int

	status threeds.Status
	result *threeds.Result
	cancel string // the RReq's challengeCancel
}

// state is what a Step's State holds: the transaction's id.
type state struct {
	ServerTransID string `json:"three_ds_server_trans_id"`
}

// Create starts a transaction for s.Card (see the package doc and Cards).
func (s *Server) Create(ctx context.Context, sess *threeds.Session) (threeds.Step, error) {
	if err := ctx.Err(); err != nil {
		return threeds.Step{}, fmt.Errorf("mock3ds: create: %w: %w", threeds.ErrUnavailable, err)
	}
	card := LookupCard(sess.Card.Number)
	card.Number = ""
	if card.Flow == FlowNotEnrolled {
		return threeds.Step{Status: threeds.StatusNotSupported}, nil
	}
	now := s.now()
	t := &txn{
		serverTransID: uuid.NewString(), card: card, amount: sess.Amount, merchantID: sess.MerchantID, created: now,
	}
	st, err := json.Marshal(state{ServerTransID: t.serverTransID})
	if err != nil {
		return threeds.Step{}, fmt.Errorf("mock3ds: create: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.txns[t.serverTransID] = t
	step := s.step(t)
	step.State = st
	return step, nil
}

// Authenticate sends the AReq: a frictionless card ends here; a challenge
// card (or a frictionless Y card with a mandated challenge) answers
// action_required with a Challenge. A transaction past this step answers
// where it is, so a repeated call is harmless.
func (s *Server) Authenticate(ctx context.Context, sess *threeds.Session, fp threeds.FingerprintCompletion) (threeds.Step, error) {
	if err := ctx.Err(); err != nil {
		return threeds.Step{}, fmt.Errorf("mock3ds: authenticate: %w: %w", threeds.ErrUnavailable, err)
	}
	id, err := readState(sess.State)
	if err != nil {
		return threeds.Step{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.lookup(id)
	if !ok {
		return forgotten(), nil
	}
	if t.phase != phaseCreated {
		return s.step(t), nil
	}
	t.completion = fp
	switch flow := t.card.Flow; {
	case flow == FlowFrictionless && !(t.card.TransStatus == "Y" && mandated(sess.Flow)):
		s.finish(t, t.card.TransStatus)
	default:
		if err := checkHTTPURL(sess.ChallengeNotificationURL); err != nil {
			return threeds.Step{}, fmt.Errorf("%w: %w", ErrNotificationURL, err)
		}
		t.phase = phaseChallenge
		t.acsTransID = uuid.NewString()
		t.notifyURL = sess.ChallengeNotificationURL
		t.challengeAt = s.now()
		s.byACS[t.acsTransID] = t
		s.expire(t, t.challengeAt)
		if t.phase == phaseDone {
			// The abandoning card: the challenge was presented, and that
			// is all the shopper will do. It reads abandoned from Result.
			return s.challengeStep(t), nil
		}
	}
	return s.step(t), nil
}

// Result answers the transaction's current step: action_required with the
// same challenge while the shopper has not finished, then the final
// status with its Result.
func (s *Server) Result(ctx context.Context, sess *threeds.Session) (threeds.Step, error) {
	if err := ctx.Err(); err != nil {
		return threeds.Step{}, fmt.Errorf("mock3ds: result: %w: %w", threeds.ErrUnavailable, err)
	}
	id, err := readState(sess.State)
	if err != nil {
		return threeds.Step{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.lookup(id)
	if !ok {
		return forgotten(), nil
	}
	s.expire(t, s.now())
	return s.step(t), nil
}

// forgotten is the step of a transaction the mock does not hold (any
// more): the 3-D Secure system cannot tell, so the session is unavailable.
func forgotten() threeds.Step {
	return threeds.Step{Status: threeds.StatusUnavailable}
}

func mandated(f *threeds.Flow) bool {
	return f != nil && f.Type == "challenge" && f.Challenge == "mandated"
}

func readState(raw []byte) (string, error) {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil || st.ServerTransID == "" {
		return "", ErrBadState
	}
	return st.ServerTransID, nil
}

// lookup returns the transaction id, dropping it first when it is past
// its retention. Called with s.mu held.
func (s *Server) lookup(id string) (*txn, bool) {
	t, ok := s.txns[id]
	if ok && s.now().Sub(t.created) >= s.retention {
		s.drop(t)
		return nil, false
	}
	return t, ok
}

// sweep drops the transactions past their retention, at most once a
// minute. Called with s.mu held.
func (s *Server) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for _, t := range s.txns {
		if now.Sub(t.created) >= s.retention {
			s.drop(t)
		}
	}
}

func (s *Server) drop(t *txn) {
	delete(s.txns, t.serverTransID)
	if t.acsTransID != "" {
		delete(s.byACS, t.acsTransID)
	}
}

// step is t's answer as it stands. Called with s.mu held.
func (s *Server) step(t *txn) threeds.Step {
	switch t.phase {
	case phaseCreated:
		if !t.card.Method {
			return threeds.Step{Status: threeds.StatusPending}
		}
		return threeds.Step{Status: threeds.StatusActionRequired, Action: &threeds.Action{
			Fingerprint: &threeds.Fingerprint{MethodURL: s.base + PathMethod, ServerTransID: t.serverTransID},
		}}
	case phaseChallenge:
		return s.challengeStep(t)
	default:
		step := threeds.Step{Status: t.status}
		if t.result != nil {
			r := *t.result
			step.Result = &r
		}
		return step
	}
}

func (s *Server) challengeStep(t *txn) threeds.Step {
	return threeds.Step{Status: threeds.StatusActionRequired, Action: &threeds.Action{Challenge: &threeds.Challenge{
		ACSURL: s.base + PathChallenge, ACSTransID: t.acsTransID, ServerTransID: t.serverTransID,
		MessageVersion: MessageVersion,
	}}}
}

// expire ends t's challenge as abandoned when it is past its time (or is
// the abandoning card's). Called with s.mu held.
func (s *Server) expire(t *txn, now time.Time) {
	if t.phase != phaseChallenge {
		return
	}
	switch {
	case t.card.Flow == FlowAbandoned:
		s.abandon(t, CancelNoCReq)
	case now.Sub(t.challengeAt) < s.timeout:
	case t.opened:
		s.abandon(t, CancelTimedOut)
	default:
		s.abandon(t, CancelNoCReq)
	}
}

// statusOf is the session status of a final transStatus.
var statusOf = map[string]threeds.Status{
	"Y": threeds.StatusAuthenticated,
	"A": threeds.StatusAttempted,
	"N": threeds.StatusNotAuthenticated,
	"R": threeds.StatusRejected,
	"U": threeds.StatusUnavailable,
}

// reasonOf is the transStatusReason the mock gives each failing
// transStatus: 01 card authentication failed, 11 suspected fraud, 14
// transaction timed out at the ACS.
var reasonOf = map[string]string{"N": "01", "R": "11", "U": "14"}

// finish ends t with transStatus ts (the ARes of a frictionless flow, or
// the RReq of a challenge). Called with s.mu held.
func (s *Server) finish(t *txn, ts string) {
	r := &threeds.Result{
		TransStatus: ts, ECI: eci(t.card.Brand, ts), TransactionID: uuid.NewString(),
		ServerTransID: t.serverTransID, Version: MessageVersion, TransStatusReason: reasonOf[ts],
	}
	if ts == "Y" || ts == "A" {
		r.Cryptogram = newCryptogram()
	}
	if ts == "N" || ts == "R" {
		r.CardholderInfo = "Please contact your bank's customer support."
	}
	t.phase, t.status, t.result = phaseDone, statusOf[ts], r
	if t.status == "" {
		t.status = threeds.StatusUnavailable
	}
}

// abandon ends t's challenge as abandoned: no result. Called with s.mu
// held.
func (s *Server) abandon(t *txn, cancel string) {
	t.phase, t.status, t.result, t.cancel = phaseDone, threeds.StatusChallengeAbandoned, nil, cancel
}

// newCryptogram returns a fresh authentication value: base64 of 20 random
// bytes, as a CAVV or AAV.
func newCryptogram() string {
	b := make([]byte, cryptogramByteCount)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(b)
}

// checkHTTPURL reports whether raw is an absolute http or https URL without
// credentials, of a sane length.
func checkHTTPURL(raw string) error {
	if raw == "" || len(raw) > maxURLLen {
		return errors.New("want an http or https URL of at most 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("want an absolute http or https URL without credentials")
	}
	return nil
}

// Transaction is what tests may see of a transaction: its ids and
// progress, never the card or the cryptogram.
type Transaction struct {
	ServerTransID string
	ACSTransID    string
	// FingerprintRan: the browser ran the 3DS Method.
	FingerprintRan bool
	// Completion is the fingerprint_completion authenticate was given.
	Completion threeds.FingerprintCompletion
	// ChallengeOpened: the browser POSTed the CReq.
	ChallengeOpened bool
	// Tries is how many codes the shopper submitted.
	Tries int
	// Status is the session status the transaction reads now.
	Status threeds.Status
	// ChallengeCancel is the RReq's challengeCancel of an abandoned
	// challenge, "" otherwise.
	ChallengeCancel string
}

// Transaction returns the transaction serverTransID, and false when the
// Server does not hold it.
func (s *Server) Transaction(serverTransID string) (Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.lookup(serverTransID)
	if !ok {
		return Transaction{}, false
	}
	s.expire(t, s.now())
	return Transaction{
		ServerTransID: t.serverTransID, ACSTransID: t.acsTransID, FingerprintRan: t.methodRan,
		Completion: t.completion, ChallengeOpened: t.opened, Tries: t.tries, Status: s.step(t).Status,
		ChallengeCancel: t.cancel,
	}, true
}
