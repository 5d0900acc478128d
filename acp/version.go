package acp

import (
	"net/http"
	"slices"
)

// Version values of the API-Version header acpgw serves: every released
// ACP version.
const (
	// Version20250929 is the first ACP release.
	Version20250929 = "2025-09-29"
	// Version20251212 tightens display_last4 (OpenAPI pattern) and the IIN
	// (OpenAPI maxLength 6).
	Version20251212 = "2025-12-12"
	// Version20260116 adds capability negotiation to checkout; its Delegate
	// Payment documents are those of 2025-12-12 but for the JSON schema's
	// IIN maxLength 8.
	Version20260116 = "2026-01-16"
	// Version20260130 adds the instrument shape of payment_data; the
	// Delegate Payment JSON schema takes the display_last4 pattern too.
	Version20260130 = "2026-01-30"
	// Version20260417 is the latest stable ACP release acpgw implements:
	// Idempotency-Key required, conflicts 422, the in-flight code, an IIN of
	// up to 8 characters and risk_signals that may be empty.
	Version20260417 = "2026-04-17"
)

// Versions lists the supported API-Version values, oldest first.
var Versions = []string{Version20250929, Version20251212, Version20260116, Version20260130, Version20260417}

// Latest is the newest supported version, the default of acpgw's own /v1
// API.
const Latest = Version20260417

// SupportedVersion reports whether v is exactly one of Versions. No
// normalisation is done: "2025-9-29" or " 2025-09-29" are not supported.
func SupportedVersion(v string) bool {
	_, ok := versionRules[v]
	return ok
}

// SupportedVersionsNewestFirst returns Versions newest first, the order the
// 2026-04-17 Error schema asks of supported_versions ("ordered by
// preference (newest first)").
func SupportedVersionsNewestFirst() []string {
	out := slices.Clone(Versions)
	slices.Reverse(out)
	return out
}

// rules is what one API version says, where versions differ.
type rules struct {
	delegate delegateRules
	// keyRequired: Idempotency-Key is required on every POST (400
	// idempotency_key_required without it). The RFC's section 5 rewrite
	// (SEP #120) that makes it so is in the 2026-04-17 documents only;
	// earlier documents have the header as optional.
	keyRequired bool
	// conflictStatus is the status of idempotency_conflict: the earlier
	// documents list it under 409, 2026-04-17 under 422 (409 is then the
	// in-flight collision).
	conflictStatus int
	// inFlightCode is the code of a duplicate that arrives while the first
	// request runs: idempotency_in_flight exists only in the 2026-04-17
	// Error enum, so earlier versions get duplicate_request, the closest
	// value theirs has.
	inFlightCode string
	// errorTypes and errorCodes are the Delegate Payment Error schema's
	// enums.
	errorTypes []string
	errorCodes []string
}

var (
	errorTypes = []string{TypeInvalidRequest, TypeRateLimitExceeded, TypeProcessingError, TypeServiceUnavailable}
	codesV1    = []string{CodeInvalidCard, CodeDuplicateRequest, CodeIdempotencyConflict, CodeTooManyRequests}
	codesV5    = []string{CodeInvalidCard, CodeDuplicateRequest, CodeIdempotencyConflict, CodeTooManyRequests,
		CodeIdempotencyKeyRequired, CodeIdempotencyInFlight}
)

// versionRules: every version's OpenAPI file and JSON schema were compared
// keyword by keyword (descriptions and examples aside); the differences are
// these. Where a version's two documents disagree, acpgw applies the
// stricter, so that an accepted request is valid against both.
//
//	version     iin maxLength (OpenAPI/JSON)  display_last4 pattern (OpenAPI/JSON)  risk_signals minItems
//	2025-09-29  8 / 6                         no / no                                1
//	2025-12-12  6 / 6                         yes / no                               1
//	2026-01-16  6 / 8                         yes / no                               1
//	2026-01-30  6 / 6                         yes / yes                              1
//	2026-04-17  8 / 8                         yes / yes                              0
var versionRules = map[string]rules{
	Version20250929: older(delegateRules{iinMax: 6, last4Pattern: false, riskMin: 1}),
	Version20251212: older(delegateRules{iinMax: 6, last4Pattern: true, riskMin: 1}),
	Version20260116: older(delegateRules{iinMax: 6, last4Pattern: true, riskMin: 1}),
	Version20260130: older(delegateRules{iinMax: 6, last4Pattern: true, riskMin: 1}),
	Version20260417: {
		delegate:       delegateRules{iinMax: 8, last4Pattern: true, riskMin: 0},
		keyRequired:    true,
		conflictStatus: http.StatusUnprocessableEntity,
		inFlightCode:   CodeIdempotencyInFlight,
		errorTypes:     errorTypes,
		errorCodes:     codesV5,
	},
}

// older is the rules of a version before 2026-04-17 with its delegate
// rules.
func older(d delegateRules) rules {
	return rules{delegate: d, conflictStatus: http.StatusConflict, inFlightCode: CodeDuplicateRequest,
		errorTypes: errorTypes, errorCodes: codesV1}
}

// IdempotencyKeyRequired reports whether version requires an
// Idempotency-Key on every POST.
func IdempotencyKeyRequired(version string) bool { return versionRules[version].keyRequired }

// IdempotencyConflictStatus is the HTTP status of idempotency_conflict
// under version: 409 before 2026-04-17, 422 from it.
func IdempotencyConflictStatus(version string) int {
	if s := versionRules[version].conflictStatus; s != 0 {
		return s
	}
	return http.StatusUnprocessableEntity
}

// DelegateInFlightCode is the code of a delegate_payment duplicate sent
// while the first request still runs: idempotency_in_flight from
// 2026-04-17, duplicate_request before.
func DelegateInFlightCode(version string) string {
	if c := versionRules[version].inFlightCode; c != "" {
		return c
	}
	return CodeIdempotencyInFlight
}
