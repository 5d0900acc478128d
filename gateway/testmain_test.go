package gateway

import (
	"testing"

	"acpgw/store/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster pgtest may start for the
// Postgres store tests when ACPGW_TEST_POSTGRES_DSN is not set.
func TestMain(m *testing.M) { pgtest.Main(m) }
