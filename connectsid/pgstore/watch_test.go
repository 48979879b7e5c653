package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// eventBudget is how soon after the writer's commit an event must arrive.
// NOTIFY is Watch's only path, so any bound proves push delivery; this one
// is loose for a loaded CI machine under -race, and the tests log the
// latencies they measure.
const eventBudget = 2 * time.Second

type event struct {
	sid string
	op  connectsid.Op
}

// watcher runs Store.Watch until the test ends and collects what it reports.
type watcher struct {
	events chan event
	syncs  chan error
	done   chan struct{} // closed when Watch returned
	err    error         // what it returned, once done is closed
	cancel context.CancelFunc
}

func startWatch(t *testing.T, store *pgstore.Store) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{events: make(chan event, 100), syncs: make(chan error, 10), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		w.err = store.Watch(ctx, func(sid string, op connectsid.Op) { w.events <- event{sid, op} }, func(err error) { w.syncs <- err })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return within 5 s of its context's end")
		}
	})
	return w
}

// sync returns the next onSync report, failing after within.
func (w *watcher) sync(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-w.syncs:
		return err
	case <-time.After(within):
		t.Fatalf("no onSync within %v", within)
		return nil
	}
}

// expect waits for the event (sid, op), failing on any other event or after
// within, and returns how long it took from since.
func (w *watcher) expect(t *testing.T, sid string, op connectsid.Op, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	select {
	case e := <-w.events:
		if e.sid != sid || e.op != op {
			t.Fatalf("event %s %s, want %s %s", e.op, connectsid.Redact(e.sid), op, connectsid.Redact(sid))
		}
		return time.Since(since)
	case <-time.After(within):
		t.Fatalf("no %s event for %s within %v", op, connectsid.Redact(sid), within)
		return 0
	}
}

// settle discards further events of Express's login for sid: express-session
// saves a new session twice (the route's save, then its own at the end of
// the response with cookie.expires moved on), and each is a set. It waits
// 500 ms of silence so that a late second set cannot reach a later expect.
func (w *watcher) settle(t *testing.T, sid string) {
	t.Helper()
	for {
		select {
		case e := <-w.events:
			if e.sid != sid || e.op != pgstore.OpSet {
				t.Fatalf("event %s %s, want only set %s", e.op, connectsid.Redact(e.sid), connectsid.Redact(sid))
			}
		case <-time.After(500 * time.Millisecond):
			return
		}
	}
}

// quiet fails the test if an event arrives within d.
func (w *watcher) quiet(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case e := <-w.events:
		t.Fatalf("%s sent event %s %s", what, e.op, connectsid.Redact(e.sid))
	case <-time.After(d):
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	g := newRig(t, testenv.NodeAppConfig{}, pgstore.Options{})
	ctx := context.Background()

	// Without the trigger: one onSync saying so, so that the caller polls.
	w := startWatch(t, g.store)
	if err := w.sync(t, 3*time.Second); !errors.Is(err, pgstore.ErrNoTrigger) {
		t.Fatalf("onSync without the trigger = %v, want ErrNoTrigger", err)
	} else {
		t.Logf("onSync without the trigger: %v", err)
	}
	w.cancel()

	// Installing is idempotent.
	for range 2 {
		if err := g.store.InstallNotify(ctx); err != nil {
			t.Fatalf("InstallNotify: %v\n%s", err, g.store.NotifySQL())
		}
	}
	w = startWatch(t, g.store)
	if err := w.sync(t, 3*time.Second); err != nil {
		t.Fatalf("onSync with the trigger = %v", err)
	}

	// Express's login is an INSERT: set.
	start := time.Now()
	cookie, sid := g.login(t, "Zoë")
	t.Logf("login by Express: set event %v after the request began", w.expect(t, sid, pgstore.OpSet, start, eventBudget))
	w.settle(t, sid)
	// Express's touch only lengthens expire: nothing.
	g.app.WhoAmI(ctx, t, cookie)
	w.quiet(t, 200*time.Millisecond, "Express's touch")
	// Sets, deletes and expiry by Express and by Go are the conformance
	// suite's (revocation).

	// The listening connection is terminated: Watch says it is not watching,
	// reconnects by itself, says so again, and events flow.
	g.pg.TerminateBackends(t)
	start = time.Now()
	if err := w.sync(t, 3*time.Second); !errors.Is(err, connectsid.ErrStoreUnavailable) {
		t.Fatalf("onSync after the connection was terminated = %v, want ErrStoreUnavailable", err)
	}
	if err := w.sync(t, 5*time.Second); err != nil {
		t.Fatalf("onSync after reconnecting = %v", err)
	}
	t.Logf("Watch listening again %v after pg_terminate_backend", time.Since(start).Round(time.Millisecond))
	cookie, sid = g.login(t, "Dee")
	w.expect(t, sid, pgstore.OpSet, time.Now(), eventBudget)
	w.settle(t, sid)
	g.app.Logout(ctx, t, cookie)
	t.Logf("logout after reconnecting: del event %v after the response", w.expect(t, sid, pgstore.OpDel, time.Now(), eventBudget))

	// The end of ctx ends Watch.
	w.cancel()
	select {
	case <-w.done:
		if !errors.Is(w.err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", w.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Watch still running 2 s after its context ended")
	}
}

// The trigger's SQL is safe for any table name and never fails a write.
func TestNotifySQL(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	pool := pg.Pool(t)
	ctx := context.Background()
	names := []struct{ schema, table string }{
		{"", "session"},
		{"s'1\\", `t"$expressbridge$; DROP TABLE x; --`},
		{"", strings.Repeat("long", 20)}, // channel name hashed under 63 bytes
	}
	for _, n := range names {
		if n.schema != "" {
			pg.Exec(t, "CREATE SCHEMA "+pgstore.QuoteIdent(n.schema))
		}
		store, _ := pgstore.New(pool, pgstore.Options{SchemaName: n.schema, TableName: n.table})
		pg.Exec(t, `CREATE TABLE `+store.Table()+` (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`)
		if err := store.InstallNotify(ctx); err != nil {
			t.Fatalf("%s: %v", store.Table(), err)
		}
		if len(store.Channel()) > 63 {
			t.Errorf("channel %q is longer than PostgreSQL allows", store.Channel())
		}
		w := startWatch(t, store)
		if err := w.sync(t, 3*time.Second); err != nil {
			t.Fatalf("%s: %v", store.Table(), err)
		}
		// A sid too long for a NOTIFY payload is written all the same.
		long, _ := connectsid.DecodeSession(strings.Repeat("s", 9000), `{"cookie":{}}`)
		if err := store.Set(ctx, long); err != nil {
			t.Fatalf("a long sid's write failed: %v", err)
		}
		sess, _ := connectsid.DecodeSession("ünï'\"$", `{"cookie":{}}`)
		if err := store.Set(ctx, sess); err != nil {
			t.Fatal(err)
		}
		w.expect(t, "ünï'\"$", pgstore.OpSet, time.Now(), eventBudget)
		w.cancel()
	}
}
