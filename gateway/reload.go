package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"acpgw/config"
)

// Reloader reloads a config file into a Service: the new config is parsed,
// validated and built into a whole Runtime first, then swapped in
// atomically. Payments under way finish on the Runtime they started with. A
// file that fails anywhere keeps the running config.
type Reloader struct {
	Path    string
	Build   ProviderFactory
	Service *Service
	Log     *slog.Logger
	// Debounce groups the burst of events an editor's save makes; 200 ms
	// when 0.
	Debounce time.Duration
	// Watching, if set, is called once Watch watches the file: a change
	// made after it is seen.
	Watching func()

	mu sync.Mutex
}

// ErrRestartNeeded marks config changes a reload cannot apply (the store,
// the listen address); they are logged and wait for a restart.
var ErrRestartNeeded = errors.New("change needs a restart")

// Reload loads the file and swaps the new Runtime in. Concurrent calls are
// serialised.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.Service
	cfg, err := config.Load(r.Path)
	if err == nil {
		var rt *Runtime
		if rt, err = NewRuntime(cfg, r.Build); err == nil {
			old := s.Swap(rt)
			s.metrics.ConfigReloadSuccess.Set(1)
			r.log().Info("config reloaded", slog.String("path", r.Path), slog.Int("merchants", len(cfg.Merchants)),
				slog.Int("processors", len(cfg.Processors)))
			if old != nil {
				r.warnRestart(old.Config, cfg)
			}
			return nil
		}
	}
	s.metrics.ConfigReloadSuccess.Set(0)
	r.log().Error("config reload failed; keeping the running config", slog.String("path", r.Path), slog.String("error", err.Error()))
	return err
}

func (r *Reloader) warnRestart(old, cfg *config.Config) {
	if old.Store != cfg.Store || old.Server.Listen != cfg.Server.Listen || old.Server.TLS != cfg.Server.TLS || old.Metrics != cfg.Metrics ||
		old.Tracing != cfg.Tracing || old.Limits != cfg.Limits {
		r.log().Warn("config reloaded, but store, server.listen, server.tls, metrics, tracing and limits changes take effect only after a restart",
			slog.String("error", ErrRestartNeeded.Error()))
	}
}

func (r *Reloader) log() *slog.Logger {
	if r.Log == nil {
		return r.Service.log
	}
	return r.Log
}

// Watch reloads whenever the config file changes, until ctx ends. It
// watches the file itself, not its directory, so that a database file next
// to it does not wake the watcher on every write; when an editor or a
// Kubernetes ConfigMap swap replaces the file (rename over it), the watch is
// moved to the new file after the reload.
func (r *Reloader) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config watch: %w", err)
	}
	defer w.Close()
	if err := w.Add(r.Path); err != nil {
		return fmt.Errorf("config watch %s: %w", r.Path, err)
	}
	if r.Watching != nil {
		r.Watching()
	}
	debounce := r.Debounce
	if debounce <= 0 {
		debounce = 200 * time.Millisecond
	}
	var (
		timer  *time.Timer
		timerC <-chan time.Time
	)
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) == 0 {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			timerC = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log().Warn("config watch error", slog.String("error", err.Error()))
		case <-timerC:
			timerC = nil
			// The file may be a new one now: watch whatever is at the path.
			_ = w.Remove(r.Path)
			if err := w.Add(r.Path); err != nil {
				r.log().Warn("config watch: cannot watch the file; SIGHUP still reloads", slog.String("error", err.Error()))
			}
			_ = r.Reload()
		}
	}
}
