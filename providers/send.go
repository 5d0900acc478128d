package providers

import "net/http"

// RetryInProgress is the reason a provider gives when it re-sends a request
// by itself because the processor said that a request with the same
// idempotency key is still being processed (Adyen errorCode 704, Stripe
// idempotency_key_in_use). Such a re-send can only ever replay the first
// request's answer.
const RetryInProgress = "in_progress"

// RetryFunc is told of every re-send a provider makes by itself: the
// operation and the reason (RetryInProgress). Providers take one in their
// config so that the re-sends are counted (a metric) as well as logged. It
// must be safe for concurrent use.
type RetryFunc func(op Operation, reason string)

// SendOnce returns a copy of c that never sends a request body twice for
// one call of Do, so that every re-send of a processor call (a POST) is
// acpgw's own: explicit, counted, logged, and under the same idempotency
// key. A nil c means a client with http.DefaultTransport.
//
// net/http re-sends a request by itself in three places, each of which
// would hide from acpgw whether the processor got the first copy:
//
//   - HTTP/1: when a reused keep-alive connection fails after the request
//     was written, Transport re-sends a "replayable" request on a new
//     connection. A POST is replayable when it has an Idempotency-Key or
//     X-Idempotency-Key header and Request.GetBody is set, which is the
//     case for every Adyen and Stripe call.
//   - HTTP/2: after a GOAWAY, REFUSED_STREAM or a PROTOCOL_ERROR from the
//     peer, Transport re-sends any request whose GetBody is set, whether or
//     not the first copy was processed.
//   - Client: a 307 or 308 answer makes Do send the POST again to the new
//     location.
//
// The returned client's Transport sees every request without GetBody (a
// shallow copy of it; the caller's request is not changed), so it cannot
// rewind a body that was written and never re-sends one; and the client
// follows no redirect, returning the 3xx answer instead. A request of which
// nothing was written may still be sent once on another connection, which
// cannot make a second copy reach the processor; a request without a body
// (a GET, which changes nothing) may still be retried by net/http.
func SendOnce(c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	next := out.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = sendOnce{next: next}
	out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return out
}

// sendOnce is the Transport of SendOnce.
type sendOnce struct{ next http.RoundTripper }

// RoundTrip sends req through the wrapped Transport without its GetBody.
func (s sendOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.GetBody != nil {
		req = req.WithContext(req.Context()) // a shallow copy
		req.GetBody = nil
	}
	return s.next.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the wrapped
// Transport, so that http.Client.CloseIdleConnections still reaches it.
func (s sendOnce) CloseIdleConnections() {
	if c, ok := s.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
