package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// promtool runs promtool with args in deploy/prometheus and fails the test
// with its output when it exits non-zero.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin := requireTool(t, "promtool")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = deployPath(t, "prometheus")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	t.Logf("promtool %v:\n%s", args, out)
}

// TestPromtoolCheckRules: the rule file is valid (syntax, PromQL, templates).
func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	promtool(t, "check", "rules", "acpgw.rules.yml")
}

// TestPromtoolCheckConfig: the shipped Prometheus config is valid and its
// rule file loads.
func TestPromtoolCheckConfig(t *testing.T) {
	t.Parallel()
	promtool(t, "check", "config", "prometheus.yml")
}

// TestPromtoolTestRules runs the alert and recording rule unit tests.
func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(deployPath(t, "prometheus", "tests", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests in deploy/prometheus/tests (%v)", err)
	}
	args := []string{"test", "rules"}
	for _, f := range files {
		args = append(args, filepath.Join("tests", filepath.Base(f)))
	}
	promtool(t, args...)
}
