// Package redisstore reads and writes express-session records in Redis
// exactly as connect-redis (6 to 9) does: JSON at prefix+sid, with its TTL
// rules, so that Express and Go can share sessions in both directions.
//
// It knows nothing of HTTP. Every call honours its context and is bounded
// by Options.Timeout, so a dead Redis answers ErrStoreUnavailable quickly
// instead of hanging a caller.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/expressbridge/expressbridge/connectsid"
)

// Defaults, each the same as connect-redis's unless said otherwise.
const (
	DefaultPrefix = "sess:"
	DefaultTTL    = 86400 * time.Second
	// DefaultTimeout bounds one store call; ours, so that a dead Redis
	// delays a handshake by at most this much.
	DefaultTimeout = 2 * time.Second
)

// Options are connect-redis's options that change what is stored, plus the
// Go side's limits. The zero value is connect-redis's defaults.
type Options struct {
	// Prefix is prepended to the sid to make the key ("sess:" when empty).
	Prefix string
	// TTL is used for records without cookie.expires (24h when zero).
	TTL time.Duration
	// DisableTTL stores records without expiry, as connect-redis's disableTTL.
	DisableTTL bool
	// DisableTouch makes Touch do nothing, as connect-redis's disableTouch.
	DisableTouch bool
	// MaxRecordSize bounds a record before decoding
	// (connectsid.DefaultMaxRecordSize when zero).
	MaxRecordSize int
	// Timeout bounds each call (DefaultTimeout when zero).
	Timeout time.Duration
	// Now returns the time TTLs are computed from (time.Now when nil).
	Now func() time.Time
}

// Store is a session store on a go-redis client: one node, Sentinel or
// Cluster. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	opts   Options
}

// New returns a store on client with opts; zero fields take their defaults.
func New(client redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = connectsid.DefaultMaxRecordSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, opts: opts}
}

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.opts.Prefix }

// Key returns the Redis key of a session ID.
func (s *Store) Key(sid string) string { return s.opts.Prefix + sid }

// Client returns the underlying client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Get loads a session. It fails with connectsid.ErrNoSession when the key
// is missing or empty (as connect-redis), ErrMalformedSession when the
// record is too large or not a session record, ErrStoreUnavailable when
// Redis cannot be asked. Like connect-redis it leaves the record's
// cookie.expires alone: the key's TTL is the store's expiry, and whether
// a record past cookie.expires is accepted is the caller's to decide (the
// gate's, auth.Config.AcceptExpired).
func (s *Store) Get(ctx context.Context, sid string) (*connectsid.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	// 1. One GET.
	val, err := s.client.Get(ctx, s.Key(sid)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("%w (sid %s)", connectsid.ErrNoSession, connectsid.Redact(sid))
	case err != nil:
		return nil, s.unavailable("get", err)
	case val == "":
		return nil, fmt.Errorf("%w (sid %s): empty record", connectsid.ErrNoSession, connectsid.Redact(sid))
	}
	// 2. Decode, without copying the record, once it is known not too large.
	return connectsid.DecodeBounded(sid, val, s.opts.MaxRecordSize)
}

// Set saves a session as connect-redis's set does: SET with EX of
// ceil((expires - now)/1s), or of Options.TTL without an expiry, or no
// expiry with DisableTTL; a TTL ≤ 0 deletes the key instead.
func (s *Store) Set(ctx context.Context, sess *connectsid.Session) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ttl := sess.StoreTTL(s.opts.Now(), s.defaultTTL())
	key := s.Key(sess.ID())
	var err error
	switch {
	case ttl <= 0:
		err = s.client.Del(ctx, key).Err()
	case s.opts.DisableTTL:
		err = s.client.Set(ctx, key, sess.Encode(), 0).Err()
	default:
		err = s.client.Set(ctx, key, sess.Encode(), time.Duration(ttl)*time.Second).Err()
	}
	if err != nil {
		return s.unavailable("set", err)
	}
	return nil
}

// plenty unless something writes the key in a loop.

// Update reads, changes and writes a session as one optimistic
// transaction: WATCH the key, GET it, call fn on the decoded record, then
// MULTI with Set's command (SET with its TTL, or DEL when the TTL is ≤ 0,
// as connect-redis) and EXEC, which Redis refuses when anything wrote the
// key since the WATCH (a set, a touch, a destroy): then it starts again.
// A key that is missing (or gone before EXEC) is ErrNoSession: Update
// never creates one. fn's error is returned as it is, and nothing is
// written. It fails with ErrConflict after 16 refused attempts. Fields fn
// does not change are written back byte for byte.
func (s *Store) Update(ctx context.Context, sid string, fn func(*connectsid.Session) error) (*connectsid.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	key := s.Key(sid)
	for range connectsid.MaxUpdateAttempts {
		var (
			out   *connectsid.Session
			fnErr error // fn's, or the record's: returned as they are
		)
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			// 1. The record as it is now.
			val, err := tx.Get(ctx, key).Result()
			switch {
			case errors.Is(err, redis.Nil), err == nil && val == "":
				fnErr = fmt.Errorf("%w (sid %s)", connectsid.ErrNoSession, connectsid.Redact(sid))
				return nil
			case err != nil:
				return err
			}
			sess, err := connectsid.DecodeBounded(sid, val, s.opts.MaxRecordSize)
			if err != nil {
				fnErr = err
				return nil
			}
			// 2. The change.
			if fnErr = fn(sess); fnErr != nil {
				return nil
			}
			// 3. Written only if nothing else wrote the key meanwhile.
			ttl := sess.StoreTTL(s.opts.Now(), s.defaultTTL())
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				switch {
				case ttl <= 0:
					p.Del(ctx, key)
				case s.opts.DisableTTL:
					p.Set(ctx, key, sess.Encode(), 0)
				default:
					p.Set(ctx, key, sess.Encode(), time.Duration(ttl)*time.Second)
				}
				return nil
			})
			out = sess
			return err
		}, key)
		switch {
		case errors.Is(err, redis.TxFailedErr):
			continue // another writer won: load it again
		case err != nil:
			return nil, s.unavailable("update", err)
		case fnErr != nil:
			return nil, fnErr
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w (sid %s): %d attempts", connectsid.ErrConflict, connectsid.Redact(sid), connectsid.MaxUpdateAttempts)
}

// Touch renews a session's TTL as express-session + connect-redis do on a
// request that did not change the session: EXPIRE with ceil(originalMaxAge
// /1s), or Options.TTL for a browser-session cookie. It does nothing with
// DisableTouch or DisableTTL, and fails with ErrNoSession when the key is
// gone.
func (s *Store) Touch(ctx context.Context, sess *connectsid.Session) error {
	if s.opts.DisableTouch || s.opts.DisableTTL {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ok, err := s.client.Expire(ctx, s.Key(sess.ID()), time.Duration(sess.TouchTTL(s.defaultTTL()))*time.Second).Result()
	if err != nil {
		return s.unavailable("touch", err)
	}
	if !ok {
		return fmt.Errorf("%w (sid %s)", connectsid.ErrNoSession, connectsid.Redact(sess.ID()))
	}
	return nil
}

// Destroy deletes a session, as connect-redis's destroy; a missing session
// is not an error.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.client.Del(ctx, s.Key(sid)).Err(); err != nil {
		return s.unavailable("destroy", err)
	}
	return nil
}

// TTL returns the time the key has left; -1 when it has no expiry. It fails
// with ErrNoSession when the key is missing.
func (s *Store) TTL(ctx context.Context, sid string) (time.Duration, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	d, err := s.client.PTTL(ctx, s.Key(sid)).Result()
	switch {
	case err != nil:
		return 0, s.unavailable("ttl", err)
	case d == -2 || d == -2*time.Millisecond:
		return 0, fmt.Errorf("%w (sid %s)", connectsid.ErrNoSession, connectsid.Redact(sid))
	case d < 0:
		return -1, nil
	}
	return d, nil
}

// IDs returns up to limit session IDs under the prefix (all when limit ≤ 0),
// found with SCAN MATCH prefix* as connect-redis's all/ids/length do, on
// every master of a cluster (see Scan).
func (s *Store) IDs(ctx context.Context, limit int) ([]string, error) {
	var ids []string
	_, err := s.Scan(ctx, ScanOptions{Match: EscapeGlob(s.opts.Prefix) + "*"}, func(keys []string) bool {
		for _, k := range keys {
			if limit > 0 && len(ids) >= limit {
				return false
			}
			ids = append(ids, strings.TrimPrefix(k, s.opts.Prefix))
		}
		return limit <= 0 || len(ids) < limit
	})
	return ids, err
}

// DefaultScanCount is SCAN's COUNT hint when ScanOptions.Count is zero:
// keys looked at per call, connect-redis's scanCount.
const DefaultScanCount = 100

// ScanOptions bound a Scan.
type ScanOptions struct {
	// Match is SCAN's MATCH pattern; EscapeGlob quotes a literal part.
	// Empty matches every key.
	Match string
	// Count is SCAN's COUNT hint (DefaultScanCount when zero).
	Count int64
	// MaxCalls bounds the SCAN calls on each node, so that a search on a
	// huge database ends; zero walks every node to its end.
	MaxCalls int
}

// Scan walks the keys matching opts.Match with SCAN on every master of a
// Cluster (on the one node otherwise: SCAN on a Cluster client would ask a
// single master) and hands each batch to fn, never two calls at once; fn
// returns false to stop the walk. complete reports that every node was
// walked to its end, neither stopped by fn nor by opts.MaxCalls. As with
// SCAN, a key may be handed twice and keys written meanwhile may be missed.
// It fails with ErrStoreUnavailable (wrapping the cause, a context's error
// included) when a node cannot be asked; fn has then seen what the others
// answered. Calls are bounded by ctx only: a walk of a large database
// takes longer than Options.Timeout.
func (s *Store) Scan(ctx context.Context, opts ScanOptions, fn func(keys []string) bool) (complete bool, err error) {
	count := opts.Count
	if count <= 0 {
		count = DefaultScanCount
	}
	var (
		mu      sync.Mutex // ForEachMaster scans the masters concurrently; fn is called under mu
		stopped bool
	)
	complete = true
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for calls := 0; opts.MaxCalls <= 0 || calls < opts.MaxCalls; calls++ {
			keys, next, err := c.Scan(ctx, cursor, opts.Match, count).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			if !stopped && len(keys) > 0 && !fn(keys) {
				stopped = true
			}
			stop := stopped
			mu.Unlock()
			if stop || next == 0 {
				return nil
			}
			cursor = next
		}
		mu.Lock()
		complete = false
		mu.Unlock()
		return nil
	}
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return false, s.unavailable("scan", err)
	}
	return complete && !stopped, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return s.unavailable("ping", err)
	}
	return nil
}

func (s *Store) defaultTTL() int64 { return int64(s.opts.TTL / time.Second) }

func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

func (s *Store) unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", connectsid.ErrStoreUnavailable, op, err)
}

// EscapeGlob quotes the special characters of SCAN MATCH and PSUBSCRIBE
// patterns, so that s matches only itself.
func EscapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\^`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// OpenURL returns a client for a Redis URL:
//
//	redis://[user:pass@]host:port[/db]           one node (rediss:// for TLS, unix:///path.sock)
//	redis://host:port?master_name=NAME&addr=host2:port   Sentinel: the sentinels' addresses
//	redis+cluster://host:port?addr=host2:port            Cluster, seeded by every address given
//
// With Sentinel the URL's host and every addr= name a sentinel (not a data
// node), so that the client finds the master while one sentinel is down.
// As go-redis parses it, the URL's user info authenticates to the
// sentinels and the username= and password= parameters to the data nodes.
//
// The client is set up so that context deadlines bound every call.
func OpenURL(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", withoutURL(err))
	}
	// One dial and one retry: a refused connection should answer "store
	// unavailable" at once, and a pooled connection that died with a Redis
	// restart is replaced on the retry. Deadlines come from the context.
	const dial, io, retries = time.Second, time.Second, 1
	switch {
	case strings.HasSuffix(u.Scheme, "+cluster"):
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", withoutURL(err))
		}
		o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout = true, dial, io, io
		o.MaxRetries, o.DialerRetries = retries, retries
		return redis.NewClusterClient(o), nil
	case u.Query().Get("master_name") != "":
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis sentinel URL: %w", withoutURL(err))
		}
		o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout = true, dial, io, io
		o.MaxRetries, o.DialerRetries = retries, retries
		return redis.NewFailoverClient(o), nil
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", withoutURL(err))
	}
	o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout = true, dial, io, io
	o.MaxRetries, o.DialerRetries = retries, retries
	return redis.NewClient(o), nil
}

// withoutURL drops the URL that a *url.Error quotes whole, password
// included, keeping the reason.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Redact returns a Redis URL without its password, for logs and messages.
func Redact(rawURL string) string { return connectsid.RedactURL(rawURL) }
