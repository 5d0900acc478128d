package api

// CanonicalHash exposes the idempotency body hash to the external tests.
var CanonicalHash = canonicalHash

// Routes lists the routes of s as "METHOD /path/:param", for tests that must
// cover every route.
func Routes(s *Server) []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
