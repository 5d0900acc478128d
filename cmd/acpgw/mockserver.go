package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
)

// mockServerCmd runs the mock processor as its own HTTP server, so that
// several acpgw processes (configured with `url:` on a mock processor) share
// one ledger and talk to it over real sockets. For tests and demos only: the
// wire carries card data on loopback.
func mockServerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mock-server", stderr)
	listen := fs.String("listen", "127.0.0.1:9099", "listen address")
	latency := fs.Duration("latency", 0, "simulated latency per call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	srv := &http.Server{
		Handler:           mockhttp.NewServer(mock.New(mock.Config{Name: "mock", Latency: *latency, FeeRatePPM: 29000, FeeFixed: 30})),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("mock processor listening", slog.String("addr", ln.Addr().String()))
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
