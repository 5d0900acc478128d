// Package acp holds the Agentic Commerce Protocol rules acpgw applies to
// outside input: the supported API versions, the flat ACP error object, the
// strict decoders of the Delegate Payment request, of the Delegate
// Authentication requests (and the rendering of their answers) and of
// acpgw's own POST /v1/payments body, and the token kinds.
//
// Every decoder here is strict on purpose: unknown fields, duplicate keys,
// wrong JSON types, trailing data and numbers with a fraction where an
// integer goes are errors, never coerced, because a lenient decoder in front
// of a vault is a request-smuggling vector (an integral number is an integer
// whatever its spelling, 2599.0 or 2.599e3, as JSON Schema says, and is read
// exactly, never through a float). Errors never carry a card number, a CVC
// or a 3-D Secure cryptogram: messages name the field and the rule, not the
// value.
package acp
