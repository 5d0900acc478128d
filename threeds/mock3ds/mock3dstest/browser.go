// Package mock3dstest plays a shopper's browser against mock3ds's pages
// over real HTTP, and the shop (agent) endpoints that receive the 3DS
// Method notification and the CRes: tests of the mock, of mock-server and
// of the gateway drive a whole Delegate Authentication flow with it.
//
// The browser reads the pages as HTML (golang.org/x/net/html), fills and
// submits their forms as a browser would (urlencoded POST to the form's
// action, the pressed button's name and value included), and does what
// the page's auto-submit script does by submitting the form whose script
// calls submit(). Every step is one synchronous request: nothing waits.
package mock3dstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
)

// The shop's notification paths.
const (
	PathMethodNotification    = "/3ds/method-notification"
	PathChallengeNotification = "/3ds/challenge-notification"
)

// Shop is an httptest server with the agent's notification endpoints. It
// records every threeDSMethodData and cres posted to it, as posted.
type Shop struct {
	*httptest.Server

	mu      sync.Mutex
	methods []string
	cres    []string
}

// NewShop starts a Shop, closed at the end of t.
func NewShop(t testing.TB) *Shop {
	s := &Shop{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathMethodNotification, s.record(mock3ds.FieldMethodData, &s.methods))
	mux.HandleFunc("POST "+PathChallengeNotification, s.record(mock3ds.FieldCRes, &s.cres))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *Shop) record(field string, into *[]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		*into = append(*into, r.PostForm.Get(field))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>received</title><p>received</p>")
	}
}

// MethodNotificationURL is the threeDSMethodNotificationURL to give the
// method page.
func (s *Shop) MethodNotificationURL() string { return s.URL + PathMethodNotification }

// ChallengeNotificationURL is the session's challenge_notification_url.
func (s *Shop) ChallengeNotificationURL() string { return s.URL + PathChallengeNotification }

// MethodNotifications returns the threeDSMethodData values received, in
// order.
func (s *Shop) MethodNotifications() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.methods...)
}

// CRes returns the cres values received, in order.
func (s *Shop) CRes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cres...)
}

// Browser is a shopper's browser with its Shop.
type Browser struct {
	HTTP *http.Client
	Shop *Shop
}

// NewBrowser returns a Browser with a new Shop. It follows no redirect:
// the pages never redirect, and one would be a finding.
func NewBrowser(t testing.TB) *Browser {
	return &Browser{
		HTTP: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Shop: NewShop(t),
	}
}

// Cancel, given to Challenge as an answer, presses Cancel.
const Cancel = "\x00cancel"

// Fingerprint runs the 3DS Method of f as the hidden iframe would: it POSTs
// threeDSMethodData to the method URL, follows the page's form to the
// Shop, and returns the notification the Shop received.
func (b *Browser) Fingerprint(ctx context.Context, f threeds.Fingerprint) (mock3ds.MethodNotification, error) {
	md := mock3ds.MethodData{ServerTransID: f.ServerTransID, NotificationURL: b.Shop.MethodNotificationURL()}
	page, err := b.Post(ctx, f.MethodURL, url.Values{mock3ds.FieldMethodData: {md.Encode()}})
	if err != nil {
		return mock3ds.MethodNotification{}, err
	}
	before := len(b.Shop.MethodNotifications())
	if _, err := page.Continue(ctx); err != nil {
		return mock3ds.MethodNotification{}, err
	}
	got := b.Shop.MethodNotifications()
	if len(got) != before+1 {
		return mock3ds.MethodNotification{}, errors.New("mock3dstest: the method page's form did not reach the shop")
	}
	return mock3ds.DecodeMethodNotification(got[len(got)-1])
}

// OpenChallenge POSTs the CReq of c (window size 05, full screen) to its
// ACS URL and returns the page.
func (b *Browser) OpenChallenge(ctx context.Context, c threeds.Challenge) (*Page, error) {
	creq := mock3ds.CReq{
		ServerTransID: c.ServerTransID, ACSTransID: c.ACSTransID, MessageVersion: c.MessageVersion,
		MessageType: "CReq", ChallengeWindowSize: "05",
	}
	return b.Post(ctx, c.ACSURL, url.Values{mock3ds.FieldCReq: {creq.Encode()}})
}

// Challenge plays c to its end: it opens the challenge, gives the answers
// in order (codes, or Cancel) while the page asks for one, follows the
// final page's form to the Shop and returns the CRes the Shop received.
func (b *Browser) Challenge(ctx context.Context, c threeds.Challenge, answers ...string) (mock3ds.CRes, error) {
	page, err := b.OpenChallenge(ctx, c)
	if err != nil {
		return mock3ds.CRes{}, err
	}
	for _, a := range answers {
		if !page.AsksForCode() {
			break
		}
		if a == Cancel {
			page, err = page.Cancel(ctx)
		} else {
			page, err = page.SubmitCode(ctx, a)
		}
		if err != nil {
			return mock3ds.CRes{}, err
		}
	}
	if page.AsksForCode() {
		return mock3ds.CRes{}, errors.New("mock3dstest: the challenge still asks for a code after the answers given")
	}
	before := len(b.Shop.CRes())
	if _, err := page.Continue(ctx); err != nil {
		return mock3ds.CRes{}, err
	}
	got := b.Shop.CRes()
	if len(got) != before+1 {
		return mock3ds.CRes{}, errors.New("mock3dstest: the final page's form did not reach the shop")
	}
	return mock3ds.DecodeCRes(got[len(got)-1])
}

// Post submits fields to target as a urlencoded form and reads the answer
// as a page.
func (b *Browser) Post(ctx context.Context, target string, fields url.Values) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := b.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return parsePage(b, resp, body)
}

// Page is a page the browser received.
type Page struct {
	URL         *url.URL
	Status      int
	ContentType string
	// CSP is the Content-Security-Policy header.
	CSP string
	// Body is the HTML as received.
	Body  string
	Forms []Form
	// Alert is the text of the element with role="alert", "" without one.
	Alert string
	// AutoSubmit is the id of the form the page's script submits by
	// itself ("" without such a script).
	AutoSubmit string

	b *Browser
}

// Form is one form of a page.
type Form struct {
	ID     string
	Action string
	Method string
	// Fields are the named inputs with their values (hidden and text).
	Fields url.Values
	// Buttons are the submit buttons, in order.
	Buttons []Button
}

// Button is a form's submit button.
type Button struct {
	Name, Value, Text string
}

// AsksForCode reports whether the page is the challenge form (it has a
// code field).
func (p *Page) AsksForCode() bool {
	f, ok := p.codeForm()
	return ok && f.Fields.Has(mock3ds.FieldCode)
}

func (p *Page) codeForm() (Form, bool) {
	for _, f := range p.Forms {
		if f.Fields.Has(mock3ds.FieldCode) {
			return f, true
		}
	}
	return Form{}, false
}

// SubmitCode fills the code field and presses the form's first button (as
// Enter in the field would).
func (p *Page) SubmitCode(ctx context.Context, code string) (*Page, error) {
	f, ok := p.codeForm()
	if !ok || len(f.Buttons) == 0 {
		return nil, errors.New("mock3dstest: the page has no code form with a button")
	}
	f.Fields.Set(mock3ds.FieldCode, code)
	return p.submit(ctx, f, f.Buttons[0])
}

// Cancel presses the code form's Cancel button.
func (p *Page) Cancel(ctx context.Context) (*Page, error) {
	f, ok := p.codeForm()
	if !ok {
		return nil, errors.New("mock3dstest: the page has no code form")
	}
	for _, btn := range f.Buttons {
		if strings.EqualFold(btn.Text, "Cancel") {
			return p.submit(ctx, f, btn)
		}
	}
	return nil, errors.New("mock3dstest: the code form has no Cancel button")
}

// Continue does what the page's script does: it submits the form the
// script submits, with no button pressed. It fails when the page has no
// such script, or when that form has no visible submit button (a browser
// without JavaScript could not go on).
func (p *Page) Continue(ctx context.Context) (*Page, error) {
	if p.Status != http.StatusOK {
		return nil, fmt.Errorf("mock3dstest: page answered %d: %s", p.Status, p.text())
	}
	for _, f := range p.Forms {
		if f.ID == p.AutoSubmit && f.ID != "" {
			if len(f.Buttons) == 0 {
				return nil, errors.New("mock3dstest: the auto-submitted form has no button for a browser without JavaScript")
			}
			return p.submit(ctx, f, Button{})
		}
	}
	return nil, errors.New("mock3dstest: the page submits no form by itself")
}

func (p *Page) text() string {
	if len(p.Body) > 300 {
		return p.Body[:300]
	}
	return p.Body
}

func (p *Page) submit(ctx context.Context, f Form, pressed Button) (*Page, error) {
	if !strings.EqualFold(f.Method, http.MethodPost) {
		return nil, fmt.Errorf("mock3dstest: form method %q, want post", f.Method)
	}
	target, err := p.URL.Parse(f.Action)
	if err != nil {
		return nil, fmt.Errorf("mock3dstest: form action: %w", err)
	}
	fields := url.Values{}
	for k, v := range f.Fields {
		fields[k] = append([]string(nil), v...)
	}
	if pressed.Name != "" {
		fields.Set(pressed.Name, pressed.Value)
	}
	return p.b.Post(ctx, target.String(), fields)
}

// parsePage reads an answer's HTML.
func parsePage(b *Browser, resp *http.Response, body []byte) (*Page, error) {
	p := &Page{
		URL: resp.Request.URL, Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
		CSP: resp.Header.Get("Content-Security-Policy"), Body: string(body), b: b,
	}
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		return nil, fmt.Errorf("mock3dstest: page is not HTML: %w", err)
	}
	var form *Form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				p.Forms = append(p.Forms, Form{ID: attr(n, "id"), Action: attr(n, "action"), Method: attr(n, "method"), Fields: url.Values{}})
				form = &p.Forms[len(p.Forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				form = nil
				return
			case "input":
				if form != nil && attr(n, "name") != "" {
					form.Fields.Add(attr(n, "name"), attr(n, "value"))
				}
			case "button":
				if form != nil && (attr(n, "type") == "" || attr(n, "type") == "submit") {
					form.Buttons = append(form.Buttons, Button{Name: attr(n, "name"), Value: attr(n, "value"), Text: strings.TrimSpace(textOf(n))})
				}
			case "script":
				p.AutoSubmit = scriptTarget(textOf(n))
			}
			if attr(n, "role") == "alert" {
				p.Alert = strings.TrimSpace(textOf(n))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return p, nil
}

// scriptTarget returns the form id a script of the form
// document.getElementById("ID").submit() submits.
func scriptTarget(js string) string {
	const pre, post = `document.getElementById("`, `").submit()`
	i := strings.Index(js, pre)
	if i < 0 {
		return ""
	}
	rest := js[i+len(pre):]
	j := strings.Index(rest, post)
	if j < 0 {
		return ""
	}
	return rest[:j]
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return sb.String()
}
