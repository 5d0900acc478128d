package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"acpgw/fees"
	"acpgw/payment"
)

// Redacted returns c as YAML in the file's layout, defaults filled in, with
// every secret (vault keys, API keys and their hashes, processor secrets, a
// DSN's password) replaced by "[redacted]". It is what may be logged.
func (c *Config) Redacted() string {
	var procs []*yaml.Node
	for _, name := range c.ProcessorOrder {
		procs = append(procs, str(name), c.Processors[name].redacted())
	}
	var keys, agents, merchants []*yaml.Node
	for _, k := range c.Vault.Keys {
		keys = append(keys, mapping("id", str(k.ID), "key", str(redacted)))
	}
	for _, a := range c.Agents {
		agents = append(agents, mapping("id", str(a.ID), "api_key_sha256", str(redacted)))
	}
	for _, m := range c.Merchants {
		weights := mapping()
		for _, name := range m.Processors {
			if w, ok := m.Routing.Weights[name]; ok {
				weights.Content = append(weights.Content, str(name), num(strconv.Itoa(w)))
			}
		}
		routing := mapping("strategy", str(m.Routing.Strategy))
		if len(weights.Content) > 0 {
			add(routing, "weights", weights)
		}
		add(routing, "max_attempts", num(strconv.Itoa(m.Routing.MaxAttempts)))
		mn := mapping(
			"id", str(m.ID),
			"api_key_sha256", str(redacted),
			"processors", seq(m.Processors...),
			"routing", routing,
			"country", str(m.Country),
			"metrics", mapping("per_merchant", num(strconv.FormatBool(m.Metrics.PerMerchant))),
			"risk", m.Risk.redacted(),
		)
		if e := m.Events; e != nil {
			en := mapping("url", str(e.URL), "secret", secret(e.Secret), "previous_secret", secret(e.PreviousSecret))
			if len(e.Types) > 0 {
				add(en, "types", seq(e.Types...))
			}
			add(mn, "events", en)
		}
		if a := m.Authentication; a != nil {
			add(mn, "authentication", mapping("provider", str(a.Provider)))
		}
		merchants = append(merchants, mn)
	}
	s := c.Server
	root := mapping(
		"server", mapping(
			"listen", str(s.Listen),
			"tls", mapping("cert_file", str(s.TLS.CertFile), "key_file", str(s.TLS.KeyFile)),
			"read_timeout", dur(s.ReadTimeout),
			"read_header_timeout", dur(s.ReadHeaderTimeout),
			"write_timeout", dur(s.WriteTimeout),
			"idle_timeout", dur(s.IdleTimeout),
			"shutdown_grace", dur(s.ShutdownGrace),
			"drain_delay", dur(s.DrainDelay),
			"settle_timeout", dur(s.SettleTimeout),
			"body_limit", num(strconv.FormatInt(s.BodyLimit, 10)),
			"debug_listen", str(s.DebugListen),
			"public_url", str(s.PublicURL)),
		"store", mapping("driver", str(c.Store.Driver), "dsn", str(redactDSN(c.Store.DSN))),
		"vault", mapping("keys", &yaml.Node{Kind: yaml.SequenceNode, Content: keys},
			"max_token_ttl", dur(c.Vault.MaxTokenTTL), "cvc_ttl", dur(c.Vault.CVCTTL)),
		"agents", &yaml.Node{Kind: yaml.SequenceNode, Content: agents},
		"processors", &yaml.Node{Kind: yaml.MappingNode, Content: procs},
		"merchants", &yaml.Node{Kind: yaml.SequenceNode, Content: merchants},
		"metrics", mapping("listen", str(c.Metrics.Listen)),
		"idempotency", mapping("ttl", dur(c.Idempotency.TTL), "in_flight_lock", dur(c.Idempotency.InFlightLock)),
		"reconcile", mapping("interval", dur(c.Reconcile.Interval), "after", dur(c.Reconcile.After), "lease", dur(c.Reconcile.Lease)),
		"amounts", mapping("max", maxAmounts(c.Amounts.Max)),
		"risk", c.Risk.redacted(),
		"tokens", mapping("max_attempts", num(strconv.Itoa(c.Tokens.MaxAttempts))),
		"events", mapping("timeout", dur(c.Events.Timeout), "retry_initial", dur(c.Events.RetryInitial),
			"retry_max", dur(c.Events.RetryMax), "give_up_after", dur(c.Events.GiveUpAfter),
			"workers", num(strconv.Itoa(c.Events.Workers)), "retention", dur(c.Events.Retention)),
		"tracing", mapping("endpoint", str(redactDSN(c.Tracing.Endpoint)),
			"sample_ratio", num(strconv.FormatFloat(c.Tracing.SampleRatio, 'g', -1, 64)),
			"service_name", str(c.Tracing.ServiceName)),
		"limits", mapping("backend", str(c.Limits.Backend), "redis_url", str(redactDSN(c.Limits.RedisURL)),
			"on_error", str(c.Limits.OnError), "timeout", dur(c.Limits.Timeout)),
		"authentication", mapping("session_ttl", dur(c.Authentication.SessionTTL),
			"step_timeout", dur(c.Authentication.StepTimeout)),
	)
	var b strings.Builder
	b.WriteString("# acpgw config " + c.Path + "\n")
	if c.Demo {
		b.Reset()
		b.WriteString("# acpgw embedded demo config\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		// Only plain strings are in the tree; this cannot happen.
		return "# config could not be rendered: " + err.Error()
	}
	_ = enc.Close()
	return b.String()
}

func (p *Processor) redacted() *yaml.Node {
	n := mapping("type", str(p.Type), "timeout", dur(p.Timeout))
	if len(p.Currencies) > 0 {
		add(n, "currencies", seq(p.Currencies...))
	}
	add(n, "fees", schedule(p.Fees))
	switch {
	case p.Stripe != nil:
		add(n, "secret_key", secret(p.Stripe.SecretKey), "base_url", str(p.Stripe.BaseURL),
			"webhook_secret", secret(p.Stripe.WebhookSecret))
	case p.Adyen != nil:
		a := p.Adyen
		add(n, "api_key", secret(a.APIKey), "merchant_account", str(a.MerchantAccount),
			"environment", str(a.Environment), "live_url_prefix", str(a.LiveURLPrefix),
			"base_url", str(a.BaseURL), "hmac_key", secret(a.HMACKey))
	case p.Mock != nil:
		add(n, "latency", dur(p.Mock.Latency))
	}
	return n
}

func (r Risk) redacted() *yaml.Node {
	n := mapping("block_actions", seq(r.BlockActions...))
	if r.MaxScore != nil {
		add(n, "max_score", num(strconv.FormatInt(*r.MaxScore, 10)))
	}
	return n
}

func schedule(s fees.Schedule) *yaml.Node {
	return mapping(
		"percent", num(s.Percent.Percent()),
		"fixed", num(strconv.FormatInt(s.Fixed, 10)),
		"currency", str(s.Currency),
		"international_percent", num(s.InternationalPercent.Percent()),
		"interchange_percent", num(s.InterchangePercent.Percent()))
}

// secret shows whether a secret is set, never what it is.
func secret(s string) *yaml.Node {
	if s == "" {
		return str("")
	}
	return str(redacted)
}

// maxAmounts renders amounts.max with its currencies in order.
func maxAmounts(m payment.MaxAmounts) *yaml.Node {
	n := mapping()
	for _, currency := range slices.Sorted(maps.Keys(m)) {
		add(n, currency, num(strconv.FormatInt(m[currency], 10)))
	}
	return n
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func num(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s}
}

func dur(d time.Duration) *yaml.Node { return str(d.String()) }

func seq(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range items {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// mapping builds a mapping from key, value pairs; keys are strings and
// values *yaml.Node.
func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	add(n, kv...)
	return n
}

func add(n *yaml.Node, kv ...any) {
	for i := 0; i+1 < len(kv); i += 2 {
		n.Content = append(n.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
}
