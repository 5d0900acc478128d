package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink is a Markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsReferToRepositoryFiles: the README and docs/ link only to files
// the repository has, and do not send readers to design notes or folders
// outside it (a fresh clone has neither).
func TestDocsReferToRepositoryFiles(t *testing.T) {
	root := repoRoot(t)
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string{filepath.Join(root, "README.md")}, docs...)
	links := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for i, line := range strings.Split(string(data), "\n") {
			for _, bad := range []string{"DESIGN.md", "../shared"} {
				if strings.Contains(line, bad) {
					t.Errorf("%s:%d mentions %s, which is not in the repository", rel, i+1, bad)
				}
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				links++
				if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
					t.Errorf("%s:%d links to %s, which does not exist", rel, i+1, m[1])
				}
			}
		}
	}
	if links == 0 {
		t.Error("found no relative links at all: the link pattern is broken")
	}
}

// readmeLine returns the README's first line that starts with prefix.
func readmeLine(t *testing.T, prefix string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	t.Fatalf("README.md has no line starting %q", prefix)
	return ""
}

// TestGrafanaProvisioningAsDocumented: Grafana started the README's way
// (its provisioning folder and ACPGW_GRAFANA_DASHBOARDS from the command
// line) finds the data source and every dashboard of deploy/grafana/.
func TestGrafanaProvisioningAsDocumented(t *testing.T) {
	root := repoRoot(t)
	line := readmeLine(t, "GF_PATHS_PROVISIONING=")
	env := map[string]string{}
	for _, field := range strings.Fields(line) {
		if k, v, ok := strings.Cut(field, "="); ok {
			env[k] = strings.ReplaceAll(v, "$PWD", root)
		}
	}
	prov := env["GF_PATHS_PROVISIONING"]
	if prov != filepath.Join(root, "deploy", "grafana", "provisioning") {
		t.Fatalf("README's GF_PATHS_PROVISIONING is %q, not deploy/grafana/provisioning", prov)
	}
	var dashboards struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(prov, "dashboards", "acpgw.yml"), &dashboards)
	if len(dashboards.Providers) != 1 || dashboards.Providers[0].Type != "file" {
		t.Fatalf("dashboard providers: %+v", dashboards.Providers)
	}
	// Grafana expands $NAME and ${NAME} in provisioning files.
	dir := os.Expand(dashboards.Providers[0].Options.Path, func(name string) string { return env[name] })
	for _, want := range []string{"acpgw-sre.json", "acpgw-finance.json"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("the provider's path %q (as the README sets it: %q) has no %s", dashboards.Providers[0].Options.Path, dir, want)
		}
	}
	var sources struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(prov, "datasources", "prometheus.yml"), &sources)
	if len(sources.Datasources) != 1 || sources.Datasources[0].Type != "prometheus" ||
		sources.Datasources[0].URL != "http://127.0.0.1:9090" {
		t.Errorf("data sources %+v: want the Prometheus the README starts, on 127.0.0.1:9090", sources.Datasources)
	}
}

// TestPrometheusExampleOnLoopback: the README's Prometheus command binds
// to loopback (Prometheus's default is every interface).
func TestPrometheusExampleOnLoopback(t *testing.T) {
	line := readmeLine(t, "prometheus --config.file=deploy/prometheus/prometheus.yml")
	next := readmeLine(t, "  --web.listen-address=")
	if !strings.HasSuffix(line, `\`) || !strings.HasPrefix(strings.TrimSpace(next), "--web.listen-address=127.0.0.1:") {
		t.Errorf("README's prometheus command does not bind to loopback:\n%s\n%s", line, next)
	}
}
