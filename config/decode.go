package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"acpgw/fees"
	"acpgw/payment"
)

// decoder walks one file's node tree into a Config, collecting every error.
type decoder struct {
	file   string
	lookup func(string) (string, bool)
	errs   []*Error
	// reported holds paths that already have an error, so validation does
	// not pile a second message on a value that failed to decode.
	reported map[string]bool
	lines    map[string]int
	// keys, when set (by tests), records the keys the decoder knows and the
	// keys the file has at every mapping it walks.
	keys *keyLog
}

// keyLog records the decoder's schema as it walks a file: for every mapping,
// the keys the decoder would accept there and the keys the file has. Paths
// are schema paths: list items are [], named entries (processors, weights)
// are *, and a processor is <its type>, since its type decides its keys
// (processors.<stripe>.secret_key, merchants[].routing.rules[].match).
// Tests use it to check that config/example.yaml shows every key.
type keyLog struct {
	known, present map[string]map[string]bool
	schema         map[string]string // concrete path -> schema path
}

func newKeyLog() *keyLog {
	return &keyLog{known: map[string]map[string]bool{}, present: map[string]map[string]bool{}, schema: map[string]string{}}
}

// of returns the schema path of a concrete path the decoder has walked.
func (l *keyLog) of(path string) string {
	if s, ok := l.schema[path]; ok {
		return s
	}
	return path
}

func (l *keyLog) add(m map[string]map[string]bool, path, key string) {
	if m[path] == nil {
		m[path] = map[string]bool{}
	}
	m[path][key] = true
}

func parse(data []byte, path string, lookup func(string) (string, bool)) (*Config, error) {
	return parseLogged(data, path, lookup, nil)
}

// parseLogged is parse that also records the keys it meets in keys, when
// keys is not nil.
func parseLogged(data []byte, path string, lookup func(string) (string, bool), keys *keyLog) (*Config, error) {
	d := &decoder{file: path, lookup: lookup, reported: map[string]bool{}, lines: map[string]int{}, keys: keys}
	if d.file == "" {
		d.file = "config"
	}
	c := &Config{Path: path, Processors: map[string]*Processor{}, lines: d.lines}
	if root := d.document(data); root != nil {
		d.config(root, c)
		d.defaults(c)
		d.validate(c)
	}
	if len(d.errs) > 0 {
		slices.SortStableFunc(d.errs, func(a, b *Error) int { return a.Line - b.Line })
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// document parses data as exactly one YAML document holding a mapping.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.failAt(0, "", ErrSyntax, "the file is empty")
		} else {
			// yaml.v3 messages quote at most a short token of the input.
			line := yamlErrLine(err)
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			msg = strings.TrimPrefix(msg, "line "+strconv.Itoa(line)+": ")
			d.failAt(line, "", ErrSyntax, "%s", msg)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = yamlErrLine(err)
		}
		d.failAt(line, "", ErrSyntax, "only one YAML document is allowed")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.failAt(doc.Line, "", ErrSyntax, "the file is empty")
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		d.failAt(root.Line, "", ErrType, "the top level must be a mapping of keys (server:, store:, ...)")
		return nil
	}
	return root
}

// yamlErrLine digs the line out of a yaml.v3 error message ("yaml: line 3: ...").
func yamlErrLine(err error) int {
	s := err.Error()
	_, rest, ok := strings.Cut(s, "line ")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		return 0
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

func (d *decoder) failAt(line int, path string, kind error, format string, args ...any) {
	d.reported[path] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...), Kind: kind})
}

func (d *decoder) fail(n *yaml.Node, path string, kind error, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	if line == 0 {
		line = lineOf(d.lines, path)
	}
	d.failAt(line, path, kind, format, args...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// field is one key of a mapping and what to do with its value.
type field struct {
	key    string
	decode func(v *yaml.Node, path string)
}

// object walks the mapping n at path, decoding known keys and reporting
// unknown and duplicate ones. hint, when set, adds to the unknown-key
// message. A null value (a key with nothing after it) is an empty mapping.
func (d *decoder) object(n *yaml.Node, path string, fields []field, hint func(key string) string) {
	if isNull(n) || !d.kind(n, path, yaml.MappingNode) {
		return
	}
	if d.keys != nil {
		for _, f := range fields {
			d.keys.add(d.keys.known, d.keys.of(path), f.key)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		p := join(path, key)
		if d.keys != nil {
			d.keys.add(d.keys.present, d.keys.of(path), key)
			d.keys.schema[p] = join(d.keys.of(path), key)
		}
		if first, dup := seen[key]; dup {
			d.fail(k, p, ErrDuplicateKey, "duplicate key %q (first at line %d)", key, first)
			continue
		}
		seen[key] = k.Line
		d.lines[p] = k.Line
		j := slices.IndexFunc(fields, func(f field) bool { return f.key == key })
		if j < 0 {
			msg := fmt.Sprintf("unknown key %q", key)
			if hint != nil {
				if h := hint(key); h != "" {
					msg += " " + h
				}
			}
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = f.key
			}
			d.fail(k, p, ErrUnknownKey, "%s; known keys: %s", msg, strings.Join(names, ", "))
			continue
		}
		if v.Kind == yaml.AliasNode {
			d.fail(v, p, ErrType, "aliases (*name) are not supported")
			continue
		}
		fields[j].decode(v, p)
	}
}

// entries walks a mapping whose keys are names (processors, weights),
// calling each with the name, its path and its value in file order.
func (d *decoder) entries(n *yaml.Node, path string, each func(name string, k, v *yaml.Node, path string)) {
	if isNull(n) || !d.kind(n, path, yaml.MappingNode) {
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := d.key(k, path)
		if !ok {
			continue
		}
		p := join(path, name)
		if first, dup := seen[name]; dup {
			d.fail(k, p, ErrDuplicateKey, "duplicate key %q (first at line %d)", name, first)
			continue
		}
		seen[name] = k.Line
		d.lines[p] = k.Line
		if d.keys != nil {
			d.keys.schema[p] = join(d.keys.of(path), "*")
		}
		if v.Kind == yaml.AliasNode {
			d.fail(v, p, ErrType, "aliases (*name) are not supported")
			continue
		}
		each(name, k, v, p)
	}
}

// list walks the sequence n at path, calling each with every item.
func (d *decoder) list(n *yaml.Node, path string, each func(i int, v *yaml.Node, path string)) {
	if isNull(n) || !d.kind(n, path, yaml.SequenceNode) {
		return
	}
	for i, v := range n.Content {
		p := index(path, i)
		d.lines[p] = v.Line
		if d.keys != nil {
			d.keys.schema[p] = d.keys.of(path) + "[]"
		}
		if v.Kind == yaml.AliasNode {
			d.fail(v, p, ErrType, "aliases (*name) are not supported")
			continue
		}
		each(i, v, p)
	}
}

func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	if k.Kind != yaml.ScalarNode || k.Value == "" || k.ShortTag() == "!!merge" {
		what := "a key must be a plain name"
		if k.ShortTag() == "!!merge" {
			what = "merge keys (<<) are not supported"
		}
		d.fail(k, path, ErrType, "%s", what)
		return "", false
	}
	return k.Value, true
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && !strings.Contains(n.Value, "${"))
}

var kindNames = map[yaml.Kind]string{
	yaml.MappingNode:  "a mapping",
	yaml.SequenceNode: "a list",
	yaml.ScalarNode:   "a single value",
	yaml.AliasNode:    "an alias",
	yaml.DocumentNode: "a document",
}

// kind reports whether n is of kind want, and reports an error if not.
func (d *decoder) kind(n *yaml.Node, path string, want yaml.Kind) bool {
	if n.Kind == want {
		return true
	}
	d.fail(n, path, ErrType, "expected %s, got %s", kindNames[want], describe(n))
	return false
}

// describe names the YAML type of n without quoting its value, which may be
// a secret.
func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindNames[n.Kind]
	}
	switch n.ShortTag() {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	}
	return "a value tagged " + n.ShortTag()
}

// scalar returns the text of scalar n after ${NAME} expansion. expanded is
// true when the text came (partly) from the environment; such text is
// interpreted by the field's type, not by YAML's tag resolution.
func (d *decoder) scalar(n *yaml.Node, path string) (text string, expanded, ok bool) {
	if !d.kind(n, path, yaml.ScalarNode) {
		return "", false, false
	}
	if !strings.Contains(n.Value, "${") {
		if n.ShortTag() == "!!null" {
			return "", false, true
		}
		return n.Value, false, true
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.fail(n, path, ErrEnv, "%v", err)
		return "", false, false
	}
	return s, true, true
}

// expand replaces every ${NAME} in s from lookup. Unset variables and
// malformed references are errors; a lone $ is kept as it is.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	var missing []string
	seen := map[string]bool{}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New("unterminated ${ (write ${NAME})")
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid variable name %q in ${...}", name)
		}
		v, ok := lookup(name)
		if !ok && !seen[name] {
			seen[name] = true
			missing = append(missing, name)
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
	if len(missing) == 1 {
		return "", fmt.Errorf("environment variable %s is not set", missing[0])
	}
	if len(missing) > 1 {
		return "", fmt.Errorf("environment variables %s are not set", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// str decodes a string. Numbers are taken as their text (an id 12345);
// booleans are refused, as `true` for a name is almost always a mistake.
func (d *decoder) str(out *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, expanded, ok := d.scalar(n, path)
		if !ok {
			return
		}
		if !expanded {
			switch n.ShortTag() {
			case "!!str", "!!int", "!!float", "!!null", "!!timestamp":
			default:
				d.fail(n, path, ErrType, "expected a string, got %s (put it in quotes)", describe(n))
				return
			}
		}
		*out = s
	}
}

func (d *decoder) integer(out *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, expanded, ok := d.scalar(n, path)
		if !ok {
			return
		}
		if !expanded && n.ShortTag() != "!!int" {
			d.fail(n, path, ErrType, "expected an integer, got %s", describe(n))
			return
		}
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			d.fail(n, path, ErrType, "expected an integer, got %q", s)
			return
		}
		*out = v
	}
}

func (d *decoder) smallInt(out *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		var v int64
		d.integer(&v)(n, path)
		if v < -1<<31 || v > 1<<31-1 {
			d.fail(n, path, ErrInvalid, "%d is out of range", v)
			return
		}
		*out = int(v)
	}
}

func (d *decoder) float(out *float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, expanded, ok := d.scalar(n, path)
		if !ok {
			return
		}
		if !expanded && n.ShortTag() != "!!float" && n.ShortTag() != "!!int" {
			d.fail(n, path, ErrType, "expected a number, got %s", describe(n))
			return
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.fail(n, path, ErrType, "expected a number, got %q", s)
			return
		}
		*out = v
	}
}

func (d *decoder) boolean(out *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, expanded, ok := d.scalar(n, path)
		if !ok {
			return
		}
		switch {
		case (expanded || n.ShortTag() == "!!bool") && (s == "true" || s == "True" || s == "TRUE"):
			*out = true
		case (expanded || n.ShortTag() == "!!bool") && (s == "false" || s == "False" || s == "FALSE"):
			*out = false
		default:
			d.fail(n, path, ErrType, "expected true or false, got %s", describe(n))
		}
	}
}

func (d *decoder) duration(out *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, _, ok := d.scalar(n, path)
		if !ok {
			return
		}
		if n.ShortTag() == "!!null" {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.fail(n, path, ErrType, "invalid duration %q (write a number with a unit: 500ms, 10s, 2m, 24h)", s)
			return
		}
		*out = v
	}
}

func (d *decoder) percent(out *fees.Rate) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, expanded, ok := d.scalar(n, path)
		if !ok || (!expanded && n.ShortTag() == "!!null") {
			return
		}
		if !expanded && n.ShortTag() == "!!bool" {
			d.fail(n, path, ErrType, "expected a percent such as 2.9, got a boolean")
			return
		}
		r, err := fees.ParsePercent(s)
		if err != nil {
			d.fail(n, path, ErrInvalid, "%v", err)
			return
		}
		*out = r
	}
}

func (d *decoder) strings(out *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		*out = nil
		d.list(n, path, func(_ int, v *yaml.Node, p string) {
			var s string
			d.str(&s)(v, p)
			*out = append(*out, s)
		})
	}
}

// secret decodes a string that must never appear in a message. It is str:
// str never quotes a value in its errors.
func (d *decoder) secret(out *string) func(*yaml.Node, string) { return d.str(out) }

func (d *decoder) config(root *yaml.Node, c *Config) {
	d.object(root, "", []field{
		{"server", func(n *yaml.Node, p string) { d.server(n, p, &c.Server) }},
		{"store", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"driver", d.str(&c.Store.Driver)},
				{"dsn", d.secret(&c.Store.DSN)},
				{"max_conns", d.smallInt(&c.Store.MaxConns)},
				{"min_conns", d.smallInt(&c.Store.MinConns)},
				{"statement_timeout", d.duration(&c.Store.StatementTimeout)},
				{"lock_timeout", d.duration(&c.Store.LockTimeout)},
				{"connect_timeout", d.duration(&c.Store.ConnectTimeout)},
			}, nil)
		}},
		{"vault", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"keys", func(n *yaml.Node, p string) { d.vaultKeys(n, p, &c.Vault) }},
				{"max_token_ttl", d.duration(&c.Vault.MaxTokenTTL)},
				{"cvc_ttl", d.duration(&c.Vault.CVCTTL)},
			}, nil)
		}},
		{"agents", func(n *yaml.Node, p string) { c.Agents = d.callers(n, p, true) }},
		{"reports", func(n *yaml.Node, p string) { c.Reports = d.callers(n, p, false) }},
		{"processors", func(n *yaml.Node, p string) {
			d.entries(n, p, func(name string, k, v *yaml.Node, p string) {
				c.ProcessorOrder = append(c.ProcessorOrder, name)
				c.Processors[name] = d.processor(name, k, v, p)
			})
		}},
		{"merchants", func(n *yaml.Node, p string) {
			d.list(n, p, func(_ int, v *yaml.Node, p string) {
				c.Merchants = append(c.Merchants, d.merchant(v, p))
			})
		}},
		{"metrics", func(n *yaml.Node, p string) {
			d.object(n, p, []field{{"listen", d.str(&c.Metrics.Listen)}}, nil)
		}},
		{"idempotency", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"ttl", d.duration(&c.Idempotency.TTL)},
				{"in_flight_lock", d.duration(&c.Idempotency.InFlightLock)},
			}, nil)
		}},
		{"risk", func(n *yaml.Node, p string) { d.risk(n, p, &c.Risk) }},
		{"tokens", func(n *yaml.Node, p string) {
			d.object(n, p, []field{{"max_attempts", d.smallInt(&c.Tokens.MaxAttempts)}}, nil)
		}},
		{"reconcile", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"interval", d.duration(&c.Reconcile.Interval)},
				{"after", d.duration(&c.Reconcile.After)},
				{"lease", d.duration(&c.Reconcile.Lease)},
			}, nil)
		}},
		{"amounts", func(n *yaml.Node, p string) {
			d.object(n, p, []field{{"max", func(n *yaml.Node, p string) {
				c.Amounts.Max = payment.MaxAmounts{}
				d.entries(n, p, func(currency string, _, v *yaml.Node, p string) {
					var max int64
					d.integer(&max)(v, p)
					c.Amounts.Max[currency] = max
				})
			}}}, nil)
		}},
		{"events", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"timeout", d.duration(&c.Events.Timeout)},
				{"retry_initial", d.duration(&c.Events.RetryInitial)},
				{"retry_max", d.duration(&c.Events.RetryMax)},
				{"give_up_after", d.duration(&c.Events.GiveUpAfter)},
				{"workers", d.smallInt(&c.Events.Workers)},
				{"retention", d.duration(&c.Events.Retention)},
			}, nil)
		}},
		{"tracing", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"endpoint", d.secret(&c.Tracing.Endpoint)},
				{"sample_ratio", d.float(&c.Tracing.SampleRatio)},
				{"service_name", d.str(&c.Tracing.ServiceName)},
			}, nil)
		}},
		{"authentication", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"session_ttl", d.duration(&c.Authentication.SessionTTL)},
				{"step_timeout", d.duration(&c.Authentication.StepTimeout)},
			}, nil)
		}},
		{"limits", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"backend", d.str(&c.Limits.Backend)},
				{"redis_url", d.secret(&c.Limits.RedisURL)},
				{"on_error", d.str(&c.Limits.OnError)},
				{"timeout", d.duration(&c.Limits.Timeout)},
			}, nil)
		}},
	}, nil)
}

func (d *decoder) server(n *yaml.Node, path string, s *Server) {
	d.object(n, path, []field{
		{"listen", d.str(&s.Listen)},
		{"tls", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"cert_file", d.str(&s.TLS.CertFile)},
				{"key_file", d.str(&s.TLS.KeyFile)},
			}, nil)
		}},
		{"read_timeout", d.duration(&s.ReadTimeout)},
		{"read_header_timeout", d.duration(&s.ReadHeaderTimeout)},
		{"write_timeout", d.duration(&s.WriteTimeout)},
		{"idle_timeout", d.duration(&s.IdleTimeout)},
		{"shutdown_grace", d.duration(&s.ShutdownGrace)},
		{"drain_delay", d.duration(&s.DrainDelay)},
		{"settle_timeout", d.duration(&s.SettleTimeout)},
		{"body_limit", d.integer(&s.BodyLimit)},
		{"debug_listen", d.str(&s.DebugListen)},
		{"public_url", d.str(&s.PublicURL)},
	}, nil)
}

func (d *decoder) vaultKeys(n *yaml.Node, path string, v *Vault) {
	d.list(n, path, func(_ int, item *yaml.Node, p string) {
		var k VaultKey
		var b64 string
		d.object(item, p, []field{
			{"id", d.str(&k.ID)},
			{"key", d.secret(&b64)},
		}, nil)
		kp := join(p, "key")
		switch {
		case d.reported[p] || d.reported[kp]:
		case b64 == "":
			d.fail(nil, kp, ErrRequired, "key is required: base64 of 32 random bytes (openssl rand -base64 32)")
		default:
			key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
			if err != nil {
				d.fail(nil, kp, ErrInvalid, "key is not valid base64 (want base64 of exactly 32 bytes)")
			} else if len(key) != 32 {
				d.fail(nil, kp, ErrInvalid, "key decodes to %d bytes, want exactly 32 (openssl rand -base64 32)", len(key))
			} else {
				k.Key = key
			}
		}
		v.Keys = append(v.Keys, k)
	})
}

// keyHash turns api_key / api_key_sha256 into the stored hash, clearing the
// plaintext key. Exactly one of them must be set.
func (d *decoder) keyHash(path string, key *string, hexHash string) []byte {
	kp, hp := join(path, "api_key"), join(path, "api_key_sha256")
	if d.reported[path] || d.reported[kp] || d.reported[hp] {
		*key = ""
		return nil
	}
	switch {
	case *key != "" && hexHash != "":
		d.fail(nil, hp, ErrInvalid, "set either api_key or api_key_sha256, not both")
	case *key != "":
		sum := sha256.Sum256([]byte(*key))
		*key = ""
		return sum[:]
	case hexHash != "":
		h, err := hex.DecodeString(hexHash)
		if err != nil || len(h) != sha256.Size {
			d.fail(nil, hp, ErrInvalid, "api_key_sha256 must be 64 hex digits (sha256sum of the key)")
			return nil
		}
		return h
	default:
		d.fail(nil, kp, ErrRequired, "api_key (or api_key_sha256) is required")
	}
	*key = ""
	return nil
}

// processorTypes lists the keys each processor type has beyond the common
// ones, for messages about keys that belong to another type.
var processorTypes = map[string][]string{
	TypeStripe: {"secret_key", "base_url", "webhook_secret", "shared_token_param", "api_version"},
	TypeAdyen:  {"api_key", "merchant_account", "environment", "live_url_prefix", "base_url", "hmac_key", "interchange"},
	TypeMock:   {"latency", "url"},
}

func (d *decoder) processor(name string, k, n *yaml.Node, path string) *Processor {
	p := &Processor{Name: name}
	if !validName(name) {
		d.fail(k, path, ErrInvalid, "processor name %q must be 1-64 letters, digits, _ or -", name)
	}
	if isNull(n) || !d.kind(n, path, yaml.MappingNode) {
		if isNull(n) {
			d.fail(k, join(path, "type"), ErrRequired, "type is required (stripe, adyen or mock)")
		}
		return p
	}
	// The type decides which other keys are allowed, so read it first.
	var typeNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == "type" {
			typeNode = n.Content[i+1]
			break
		}
	}
	tp := join(path, "type")
	if typeNode == nil {
		d.fail(k, tp, ErrRequired, "type is required (stripe, adyen or mock)")
		return p
	}
	d.str(&p.Type)(typeNode, tp)
	if d.reported[tp] {
		return p
	}
	fields := []field{
		{"type", func(*yaml.Node, string) {}},
		{"timeout", d.duration(&p.Timeout)},
		{"currencies", d.strings(&p.Currencies)},
		{"fees", func(n *yaml.Node, path string) { d.fees(n, path, &p.Fees) }},
		{"max_latency_p99", d.duration(&p.MaxLatencyP99)},
		{"circuit", func(n *yaml.Node, path string) { d.circuit(n, path, &p.Circuit) }},
	}
	switch p.Type {
	case TypeStripe:
		s := &StripeSettings{}
		p.Stripe = s
		fields = append(fields,
			field{"secret_key", d.secret(&s.SecretKey)},
			field{"base_url", d.str(&s.BaseURL)},
			field{"webhook_secret", d.secret(&s.WebhookSecret)},
			field{"shared_token_param", d.str(&s.SharedTokenParam)},
			field{"api_version", d.str(&s.APIVersion)})
	case TypeAdyen:
		a := &AdyenSettings{}
		p.Adyen = a
		fields = append(fields,
			field{"api_key", d.secret(&a.APIKey)},
			field{"merchant_account", d.str(&a.MerchantAccount)},
			field{"environment", d.str(&a.Environment)},
			field{"live_url_prefix", d.str(&a.LiveURLPrefix)},
			field{"base_url", d.str(&a.BaseURL)},
			field{"hmac_key", d.secret(&a.HMACKey)},
			field{"interchange", func(n *yaml.Node, path string) {
				a.Interchange = &fees.Interchange{}
				d.interchange(n, path, a.Interchange)
			}})
	case TypeMock:
		m := &MockSettings{}
		p.Mock = m
		fields = append(fields, field{"latency", d.duration(&m.Latency)}, field{"url", d.str(&m.URL)})
	default:
		d.fail(typeNode, tp, ErrInvalid, "unknown processor type %q (want stripe, adyen or mock)", p.Type)
		return p
	}
	if d.keys != nil {
		// Each type has its own keys: <stripe>, not *.
		d.keys.schema[path] = join(parentPath(d.keys.of(path)), "<"+p.Type+">")
	}
	hint := func(key string) string {
		var owners []string
		for _, t := range []string{TypeStripe, TypeAdyen, TypeMock} {
			if t != p.Type && slices.Contains(processorTypes[t], key) {
				owners = append(owners, t)
			}
		}
		if len(owners) == 0 {
			return "for a " + p.Type + " processor"
		}
		return "for a " + p.Type + " processor (it belongs to " + strings.Join(owners, " and ") + ")"
	}
	d.object(n, path, fields, hint)
	return p
}

func (d *decoder) fees(n *yaml.Node, path string, s *fees.Schedule) {
	d.object(n, path, []field{
		{"percent", d.percent(&s.Percent)},
		{"fixed", d.integer(&s.Fixed)},
		{"currency", d.str(&s.Currency)},
		{"international_percent", d.percent(&s.InternationalPercent)},
		{"interchange_percent", d.percent(&s.InterchangePercent)},
	}, nil)
}

// interchange decodes an adyen processor's Interchange++ schedule.
func (d *decoder) interchange(n *yaml.Node, path string, s *fees.Interchange) {
	funding := func(f *fees.FundingRates) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) {
			d.object(n, path, []field{{"credit", d.percent(&f.Credit)}, {"debit", d.percent(&f.Debit)}}, nil)
		}
	}
	regions := func(r *fees.RegionRates) func(*yaml.Node, string) {
		return func(n *yaml.Node, path string) {
			d.object(n, path, []field{
				{"domestic", funding(&r.Domestic)},
				{"intra_regional", funding(&r.IntraRegional)},
				{"inter_regional", funding(&r.InterRegional)},
			}, nil)
		}
	}
	d.object(n, path, []field{
		{"fixed", d.integer(&s.Fixed)},
		{"currency", d.str(&s.Currency)},
		{"markup_percent", d.percent(&s.Markup)},
		{"interchange", regions(&s.InterchangeRates)},
		{"scheme", regions(&s.SchemeRates)},
	}, nil)
}

func (d *decoder) merchant(n *yaml.Node, path string) *Merchant {
	m := &Merchant{}
	var hash string
	d.object(n, path, []field{
		{"id", d.str(&m.ID)},
		{"api_key", d.secret(&m.APIKey)},
		{"api_key_sha256", d.str(&hash)},
		{"processors", d.strings(&m.Processors)},
		{"routing", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"strategy", d.str(&m.Routing.Strategy)},
				{"weights", func(n *yaml.Node, p string) {
					m.Routing.Weights = map[string]int{}
					d.entries(n, p, func(name string, _, v *yaml.Node, p string) {
						var w int
						d.smallInt(&w)(v, p)
						m.Routing.Weights[name] = w
					})
				}},
				{"max_attempts", d.smallInt(&m.Routing.MaxAttempts)},
				{"rules", func(n *yaml.Node, p string) { d.rules(n, p, &m.Routing) }},
				{"cascade_on", d.strings(&m.Routing.CascadeOn)},
			}, nil)
		}},
		{"country", d.str(&m.Country)},
		{"rate_limit", func(n *yaml.Node, p string) { d.rateLimit(n, p, &m.RateLimit) }},
		{"metrics", func(n *yaml.Node, p string) {
			d.object(n, p, []field{{"per_merchant", d.boolean(&m.Metrics.PerMerchant)}}, nil)
		}},
		{"risk", func(n *yaml.Node, p string) { d.risk(n, p, &m.Risk) }},
		{"events", func(n *yaml.Node, p string) {
			e := &MerchantEvents{}
			m.Events = e
			d.object(n, p, []field{
				{"url", d.str(&e.URL)},
				{"secret", d.secret(&e.Secret)},
				{"previous_secret", d.secret(&e.PreviousSecret)},
				{"types", d.strings(&e.Types)},
			}, nil)
		}},
		{"authentication", func(n *yaml.Node, p string) {
			a := &MerchantAuthentication{}
			m.Authentication = a
			d.object(n, p, []field{{"provider", d.str(&a.Provider)}}, nil)
		}},
	}, nil)
	m.APIKeySHA256 = d.keyHash(path, &m.APIKey, hash)
	return m
}

// risk decodes a risk: block (global or a merchant's).
func (d *decoder) risk(n *yaml.Node, path string, r *Risk) {
	d.object(n, path, []field{
		{"block_actions", d.strings(&r.BlockActions)},
		{"max_score", func(n *yaml.Node, p string) {
			var v int64
			d.integer(&v)(n, p)
			r.MaxScore = &v
		}},
	}, nil)
}

// validName reports whether s is usable as an id or processor name: it goes
// into URLs, metric labels and logs unquoted.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func (d *decoder) rateLimit(n *yaml.Node, path string, r *RateLimit) {
	d.object(n, path, []field{
		{"per_second", d.smallInt(&r.PerSecond)},
		{"burst", d.smallInt(&r.Burst)},
	}, nil)
	d.check(r.PerSecond >= 0, join(path, "per_second"), ErrInvalid, "per_second must not be negative")
	d.check(r.Burst >= 0, join(path, "burst"), ErrInvalid, "burst must not be negative")
	if r.PerSecond > 0 && r.Burst == 0 {
		r.Burst = r.PerSecond
	}
}

// callers decodes a list of API callers (agents, report readers); only
// agents may sign their requests and be rate limited.
func (d *decoder) callers(n *yaml.Node, path string, agents bool) []Agent {
	var out []Agent
	d.list(n, path, func(_ int, v *yaml.Node, p string) {
		var a Agent
		var hash string
		fields := []field{
			{"id", d.str(&a.ID)},
			{"api_key", d.secret(&a.APIKey)},
			{"api_key_sha256", d.str(&hash)},
		}
		if agents {
			fields = append(fields,
				field{"signing_secret", d.secret(&a.SigningSecret)},
				field{"timestamp_window", d.duration(&a.TimestampWindow)},
				field{"rate_limit", func(n *yaml.Node, p string) { d.rateLimit(n, p, &a.RateLimit) }})
		}
		d.object(v, p, fields, nil)
		a.APIKeySHA256 = d.keyHash(p, &a.APIKey, hash)
		out = append(out, a)
	})
	return out
}
