package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// key32 is base64 of 32 zero bytes, a well-formed vault key.
const key32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

const vaultOK = "vault:\n  keys:\n    - {id: k1, key: \"" + key32 + "\"}\n"

const procsOK = "processors:\n  mock: {type: mock}\n"

const merchantsOK = "merchants:\n  - id: acme\n    api_key: acme-key\n    processors: [mock]\n"

// evSecret is a well-formed events secret.
const evSecret = "whsec_0123456789abcdef"

// markedLine returns the 1-based line of the line holding "#<" in doc, the
// line a test expects its error on.
func markedLine(t *testing.T, doc string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, "#<") {
			return i + 1
		}
	}
	t.Fatalf("no #< marker in\n%s", doc)
	return 0
}

func testEnv(name string) (string, bool) {
	switch name {
	case "SET":
		return "value", true
	case "EMPTY":
		return "", true
	case "VAULT_KEY":
		return key32, true
	}
	return "", false
}

// configErrors splits a joined Parse error into its *Error values.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v is not a *config.Error", e)
		}
		out = append(out, ce)
	}
	return out
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		path string // key path the error names
		kind error
		msg  string // a part of the message
	}{
		{"unknown top-level key", vaultOK + "sever:  #<\n  listen: x\n", "sever", ErrUnknownKey, `unknown key "sever"`},
		{"unknown server key", vaultOK + "server:\n  listn: \"127.0.0.1:1\"  #<\n", "server.listn", ErrUnknownKey, "known keys: listen, tls"},
		{"unknown tls key", vaultOK + "server:\n  tls:\n    cert: a  #<\n", "server.tls.cert", ErrUnknownKey, `unknown key "cert"`},
		{"unknown merchant key", vaultOK + procsOK + merchantsOK + "    colour: red  #<\n", "merchants[0].colour", ErrUnknownKey, `unknown key "colour"`},
		{"unknown routing key", vaultOK + procsOK + merchantsOK + "    routing:\n      rulez: []  #<\n", "merchants[0].routing.rulez", ErrUnknownKey, `unknown key "rulez"`},
		{"unknown fees key", vaultOK + "processors:\n  mock:\n    type: mock\n    fees: {percent: 1, fixd: 3}  #<\n", "processors.mock.fees.fixd", ErrUnknownKey, `unknown key "fixd"`},
		{"stripe processor with mock key", vaultOK + "processors:\n  s:\n    type: stripe\n    secret_key: sk\n    latency: 5ms  #<\n", "processors.s.latency", ErrUnknownKey, "for a stripe processor (it belongs to mock)"},
		{"mock processor with adyen key", vaultOK + "processors:\n  m:\n    type: mock\n    merchant_account: x  #<\n", "processors.m.merchant_account", ErrUnknownKey, "belongs to adyen"},
		{"duplicate key", vaultOK + "server:\n  listen: \"127.0.0.1:1\"\n  listen: \"127.0.0.1:2\"  #<\n", "server.listen", ErrDuplicateKey, "first at line"},
		{"duplicate processor name", vaultOK + "processors:\n  mock: {type: mock}\n  mock: {type: mock}  #<\n", "processors.mock", ErrDuplicateKey, `duplicate key "mock"`},
		{"duplicate top-level key", vaultOK + "vault:  #<\n  keys: []\n", "vault", ErrDuplicateKey, "first at line 1"},
		{"server is a list", vaultOK + "server: [a]  #<\n", "server", ErrType, "expected a mapping, got a list"},
		{"listen is a mapping", vaultOK + "server:\n  listen: {a: b}  #<\n", "server.listen", ErrType, "expected a single value, got a mapping"},
		{"body_limit is a string", vaultOK + "server:\n  body_limit: lots  #<\n", "server.body_limit", ErrType, "expected an integer, got a string"},
		{"id is a boolean", vaultOK + procsOK + "merchants:\n  - id: true  #<\n    api_key: k\n    processors: [mock]\n", "merchants[0].id", ErrType, "expected a string, got a boolean"},
		{"per_merchant is a string", vaultOK + procsOK + merchantsOK + "    metrics: {per_merchant: yes please}  #<\n", "merchants[0].metrics.per_merchant", ErrType, "expected true or false"},
		{"processors is a string", vaultOK + procsOK + "merchants:\n  - id: acme\n    api_key: k\n    processors: mock  #<\n", "merchants[0].processors", ErrType, "expected a list"},
		{"duration without unit", vaultOK + "server:\n  read_timeout: 10  #<\n", "server.read_timeout", ErrType, `invalid duration "10"`},
		{"bad duration", vaultOK + "reconcile:\n  lease: 1 minute  #<\n", "reconcile.lease", ErrType, `invalid duration "1 minute"`},
		{"zero duration", vaultOK + "server:\n  idle_timeout: 0s  #<\n", "server.idle_timeout", ErrInvalid, "must be positive"},
		{"negative drain delay", vaultOK + "server:\n  drain_delay: -1s  #<\n", "server.drain_delay", ErrInvalid, "must not be negative"},
		{"negative timeout", vaultOK + "processors:\n  mock:\n    type: mock\n    timeout: -1s  #<\n", "processors.mock.timeout", ErrInvalid, "must be positive"},
		{"ttl below a day", vaultOK + "idempotency:\n  ttl: 1h  #<\n", "idempotency.ttl", ErrInvalid, "at least 24h"},
		{"amounts max unknown currency", vaultOK + "amounts:\n  max:\n    usd: 100\n    xyz: 100  #<\n", "amounts.max.xyz", ErrInvalid, `"xyz" is not a lowercase ISO 4217 currency`},
		{"amounts max upper-case currency", vaultOK + "amounts:\n  max: {USD: 100}  #<\n", "amounts.max.USD", ErrInvalid, "lowercase ISO 4217"},
		{"amounts max zero", vaultOK + "amounts:\n  max:\n    jpy: 0  #<\n", "amounts.max.jpy", ErrInvalid, "positive number of minor units"},
		{"amounts max above 2^53", vaultOK + "amounts:\n  max:\n    usd: 9007199254740993  #<\n", "amounts.max.usd", ErrInvalid, "lose precision in the metrics"},
		{"amounts max is a string", vaultOK + "amounts:\n  max:\n    usd: lots  #<\n", "amounts.max.usd", ErrType, "expected an integer"},
		{"amounts unknown key", vaultOK + "amounts:\n  min: {usd: 1}  #<\n", "amounts.min", ErrUnknownKey, `unknown key "min"`},
		{"missing env var", "vault:\n  keys:\n    - id: k1\n      key: \"${NOPE_KEY}\"  #<\n", "vault.keys[0].key", ErrEnv, "environment variable NOPE_KEY is not set"},
		{"two missing env vars", vaultOK + "store:\n  driver: postgres\n  dsn: \"postgres://${PGUSER}:${PGPASS}@db/x\"  #<\n", "store.dsn", ErrEnv, "PGUSER, PGPASS are not set"},
		{"malformed env reference", vaultOK + "server:\n  listen: \"${SET\"  #<\n", "server.listen", ErrEnv, "unterminated"},
		{"bad env name", vaultOK + "server:\n  listen: \"${1X}\"  #<\n", "server.listen", ErrEnv, "invalid variable name"},
		{"duplicate merchant", vaultOK + procsOK + merchantsOK + "  - id: acme  #<\n    api_key: other\n    processors: [mock]\n", "merchants[1].id", ErrInvalid, `duplicate merchant id "acme"`},
		{"merchant id with a space", vaultOK + procsOK + "merchants:\n  - id: acme inc  #<\n    api_key: k\n    processors: [mock]\n", "merchants[0].id", ErrInvalid, "letters, digits"},
		{"merchant without id", vaultOK + procsOK + "merchants:\n  - api_key: k  #<\n    processors: [mock]\n", "merchants[0].id", ErrRequired, "merchant id is required"},
		{"merchant without key", vaultOK + procsOK + "merchants:\n  - id: acme  #<\n    processors: [mock]\n", "merchants[0].api_key", ErrRequired, "api_key (or api_key_sha256) is required"},
		{"merchant with key and hash", vaultOK + procsOK + "merchants:\n  - id: acme\n    api_key: k\n    api_key_sha256: " + strings.Repeat("ab", 32) + "  #<\n    processors: [mock]\n", "merchants[0].api_key_sha256", ErrInvalid, "not both"},
		{"bad key hash", vaultOK + procsOK + "merchants:\n  - id: acme\n    api_key_sha256: abcd  #<\n    processors: [mock]\n", "merchants[0].api_key_sha256", ErrInvalid, "64 hex digits"},
		{"same merchant key", vaultOK + procsOK + merchantsOK + "  - id: b\n    api_key: acme-key  #<\n    processors: [mock]\n", "merchants[1].api_key", ErrInvalid, "same API key as merchants[0]"},
		{"same agent key", vaultOK + "agents:\n  - {id: a, api_key: k}\n  - {id: b, api_key: k}  #<\n", "agents[1].api_key", ErrInvalid, "same API key as agents[0]"},
		{"duplicate agent", vaultOK + "agents:\n  - {id: a, api_key: k1}\n  - {id: a, api_key: k2}  #<\n", "agents[1].id", ErrInvalid, `duplicate agent id "a"`},
		{"merchant without processors", vaultOK + procsOK + "merchants:\n  - id: acme  #<\n    api_key: k\n", "merchants[0].processors", ErrRequired, "at least one processor"},
		{"unknown processor reference", vaultOK + procsOK + "merchants:\n  - id: acme\n    api_key: k\n    processors:\n      - mock\n      - stripe_eu  #<\n", "merchants[0].processors[1]", ErrInvalid, `unknown processor "stripe_eu"`},
		{"processor listed twice", vaultOK + procsOK + "merchants:\n  - id: acme\n    api_key: k\n    processors: [mock,\n      mock]  #<\n", "merchants[0].processors[1]", ErrInvalid, "listed twice"},
		{"bad strategy", vaultOK + procsOK + merchantsOK + "    routing: {strategy: cheapest}  #<\n", "merchants[0].routing.strategy", ErrInvalid, `unknown strategy "cheapest"`},
		{"weights sum 0", vaultOK + procsOK + merchantsOK + "    routing:\n      strategy: weighted\n      weights: {mock: 0}  #<\n", "merchants[0].routing.weights", ErrInvalid, "add up to more than 0"},
		{"weighted without weights", vaultOK + procsOK + merchantsOK + "    routing: {strategy: weighted}  #<\n", "merchants[0].routing.weights", ErrInvalid, "add up to more than 0"},
		{"weight for unlisted processor", vaultOK + "processors:\n  mock: {type: mock}\n  m2: {type: mock}\n" + merchantsOK + "    routing:\n      strategy: weighted\n      weights:\n        mock: 1\n        m2: 1  #<\n", "merchants[0].routing.weights.m2", ErrInvalid, "not in this merchant's processors"},
		{"weights with priority", vaultOK + procsOK + merchantsOK + "    routing:\n      weights: {mock: 1}  #<\n", "merchants[0].routing.weights", ErrInvalid, "only used with strategy weighted"},
		{"max_attempts 0", vaultOK + procsOK + merchantsOK + "    routing:\n      max_attempts: 0  #<\n", "merchants[0].routing.max_attempts", ErrInvalid, "between 1 and 10"},
		{"lowercase country", vaultOK + procsOK + merchantsOK + "    country: us  #<\n", "merchants[0].country", ErrInvalid, "upper-case ISO 3166"},
		{"unknown risk action", vaultOK + "risk:\n  block_actions: [blocked, deny]  #<\n", "risk.block_actions[1]", ErrInvalid, `unknown risk action "deny"`},
		{"duplicate risk action", vaultOK + "risk:\n  block_actions: [blocked, blocked]  #<\n", "risk.block_actions[1]", ErrInvalid, "duplicate risk action"},
		{"negative max_score", vaultOK + "risk:\n  max_score: -1  #<\n", "risk.max_score", ErrInvalid, "must not be negative"},
		{"max_score a string", vaultOK + "risk:\n  max_score: high  #<\n", "risk.max_score", ErrType, "expected an integer"},
		{"merchant risk action", vaultOK + procsOK + merchantsOK + "    risk:\n      block_actions: [manual_review, maybe]  #<\n", "merchants[0].risk.block_actions[1]", ErrInvalid, `unknown risk action "maybe"`},
		{"unknown risk key", vaultOK + "risk:\n  min_score: 3  #<\n", "risk.min_score", ErrUnknownKey, "known keys: block_actions, max_score"},
		{"token max_attempts 0", vaultOK + "tokens:\n  max_attempts: 0  #<\n", "tokens.max_attempts", ErrInvalid, "between 1 and 20"},
		{"token max_attempts 21", vaultOK + "tokens:\n  max_attempts: 21  #<\n", "tokens.max_attempts", ErrInvalid, "between 1 and 20"},
		{"bad base64 key", "vault:\n  keys:\n    - id: k1\n      key: \"not base64!\"  #<\n", "vault.keys[0].key", ErrInvalid, "not valid base64"},
		{"short vault key", "vault:\n  keys:\n    - id: k1\n      key: \"AAAA\"  #<\n", "vault.keys[0].key", ErrInvalid, "decodes to 3 bytes, want exactly 32"},
		{"vault key missing", "vault:\n  keys:\n    - id: k1  #<\n", "vault.keys[0].key", ErrRequired, "key is required"},
		{"no vault keys", "vault:\n  keys: []  #<\n", "vault.keys", ErrRequired, "at least one vault key"},
		{"zero max_token_ttl", vaultOK + "  max_token_ttl: 0s  #<\n", "vault.max_token_ttl", ErrInvalid, "must be positive"},
		{"cvc_ttl in words", vaultOK + "  cvc_ttl: a day  #<\n", "vault.cvc_ttl", ErrType, `invalid duration "a day"`},
		{"negative cvc_ttl", "vault:\n  cvc_ttl: -1h  #<\n  keys:\n    - {id: k1, key: \"" + key32 + "\"}\n", "vault.cvc_ttl", ErrInvalid, "must be positive"},
		{"duplicate vault key id", vaultOK + "    - {id: k1, key: \"" + key32 + "\"}  #<\n", "vault.keys[1].id", ErrInvalid, `duplicate key id "k1"`},
		{"stripe without secret", vaultOK + "processors:\n  s:  #<\n    type: stripe\n", "processors.s.secret_key", ErrRequired, "secret_key is required"},
		{"stripe secret from empty env", vaultOK + "processors:\n  s:\n    type: stripe\n    secret_key: \"${EMPTY}\"  #<\n", "processors.s.secret_key", ErrRequired, "secret_key is required"},
		{"stripe bad base_url", vaultOK + "processors:\n  s:\n    type: stripe\n    secret_key: sk\n    base_url: \"ftp://x\"  #<\n", "processors.s.base_url", ErrInvalid, "http:// or https://"},
		{"stripe bad shared_token_param", vaultOK + "processors:\n  s:\n    type: stripe\n    secret_key: sk\n    shared_token_param: \"spt token\"  #<\n", "processors.s.shared_token_param", ErrInvalid, "form parameter name"},
		{"stripe bad api_version", vaultOK + "processors:\n  s:\n    type: stripe\n    secret_key: sk\n    api_version: latest  #<\n", "processors.s.api_version", ErrInvalid, "Stripe API version"},
		{"adyen with stripe key", vaultOK + "processors:\n  a:\n    type: adyen\n    api_key: k\n    merchant_account: M\n    api_version: 2026-04-22  #<\n", "processors.a.api_version", ErrUnknownKey, "(it belongs to stripe)"},
		{"adyen live without prefix", vaultOK + "processors:\n  a:\n    type: adyen\n    api_key: k\n    merchant_account: M\n    environment: live  #<\n", "processors.a.live_url_prefix", ErrRequired, "required when environment is live"},
		{"adyen bad environment", vaultOK + "processors:\n  a:\n    type: adyen\n    api_key: k\n    merchant_account: M\n    environment: prod  #<\n", "processors.a.environment", ErrInvalid, "must be test or live"},
		{"adyen without merchant account", vaultOK + "processors:\n  a:  #<\n    type: adyen\n    api_key: k\n", "processors.a.merchant_account", ErrRequired, "merchant_account is required"},
		{"processor without type", vaultOK + "processors:\n  p:  #<\n    timeout: 1s\n", "processors.p.type", ErrRequired, "type is required"},
		{"unknown processor type", vaultOK + "processors:\n  p:\n    type: paypal  #<\n", "processors.p.type", ErrInvalid, `unknown processor type "paypal"`},
		{"bad processor name", vaultOK + "processors:\n  \"a b\": {type: mock}  #<\n", "processors.a b", ErrInvalid, "processor name"},
		{"bad currency", vaultOK + "processors:\n  mock:\n    type: mock\n    currencies: [usd, USD]  #<\n", "processors.mock.currencies[1]", ErrInvalid, `unknown currency "USD"`},
		{"bad fee currency", vaultOK + "processors:\n  mock:\n    type: mock\n    fees: {fixed: 1, currency: xyz}  #<\n", "processors.mock.fees.currency", ErrInvalid, `unknown currency "xyz"`},
		{"fixed fee without currency", vaultOK + "processors:\n  mock:\n    type: mock\n    fees: {fixed: 30}  #<\n", "processors.mock.fees.currency", ErrRequired, "does not convert currencies"},
		{"fee percent exponent", vaultOK + "processors:\n  mock:\n    type: mock\n    fees:\n      percent: 2.9e0  #<\n", "processors.mock.fees.percent", ErrInvalid, "not a decimal percent"},
		{"fee percent too precise", vaultOK + "processors:\n  mock:\n    type: mock\n    fees:\n      percent: 2.12345  #<\n", "processors.mock.fees.percent", ErrInvalid, "more than 4 decimals"},
		{"fees add over 100", vaultOK + "processors:\n  mock:\n    type: mock\n    fees: {percent: 60, interchange_percent: 50}  #<\n", "processors.mock.fees", ErrInvalid, "more than 100%"},
		{"tls half set", vaultOK + "server:\n  tls:  #<\n    cert_file: /etc/cert.pem\n", "server.tls.key_file", ErrRequired, "both cert_file and key_file"},
		{"bad listen", vaultOK + "server:\n  listen: localhost  #<\n", "server.listen", ErrInvalid, "must be host:port"},
		{"public_url not a url", vaultOK + "server:\n  public_url: localhost:8080  #<\n", "server.public_url", ErrInvalid, "http:// or https:// URL"},
		{"public_url with a query", vaultOK + "server:\n  public_url: \"https://pay.example.com/?x=1\"  #<\n", "server.public_url", ErrInvalid, "without credentials, query or fragment"},
		{"bad debug_listen", vaultOK + "server:\n  debug_listen: localhost  #<\n", "server.debug_listen", ErrInvalid, "must be host:port"},
		{"debug_listen without port", vaultOK + "server:\n  debug_listen: \"127.0.0.1:\"  #<\n", "server.debug_listen", ErrInvalid, "must be host:port"},
		{"debug on the api listener", vaultOK + "server:\n  listen: \"127.0.0.1:9\"\n  debug_listen: \"127.0.0.1:9\"  #<\n", "server.debug_listen", ErrInvalid, "never served on the API listener"},
		{"debug on the metrics listener", vaultOK + "server:\n  debug_listen: \"127.0.0.1:7\"  #<\nmetrics: {listen: \"127.0.0.1:7\"}\n", "server.debug_listen", ErrInvalid, "metrics.listen"},
		{"metrics on the api listener", vaultOK + "server: {listen: \"127.0.0.1:9\"}\nmetrics:\n  listen: \"127.0.0.1:9\"  #<\n", "metrics.listen", ErrInvalid, "leave it out"},
		{"sqlite dsn is a postgres url", vaultOK + "store:\n  driver: sqlite\n  dsn: \"postgres://u@db/acpgw\"  #<\n", "store.dsn", ErrInvalid, `a file path, not a URL ("postgres:`},
		{"default driver with a url", vaultOK + "store:\n  dsn: \"postgresql://db/acpgw\"  #<\n", "store.dsn", ErrInvalid, "driver: postgres"},
		{"sqlite file uri", vaultOK + "store:\n  driver: sqlite\n  dsn: \"file:data/acpgw.db?mode=rwc\"  #<\n", "store.dsn", ErrInvalid, "a file path, not a URL"},
		{"sqlite in memory", vaultOK + "store:\n  driver: sqlite\n  dsn: \":memory:\"  #<\n", "store.dsn", ErrInvalid, "every token would be lost"},
		{"unknown driver", vaultOK + "store:\n  driver: mysql  #<\n", "store.driver", ErrInvalid, `unknown driver "mysql"`},
		{"postgres without dsn", vaultOK + "store:  #<\n  driver: postgres\n", "store.dsn", ErrRequired, "dsn is required for postgres"},
		{"postgres bad dsn", vaultOK + "store:\n  driver: postgres\n  dsn: \"host=db password=x\"  #<\n", "store.dsn", ErrInvalid, "postgres:// or postgresql://"},
		{"authentication by a stripe processor", vaultOK + "processors:\n  mock: {type: mock}\n  stripe_us: {type: stripe, secret_key: sk_test_1}\n" + merchantsOK + "    authentication:\n      provider: stripe_us  #<\n", "merchants[0].authentication.provider", ErrInvalid, "of type stripe, which cannot authenticate"},
		{"authentication by an unknown processor", vaultOK + procsOK + merchantsOK + "    authentication: {provider: nope}  #<\n", "merchants[0].authentication.provider", ErrInvalid, `unknown processor "nope"`},
		{"authentication without provider", vaultOK + procsOK + merchantsOK + "    authentication: {}  #<\n", "merchants[0].authentication.provider", ErrRequired, "provider is required"},
		{"authentication unknown key", vaultOK + procsOK + merchantsOK + "    authentication: {provider: mock, ttl: 1m}  #<\n", "merchants[0].authentication.ttl", ErrUnknownKey, "known keys: provider"},
		{"authentication session_ttl too long", vaultOK + "authentication:\n  session_ttl: 25h  #<\n", "authentication.session_ttl", ErrInvalid, "at most 24h"},
		{"authentication session_ttl zero", vaultOK + "authentication:\n  session_ttl: 0s  #<\n", "authentication.session_ttl", ErrInvalid, "must be positive"},
		{"authentication step_timeout above the lock", vaultOK + "authentication:\n  step_timeout: 2m  #<\n", "authentication.step_timeout", ErrInvalid, "must not exceed idempotency.in_flight_lock"},
		{"events http to a public host", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"http://acme.example/hook\"  #<\n      secret: " + evSecret + "\n", "merchants[0].events.url", ErrInvalid, "acme.example needs https://"},
		{"events http to a public ip", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"http://10.0.0.1:8080/hook\"  #<\n      secret: " + evSecret + "\n", "merchants[0].events.url", ErrInvalid, "only allowed to a loopback address"},
		{"events ftp url", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"ftp://acme.example/hook\"  #<\n      secret: " + evSecret + "\n", "merchants[0].events.url", ErrInvalid, "must be an https:// URL"},
		{"events url with credentials", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://u:p@acme.example/hook\"  #<\n      secret: " + evSecret + "\n", "merchants[0].events.url", ErrInvalid, "must not hold credentials"},
		{"events without url", vaultOK + procsOK + merchantsOK + "    events:  #<\n      secret: " + evSecret + "\n", "merchants[0].events.url", ErrRequired, "url is required"},
		{"events empty secret", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: \"\"  #<\n", "merchants[0].events.secret", ErrRequired, "secret is required"},
		{"events secret from empty env", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: \"${EMPTY}\"  #<\n", "merchants[0].events.secret", ErrRequired, "secret is required"},
		{"events without secret", vaultOK + procsOK + merchantsOK + "    events:  #<\n      url: \"https://acme.example/hook\"\n", "merchants[0].events.secret", ErrRequired, "secret is required"},
		{"events short secret", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: short  #<\n", "merchants[0].events.secret", ErrInvalid, "at least 16 characters"},
		{"events previous secret same", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: " + evSecret + "\n      previous_secret: " + evSecret + "  #<\n", "merchants[0].events.previous_secret", ErrInvalid, "the same as secret"},
		{"events unknown type", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: " + evSecret + "\n      types:\n        - payment.captured\n        - payment.refunded  #<\n", "merchants[0].events.types[1]", ErrInvalid, `unknown event type "payment.refunded"`},
		{"events type twice", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: " + evSecret + "\n      types: [refund.failed,\n        refund.failed]  #<\n", "merchants[0].events.types[1]", ErrInvalid, "listed twice"},
		{"events empty types", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: " + evSecret + "\n      types: []  #<\n", "merchants[0].events.types", ErrInvalid, "leave it out"},
		{"events unknown key", vaultOK + procsOK + merchantsOK + "    events:\n      url: \"https://acme.example/hook\"\n      secret: " + evSecret + "\n      endpoint: x  #<\n", "merchants[0].events.endpoint", ErrUnknownKey, "known keys: url, secret, previous_secret, types"},
		{"events zero timeout", vaultOK + "events:\n  timeout: 0s  #<\n", "events.timeout", ErrInvalid, "must be positive"},
		{"events retry_max below initial", vaultOK + "events:\n  retry_initial: 2m\n  retry_max: 1m  #<\n", "events.retry_max", ErrInvalid, "must not be below retry_initial"},
		{"events no workers", vaultOK + "events:\n  workers: 0  #<\n", "events.workers", ErrInvalid, "between 1 and 64"},
		{"events zero retention", vaultOK + "events:\n  retention: 0s  #<\n", "events.retention", ErrInvalid, "must be positive"},
		{"events unknown global key", vaultOK + "events:\n  url: x  #<\n", "events.url", ErrUnknownKey, "known keys: timeout, retry_initial"},
		{"alias", vaultOK + "processors:\n  mock: &p {type: mock}\n  m2: *p  #<\n", "processors.m2", ErrType, "aliases"},
		{"merge key", vaultOK + "server:\n  <<: {listen: \"127.0.0.1:1\"}  #<\n", "server", ErrType, "merge keys"},
		{"not a mapping", "- a  #<\n", "", ErrType, "top level must be a mapping"},
		{"syntax error", vaultOK + "server:\n  listen: [  #<\n", "", ErrSyntax, ""},
		{"two documents", vaultOK + "---  #<\nserver: {}\n", "", ErrSyntax, "only one YAML document"},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			line := markedLine(t, tt.doc)
			c, err := parse([]byte(tt.doc), "test.yaml", testEnv)
			if err == nil {
				t.Fatalf("parse succeeded (%+v), want an error at line %d", c, line)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %q does not wrap %v", err, tt.kind)
			}
			want := fmt.Sprintf("test.yaml:%d: ", line)
			if tt.path != "" {
				want += tt.path + ": "
			}
			var found *Error
			for _, e := range configErrors(t, err) {
				if e.Line == line && e.Path == tt.path && strings.HasPrefix(e.Error(), want) && strings.Contains(e.Msg, tt.msg) {
					found = e
				}
			}
			if found == nil {
				t.Fatalf("no error starting %q and containing %q in:\n%v", want, tt.msg, err)
			}
			if !errors.Is(found, tt.kind) {
				t.Errorf("error %q is not %v", found, tt.kind)
			}
		})
	}
}

// TestParseCollectsAllErrors checks that errors are not cut short at the
// first one and come out in line order.
func TestParseCollectsAllErrors(t *testing.T) {
	t.Parallel()
	doc := vaultOK + // lines 1-3
		"server:\n  read_timeout: soon\n" + // 5
		"processors:\n  mock: {type: mock, colour: red}\n" + // 7
		"merchants:\n  - id: acme\n    api_key: k\n    processors: [nope]\n" // 11
	_, err := parse([]byte(doc), "f.yaml", testEnv)
	if err == nil {
		t.Fatal("want errors")
	}
	errs := configErrors(t, err)
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%d %s", e.Line, e.Path))
	}
	want := []string{"5 server.read_timeout", "7 processors.mock.colour", "11 merchants[0].processors[0]"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("errors at %q, want %q\n%v", got, want, err)
	}
}

// TestErrorsHideSecrets checks that no message quotes a secret value, even
// when the value is what is wrong.
func TestErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	const s = "SuperSecretValue123"
	docs := []string{
		"vault:\n  keys:\n    - {id: k1, key: \"" + s + "\"}\n",
		"vault:\n  keys:\n    - {id: k1, key: \"" + s + "==\"}\n",
		vaultOK + "processors:\n  s: {type: stripe, secret_key: [" + s + "]}\n",
		vaultOK + "processors:\n  s: {type: stripe, secret_key: " + s + ", secret: " + s + "}\n",
		vaultOK + "store: {driver: postgres, dsn: \"mysql://u:" + s + "@h/db\"}\n",
		vaultOK + "store: {driver: postgres, dsn: \"postgres://u:" + s + "@[::1\"}\n",
		vaultOK + "store: {driver: sqlite, dsn: \"postgres://u:" + s + "@h/db\"}\n",
		vaultOK + "store: {dsn: \"mysql://u:" + s + "@h/db\"}\n",
		vaultOK + "agents:\n  - {id: a, api_key_sha256: " + s + "}\n",
		vaultOK + "agents:\n  - {id: a, api_key: " + s + "}\n  - {id: b, api_key: " + s + "}\n",
		vaultOK + procsOK + merchantsOK + "    events: {url: \"https://x.example/\", secret: " + s + ", previous_secret: " + s + "}\n",
		vaultOK + procsOK + merchantsOK + "    events: {url: \"https://x.example/\", secret: [" + s + "]}\n",
	}
	for i, doc := range docs {
		_, err := parse([]byte(doc), "f.yaml", testEnv)
		if err == nil {
			t.Errorf("doc %d: want an error", i)
			continue
		}
		if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "Secret") {
			t.Errorf("doc %d: error shows the secret: %v", i, err)
		}
	}
}
