package mock3ds

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The browser messages of EMV 3-D Secure the pages read and write. Each
// travels as a form field holding base64url of its JSON (threeDSMethodData,
// creq, cres). The decoders take outside input: they accept base64url with
// or without padding (and the standard alphabet, which some clients send),
// ignore unknown JSON members (EMV messages carry extensions), and check
// what the mock needs.

// ErrMessage: a browser message could not be read.
var ErrMessage = errors.New("mock3ds: unreadable 3-D Secure message")

// maxIDLen bounds the transaction ids of a message (UUIDs are 36 bytes).
const maxIDLen = 64

// MethodData is the threeDSMethodData the browser POSTs to the 3DS Method
// URL.
type MethodData struct {
	ServerTransID   string `json:"threeDSServerTransID"`
	NotificationURL string `json:"threeDSMethodNotificationURL"`
}

// MethodNotification is the threeDSMethodData the method page POSTs back
// to the notification URL.
type MethodNotification struct {
	ServerTransID string `json:"threeDSServerTransID"`
}

// CReq is the challenge request the browser POSTs to the ACS URL as creq.
type CReq struct {
	ServerTransID  string `json:"threeDSServerTransID"`
	ACSTransID     string `json:"acsTransID"`
	MessageVersion string `json:"messageVersion"`
	MessageType    string `json:"messageType"`
	// ChallengeWindowSize is 01 (250x400) to 05 (full screen).
	ChallengeWindowSize string `json:"challengeWindowSize"`
}

// CRes is the challenge response the final page POSTs to the session's
// challenge_notification_url as cres.
type CRes struct {
	ServerTransID          string `json:"threeDSServerTransID"`
	ACSTransID             string `json:"acsTransID"`
	MessageType            string `json:"messageType"`
	MessageVersion         string `json:"messageVersion"`
	TransStatus            string `json:"transStatus"`
	ChallengeCompletionInd string `json:"challengeCompletionInd"`
}

// Encode returns m as the form value threeDSMethodData.
func (m MethodData) Encode() string { return encode(m) }

// Encode returns n as the form value threeDSMethodData.
func (n MethodNotification) Encode() string { return encode(n) }

// Encode returns c as the form value creq (base64url without padding).
func (c CReq) Encode() string { return encode(c) }

// Encode returns c as the form value cres (base64url without padding).
func (c CRes) Encode() string { return encode(c) }

func encode(v any) string {
	data, _ := json.Marshal(v) // structs of strings always marshal
	return base64.RawURLEncoding.EncodeToString(data)
}

// DecodeMethodData reads a threeDSMethodData form value: a transaction id
// and an absolute http(s) notification URL are required.
func DecodeMethodData(v string) (MethodData, error) {
	var m MethodData
	if err := decode(v, &m); err != nil {
		return MethodData{}, err
	}
	if err := checkID("threeDSServerTransID", m.ServerTransID); err != nil {
		return MethodData{}, err
	}
	if err := checkHTTPURL(m.NotificationURL); err != nil {
		return MethodData{}, fmt.Errorf("%w: threeDSMethodNotificationURL: %w", ErrMessage, err)
	}
	return m, nil
}

// DecodeMethodNotification reads the threeDSMethodData the method page
// posts to the notification URL.
func DecodeMethodNotification(v string) (MethodNotification, error) {
	var n MethodNotification
	if err := decode(v, &n); err != nil {
		return MethodNotification{}, err
	}
	return n, checkID("threeDSServerTransID", n.ServerTransID)
}

// DecodeCReq reads a creq form value: both transaction ids, messageType
// CReq, a messageVersion and a challengeWindowSize of 01 to 05 are
// required.
func DecodeCReq(v string) (CReq, error) {
	var c CReq
	if err := decode(v, &c); err != nil {
		return CReq{}, err
	}
	for _, f := range []struct{ name, v string }{
		{"threeDSServerTransID", c.ServerTransID}, {"acsTransID", c.ACSTransID}, {"messageVersion", c.MessageVersion},
	} {
		if err := checkID(f.name, f.v); err != nil {
			return CReq{}, err
		}
	}
	if c.MessageType != "CReq" {
		return CReq{}, fmt.Errorf("%w: messageType must be CReq", ErrMessage)
	}
	switch c.ChallengeWindowSize {
	case "01", "02", "03", "04", "05":
	default:
		return CReq{}, fmt.Errorf("%w: challengeWindowSize must be 01 to 05", ErrMessage)
	}
	return c, nil
}

// DecodeCRes reads a cres form value: both transaction ids, messageType
// CRes and a transStatus are required.
func DecodeCRes(v string) (CRes, error) {
	var c CRes
	if err := decode(v, &c); err != nil {
		return CRes{}, err
	}
	for _, f := range []struct{ name, v string }{
		{"threeDSServerTransID", c.ServerTransID}, {"acsTransID", c.ACSTransID}, {"transStatus", c.TransStatus},
	} {
		if err := checkID(f.name, f.v); err != nil {
			return CRes{}, err
		}
	}
	if c.MessageType != "CRes" {
		return CRes{}, fmt.Errorf("%w: messageType must be CRes", ErrMessage)
	}
	return c, nil
}

// decode reads base64url (padded or not, either alphabet) JSON into v. The
// errors name no part of the input.
func decode(v string, into any) error {
	if v == "" {
		return fmt.Errorf("%w: empty", ErrMessage)
	}
	s := strings.TrimRight(v, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: not base64url", ErrMessage)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%w: not a JSON object of the message's fields", ErrMessage)
	}
	return nil
}

func checkID(name, v string) error {
	if v == "" || len(v) > maxIDLen {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrMessage, name, maxIDLen)
	}
	return nil
}
