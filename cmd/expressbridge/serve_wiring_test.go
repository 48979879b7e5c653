package main

import (
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// What the packages do must reach them through serve's flags and variables:
// these tests check a setting at a time through serve itself.

// TestServeRevalidateIntervalFromEnv: on PostgreSQL serve polls every
// second unless the interval is chosen, and a choice made in the
// environment is a choice as much as one on the command line.
func TestServeRevalidateIntervalFromEnv(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pg.Exec(t, `CREATE TABLE session (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`)
	sv := startServe(t, []string{"s"}, map[string]string{
		envStoreURL:                         pg.URL(),
		"EXPRESSBRIDGE_REVALIDATE_INTERVAL": "7s",
	})
	waitFor(t, 10*time.Second, "serve to say it polls", func() bool {
		return strings.Contains(sv.stderr.String(), "revalidating open sessions periodically")
	})
	if logs := sv.stderr.String(); !strings.Contains(logs, "every=7s") {
		t.Errorf("EXPRESSBRIDGE_REVALIDATE_INTERVAL=7s: serve does not poll every 7s:\n%s", logs)
	}
}
