package mockhttp_test

import (
	"context"
	"testing"

	"acpgw/providers"
	"acpgw/providers/mock/mockhttp"
	"acpgw/providers/providertest"
)

// TestNoTransportResend: an authorization whose reused connection is reset
// after the Server read it is an unknown outcome, and Go's Transport does
// not re-send it by itself.
func TestNoTransportResend(t *testing.T) {
	t.Parallel()
	providertest.NoTransportResend(t, providertest.ResendCase{
		New: func(t *testing.T, baseURL string) providers.Provider {
			c, err := mockhttp.NewClient(mockhttp.ClientConfig{Name: "mock_resend", URL: baseURL})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
		Answer: `{"status":"authorized","reference":"mock_ch_resend"}`,
		Call: func(ctx context.Context, p providers.Provider, key string) error {
			_, err := p.Authorize(ctx, authReq(key))
			return err
		},
	})
}
