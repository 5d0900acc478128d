package adyen

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaxThreeDS2TokenLen is the longest action token DecodeThreeDS2Token
// reads. Adyen's tokens are a few hundred bytes; the spec bounds nothing.
const MaxThreeDS2TokenLen = 64 << 10

// ErrBadThreeDS2Token: a threeDS2 action's token is not the base64 JSON
// object Adyen documents, or lacks what its subtype needs.
var ErrBadThreeDS2Token = errors.New("adyen: unreadable 3-D Secure 2 token")

// ThreeDS2Token is the JSON object inside the token of a v71
// CheckoutThreeDS2Action, as Adyen's 3D Secure 2 Component reads it: for
// subtype fingerprint the 3DS Method's URL, Adyen's notification URL for it
// and the 3DS Server's transaction id; for subtype challenge the ACS's URL
// and transaction id, the message version and the 3DS Server's transaction
// id (with Adyen's notification URL for the CRes, which for an API-only
// integration is the notificationURL sent on /payments). Nothing in it is
// secret.
type ThreeDS2Token struct {
	ThreeDSMethodURL             string `json:"threeDSMethodUrl"`
	ThreeDSMethodNotificationURL string `json:"threeDSMethodNotificationURL"`
	ThreeDSServerTransID         string `json:"threeDSServerTransID"`
	ACSTransID                   string `json:"acsTransID"`
	ACSURL                       string `json:"acsURL"`
	ACSReferenceNumber           string `json:"acsReferenceNumber"`
	MessageVersion               string `json:"messageVersion"`
	ThreeDSNotificationURL       string `json:"threeDSNotificationURL"`
}

// DecodeThreeDS2Token decodes an action token: base64 (standard or URL
// alphabet, padded or not) of a JSON object. Its error never quotes the
// token.
func DecodeThreeDS2Token(token string) (ThreeDS2Token, error) {
	var t ThreeDS2Token
	if token == "" {
		return t, fmt.Errorf("%w: empty", ErrBadThreeDS2Token)
	}
	if len(token) > MaxThreeDS2TokenLen {
		return t, fmt.Errorf("%w: %d bytes, more than %d", ErrBadThreeDS2Token, len(token), MaxThreeDS2TokenLen)
	}
	raw, err := decodeBase64(token)
	if err != nil {
		return t, fmt.Errorf("%w: not base64", ErrBadThreeDS2Token)
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return ThreeDS2Token{}, fmt.Errorf("%w: not a JSON object", ErrBadThreeDS2Token)
	}
	return t, nil
}

// decodeBase64 reads any of the four base64 forms: Adyen's tokens are
// standard base64, but a URL-safe or unpadded one is the same data.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// fingerprint checks a fingerprint token: the 3DS Server transaction id is
// required; the 3DS Method URL, when there is one, must be an absolute
// http(s) URL (an empty one means the ACS runs no 3DS Method).
func (t ThreeDS2Token) fingerprint() error {
	if t.ThreeDSServerTransID == "" {
		return fmt.Errorf("%w: fingerprint token without threeDSServerTransID", ErrBadThreeDS2Token)
	}
	if t.ThreeDSMethodURL != "" && !webURL(t.ThreeDSMethodURL) {
		return fmt.Errorf("%w: fingerprint token's threeDSMethodUrl is not an http(s) URL", ErrBadThreeDS2Token)
	}
	return nil
}

// challenge checks a challenge token: what the browser's CReq needs.
func (t ThreeDS2Token) challenge() error {
	switch {
	case !webURL(t.ACSURL):
		return fmt.Errorf("%w: challenge token without an http(s) acsURL", ErrBadThreeDS2Token)
	case t.ACSTransID == "" || t.ThreeDSServerTransID == "" || t.MessageVersion == "":
		return fmt.Errorf("%w: challenge token without acsTransID, threeDSServerTransID or messageVersion", ErrBadThreeDS2Token)
	}
	return nil
}

// webURL reports whether s is an absolute http or https URL.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
