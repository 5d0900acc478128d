package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"acpgw/tracing/otlptest"
)

// exemplar is one exemplar of Prometheus's query_exemplars answer.
type exemplar struct {
	Series map[string]string
	Labels map[string]string
	Value  float64
}

// exemplars asks Prometheus for the exemplars of expr stored between
// start and end.
func (p *promAPI) exemplars(expr string, start, end time.Time) ([]exemplar, error) {
	form := url.Values{"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix()+1, 10)}}
	ctx, cancel := context.WithTimeout(p.t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/v1/query_exemplars", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
				Value  string            `json:"value"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("decode exemplars (HTTP %d): %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query_exemplars failed: %s", r.Error)
	}
	var out []exemplar
	for _, d := range r.Data {
		for _, e := range d.Exemplars {
			v, _ := strconv.ParseFloat(e.Value, 64)
			out = append(out, exemplar{Series: d.SeriesLabels, Labels: e.Labels, Value: v})
		}
	}
	return out, nil
}

// checkExemplars: Prometheus (with exemplar storage) has exemplars on
// acpgw's latency histograms whose trace ids are traces acpgw exported
// to the OTLP receiver: the link a Grafana panel follows from a slow
// bucket to its trace.
func checkExemplars(t *testing.T, prom *promAPI, recv *otlptest.Receiver, start time.Time) {
	t.Run("exemplars", func(t *testing.T) {
		for _, c := range []struct{ expr, root string }{
			{`acpgw_http_request_duration_seconds_bucket{route="/v1/payments",method="POST"}`, "POST /v1/payments"},
			{`acpgw_processor_request_duration_seconds_bucket{processor="mock_a",operation="authorize"}`, "processor.authorize"},
		} {
			ex, err := prom.exemplars(c.expr, start, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(ex) == 0 {
				t.Fatalf("no exemplars for %s", c.expr)
			}
			e := ex[len(ex)-1]
			id := e.Labels["trace_id"]
			if len(id) != 32 || e.Value <= 0 {
				t.Fatalf("%s: exemplar %+v, want a trace_id and a latency", c.expr, e)
			}
			// acpgw exports spans in batches (every 5s): wait for this trace.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			spans, ok := recv.Wait(ctx, func(s []otlptest.Span) bool {
				for _, sp := range otlptest.Trace(s, id) {
					if sp.Name == c.root {
						return true
					}
				}
				return false
			})
			cancel()
			if !ok {
				t.Fatalf("exemplar of %s names trace %s, but no %q span of it reached the receiver (%d spans in all)",
					c.expr, id, c.root, len(spans))
			}
			t.Logf("%s: exemplar %s s -> trace %s:\n%s", c.expr, strconv.FormatFloat(e.Value, 'f', 4, 64), id,
				otlptest.Tree(otlptest.Trace(spans, id)))
		}
	})
}
