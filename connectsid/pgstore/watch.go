package pgstore

import (
	"github.com/expressbridge/expressbridge/connectsid"

	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Live revocation: PostgreSQL tells nobody when a row changes unless a
// trigger says so. NotifySQL is that trigger, installed once by the
// operator (InstallNotify); Watch listens to it. Without it, callers poll
// with GetMany.

// Operations Watch reports, named as redisstore names Redis's.
const (
	OpDel     = connectsid.OpDel     // logout or destroy: a DELETE of a row whose expire had not passed
	OpExpired = connectsid.OpExpired // a DELETE of a row past its expire on the database's clock (connect-pg-simple's pruning)
	OpSet     = connectsid.OpSet     // an INSERT, or an UPDATE that changed the record or shortened its expire
)

// triggerName names the trigger on the session table, and the function it
// runs in the table's schema.
const triggerName = "expressbridge_notify"

// maxNotifySID bounds the sids the trigger reports: a NOTIFY payload holds
// less than 8000 bytes, and a trigger that failed would fail Express's own
// write. Longer sids (never made by express-session) go unreported.
const maxNotifySID = 7000

const (
	// watchCheckInterval is how long Watch waits for a notification before
	// checking that its connection is alive and the trigger still there: a
	// dead peer that sends no RST is found within this plus Timeout.
	watchCheckInterval = 15 * time.Second
	// watchRetryMin and watchRetryMax bound the pause between reconnection
	// attempts, doubling from one to the other while the database is down.
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 5 * time.Second
	// noTriggerRecheck is how often Watch looks again for a trigger that is
	// not installed, so that installing it needs no restart.
	noTriggerRecheck = 30 * time.Second
)

// ErrNoTrigger means the table has no enabled notify trigger (NotifySQL),
// so Watch cannot report changes and the caller must poll.
var ErrNoTrigger = errors.New("session table has no expressbridge_notify trigger")

// Channel returns the LISTEN/NOTIFY channel of the table's trigger:
// "expressbridge:" and the table's unquoted qualified name (a hash of it
// when that would pass 63 bytes).
func (s *Store) Channel() string { return s.channel }

// NotifySQL returns the SQL that makes the session table report its
// changes: a PL/pgSQL function expressbridge_notify() (in the table's
// schema) and a row trigger expressbridge_notify AFTER INSERT OR UPDATE OR
// DELETE on the table, which sends pg_notify(Channel(), op || ':' || sid)
// with op OpSet, OpDel or OpExpired. connect-pg-simple's touch (an UPDATE
// of expire alone that lengthens it) sends nothing. The SQL is idempotent
// and runs as one transaction; it needs the table's owner (or a superuser).
// Each statement that changes n rows then sends n notifications, which
// PostgreSQL delivers when the transaction commits.
func (s *Store) NotifySQL() string {
	fn := QuoteIdent(triggerName)
	if s.opts.SchemaName != "" {
		fn = QuoteIdent(s.opts.SchemaName) + "." + fn
	}
	return `CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS $expressbridge$
-- Sent by expressbridge's pgstore.NotifySQL: reports session changes on the
-- channel given as the trigger's argument, as 'op:sid'.
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.sid IS DISTINCT FROM OLD.sid) THEN
    IF octet_length(OLD.sid) <= ` + fmt.Sprint(maxNotifySID) + ` THEN
      PERFORM pg_notify(TG_ARGV[0],
        CASE WHEN OLD.expire < localtimestamp THEN 'expired' ELSE 'del' END || ':' || OLD.sid);
    END IF;
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.sid IS DISTINCT FROM OLD.sid
      OR NEW.sess::text IS DISTINCT FROM OLD.sess::text OR NEW.expire < OLD.expire)) THEN
    IF octet_length(NEW.sid) <= ` + fmt.Sprint(maxNotifySID) + ` THEN
      PERFORM pg_notify(TG_ARGV[0], 'set:' || NEW.sid);
    END IF;
  END IF;
  RETURN NULL;
END
$expressbridge$;
DROP TRIGGER IF EXISTS ` + QuoteIdent(triggerName) + ` ON ` + s.table + `;
CREATE TRIGGER ` + QuoteIdent(triggerName) + ` AFTER INSERT OR UPDATE OR DELETE ON ` + s.table + `
  FOR EACH ROW EXECUTE FUNCTION ` + fn + `(` + quoteLiteral(s.channel) + `);
`
}

// InstallNotify runs NotifySQL in one transaction; running it again
// replaces the trigger with the same one. It fails with
// ErrStoreUnavailable (wrapping ErrNoTable when the table is missing) or
// the database's refusal (permission denied, PostgreSQL older than 11).
func (s *Store) InstallNotify(ctx context.Context) error {
	return s.do(ctx, "install notify trigger", func(ctx context.Context) error {
		// Exec without arguments uses the simple protocol: the statements
		// run as one implicit transaction.
		_, err := s.pool.Exec(ctx, s.NotifySQL())
		return err
	})
}

// Watch reports changes to the session table until ctx ends:
// onEvent(sid, op) for each OpDel, OpExpired and OpSet the notify trigger
// sends. It returns ctx's error.
//
// It listens on a connection of its own (not one of the pool's), opened
// with the pool's settings. After each (re)connection it first LISTENs,
// then checks the trigger, and calls onSync(nil) when the trigger is there;
// events may have been missed while disconnected, so onSync is the moment
// to revalidate what the caller holds. When the trigger is missing or
// disabled it calls onSync with an error wrapping ErrNoTrigger, and when the
// connection is lost with one wrapping connectsid.ErrStoreUnavailable (once
// per outage, not per attempt): the caller must poll (GetMany) until the
// next onSync(nil). It reconnects by itself, backing off from 100 ms to
// 5 s, and looks again for a missing trigger every 30 s.
//
// PostgreSQL deletes nothing when a row's expire passes: no event comes at
// the session's end unless something deletes the row (connect-pg-simple
// prunes every 15 minutes by default, which is reported as OpExpired).
// Callers end sessions at cookie.expires with a timer of their own, as the
// bridge does.
func (s *Store) Watch(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error {
	var failing bool // an error was the last thing reported to onSync
	report := func(err error) {
		if err == nil || !failing {
			onSync(err)
		}
		failing = err != nil
	}
	pause := watchRetryMin
	for {
		start := time.Now()
		err := s.listen(ctx, onEvent, report)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		report(err)
		wait := pause
		switch {
		case errors.Is(err, ErrNoTrigger):
			wait, pause = noTriggerRecheck, watchRetryMin
		case time.Since(start) > watchRetryMax:
			pause = watchRetryMin // it had been up: reconnect at once
			wait = pause
		default:
			pause = min(2*pause, watchRetryMax)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// listen runs one connection's life: connect, LISTEN, check the trigger,
// report it, then pass notifications on until the connection fails, the
// trigger goes, or ctx ends.
func (s *Store) listen(ctx context.Context, onEvent func(sid string, op connectsid.Op), report func(error)) error {
	cctx, cancel := s.bound(ctx)
	conn, err := pgx.ConnectConfig(cctx, s.pool.Config().ConnConfig.Copy())
	cancel()
	if err != nil {
		return s.unavailable("listen: connect", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	// LISTEN before the check: nothing committed after the check is missed.
	cctx, cancel = s.bound(ctx)
	_, err = conn.Exec(cctx, "LISTEN "+QuoteIdent(s.channel))
	cancel()
	if err != nil {
		return s.unavailable("listen", err)
	}
	if err := s.checkTrigger(ctx, conn); err != nil {
		return err
	}
	report(nil)
	for {
		wctx, cancel := context.WithTimeout(ctx, watchCheckInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Channel != s.channel {
				continue
			}
			if sid, op, ok := parsePayload(n.Payload); ok {
				onEvent(sid, op)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case conn.IsClosed() || !errors.Is(err, context.DeadlineExceeded):
			return s.unavailable("listen", err)
		default:
			// Quiet for a while: is the connection alive, the trigger there?
			if err := s.checkTrigger(ctx, conn); err != nil {
				return err
			}
		}
	}
}

// checkTrigger fails with ErrNoTrigger unless the table has the enabled
// notify trigger, or with ErrStoreUnavailable when conn cannot ask.
func (s *Store) checkTrigger(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var table, trigger bool
	err := conn.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL, EXISTS (SELECT 1 FROM pg_trigger
		WHERE tgrelid = to_regclass($1::text) AND tgname = $2 AND tgenabled <> 'D')`,
		s.table, triggerName).Scan(&table, &trigger)
	switch {
	case err != nil:
		return s.unavailable("listen: trigger check", err)
	case !table:
		return fmt.Errorf("%w: %w", ErrNoTrigger, s.noTable())
	case !trigger:
		return fmt.Errorf("%w on %s: install it with `expressbridge store install-notify` (or run NotifySQL as the table's owner); polling meanwhile",
			ErrNoTrigger, s.table)
	}
	return nil
}

// parsePayload splits the trigger's payload, "op:sid"; the sid may hold
// colons itself. Unknown operations are not reported.
func parsePayload(payload string) (sid string, op connectsid.Op, ok bool) {
	o, sid, ok := strings.Cut(payload, ":")
	op = connectsid.Op(o)
	if !ok || op != OpDel && op != OpExpired && op != OpSet {
		return "", "", false
	}
	return sid, op, true
}
