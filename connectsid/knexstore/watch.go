package knexstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"time"

	"github.com/expressbridge/expressbridge/connectsid"
)

// ErrTooManyToWatch means the table holds more rows than Options.WatchMaxRows:
// Watch does not read it every interval, and the caller must revalidate
// its own sessions (GetMany) instead.
var ErrTooManyToWatch = errors.New("session table too large to watch")

// tooManyRecheck is how often Watch looks again at a table that was too
// large to follow.
const tooManyRecheck = 30 * time.Second

// row is what Watch remembers of a row between two reads.
type row struct {
	sess    uint64 // hash of the record
	expired int64  // Unix ms; math.MinInt64 when not a date
}

// Watch reports changes to the session table until ctx ends, by reading it
// every Options.WatchInterval (one query: sid, sess, expired of every row)
// and comparing with the read before: onEvent(sid, OpSet) for a new row, a
// changed record or a shortened expired (a touch, which only lengthens it,
// is not reported); for a row gone, OpExpired when its expired had passed
// (connect-session-knex's cleanup, every minute by default) and OpDel
// otherwise (a logout, a destroy). It returns ctx's error.
//
// It calls onSync(nil) after its first read and after each read that
// follows a failure (its own, or any other call's of the store); a change within one interval of an outage's start or
// end may be missed, so onSync is the moment to revalidate what the caller
// holds. It calls onSync with an error wrapping ErrStoreUnavailable when a
// read fails, and with one wrapping ErrTooManyToWatch when the table holds
// more than Options.WatchMaxRows rows (looking again every 30 s): the
// caller must poll (GetMany) until the next onSync(nil).
//
// The cost is one read of the whole table per interval: about a
// millisecond per thousand sessions on a local database.
func (s *Store) Watch(ctx context.Context, onEvent func(sid string, op connectsid.Op), onSync func(error)) error {
	var (
		known   map[string]row
		synced  bool // the last thing reported to onSync was nil
		failing bool // an error was
	)
	tick := time.NewTicker(s.opts.WatchInterval)
	defer tick.Stop()
	for {
		wait := time.Duration(0)
		snap, err := s.snapshot(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			if !failing {
				onSync(err)
			}
			failing, synced = true, false
			if errors.Is(err, ErrTooManyToWatch) {
				known, wait = nil, tooManyRecheck
			}
		default:
			if known != nil {
				diff(known, snap, s.opts.Now().UnixMilli(), onEvent)
			}
			known = snap
			s.polls.Add(1)
			if !synced || s.outage.Swap(false) {
				onSync(nil)
			}
			failing, synced = false, true
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// snapshot reads every row of the table.
func (s *Store) snapshot(ctx context.Context) (map[string]row, error) {
	var snap map[string]row
	err := s.do(ctx, "watch", func(ctx context.Context) error {
		snap = make(map[string]row)
		rs, err := s.db.QueryContext(ctx, s.q.watch)
		if err != nil {
			return err
		}
		defer rs.Close()
		var (
			sid  string
			sess sql.RawBytes
			ms   sql.NullFloat64
		)
		for rs.Next() {
			if err := rs.Scan(&sid, &sess, &ms); err != nil {
				return err
			}
			r := row{sess: maphash.Bytes(s.seed, sess), expired: math.MinInt64}
			if ms.Valid {
				r.expired = int64(ms.Float64 + 0.5)
			}
			snap[sid] = r
		}
		return rs.Err()
	})
	if err != nil {
		return nil, err
	}
	if len(snap) > s.opts.WatchMaxRows {
		return nil, fmt.Errorf("%w: %s holds more than %d rows (Options.WatchMaxRows); revalidating open sessions instead",
			ErrTooManyToWatch, s.table, s.opts.WatchMaxRows)
	}
	return snap, nil
}

// diff reports what changed from before to after, now being Unix ms.
func diff(before, after map[string]row, now int64, onEvent func(sid string, op connectsid.Op)) {
	for sid, a := range after {
		b, ok := before[sid]
		if !ok || a.sess != b.sess || a.expired < b.expired {
			onEvent(sid, connectsid.OpSet)
		}
	}
	for sid, b := range before {
		if _, ok := after[sid]; ok {
			continue
		}
		if b.expired < now {
			onEvent(sid, connectsid.OpExpired)
		} else {
			onEvent(sid, connectsid.OpDel)
		}
	}
}
