package mock3ds_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
)

// The fuzz targets read what a browser (anyone) may send the pages. Their
// corpora start from the f.Add seeds and testdata/fuzz.

func FuzzDecodeMethodData(f *testing.F) {
	f.Add(mock3ds.MethodData{ServerTransID: "6edcc246-23ee-4e94-ac5d-8ae620bea7d9", NotificationURL: "https://agent.test/n"}.Encode())
	f.Add("eyJ0aHJlZURTU2VydmVyVHJhbnNJRCI6IngiLCJ0aHJlZURTTWV0aG9kTm90aWZpY2F0aW9uVVJMIjoiaHR0cHM6Ly9hLmIvIn0=")
	f.Add("eyJ0aHJlZURTU2VydmVyVHJhbnNJRCI6bnVsbH0")
	f.Add("%%%")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		m, err := mock3ds.DecodeMethodData(v)
		if err != nil {
			return
		}
		if m.ServerTransID == "" || len(m.ServerTransID) > 64 || !strings.HasPrefix(m.NotificationURL, "http") {
			t.Fatalf("accepted %+v", m)
		}
		if again, err := mock3ds.DecodeMethodData(m.Encode()); err != nil || again != m {
			t.Fatalf("re-encoded %+v reads %+v, %v", m, again, err)
		}
	})
}

func FuzzDecodeCReq(f *testing.F) {
	f.Add(mock3ds.CReq{ServerTransID: "a", ACSTransID: "b", MessageVersion: "2.2.0", MessageType: "CReq", ChallengeWindowSize: "05"}.Encode())
	f.Add("eyJtZXNzYWdlVHlwZSI6IkNSZXEifQ==")
	f.Add("e30")
	f.Add("////")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := mock3ds.DecodeCReq(v)
		if err != nil {
			return
		}
		if c.MessageType != "CReq" || c.ServerTransID == "" || c.ACSTransID == "" || len(c.ChallengeWindowSize) != 2 {
			t.Fatalf("accepted %+v", c)
		}
		if again, err := mock3ds.DecodeCReq(c.Encode()); err != nil || again != c {
			t.Fatalf("re-encoded %+v reads %+v, %v", c, again, err)
		}
	})
}

func FuzzDecodeCRes(f *testing.F) {
	f.Add(mock3ds.CRes{ServerTransID: "a", ACSTransID: "b", MessageType: "CRes", MessageVersion: "2.2.0", TransStatus: "Y", ChallengeCompletionInd: "Y"}.Encode())
	f.Add("eyJtZXNzYWdlVHlwZSI6IkNSZXMifQ")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := mock3ds.DecodeCRes(v)
		if err != nil {
			return
		}
		if c.MessageType != "CRes" || c.TransStatus == "" {
			t.Fatalf("accepted %+v", c)
		}
		if again, err := mock3ds.DecodeCRes(c.Encode()); err != nil || again != c {
			t.Fatalf("re-encoded %+v reads %+v, %v", c, again, err)
		}
	})
}

// FuzzPages posts any body to each page, on a Server that holds an open
// challenge: every answer is an HTML page with a status the pages use,
// and no input runs a script of its own.
func FuzzPages(f *testing.F) {
	paths := []string{mock3ds.PathMethod, mock3ds.PathChallenge, mock3ds.PathChallengeAnswer}
	f.Add(uint8(0), "threeDSMethodData="+mock3ds.MethodData{ServerTransID: "x", NotificationURL: "https://a.test/"}.Encode())
	f.Add(uint8(1), "creq=e30")
	f.Add(uint8(2), "acsTransID=x&code=1234&action=cancel")
	f.Add(uint8(2), "acsTransID=%ZZ&code=1234")
	f.Add(uint8(0), "threeDSMethodData="+mock3ds.MethodData{ServerTransID: "x", NotificationURL: `https://a.test/"><script>alert(1)</script>`}.Encode())
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		s := mock3ds.New(mock3ds.Options{BaseURL: "https://acs.test/3ds"})
		sess := session("4000000000003220")
		step, err := s.Create(t.Context(), sess)
		if err != nil {
			t.Fatal(err)
		}
		sess.State = step.State
		if _, err := s.Authenticate(t.Context(), sess, threeds.FingerprintCompleted); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, paths[int(which)%len(paths)], strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("status %d", w.Code)
		}
		if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("content type %q", w.Header().Get("Content-Type"))
		}
		if n := strings.Count(w.Body.String(), "<script"); n > 1 {
			t.Fatalf("%d scripts on a page", n)
		}
	})
}
