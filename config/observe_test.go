package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTracingAndLimits covers tracing: and limits:: their defaults, a full
// block, and every value they refuse, each on its own line.
func TestTracingAndLimits(t *testing.T) {
	t.Parallel()
	c, err := parse([]byte(vaultOK), "d.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Tracing{SampleRatio: 0.1, ServiceName: "acpgw"}); c.Tracing != want || c.Tracing.Enabled() {
		t.Errorf("Tracing = %+v, want %+v (off)", c.Tracing, want)
	}
	if want := (Limits{Backend: LimitsMemory, OnError: OnErrorAllow, Timeout: 100 * time.Millisecond}); c.Limits != want {
		t.Errorf("Limits = %+v, want %+v", c.Limits, want)
	}

	doc := vaultOK + "tracing:\n  endpoint: http://collector:4318\n  sample_ratio: 1\n  service_name: acpgw-eu\n" +
		"limits: {backend: redis, redis_url: \"redis://:s3cret@10.0.0.5:6379/2\", on_error: deny, timeout: 50ms}\n"
	c, err = parse([]byte(doc), "f.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Tracing{Endpoint: "http://collector:4318", SampleRatio: 1, ServiceName: "acpgw-eu"}); c.Tracing != want || !c.Tracing.Enabled() {
		t.Errorf("Tracing = %+v, want %+v", c.Tracing, want)
	}
	if want := (Limits{Backend: LimitsRedis, RedisURL: "redis://:s3cret@10.0.0.5:6379/2", OnError: OnErrorDeny, Timeout: 50 * time.Millisecond}); c.Limits != want {
		t.Errorf("Limits = %+v, want %+v", c.Limits, want)
	}
	// sample_ratio 0 is a choice (keep only callers' sampled traces), not
	// a missing key.
	c, err = parse([]byte(vaultOK+"tracing: {endpoint: \"https://c:4318/v1/traces\", sample_ratio: 0}\n"), "z.yaml", testEnv)
	if err != nil || c.Tracing.SampleRatio != 0 {
		t.Fatalf("sample_ratio 0: %+v, %v", c.Tracing, err)
	}
	c, _ = parse([]byte(doc), "f.yaml", testEnv)
	for name, dump := range map[string]string{
		"Redacted": c.Redacted(), "%v": fmt.Sprintf("%v", c.Limits), "%#v": fmt.Sprintf("%#v", c.Limits), "config %+v": fmt.Sprintf("%+v", *c),
	} {
		if strings.Contains(dump, "s3cret") {
			t.Errorf("%s shows the Redis password:\n%s", name, dump)
		}
	}
	if out := c.Redacted(); !strings.Contains(out, "backend: redis") || !strings.Contains(out, "10.0.0.5:6379") ||
		!strings.Contains(out, "endpoint: http://collector:4318") || !strings.Contains(out, "on_error: deny") {
		t.Errorf("Redacted() lacks tracing or limits:\n%s", out)
	}

	for _, tc := range []struct {
		name, doc, path string
		kind            error
		msg             string
	}{
		{"unknown tracing key", "tracing:\n  endpiont: x  #<\n", "tracing.endpiont", ErrUnknownKey, `unknown key "endpiont"`},
		{"endpoint not a URL", "tracing:\n  endpoint: collector:4318  #<\n", "tracing.endpoint", ErrInvalid, "http:// or https://"},
		{"endpoint with a query", "tracing:\n  endpoint: \"http://c:4318/?x=1\"  #<\n", "tracing.endpoint", ErrInvalid, "OTLP/HTTP"},
		{"ratio above one", "tracing:\n  sample_ratio: 1.5  #<\n", "tracing.sample_ratio", ErrInvalid, "between 0 and 1"},
		{"ratio negative", "tracing:\n  sample_ratio: -0.1  #<\n", "tracing.sample_ratio", ErrInvalid, "between 0 and 1"},
		{"ratio a string", "tracing:\n  sample_ratio: ten percent  #<\n", "tracing.sample_ratio", ErrType, "expected a number"},
		{"unknown backend", "limits:\n  backend: memcached  #<\n", "limits.backend", ErrInvalid, `unknown backend "memcached"`},
		{"redis without URL", "limits:\n  backend: redis  #<\n", "limits.redis_url", ErrRequired, "redis_url is required"},
		{"redis URL of another scheme", "limits:\n  backend: redis\n  redis_url: \"http://:pw@h:6379\"  #<\n", "limits.redis_url", ErrInvalid, "redis:// or rediss://"},
		{"redis URL with memory", "limits:\n  redis_url: redis://h:6379  #<\n", "limits.redis_url", ErrInvalid, "backend: redis only"},
		{"bad on_error", "limits:\n  on_error: retry  #<\n", "limits.on_error", ErrInvalid, "allow or deny"},
		{"zero timeout", "limits:\n  timeout: 0s  #<\n", "limits.timeout", ErrInvalid, "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := vaultOK + tc.doc
			_, err := parse([]byte(doc), "e.yaml", testEnv)
			if err == nil {
				t.Fatal("no error")
			}
			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), err)
			}
			e := errs[0]
			if e.Path != tc.path || !errors.Is(e, tc.kind) || !strings.Contains(e.Msg, tc.msg) || e.Line != markedLine(t, doc) {
				t.Errorf("got %s:%d %s (%v) %q; want %s:%d %v %q", e.File, e.Line, e.Path, e.Kind, e.Msg,
					tc.path, markedLine(t, doc), tc.kind, tc.msg)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error shows a password: %v", err)
			}
		})
	}
}
