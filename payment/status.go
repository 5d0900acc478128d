package payment

// Status is the normalised state of a payment, the same whatever processor
// handled it.
type Status string

// The payment statuses of the HTTP contract.
const (
	StatusAuthorized        Status = "authorized"
	StatusCaptured          Status = "captured"
	StatusDeclined          Status = "declined"
	StatusFailed            Status = "failed"
	StatusPending           Status = "pending"
	StatusVoided            Status = "voided"
	StatusRefunded          Status = "refunded"
	StatusPartiallyRefunded Status = "partially_refunded"
)

// Statuses lists every status, in the order the contract gives them.
var Statuses = []Status{
	StatusAuthorized, StatusCaptured, StatusDeclined, StatusFailed,
	StatusPending, StatusVoided, StatusRefunded, StatusPartiallyRefunded,
}

// Final reports whether no further processor answer can change the status
// by itself (refunds can still follow a capture, but they are new operations).
func (s Status) Final() bool {
	return s != StatusPending
}

// CaptureMode says whether the processor captures the authorization at once
// or waits for an explicit capture.
type CaptureMode string

// The capture modes of POST /v1/payments.
const (
	CaptureAutomatic CaptureMode = "automatic"
	CaptureManual    CaptureMode = "manual"
)

// Valid reports whether c is a known capture mode.
func (c CaptureMode) Valid() bool {
	return c == CaptureAutomatic || c == CaptureManual
}
