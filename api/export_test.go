package api

// Routes lists the routes of s as "METHOD /path/:param", for tests that must
// cover every route.
func Routes(s *Server) []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// IsJSON exposes isJSON to the external tests.
var IsJSON = isJSON
