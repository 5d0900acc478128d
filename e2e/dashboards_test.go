package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// dashboardFiles are the shipped Grafana dashboards.
var dashboardFiles = []string{"acpgw-sre.json", "acpgw-finance.json"}

// panelExpr is one query of a dashboard panel.
type panelExpr struct {
	Dashboard string
	Panel     string
	Expr      string
}

// dashboard is the part of a Grafana dashboard model the tests check.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string      `json:"name"`
			Type       string      `json:"type"`
			Query      any         `json:"query"`
			Datasource *datasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// datasourceVar is how every panel names its data source: the dashboard's
// datasource template variable.
const datasourceVar = "${datasource}"

func loadDashboard(t *testing.T, name string) dashboard {
	t.Helper()
	raw, err := os.ReadFile(deployPath(t, "grafana", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s is not a valid dashboard JSON: %v", name, err)
	}
	if dec.More() {
		t.Fatalf("%s: data after the dashboard object", name)
	}
	return d
}

// allPanels flattens rows' nested panels.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardExprs returns every target expression of both dashboards.
func dashboardExprs(t *testing.T) []panelExpr {
	t.Helper()
	var out []panelExpr
	for _, name := range dashboardFiles {
		d := loadDashboard(t, name)
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				out = append(out, panelExpr{Dashboard: name, Panel: p.Title, Expr: tg.Expr})
			}
		}
	}
	return out
}

var templateVar = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// grafanaBuiltins are the global variables Grafana defines itself.
var grafanaBuiltins = map[string]bool{"__rate_interval": true, "__range": true, "__interval": true}

// TestDashboards checks the dashboards' structure, since Grafana itself
// cannot run here: valid JSON, a Prometheus datasource template variable
// that every panel and query uses, a non-empty expression in every query,
// only defined template variables, unique ids, and metric names acpgw
// exports or the rules record.
func TestDashboards(t *testing.T) {
	exported, recorded := goldenMetrics(t), recordedNames(t)
	uids := map[string]bool{}
	for _, name := range dashboardFiles {
		t.Run(name, func(t *testing.T) {
			d := loadDashboard(t, name)
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: both are required", d.UID, d.Title)
			}
			if uids[d.UID] {
				t.Errorf("uid %q used by two dashboards", d.UID)
			}
			uids[d.UID] = true
			vars := map[string]bool{}
			hasDS := false
			for _, v := range d.Templating.List {
				vars[v.Name] = true
				switch {
				case v.Name == "datasource":
					hasDS = v.Type == "datasource" && v.Query == "prometheus"
				case v.Type == "query":
					if v.Datasource == nil || v.Datasource.UID != datasourceVar {
						t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, datasourceVar)
					}
				}
			}
			if !hasDS {
				t.Fatal(`no template variable {"name": "datasource", "type": "datasource", "query": "prometheus"}`)
			}
			ids := map[int]bool{}
			queries := 0
			for _, p := range allPanels(d.Panels) {
				where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				if ids[p.ID] {
					t.Errorf("%s: duplicate panel id", where)
				}
				ids[p.ID] = true
				if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
					t.Errorf("%s: gridPos %+v is missing or off the 24-column grid", where, p.GridPos)
				}
				if p.Type == "row" {
					// Rows only group panels; they run no query.
					if len(p.Targets) > 0 {
						t.Errorf("%s: a row has queries", where)
					}
					continue
				}
				if p.Title == "" {
					t.Errorf("panel %d has no title", p.ID)
				}
				if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != datasourceVar {
					t.Errorf("%s: datasource %+v, want {prometheus %s}", where, p.Datasource, datasourceVar)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no queries", where)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					queries++
					if strings.TrimSpace(tg.Expr) == "" {
						t.Errorf("%s: query %s has an empty expr", where, tg.RefID)
					}
					if tg.RefID == "" || refs[tg.RefID] {
						t.Errorf("%s: refId %q missing or repeated", where, tg.RefID)
					}
					refs[tg.RefID] = true
					if tg.Datasource != nil && tg.Datasource.UID != datasourceVar {
						t.Errorf("%s: query %s datasource %+v, want uid %s", where, tg.RefID, tg.Datasource, datasourceVar)
					}
					for _, m := range templateVar.FindAllStringSubmatch(tg.Expr, -1) {
						if !vars[m[1]] && !grafanaBuiltins[m[1]] {
							t.Errorf("%s: query %s uses undefined variable $%s", where, tg.RefID, m[1])
						}
					}
					checkNames(t, where, tg.Expr, exported, recorded)
				}
			}
			if queries < 10 {
				t.Errorf("%d queries; expected a full dashboard", queries)
			}
		})
	}
}
