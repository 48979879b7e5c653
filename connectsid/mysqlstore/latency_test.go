package mysqlstore_test

import (
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid/mysqlstore"
	"github.com/expressbridge/expressbridge/connectsid/storetest"
)

// TestRevocationLatency: 1,000 open sessions followed by a Tracker that
// polls with GetMany each second (expressbridge.New's default on MySQL);
// each is destroyed at a time of its own over 5 s, and the time until its
// hold ends is logged as p50/p99. Every one must end.
func TestRevocationLatency(t *testing.T) {
	t.Parallel()
	const n = 1000
	_, db := startTable(t)
	s, err := mysqlstore.New(db, mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lat := storetest.PolledRevocationLatency(t, s, n, time.Second)
	t.Logf("revocation latency over %d sessions, polling every 1 s with one GetMany: p50 %v, p99 %v, max %v",
		n, lat[n/2].Round(time.Millisecond), lat[n*99/100].Round(time.Millisecond), lat[n-1].Round(time.Millisecond))
}
