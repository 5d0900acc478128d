package mock3ds_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"acpgw/payment"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
	"acpgw/threeds/mock3ds/mock3dstest"
)

// acs serves a Server's pages on a real socket under /mock/3ds, as acpgw
// mounts them.
func acs(t *testing.T) *mock3ds.Server {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := mock3ds.New(mock3ds.Options{BaseURL: srv.URL + "/mock/3ds"})
	mux.Handle("/mock/3ds/", http.StripPrefix("/mock/3ds", s))
	return s
}

// TestBrowserFlow plays the shopper's browser over HTTP through the 3DS
// Method and the challenge, and checks what reaches the shop and what the
// session reads afterwards.
func TestBrowserFlow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		answers []string
		cres    string
		status  threeds.Status
	}{
		{"right code", []string{"1234"}, "Y", threeds.StatusAuthenticated},
		{"wrong code three times", []string{"1111", "2222", "3333"}, "N", threeds.StatusNotAuthenticated},
		{"cancel", []string{mock3dstest.Cancel}, "N", threeds.StatusChallengeAbandoned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := acs(t)
			b := mock3dstest.NewBrowser(t)
			ctx := t.Context()
			sess := session("4000000000003220")
			sess.ChallengeNotificationURL = b.Shop.ChallengeNotificationURL()

			step := create(t, s, sess)
			if step.Action == nil || step.Action.Fingerprint == nil {
				t.Fatalf("create: %+v, want a fingerprint", step)
			}
			note, err := b.Fingerprint(ctx, *step.Action.Fingerprint)
			if err != nil {
				t.Fatalf("fingerprint: %v", err)
			}
			if note.ServerTransID != step.Action.Fingerprint.ServerTransID {
				t.Fatalf("notification for %q, want %q", note.ServerTransID, step.Action.Fingerprint.ServerTransID)
			}
			if tx, _ := s.Transaction(note.ServerTransID); !tx.FingerprintRan {
				t.Fatal("the ACS did not record the fingerprint")
			}

			step = authenticate(t, s, sess, threeds.FingerprintCompleted)
			if step.Action == nil || step.Action.Challenge == nil {
				t.Fatalf("authenticate: %+v, want a challenge", step)
			}
			ch := *step.Action.Challenge
			cres, err := b.Challenge(ctx, ch, tc.answers...)
			if err != nil {
				t.Fatalf("challenge: %v", err)
			}
			want := mock3ds.CRes{ServerTransID: ch.ServerTransID, ACSTransID: ch.ACSTransID, MessageType: "CRes",
				MessageVersion: mock3ds.MessageVersion, TransStatus: tc.cres, ChallengeCompletionInd: "Y"}
			if cres != want {
				t.Fatalf("CRes %+v, want %+v", cres, want)
			}

			final := result(t, s, sess)
			if final.Status != tc.status {
				t.Fatalf("result: %s, want %s", final.Status, tc.status)
			}
			if tc.status == threeds.StatusAuthenticated {
				a := final.Result.Authentication()
				if a.Outcome != payment.AuthAuthenticated || !a.Info().Chargeable || !a.SendsData() {
					t.Errorf("authentication %v is not chargeable", a)
				}
			}
		})
	}
}

// TestPages checks the pages themselves: real forms, a script that posts
// by itself under a nonce the CSP names, a button for browsers without
// JavaScript, the documented code, the error of a wrong code.
func TestPages(t *testing.T) {
	t.Parallel()
	s := acs(t)
	b := mock3dstest.NewBrowser(t)
	ctx := t.Context()
	sess := session("5200000000003225")
	sess.ChallengeNotificationURL = b.Shop.ChallengeNotificationURL()
	step := create(t, s, sess)

	md := mock3ds.MethodData{ServerTransID: step.Action.Fingerprint.ServerTransID, NotificationURL: b.Shop.MethodNotificationURL()}
	page, err := b.Post(ctx, step.Action.Fingerprint.MethodURL, map[string][]string{mock3ds.FieldMethodData: {md.Encode()}})
	if err != nil {
		t.Fatal(err)
	}
	checkAutoPost(t, page, b.Shop.MethodNotificationURL(), mock3ds.FieldMethodData)

	step = authenticate(t, s, sess, threeds.FingerprintCompleted)
	page, err = b.OpenChallenge(ctx, *step.Action.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	if page.Status != http.StatusOK || !page.AsksForCode() || page.AutoSubmit != "" {
		t.Fatalf("challenge page: %d, asks for a code %v, auto-submit %q", page.Status, page.AsksForCode(), page.AutoSubmit)
	}
	if !strings.Contains(page.Body, "Test code: <code>1234</code>") || !strings.Contains(page.Body, "25.99 usd") {
		t.Errorf("the challenge page does not show the test code and amount:\n%s", page.Body)
	}
	f := page.Forms[0]
	if len(f.Buttons) != 2 || f.Buttons[1].Text != "Cancel" || f.Action != s.BaseURL()+mock3ds.PathChallengeAnswer {
		t.Errorf("challenge form %+v", f)
	}
	page, err = page.SubmitCode(ctx, "0000")
	if err != nil {
		t.Fatal(err)
	}
	if !page.AsksForCode() || !strings.Contains(page.Alert, "Tries left: 2") {
		t.Fatalf("after a wrong code: asks %v, alert %q", page.AsksForCode(), page.Alert)
	}
	page, err = page.SubmitCode(ctx, "1234")
	if err != nil {
		t.Fatal(err)
	}
	checkAutoPost(t, page, b.Shop.ChallengeNotificationURL(), mock3ds.FieldCRes)
	if _, err := page.Continue(ctx); err != nil {
		t.Fatal(err)
	}
	cres, err := mock3ds.DecodeCRes(b.Shop.CRes()[0])
	if err != nil || cres.TransStatus != "Y" {
		t.Fatalf("CRes %+v, %v", cres, err)
	}
	// Reopening the finished challenge (a reload) posts the same result.
	page, err = b.OpenChallenge(ctx, *step.Action.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	checkAutoPost(t, page, b.Shop.ChallengeNotificationURL(), mock3ds.FieldCRes)
	if got := result(t, s, sess); got.Status != threeds.StatusAuthenticated || got.Result.ECI != "02" {
		t.Errorf("result %+v", got)
	}
}

func checkAutoPost(t *testing.T, page *mock3dstest.Page, action, field string) {
	t.Helper()
	if page.Status != http.StatusOK || !strings.HasPrefix(page.ContentType, "text/html") {
		t.Fatalf("page %d %s", page.Status, page.ContentType)
	}
	if len(page.Forms) != 1 {
		t.Fatalf("page has %d forms, want 1:\n%s", len(page.Forms), page.Body)
	}
	f := page.Forms[0]
	if f.ID == "" || page.AutoSubmit != f.ID || f.Action != action || !strings.EqualFold(f.Method, "post") ||
		f.Fields.Get(field) == "" || len(f.Buttons) != 1 {
		t.Errorf("auto-post form %+v (script submits %q), want one to %s with %s and a button", f, page.AutoSubmit, action, field)
	}
	i := strings.Index(page.CSP, "script-src 'nonce-")
	if i < 0 {
		t.Fatalf("CSP %q has no script nonce", page.CSP)
	}
	nonce := page.CSP[i+len("script-src 'nonce-"):]
	nonce = nonce[:strings.IndexByte(nonce, '\'')]
	if !strings.Contains(page.Body, `<script nonce="`+nonce+`">`) {
		t.Errorf("the script does not carry the CSP's nonce %q", nonce)
	}
}
