package e2e

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ruleFile is the shape of a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

// rule is one recording rule or alert.
type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleTestFile is the part of a promtool rule test file this package reads.
type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// loadRules returns every rule of deploy/prometheus/acpgw.rules.yml.
func loadRules(t *testing.T) []rule {
	t.Helper()
	var f ruleFile
	readYAML(t, deployPath(t, "prometheus", "acpgw.rules.yml"), &f)
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("acpgw.rules.yml has no rules")
	}
	return out
}

// runbookAnchors returns the GitHub-style anchors of docs/runbook.md's
// headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anchors := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			continue
		}
		anchors[slug(strings.TrimLeft(line, "# "))] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return anchors
}

var notSlug = regexp.MustCompile(`[^a-z0-9 _-]`)

// slug turns a heading into its anchor the way GitHub does: lower case,
// punctuation dropped, spaces as hyphens.
func slug(heading string) string {
	s := notSlug.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), "")
	return strings.ReplaceAll(s, " ", "-")
}

// runbookBase is how every alert's runbook_url starts: the base of the
// acpgw:runbook:info rule, filled in when the alert fires.
const runbookBase = `{{ with query "acpgw:runbook:info" }}{{ (. | first).Labels.base }}{{ end }}`

// TestAlertsAreDocumented: every alert has a severity, a summary, a
// description and a runbook_url that is the runbook's base (set once, in
// acpgw:runbook:info, as an absolute URL) and an existing section of
// docs/runbook.md.
func TestAlertsAreDocumented(t *testing.T) {
	anchors := runbookAnchors(t)
	alerts, bases := 0, 0
	for _, r := range loadRules(t) {
		if r.Record == "acpgw:runbook:info" {
			bases++
			u, err := url.Parse(r.Labels["base"])
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
				t.Errorf("acpgw:runbook:info base %q is not an absolute http(s) URL without a #section", r.Labels["base"])
			}
		}
		if r.Alert == "" {
			continue
		}
		alerts++
		if r.Labels["severity"] == "" {
			t.Errorf("alert %s has no severity label", r.Alert)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s has no %s annotation", r.Alert, a)
			}
		}
		page, anchor, ok := strings.Cut(r.Annotations["runbook_url"], "#")
		if !ok || page != runbookBase || !anchors[anchor] {
			t.Errorf("alert %s: runbook_url %q is not %s#<a section of docs/runbook.md>", r.Alert, r.Annotations["runbook_url"], runbookBase)
		}
	}
	if bases != 1 {
		t.Errorf("%d acpgw:runbook:info rules; the runbook's address is set in exactly one", bases)
	}
	if alerts < 9 {
		t.Errorf("%d alerts; the catalogue of docs/runbook.md has at least 9", alerts)
	}
}

// TestEveryAlertIsUnitTested: deploy/prometheus/tests holds, for every
// alert, a promtool case where it fires and one where it stays silent.
func TestEveryAlertIsUnitTested(t *testing.T) {
	firing, silent := map[string]bool{}, map[string]bool{}
	files, err := filepath.Glob(deployPath(t, "prometheus", "tests", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests in deploy/prometheus/tests (%v)", err)
	}
	for _, path := range files {
		var f ruleTestFile
		readYAML(t, path, &f)
		if len(f.RuleFiles) != 1 || f.RuleFiles[0] != "../acpgw.rules.yml" {
			t.Errorf("%s: rule_files = %v, want [../acpgw.rules.yml]", path, f.RuleFiles)
		}
		for _, tc := range f.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname] = true
				} else {
					silent[a.Alertname] = true
				}
			}
		}
	}
	var names []string
	for _, r := range loadRules(t) {
		if r.Alert != "" {
			names = append(names, r.Alert)
			if !firing[r.Alert] {
				t.Errorf("alert %s has no promtool test where it fires", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("alert %s has no promtool test where it stays silent", r.Alert)
			}
		}
	}
	sort.Strings(names)
	t.Logf("alerts tested firing and silent: %s", strings.Join(names, ", "))
}

// goldenMetrics returns the metric names pinned by
// metrics/testdata/metrics.golden, with the series names a histogram
// exports.
func goldenMetrics(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "metrics", "testdata", "metrics.golden"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		names[fields[0]] = true
		if fields[1] == "histogram" {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				names[fields[0]+suffix] = true
			}
		}
	}
	return names
}

var (
	recordedName = regexp.MustCompile(`\b[a-z_]+:acpgw_[a-z0-9_]+:[a-z0-9_]+\b|\bprocessor:acpgw_fee_contract_bps\b`)
	metricName   = regexp.MustCompile(`(?:^|[^:a-z0-9_])(acpgw_[a-z0-9_]+)`)
)

// checkNames reports acpgw_ metric names in expr that acpgw does not export
// and recorded names that no recording rule records.
func checkNames(t *testing.T, where, expr string, exported, recorded map[string]bool) {
	t.Helper()
	for _, m := range recordedName.FindAllString(expr, -1) {
		if !recorded[m] {
			t.Errorf("%s: %s is not recorded by acpgw.rules.yml", where, m)
		}
	}
	rest := recordedName.ReplaceAllString(expr, " ")
	for _, m := range metricName.FindAllStringSubmatch(rest, -1) {
		if !exported[m[1]] {
			t.Errorf("%s: %s is not an acpgw metric (metrics/testdata/metrics.golden)", where, m[1])
		}
	}
}

func recordedNames(t *testing.T) map[string]bool {
	recorded := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	return recorded
}

// TestRulesUseExportedMetrics: every acpgw_ name in the rules is a metric
// acpgw exports, so a renamed metric breaks this test before it breaks a
// dashboard.
func TestRulesUseExportedMetrics(t *testing.T) {
	exported, recorded := goldenMetrics(t), recordedNames(t)
	for _, r := range loadRules(t) {
		checkNames(t, "rule "+r.Record+r.Alert, r.Expr, exported, recorded)
	}
}
