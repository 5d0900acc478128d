package mock3ds

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"html/template"
	"net/http"
	"strconv"
)

// maxFormBytes caps a page's request body; the real ones are well under
// 2 KiB.
const maxFormBytes = 16 << 10

// The form fields of the pages.
const (
	FieldMethodData = "threeDSMethodData"
	FieldCReq       = "creq"
	FieldCRes       = "cres"
	// FieldACSTransID, FieldCode and FieldAction are the challenge form's:
	// the action is ActionSubmit (the default, as Enter in the code field
	// sends) or ActionCancel.
	FieldACSTransID = "acsTransID"
	FieldCode       = "code"
	FieldAction     = "action"
	ActionSubmit    = "submit"
	ActionCancel    = "cancel"
)

// pages serves the browser's side of a Server.
type pages struct {
	s   *Server
	mux *http.ServeMux
}

func newPages(s *Server) *pages {
	p := &pages{s: s, mux: http.NewServeMux()}
	p.mux.HandleFunc("POST "+PathMethod, p.method)
	p.mux.HandleFunc("POST "+PathChallenge, p.challenge)
	p.mux.HandleFunc("POST "+PathChallengeAnswer, p.answer)
	return p
}

// ServeHTTP serves the pages at PathMethod, PathChallenge and
// PathChallengeAnswer, relative to where the handler is mounted: mount it
// with http.StripPrefix of Options.BaseURL's path. Every page is HTML that
// works without JavaScript: a page that moves on by itself posts a form
// with a small script and shows the form's Continue button too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.pages.mux.ServeHTTP(w, r) }

// view is what one page shows. At most one of Post and Challenge is set.
type view struct {
	Status  int
	Title   string
	Message string
	Nonce   string
	// Post makes the page post one field to a URL by itself.
	Post *postView
	// Challenge makes the page the challenge form.
	Challenge *challengeView
}

type postView struct {
	Action, Field, Value string
}

type challengeView struct {
	Action, ACSTransID, Code, Amount, Merchant, Error string
}

// method is the 3DS Method: it records that the fingerprint ran and posts
// the notification.
func (p *pages) method(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	md, err := DecodeMethodData(form.Get(FieldMethodData))
	if err != nil {
		render(w, problem(http.StatusBadRequest, "threeDSMethodData is not readable: "+err.Error()))
		return
	}
	s := p.s
	s.mu.Lock()
	t, known := s.lookup(md.ServerTransID)
	if known {
		t.methodRan = true
	}
	s.mu.Unlock()
	if !known {
		render(w, problem(http.StatusNotFound, "This 3-D Secure transaction is unknown (or was forgotten)."))
		return
	}
	render(w, view{Status: http.StatusOK, Title: "Device check done", Post: &postView{
		Action: md.NotificationURL, Field: FieldMethodData,
		Value: MethodNotification{ServerTransID: md.ServerTransID}.Encode(),
	}})
}

// challenge opens the challenge window for a CReq.
func (p *pages) challenge(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	c, err := DecodeCReq(form.Get(FieldCReq))
	if err != nil {
		render(w, problem(http.StatusBadRequest, "creq is not readable: "+err.Error()))
		return
	}
	if c.MessageVersion != MessageVersion {
		render(w, problem(http.StatusBadRequest, "creq: messageVersion must be "+MessageVersion))
		return
	}
	render(w, p.openChallenge(c))
}

// openChallenge is the page of a CReq: the challenge form, or the CRes of
// a challenge that has ended.
func (p *pages) openChallenge(c CReq) view {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t, known := s.challengeTxn(c.ACSTransID)
	if !known || t.serverTransID != c.ServerTransID {
		return problem(http.StatusNotFound, "This challenge is unknown (or was forgotten).")
	}
	if t.phase == phaseChallenge {
		t.opened = true
	}
	return p.challengeOrEnd(t, "")
}

// answer takes the challenge form: the code, or Cancel.
func (p *pages) answer(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	render(w, p.takeAnswer(form.Get(FieldACSTransID), form.Get(FieldAction), form.Get(FieldCode)))
}

// takeAnswer applies the shopper's answer to the challenge acsTransID and
// returns the next page.
func (p *pages) takeAnswer(acsTransID, action, code string) view {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t, known := s.challengeTxn(acsTransID)
	if !known {
		return problem(http.StatusNotFound, "This challenge is unknown (or was forgotten).")
	}
	if t.phase != phaseChallenge {
		return p.challengeOrEnd(t, "") // a second submit: the end again
	}
	t.opened = true
	msg := ""
	switch {
	case action == ActionCancel:
		s.abandon(t, CancelByCardholder)
	case subtle.ConstantTimeCompare([]byte(code), []byte(s.code)) == 1:
		t.tries++
		s.finish(t, "Y")
	default:
		t.tries++
		if t.tries >= MaxTries {
			s.finish(t, "N")
		} else {
			msg = "That code is not right. Tries left: " + strconv.Itoa(MaxTries-t.tries) + "."
		}
	}
	return p.challengeOrEnd(t, msg)
}

// challengeTxn returns the challenge acsTransID after its timeout is
// applied. Called with s.mu held.
func (s *Server) challengeTxn(acsTransID string) (*txn, bool) {
	t, ok := s.byACS[acsTransID]
	if !ok {
		return nil, false
	}
	if t, ok = s.lookup(t.serverTransID); !ok {
		return nil, false
	}
	s.expire(t, s.now())
	return t, true
}

// challengeOrEnd is the page of t: the form while the challenge is open,
// else the page that posts the CRes. Called with s.mu held.
func (p *pages) challengeOrEnd(t *txn, msg string) view {
	s := p.s
	if t.phase == phaseChallenge {
		return view{Status: http.StatusOK, Title: "Verify it's you", Challenge: &challengeView{
			Action: s.base + PathChallengeAnswer, ACSTransID: t.acsTransID, Code: s.code,
			Amount: t.amount.String(), Merchant: t.merchantID, Error: msg,
		}}
	}
	ts := "N" // an abandoned challenge: the CRes says not authenticated
	if t.result != nil {
		ts = t.result.TransStatus
	}
	cres := CRes{
		ServerTransID: t.serverTransID, ACSTransID: t.acsTransID, MessageType: "CRes",
		MessageVersion: MessageVersion, TransStatus: ts, ChallengeCompletionInd: "Y",
	}
	return view{Status: http.StatusOK, Title: "Returning to the shop", Message: msg,
		Post: &postView{Action: t.notifyURL, Field: FieldCRes, Value: cres.Encode()}}
}

func problem(status int, msg string) view {
	return view{Status: status, Title: "3-D Secure: " + http.StatusText(status), Message: msg}
}

// readForm reads a POSTed urlencoded form, answering 400 when it cannot.
func readForm(w http.ResponseWriter, r *http.Request) (formValues, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		render(w, problem(http.StatusBadRequest, "The form could not be read."))
		return nil, false
	}
	return formValues(r.PostForm), true
}

// formValues is a posted form: only its body's fields, never the query's.
type formValues map[string][]string

// Get returns the field's first value.
func (f formValues) Get(k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// render writes v as a page under a Content-Security-Policy that lets
// only its own script and style run (by nonce) and lets its form post to
// any http(s) URL: the notification URLs are the shop's. The pages are
// framed by the shop, so no frame-ancestors.
func render(w http.ResponseWriter, v view) {
	v.Nonce = rand.Text()
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		http.Error(w, "mock3ds: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+v.Nonce+"'; style-src 'nonce-"+v.Nonce+
		"'; form-action http: https:; base-uri 'none'")
	w.WriteHeader(v.Status)
	_, _ = w.Write(buf.Bytes()) // the browser may be gone; nothing to do
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;max-width:26rem;margin:1.5rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem}
.note{color:#555;font-size:.9rem}
.error{color:#a00}
label{display:block;margin:.8rem 0 .3rem}
input[type=text]{font-size:1.2rem;width:8rem;letter-spacing:.2rem}
button{font-size:1rem;margin:.8rem .5rem 0 0}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{with .Message}}<p>{{.}}</p>{{end}}
{{with .Post}}<form id="post" method="post" action="{{.Action}}">
<input type="hidden" name="{{.Field}}" value="{{.Value}}">
<p class="note">If nothing happens, press Continue.</p>
<button type="submit">Continue</button>
</form>
<script nonce="{{$.Nonce}}">document.getElementById("post").submit();</script>
{{end}}{{with .Challenge}}<p>Mock issuer ACS: a one-time code was sent to the cardholder to approve {{.Amount}}{{with .Merchant}} at {{.}}{{end}}.</p>
<p class="note">Test code: <code>{{.Code}}</code>. Three wrong codes fail; Cancel abandons.</p>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="acsTransID" value="{{.ACSTransID}}">
<label for="code">One-time code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" autofocus>
<button type="submit" name="action" value="submit">Verify</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>
{{end}}</main>
</body>
</html>
`))
