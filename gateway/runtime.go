package gateway

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"acpgw/config"
	"acpgw/metrics"
	"acpgw/providers"
	"acpgw/routing"
	"acpgw/vault"
)

// ProviderFactory builds the provider of one configured processor. main
// passes one that knows every processor type; tests pass their own.
type ProviderFactory func(p *config.Processor) (providers.Provider, error)

// Runtime is everything built from one config. It is immutable once built;
// a reload builds a new Runtime and swaps it in, and a payment keeps the
// Runtime it started with until it ends.
type Runtime struct {
	Config    *config.Config
	Vault     *vault.Vault
	Providers *providers.Registry
	Routing   *routing.Table
	merchants map[string]*config.Merchant
	labels    metrics.MerchantLabels
	// API keys by SHA-256, so that a lookup never compares secrets byte by
	// byte in variable time.
	agentKeys    map[[32]byte]string
	merchantKeys map[[32]byte]string
	reportKeys   map[[32]byte]string
	agents       map[string]*config.Agent

	// use counts the requests that acquired the Runtime (Service.acquire),
	// so that a Runtime swapped out is closed only once they are done.
	use usage
}

// usage counts a Runtime's users. Once retired (a newer Runtime is in
// service) it takes no new users, and idle is closed when the last one
// leaves: unlike a sync.WaitGroup, acquiring after the wait began is
// refused rather than a misuse.
type usage struct {
	mu      sync.Mutex
	users   int
	retired bool
	idle    chan struct{}
}

// acquire counts one more user and reports true, unless rt is retired.
func (rt *Runtime) acquire() bool {
	u := &rt.use
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.retired {
		return false
	}
	u.users++
	return true
}

// release ends one user's use.
func (rt *Runtime) release() {
	u := &rt.use
	u.mu.Lock()
	defer u.mu.Unlock()
	u.users--
	if u.users == 0 && u.retired {
		close(u.idle)
	}
}

// retire refuses new users from now on and returns a channel closed once
// no user is left. It is called once per Runtime.
func (rt *Runtime) retire() <-chan struct{} {
	u := &rt.use
	u.mu.Lock()
	defer u.mu.Unlock()
	u.retired = true
	u.idle = make(chan struct{})
	if u.users == 0 {
		close(u.idle)
	}
	return u.idle
}

// NewRuntime builds and checks a Runtime from cfg. Nothing is swapped or
// started: a failed build changes nothing.
func NewRuntime(cfg *config.Config, build ProviderFactory) (*Runtime, error) {
	keys := make([]vault.Key, 0, len(cfg.Vault.Keys))
	for _, k := range cfg.Vault.Keys {
		keys = append(keys, vault.Key{ID: k.ID, Secret: k.Key})
	}
	v, err := vault.New(keys)
	if err != nil {
		return nil, err
	}
	var provs []providers.Provider
	info := make(map[string]routing.ProcessorInfo, len(cfg.Processors))
	for _, name := range cfg.ProcessorOrder {
		pc := cfg.Processors[name]
		p, err := build(pc)
		if err != nil {
			closeAll(provs)
			return nil, fmt.Errorf("processor %q: %w", name, err)
		}
		provs = append(provs, p)
		info[name] = routing.ProcessorInfo{SharedTokens: p.Supports(providers.TokenSharedPayment, "")}
	}
	reg, err := providers.NewRegistry(provs...)
	if err != nil {
		closeAll(provs)
		return nil, err
	}
	rt := &Runtime{
		Config:       cfg,
		Vault:        v,
		Providers:    reg,
		merchants:    make(map[string]*config.Merchant, len(cfg.Merchants)),
		labels:       metrics.MerchantLabels{},
		agentKeys:    make(map[[32]byte]string, len(cfg.Agents)),
		merchantKeys: make(map[[32]byte]string, len(cfg.Merchants)),
		reportKeys:   make(map[[32]byte]string, len(cfg.Reports)),
	}
	for _, a := range cfg.Reports {
		rt.reportKeys[[32]byte(a.APIKeySHA256)] = a.ID
	}
	rt.agents = make(map[string]*config.Agent, len(cfg.Agents))
	for i, a := range cfg.Agents {
		rt.agentKeys[[32]byte(a.APIKeySHA256)] = a.ID
		rt.agents[a.ID] = &cfg.Agents[i]
	}
	for _, m := range cfg.Merchants {
		rt.merchants[m.ID] = m
		rt.merchantKeys[[32]byte(m.APIKeySHA256)] = m.ID
		if m.Metrics.PerMerchant {
			rt.labels[m.ID] = true
		}
	}
	if rt.Routing, err = routing.NewTable(cfg, info); err != nil {
		closeAll(provs)
		return nil, err
	}
	return rt, nil
}

func closeAll(ps []providers.Provider) {
	for _, p := range ps {
		if c, ok := p.(providers.Closer); ok {
			_ = c.Close()
		}
	}
}

// Merchant returns the configured merchant id.
func (rt *Runtime) Merchant(id string) (*config.Merchant, bool) {
	m, ok := rt.merchants[id]
	return m, ok
}

// AuthenticateAgent returns the agent whose API key is key.
func (rt *Runtime) AuthenticateAgent(key string) (string, bool) {
	return lookupKey(rt.agentKeys, key)
}

// AuthenticateMerchant returns the merchant whose API key is key.
func (rt *Runtime) AuthenticateMerchant(key string) (string, bool) {
	return lookupKey(rt.merchantKeys, key)
}

// lookupKey finds key by its SHA-256. Keys are only ever held and compared
// as digests: the map compares digests, so the time a lookup takes says
// nothing about how many bytes of a guessed key were right.
func lookupKey(keys map[[32]byte]string, key string) (string, bool) {
	if key == "" {
		return "", false
	}
	id, ok := keys[sha256.Sum256([]byte(key))]
	return id, ok
}

// Agent returns the configured agent id.
func (rt *Runtime) Agent(id string) (*config.Agent, bool) {
	a, ok := rt.agents[id]
	return a, ok
}

// AuthenticateReports returns the report reader whose API key is key.
func (rt *Runtime) AuthenticateReports(key string) (string, bool) {
	return lookupKey(rt.reportKeys, key)
}

// MerchantLabel returns the metrics label of a merchant.
func (rt *Runtime) MerchantLabel(id string) string { return rt.labels.Label(id) }

// Close releases the providers' resources. A Runtime in service is closed
// by the Service (Swap, Close), once no request uses it.
func (rt *Runtime) Close() error { return rt.Providers.Close() }

// maxTimeout is the longest processor timeout of rt.
func (rt *Runtime) maxTimeout() time.Duration {
	var longest time.Duration
	for name := range rt.Config.Processors {
		longest = max(longest, rt.timeout(name))
	}
	return longest
}

// settleTimeout bounds the work after a payment's or modification's intent
// committed: the processor calls, failovers and the settlement.
func (rt *Runtime) settleTimeout() time.Duration {
	return positiveOr(rt.Config.Server.SettleTimeout, config.DefaultSettleTimeout)
}

// maxTokenTTL is the longest allowance a token may have.
func (rt *Runtime) maxTokenTTL() time.Duration {
	return positiveOr(rt.Config.Vault.MaxTokenTTL, config.DefaultMaxTokenTTL)
}

// cvcTTL is how long a token keeps its CVC.
func (rt *Runtime) cvcTTL() time.Duration {
	return positiveOr(rt.Config.Vault.CVCTTL, config.DefaultCVCTTL)
}

// tokenMaxAttempts is how many payments one token may take part in.
func (rt *Runtime) tokenMaxAttempts() int {
	if n := rt.Config.Tokens.MaxAttempts; n > 0 {
		return n
	}
	return config.DefaultTokenMaxAttempts
}

// timeout is the per-call deadline of a processor.
func (rt *Runtime) timeout(processor string) time.Duration {
	if p, ok := rt.Config.Processors[processor]; ok && p.Timeout > 0 {
		return p.Timeout
	}
	return 10 * time.Second
}

// positiveOr returns d, or def when d is not set (zero or negative): a
// duration of the config with its documented default.
func positiveOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
