package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// repoRoot is the module root, one level above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the test's source file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// deployPath returns path under the repository's deploy/ directory.
func deployPath(t *testing.T, elem ...string) string {
	return filepath.Join(append([]string{repoRoot(t), "deploy"}, elem...)...)
}

// requireTool returns the path of an external binary. Without it the test
// is skipped loudly, or fails when CI is set: CI installs it (.ci/run) and
// must not pass by skipping.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " is not on PATH (Debian: apt-get install -y prometheus)"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI is set, so this test may not skip", msg)
	}
	t.Logf("SKIPPING: %s", msg)
	t.Skip(msg)
	return ""
}
