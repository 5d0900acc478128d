package e2e

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"acpgw/api/apitest"
	"acpgw/config"
)

// The deploy tests parse deploy/compose.yaml, deploy/kubernetes/ and the
// Containerfile, and check them against what the binary serves: its
// subcommands' flags, the listen address its config gives, the routes of
// the probes and of /metrics (api/openapi.yaml, which the API tests tie to
// the router), and the image's user, port and data directory.

// binaryFacts is what the deploy files must agree with.
type binaryFacts struct {
	flags map[string][]string // subcommand -> its flag names
	// routes are the GET paths of api/openapi.yaml.
	routes []string
	// image is what deploy/container/Containerfile sets.
	imageUID, imagePort int
	imageWorkdir        string
	// rulesJob is the job the shipped rules' up{job=...} selects.
	rulesJob string
}

func deployFacts(t *testing.T) binaryFacts {
	t.Helper()
	bin := buildBinary(t, t.TempDir())
	f := binaryFacts{flags: map[string][]string{}}
	flagLine := regexp.MustCompile(`(?m)^\s+-(-?[a-z][a-z0-9-]*)\b`)
	for _, sub := range []string{"serve", "migrate"} {
		out, _ := exec.Command(bin, sub, "-h").CombinedOutput() // exit status differs by version; the usage is what counts
		for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
			f.flags[sub] = append(f.flags[sub], strings.TrimPrefix(m[1], "-"))
		}
		if !slices.Contains(f.flags[sub], "config") {
			t.Fatalf("acpgw %s -h lists no --config flag; usage was:\n%s", sub, out)
		}
	}
	spec := apitest.Must(t)
	for p, item := range spec.Doc().Paths.Map() {
		if item.Get != nil {
			f.routes = append(f.routes, p)
		}
	}

	cf, err := os.ReadFile(deployPath(t, "container", "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	instr := func(name string) string {
		m := regexp.MustCompile(`(?m)^`+name+`\s+(.+)$`).FindAllStringSubmatch(string(cf), -1)
		if len(m) != 1 {
			t.Fatalf("Containerfile: want one %s instruction, found %d", name, len(m))
		}
		return strings.TrimSpace(m[0][1])
	}
	user, _, _ := strings.Cut(instr("USER"), ":")
	if f.imageUID, err = strconv.Atoi(user); err != nil {
		t.Fatalf("Containerfile USER %q is not numeric", instr("USER"))
	}
	if f.imagePort, err = strconv.Atoi(strings.TrimSuffix(instr("EXPOSE"), "/tcp")); err != nil {
		t.Fatalf("Containerfile EXPOSE %q", instr("EXPOSE"))
	}
	f.imageWorkdir = instr("WORKDIR")

	rules, err := os.ReadFile(deployPath(t, "prometheus", "acpgw.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`up\{job="([^"]+)"\}`).FindSubmatch(rules)
	if m == nil {
		t.Fatal(`deploy/prometheus/acpgw.rules.yml has no up{job="..."}: update this test`)
	}
	f.rulesJob = string(m[1])
	return f
}

// command is a parsed acpgw command line of a deploy file.
type command struct {
	sub   string
	flags map[string]string
}

// parseCommand reads args as acpgw's command line and checks every flag
// against the subcommand's usage.
func (f binaryFacts) parseCommand(t *testing.T, where string, args []string) command {
	t.Helper()
	if len(args) == 0 {
		t.Fatalf("%s: no command", where)
	}
	c := command{sub: args[0], flags: map[string]string{}}
	known, ok := f.flags[c.sub]
	if !ok {
		t.Fatalf("%s: subcommand %q is not one the deploy files may use (%v)", where, c.sub, slices.Collect(maps.Keys(f.flags)))
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			t.Errorf("%s: stray argument %q", where, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.Contains(known, name) {
			t.Errorf("%s: acpgw %s has no flag --%s (it has %v)", where, c.sub, name, known)
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		c.flags[name] = val
	}
	return c
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// loadDeployConfig loads an acpgw config file of a deploy file with
// placeholder values for its ${NAME} references, and returns it with the
// names it needs from the environment.
func loadDeployConfig(t *testing.T, where string, data []byte) (*config.Config, []string) {
	t.Helper()
	var names []string
	for _, m := range envRef.FindAllSubmatch(data, -1) {
		name := string(m[1])
		if slices.Contains(names, name) {
			continue
		}
		names = append(names, name)
		switch {
		case strings.Contains(name, "VAULT_KEY"):
			t.Setenv(name, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
		case strings.Contains(name, "DATABASE_URL"):
			t.Setenv(name, "postgres://acpgw:secret@db.example:5432/acpgw?sslmode=require")
		default:
			t.Setenv(name, "placeholder-"+strings.ToLower(name))
		}
	}
	cfg, err := config.Parse(data, where)
	if err != nil {
		t.Fatalf("%s does not load: %v", where, err)
	}
	return cfg, names
}

// listenPort checks that the listen address a command runs with (its
// --listen, else the config's) takes connections from outside the
// container, and returns its port.
func listenPort(t *testing.T, where string, c command, cfg *config.Config) int {
	t.Helper()
	addr := cfg.Server.Listen
	if v, ok := c.flags["listen"]; ok {
		addr = v
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: listen address %q: %v", where, addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		t.Errorf("%s: listens on %s, which nothing outside the container reaches", where, addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n == 0 {
		t.Fatalf("%s: listen port %q", where, port)
	}
	if cfg.Metrics.Listen != "" {
		t.Errorf("%s: metrics.listen is set; the scrape configs expect /metrics on the API port", where)
	}
	return n
}

// --- YAML access ----------------------------------------------------------

// node is a decoded YAML value with typed accessors that fail the test when
// the shape is wrong.
type node struct {
	t     *testing.T
	where string
	v     any
}

func (n node) get(keys ...string) node {
	n.t.Helper()
	for _, k := range keys {
		m, ok := n.v.(map[string]any)
		if !ok {
			n.t.Fatalf("%s: not a mapping where %q is wanted", n.where, k)
		}
		n.where += "." + k
		n.v = m[k]
	}
	return n
}

func (n node) has(key string) bool {
	m, ok := n.v.(map[string]any)
	_, has := m[key]
	return ok && has
}

func (n node) str() string {
	n.t.Helper()
	switch v := n.v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	n.t.Fatalf("%s: %v is not a string", n.where, n.v)
	return ""
}

func (n node) integer() int {
	n.t.Helper()
	v, ok := n.v.(int)
	if !ok {
		n.t.Fatalf("%s: %v is not an integer", n.where, n.v)
	}
	return v
}

func (n node) list() []node {
	n.t.Helper()
	l, ok := n.v.([]any)
	if !ok {
		n.t.Fatalf("%s: %v is not a list", n.where, n.v)
	}
	out := make([]node, len(l))
	for i, v := range l {
		out[i] = node{n.t, fmt.Sprintf("%s[%d]", n.where, i), v}
	}
	return out
}

func (n node) strings() []string {
	n.t.Helper()
	var out []string
	for _, e := range n.list() {
		out = append(out, e.str())
	}
	return out
}

func (n node) stringMap() map[string]string {
	n.t.Helper()
	m, ok := n.v.(map[string]any)
	if !ok {
		n.t.Fatalf("%s: %v is not a mapping", n.where, n.v)
	}
	out := map[string]string{}
	for k := range m {
		out[k] = n.get(k).str()
	}
	return out
}

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, file string) []node {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var out []node
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if v != nil {
			out = append(out, node{t, filepath.Base(file), v})
		}
	}
	return out
}

// --- compose --------------------------------------------------------------

// mounts maps a compose service's container paths to host paths (bind
// mounts only), checking that each host path exists.
func composeMounts(t *testing.T, svc node, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if !svc.has("volumes") {
		return out
	}
	for _, v := range svc.get("volumes").strings() {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") && !strings.HasPrefix(parts[0], "/") {
			continue // a named volume
		}
		host := filepath.Join(dir, parts[0])
		if _, err := os.Stat(host); err != nil {
			t.Errorf("%s: mounts %s, which is not in the repository: %v", svc.where, parts[0], err)
		}
		out[parts[1]] = host
	}
	return out
}

// hostFile returns the host file mounted at path inside a container.
func hostFile(t *testing.T, where string, mounts map[string]string, p string) string {
	t.Helper()
	for target, host := range mounts {
		if target == p {
			return host
		}
		if rest, ok := strings.CutPrefix(p, target+"/"); ok {
			return filepath.Join(host, rest)
		}
	}
	t.Fatalf("%s: nothing is mounted at %s", where, p)
	return ""
}

func TestComposeMatchesBinary(t *testing.T) {
	facts := deployFacts(t)
	file := deployPath(t, "compose.yaml")
	dir := filepath.Dir(file)
	docs := yamlDocs(t, file)
	if len(docs) != 1 {
		t.Fatalf("compose.yaml: %d documents", len(docs))
	}
	services := docs[0].get("services")

	acpgw, migrate := services.get("acpgw"), services.get("migrate")
	if acpgw.get("image").str() != migrate.get("image").str() {
		t.Errorf("acpgw and migrate run different images: %s, %s", acpgw.get("image").str(), migrate.get("image").str())
	}
	serve := facts.parseCommand(t, "services.acpgw.command", acpgw.get("command").strings())
	mig := facts.parseCommand(t, "services.migrate.command", migrate.get("command").strings())
	if serve.sub != "serve" || mig.sub != "migrate" {
		t.Fatalf("acpgw runs %q and migrate runs %q", serve.sub, mig.sub)
	}
	if serve.flags["config"] == "" || serve.flags["config"] != mig.flags["config"] {
		t.Errorf("serve --config %q and migrate --config %q must name the same file", serve.flags["config"], mig.flags["config"])
	}
	acpgwMounts := composeMounts(t, acpgw, dir)
	cfgFile := hostFile(t, "services.acpgw", acpgwMounts, serve.flags["config"])
	if got := hostFile(t, "services.migrate", composeMounts(t, migrate, dir), mig.flags["config"]); got != cfgFile {
		t.Errorf("migrate reads %s, acpgw %s", got, cfgFile)
	}
	raw, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, vars := loadDeployConfig(t, cfgFile, raw)
	for _, svc := range []node{acpgw, migrate} {
		env := svc.get("environment").stringMap()
		for _, v := range vars {
			if _, ok := env[v]; !ok {
				t.Errorf("%s.environment lacks %s, which the config expands", svc.where, v)
			}
		}
	}
	port := listenPort(t, "services.acpgw", serve, cfg)

	published := acpgw.get("ports").strings()
	if len(published) != 1 {
		t.Fatalf("services.acpgw.ports %v: want one", published)
	}
	parts := strings.Split(published[0], ":")
	if len(parts) != 3 || parts[0] != "127.0.0.1" || parts[2] != strconv.Itoa(port) {
		t.Errorf("services.acpgw.ports %q: want 127.0.0.1:HOST:%d (loopback only, to the port acpgw listens on)", published[0], port)
	}
	grace, err := time.ParseDuration(acpgw.get("stop_grace_period").str())
	if err != nil || grace <= cfg.Server.DrainDelay+cfg.Server.ShutdownGrace {
		t.Errorf("services.acpgw.stop_grace_period %v must exceed server.drain_delay %s + server.shutdown_grace %s",
			acpgw.get("stop_grace_period").v, cfg.Server.DrainDelay, cfg.Server.ShutdownGrace)
	}
	if c := acpgw.get("depends_on", "migrate", "condition").str(); c != "service_completed_successfully" {
		t.Errorf("acpgw starts on migrate %s, want service_completed_successfully", c)
	}

	// The store is the postgres service, with its user and database.
	if cfg.Store.Driver != "postgres" {
		t.Fatalf("compose's acpgw config uses store %s, want postgres", cfg.Store.Driver)
	}
	dsn, err := url.Parse(cfg.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	pg := services.get("postgres")
	pgEnv := pg.get("environment").stringMap()
	if dsn.Hostname() != "postgres" || dsn.User.Username() != pgEnv["POSTGRES_USER"] || strings.TrimPrefix(dsn.Path, "/") != pgEnv["POSTGRES_DB"] {
		t.Errorf("store dsn %s does not name the postgres service's user %s and database %s", dsn.Redacted(), pgEnv["POSTGRES_USER"], pgEnv["POSTGRES_DB"])
	}
	if c := migrate.get("depends_on", "postgres", "condition").str(); c != "service_healthy" {
		t.Errorf("migrate starts on postgres %s, want service_healthy", c)
	}

	// Prometheus scrapes acpgw's /metrics on its port, as the rules' job,
	// and loads the shipped rules.
	prom := services.get("prometheus")
	promMounts := composeMounts(t, prom, dir)
	var promConfig, promListen string
	for _, a := range prom.get("command").strings() {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			promConfig = v
		}
		if v, ok := strings.CutPrefix(a, "--web.listen-address="); ok {
			promListen = v
		}
	}
	promDocs := yamlDocs(t, hostFile(t, "services.prometheus", promMounts, promConfig))
	var scraped bool
	for _, job := range promDocs[0].get("scrape_configs").list() {
		if job.get("job_name").str() != facts.rulesJob {
			continue
		}
		scraped = true
		if p := job.get("metrics_path").str(); p != "/metrics" || !slices.Contains(facts.routes, p) {
			t.Errorf("prometheus scrapes %s; acpgw serves /metrics", p)
		}
		targets := job.get("static_configs").list()[0].get("targets").strings()
		if want := "acpgw:" + strconv.Itoa(port); !slices.Equal(targets, []string{want}) {
			t.Errorf("prometheus targets %v, want [%s]", targets, want)
		}
	}
	if !scraped {
		t.Errorf("prometheus has no scrape job %q, the job the shipped rules select", facts.rulesJob)
	}
	rulesShipped, _ := filepath.Abs(deployPath(t, "prometheus", "acpgw.rules.yml"))
	for _, rf := range promDocs[0].get("rule_files").strings() {
		if got := hostFile(t, "services.prometheus", promMounts, rf); got != rulesShipped {
			t.Errorf("prometheus rule file %s is %s, want the shipped %s", rf, got, rulesShipped)
		}
	}

	// Grafana: the data source is the prometheus service; every shipped
	// dashboard is where the shipped provider reads.
	graf := services.get("grafana")
	grafMounts := composeMounts(t, graf, dir)
	var dsFile, providerFile string
	for target, host := range grafMounts {
		switch path.Dir(target) {
		case "/etc/grafana/provisioning/datasources":
			dsFile = host
		case "/etc/grafana/provisioning/dashboards":
			providerFile = host
		}
	}
	if dsFile == "" || providerFile == "" {
		t.Fatalf("grafana mounts no data source (%q) or dashboard provider (%q) provisioning", dsFile, providerFile)
	}
	_, promPort, _ := net.SplitHostPort(promListen)
	if u := yamlDocs(t, dsFile)[0].get("datasources").list()[0].get("url").str(); u != "http://prometheus:"+promPort {
		t.Errorf("grafana's data source is %s, want http://prometheus:%s", u, promPort)
	}
	// Grafana fills ${NAME} in provisioning files from its environment.
	grafEnv := graf.get("environment").stringMap()
	dashDir := envRef.ReplaceAllStringFunc(yamlDocs(t, providerFile)[0].get("providers").list()[0].get("options", "path").str(),
		func(ref string) string {
			v, ok := grafEnv[envRef.FindStringSubmatch(ref)[1]]
			if !ok {
				t.Errorf("the dashboard provider reads %s, which services.grafana.environment does not set", ref)
			}
			return v
		})
	dashboards, err := filepath.Glob(deployPath(t, "grafana", "*.json"))
	if err != nil || len(dashboards) == 0 {
		t.Fatalf("no dashboards in deploy/grafana: %v", err)
	}
	for _, d := range dashboards {
		want, _ := filepath.Abs(d)
		if got := hostFile(t, "services.grafana", grafMounts, path.Join(dashDir, filepath.Base(d))); got != want {
			t.Errorf("grafana's %s/%s is %s, want %s", dashDir, filepath.Base(d), got, want)
		}
	}
}

// --- Kubernetes -------------------------------------------------------------

// k8sObjects reads the resources deploy/kubernetes/kustomization.yaml
// lists, by kind and name, and checks that it lists every file there.
func k8sObjects(t *testing.T) map[string]node {
	t.Helper()
	dir := deployPath(t, "kubernetes")
	kust := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]
	listed := kust.get("resources").strings()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(listed, b) {
			t.Errorf("kustomization.yaml does not list %s", b)
		}
	}
	out := map[string]node{}
	for _, f := range listed {
		for _, doc := range yamlDocs(t, filepath.Join(dir, f)) {
			key := doc.get("kind").str() + "/" + doc.get("metadata", "name").str()
			doc.where = key
			out[key] = doc
		}
	}
	return out
}

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// quantity parses a Kubernetes memory quantity or a GOMEMLIMIT value, in
// bytes.
func quantity(t *testing.T, s string) int64 {
	t.Helper()
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("quantity %q: %v", s, err)
			}
			return v * u.mult
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("quantity %q: %v", s, err)
	}
	return v
}

// podChecks checks what the Deployment's and the Job's pods share: the
// command's flags, the config mounted from the ConfigMap (which must load),
// the environment it expands, and the image's user. It returns the command
// and the config.
func podChecks(t *testing.T, facts binaryFacts, objs map[string]node, pod node, sub string) (command, *config.Config, node) {
	t.Helper()
	containers := pod.get("containers").list()
	if len(containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", pod.where, len(containers))
	}
	c := containers[0]
	cmd := facts.parseCommand(t, c.where+".args", c.get("args").strings())
	if cmd.sub != sub {
		t.Fatalf("%s runs %q, want %q", c.where, cmd.sub, sub)
	}
	if pod.get("securityContext", "runAsUser").integer() != facts.imageUID || pod.get("securityContext", "runAsNonRoot").v != true {
		t.Errorf("%s: runAsUser %v, runAsNonRoot %v: want the image's user %d, non-root", pod.where,
			pod.get("securityContext", "runAsUser").v, pod.get("securityContext", "runAsNonRoot").v, facts.imageUID)
	}

	// The --config file: a volume mount of the ConfigMap with that key.
	cfgPath := cmd.flags["config"]
	volumes := map[string]node{}
	for _, v := range pod.get("volumes").list() {
		volumes[v.get("name").str()] = v
	}
	var cfgData string
	for _, m := range c.get("volumeMounts").list() {
		mp := m.get("mountPath").str()
		if path.Dir(cfgPath) != mp {
			continue
		}
		v := volumes[m.get("name").str()]
		if !v.has("configMap") {
			t.Fatalf("%s: %s is not mounted from a ConfigMap", c.where, mp)
		}
		cm, ok := objs["ConfigMap/"+v.get("configMap", "name").str()]
		if !ok {
			t.Fatalf("%s: no ConfigMap %s", c.where, v.get("configMap", "name").str())
		}
		cfgData = cm.get("data", path.Base(cfgPath)).str()
	}
	if cfgData == "" {
		t.Fatalf("%s: nothing provides --config %s", c.where, cfgPath)
	}
	cfg, vars := loadDeployConfig(t, c.where+" "+cfgPath, []byte(cfgData))
	var env []string
	for _, e := range c.get("env").list() {
		env = append(env, e.get("name").str())
	}
	for _, v := range vars {
		if !slices.Contains(env, v) {
			t.Errorf("%s.env lacks %s, which the config expands", c.where, v)
		}
	}
	return cmd, cfg, c
}

func TestKubernetesMatchesBinary(t *testing.T) {
	facts := deployFacts(t)
	objs := k8sObjects(t)
	need := func(key string) node {
		t.Helper()
		n, ok := objs[key]
		if !ok {
			t.Fatalf("deploy/kubernetes has no %s", key)
		}
		return n
	}
	dep := need("Deployment/acpgw")
	pod := dep.get("spec", "template", "spec")
	podLabels := dep.get("spec", "template", "metadata", "labels").stringMap()
	if !subset(dep.get("spec", "selector", "matchLabels").stringMap(), podLabels) {
		t.Errorf("the Deployment's selector does not select its pods")
	}
	serve, cfg, c := podChecks(t, facts, objs, pod, "serve")
	port := listenPort(t, "Deployment/acpgw", serve, cfg)
	if port != facts.imagePort {
		t.Errorf("acpgw listens on %d, the image exposes %d", port, facts.imagePort)
	}

	// Ports and probes.
	ports := map[string]int{}
	for _, p := range c.get("ports").list() {
		ports[p.get("name").str()] = p.get("containerPort").integer()
	}
	if !slices.Contains(slices.Collect(maps.Values(ports)), port) || len(ports) != 1 {
		t.Errorf("container ports %v, want one, the port acpgw listens on (%d)", ports, port)
	}
	resolve := func(where string, p node) int {
		if n, ok := p.v.(int); ok {
			return n
		}
		n, ok := ports[p.str()]
		if !ok {
			t.Errorf("%s: no container port named %s", where, p.str())
		}
		return n
	}
	for probe, want := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"} {
		get := c.get(probe, "httpGet")
		if p := get.get("path").str(); p != want || !slices.Contains(facts.routes, p) {
			t.Errorf("%s path %s, want %s (a GET route of api/openapi.yaml)", probe, p, want)
		}
		if got := resolve(probe, get.get("port")); got != port {
			t.Errorf("%s port %d, acpgw listens on %d", probe, got, port)
		}
	}

	// Shutdown: the preStop sleep, as long as the drain delay, then
	// SIGTERM, the drain delay and the shutdown grace, all within the
	// termination grace period.
	sleep := time.Duration(c.get("lifecycle", "preStop", "sleep", "seconds").integer()) * time.Second
	term := time.Duration(pod.get("terminationGracePeriodSeconds").integer()) * time.Second
	if sleep != cfg.Server.DrainDelay || sleep < 5*time.Second {
		t.Errorf("preStop sleep %s, server.drain_delay %s: want them equal, and at least 5s for endpoints to update", sleep, cfg.Server.DrainDelay)
	}
	if term <= sleep+cfg.Server.DrainDelay+cfg.Server.ShutdownGrace {
		t.Errorf("terminationGracePeriodSeconds %s must exceed the preStop sleep %s + server.drain_delay %s + server.shutdown_grace %s",
			term, sleep, cfg.Server.DrainDelay, cfg.Server.ShutdownGrace)
	}

	// Resources: requests, a memory limit, and GOMEMLIMIT under it.
	res := c.get("resources")
	for _, k := range []string{"cpu", "memory"} {
		if !res.get("requests").has(k) {
			t.Errorf("no %s request", k)
		}
	}
	limit := quantity(t, res.get("limits", "memory").str())
	var memlimit int64
	for _, e := range c.get("env").list() {
		if e.get("name").str() == "GOMEMLIMIT" {
			memlimit = quantity(t, e.get("value").str())
		}
	}
	if memlimit <= 0 || memlimit > limit*95/100 {
		t.Errorf("GOMEMLIMIT %d bytes: want set, at most 95%% of limits.memory %d", memlimit, limit)
	}

	// A read-only root: the working directory (data) and /tmp are volumes.
	if c.get("securityContext", "readOnlyRootFilesystem").v == true {
		var mounted []string
		for _, m := range c.get("volumeMounts").list() {
			mounted = append(mounted, m.get("mountPath").str())
		}
		for _, p := range []string{facts.imageWorkdir, "/tmp"} {
			if !slices.Contains(mounted, p) {
				t.Errorf("the root file system is read-only and nothing is mounted at %s", p)
			}
		}
	}

	// The Service reaches the pods' port; the PDB and the ServiceMonitor
	// select what they should.
	svc := need("Service/acpgw")
	if !subset(svc.get("spec", "selector").stringMap(), podLabels) {
		t.Errorf("the Service's selector does not select the pods")
	}
	svcPorts := map[string]bool{}
	for _, p := range svc.get("spec", "ports").list() {
		svcPorts[p.get("name").str()] = true
		if got := resolve("Service targetPort", p.get("targetPort")); got != port {
			t.Errorf("the Service's targetPort reaches %d, acpgw listens on %d", got, port)
		}
	}
	pdb := need("PodDisruptionBudget/acpgw")
	if !subset(pdb.get("spec", "selector", "matchLabels").stringMap(), podLabels) {
		t.Errorf("the PodDisruptionBudget does not select the pods")
	}
	if minAv, replicas := pdb.get("spec", "minAvailable").integer(), dep.get("spec", "replicas").integer(); minAv < 1 || minAv >= replicas {
		t.Errorf("minAvailable %d with %d replicas: a drain could never evict a pod, or could evict all", minAv, replicas)
	}
	sm := need("ServiceMonitor/acpgw")
	if !subset(sm.get("spec", "selector", "matchLabels").stringMap(), svc.get("metadata", "labels").stringMap()) {
		t.Errorf("the ServiceMonitor does not select the Service (labels %v)", svc.get("metadata", "labels").v)
	}
	for _, e := range sm.get("spec", "endpoints").list() {
		if !svcPorts[e.get("port").str()] {
			t.Errorf("the ServiceMonitor scrapes port %s, which the Service does not name", e.get("port").str())
		}
		if p := e.get("path").str(); p != "/metrics" || !slices.Contains(facts.routes, p) {
			t.Errorf("the ServiceMonitor scrapes %s; acpgw serves /metrics", p)
		}
	}
	if svc.get("metadata", "name").str() != facts.rulesJob || sm.get("spec").has("jobLabel") {
		t.Errorf("the scrape job is the Service's name %q; the shipped rules select job %q", svc.get("metadata", "name").str(), facts.rulesJob)
	}

	// The migration Job runs migrate on the same config.
	job := need("Job/acpgw-migrate")
	jobPod := job.get("spec", "template", "spec")
	mig, _, jc := podChecks(t, facts, objs, jobPod, "migrate")
	if mig.flags["config"] != serve.flags["config"] || jc.get("image").str() != c.get("image").str() {
		t.Errorf("the Job runs %s --config %s, the Deployment %s --config %s", jc.get("image").str(), mig.flags["config"], c.get("image").str(), serve.flags["config"])
	}
	if rp := jobPod.get("restartPolicy").str(); rp != "OnFailure" && rp != "Never" {
		t.Errorf("the Job's restartPolicy is %s", rp)
	}
}
