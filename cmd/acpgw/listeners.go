package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"
)

// listeners owns the HTTP servers of one `acpgw serve`: the API listener and
// the optional metrics and debug (pprof) listeners. Every address is
// listened on before any server starts, so an address in use fails start-up
// instead of leaving a half-started process; a server that stops by itself
// reports its error on Err; shutdown stops them all and waits for their
// goroutines.
type listeners struct {
	list    []*listener
	errs    chan error
	wg      sync.WaitGroup
	started bool
	stopped bool
}

// listener is one server with its socket, named for messages.
type listener struct {
	name string
	srv  *http.Server
	ln   net.Listener
	// certFile and keyFile, when set, serve TLS.
	certFile, keyFile string
}

// add listens on addr for srv. On an error nothing new is listening; the
// caller still calls shutdown to close what add opened before.
func (ls *listeners) add(name, addr string, srv *http.Server) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	l := &listener{name: name, srv: srv, ln: ln}
	ls.list = append(ls.list, l)
	return l, nil
}

// start serves every listener, each on its own goroutine.
func (ls *listeners) start() {
	ls.errs = make(chan error, len(ls.list))
	ls.started = true
	for _, l := range ls.list {
		ls.wg.Go(func() {
			var err error
			if l.certFile != "" {
				err = l.srv.ServeTLS(l.ln, l.certFile, l.keyFile)
			} else {
				err = l.srv.Serve(l.ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				ls.errs <- fmt.Errorf("%s listener: %w", l.name, err)
			}
		})
	}
}

// Err delivers the error of a server that stopped before shutdown.
func (ls *listeners) Err() <-chan error { return ls.errs }

// shutdown lets in-flight requests on every listener finish until ctx ends,
// closes what is still open then, and waits for the servers' goroutines.
// Before start it only closes the sockets; after the first call it does
// nothing, so that a deferred call covers the early returns.
func (ls *listeners) shutdown(ctx context.Context, log *slog.Logger) {
	if ls.stopped {
		return
	}
	ls.stopped = true
	if !ls.started {
		for _, l := range ls.list {
			_ = l.ln.Close()
		}
		return
	}
	var wg sync.WaitGroup
	for _, l := range ls.list {
		wg.Go(func() {
			if err := l.srv.Shutdown(ctx); err != nil {
				log.Warn("shutdown grace ended with requests still running", slog.String("listener", l.name), slog.String("error", err.Error()))
				_ = l.srv.Close()
			}
		})
	}
	wg.Wait()
	ls.wg.Wait()
}

// debugServer serves net/http/pprof's handlers on a mux of its own, never
// http.DefaultServeMux, so that nothing else registered there is exposed
// and nothing of pprof reaches the API listener. It has no write timeout:
// /debug/pprof/profile?seconds=N answers after N seconds and refuses to
// start when N exceeds the server's write timeout.
func debugServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}
