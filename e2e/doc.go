// Package e2e holds acpgw's operational end-to-end tests: they build the
// acpgw binary, run it with the mock processors, scrape it with a real
// Prometheus loading deploy/prometheus/acpgw.rules.yml, and check that every
// recording rule and every Grafana dashboard expression in deploy/ returns
// plausible data. They also run promtool over the shipped rules and their
// unit tests, and check the dashboards' structure. They check the container
// image (deploy/container) from the outside and run its binary under chroot,
// and check deploy/compose.yaml and deploy/kubernetes/ against the binary's
// flags, listen address and routes.
//
// The tests need the prometheus and promtool binaries (Debian package
// prometheus) and podman (Debian package podman; ACPGW_TEST_IMAGE names an
// image built beforehand with deploy/container/build.sh, else the test
// builds one). Without them they skip with a loud message, except when the
// CI environment variable is set, where they fail. ACPGW_E2E=0 skips the
// end-to-end run for quick local test runs.
package e2e
