// Package acp holds the Agentic Commerce Protocol rules acpgw applies to
// outside input: the supported API versions, the flat ACP error object, the
// strict decoders of the Delegate Payment request and of acpgw's own
// POST /v1/payments body, and the token kinds.
//
// Every decoder here is strict on purpose: unknown fields, duplicate keys,
// wrong JSON types, trailing data and numbers that are not exact integers
// are errors, never coerced, because a lenient decoder in front of a vault
// is a request-smuggling vector. Errors never carry a card number or a CVC:
// messages name the field and the rule, not the value.
package acp
