package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"acpgw/config"
	"acpgw/events/receiver"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
)

// mockServerCmd runs the mock processor as its own HTTP server, so that
// several acpgw processes (configured with `url:` on a mock processor) share
// one ledger and talk to it over real sockets. For tests and demos only: the
// wire carries card data on loopback. Its fees, latency and currencies are
// those of a mock processor of the config (default: the embedded demo's).
// It also serves the mock's 3-D Secure server: the JSON API the processor's
// clients authenticate with and the pages browsers meet, under
// --public-url (default http://LISTEN) plus mockhttp.PathThreeDSPages.
func mockServerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mock-server", stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:9099", "listen address")
	path := fs.String("config", "", "config file whose mock processor this serves (default: the embedded demo config, as serve)")
	name := fs.String("processor", "", "the mock processor of the config (default: its only one)")
	latency := fs.Duration("latency", -1, "simulated latency per call (default: the processor's latency)")
	var secrets stringsFlag
	fs.Var(&secrets, "events-secret", "also serve a merchant events receiver at "+receiver.PathEvents+
		" that verifies signatures with this secret (repeatable: any one may match)")
	hold := fs.Duration("events-hold", 0, "how long the receiver holds each delivery before it answers (a slow merchant)")
	public := fs.String("public-url", "", "the address browsers reach this server at, for the 3-D Secure pages (default: http://LISTEN)")
	if err := fs.parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	p, err := mockProcessor(cfg, *name)
	if err != nil {
		return err
	}
	mc := mockConfig(p)
	if *latency >= 0 {
		mc.Latency = *latency
	}
	if *public != "" {
		mc.ThreeDS.BaseURL = strings.TrimRight(*public, "/") + mockhttp.PathThreeDSPages
	}
	if err := mc.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *public == "" {
		mc.ThreeDS.BaseURL = "http://" + ln.Addr().String() + mockhttp.PathThreeDSPages
	}
	log := newLogger(stdout)
	mux := http.NewServeMux()
	mux.Handle("/", mockhttp.NewServer(mock.New(mc)))
	if len(secrets) > 0 {
		o := receiver.Options{Secrets: secrets}
		if *hold > 0 {
			o.Hold = func(string) { time.Sleep(*hold) }
		}
		rcv := receiver.New(o)
		mux.Handle(receiver.PathEvents, rcv)
		mux.Handle(receiver.PathControl, rcv)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("mock processor listening", slog.String("addr", ln.Addr().String()), slog.String("processor", p.Name),
		slog.String("fee_percent", p.Fees.Percent.Percent()), slog.Int64("fee_fixed", p.Fees.Fixed),
		slog.String("fee_currency", p.Fees.Currency), slog.Duration("latency", mc.Latency),
		slog.Bool("events_receiver", len(secrets) > 0), slog.String("three_ds_pages", mc.ThreeDS.BaseURL))
	fmt.Fprintln(stderr, "mock-server: test processor only; it receives card data in plain JSON")
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// mockProcessor returns the config's mock processor called name, or its only
// mock processor when name is "".
func mockProcessor(cfg *config.Config, name string) (*config.Processor, error) {
	if name != "" {
		p, ok := cfg.Processors[name]
		if !ok || p.Type != config.TypeMock {
			return nil, fmt.Errorf("--processor %q is not a mock processor of the config", name)
		}
		return p, nil
	}
	var found []*config.Processor
	for _, n := range cfg.ProcessorOrder {
		if p := cfg.Processors[n]; p.Type == config.TypeMock {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, errors.New("the config has no mock processor")
	default:
		return nil, fmt.Errorf("the config has %d mock processors: choose one with --processor", len(found))
	}
}

// stringsFlag is a repeatable string flag. Its String shows how many values
// it holds, never them: they are secrets.
type stringsFlag []string

func (f *stringsFlag) String() string { return fmt.Sprint(len(*f), " values") }

// Set adds a value.
func (f *stringsFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*f = append(*f, s)
	return nil
}
