package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/auth/diagnose"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

const envUserField = "EXPRESSBRIDGE_USER_FIELD"

// Limits of session list.
const (
	defaultListLimit = 100
	// listWorkers is how many sessions are read at once: enough to hide the
	// round trips, few enough to be gentle on a production Redis.
	listWorkers = 8
	// progressKeys and progressEvery decide when list reports progress on
	// stderr: every progressKeys sessions of a long list, and every
	// progressEvery while it runs.
	progressKeys  = 1000
	progressEvery = 2 * time.Second
)

// sidArgHelp explains the SID|COOKIE argument of the session commands.
const sidArgHelp = `The session is named by its ID, or by the session cookie (its value,
s%3A… or s:…, or a whole Cookie header), which is then verified with the
app's secrets first (--secret-file, or ` + envSecret + `); a bare ID needs no
secret. "-" reads the argument from stdin.`

func newSessionCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "session",
		Short: "Read, list, touch and destroy the sessions in the app's store (Redis or PostgreSQL)",
		Long: `The session commands work on the records the Express app's store keeps:
connect-redis's in Redis, at the key prefix+ID (--prefix, "sess:" by
default), or connect-pg-simple's in PostgreSQL (--store-url postgres://…,
--table, --schema), reading and writing them exactly as those stores do.

Exit status: 0 success, 1 cookie refused or session missing or expired,
2 usage error, 3 store unavailable.`,
		Example: `  export REDIS_URL=redis://127.0.0.1:6379
  expressbridge session list
  expressbridge session get d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	cmd.AddCommand(newSessionGetCmd(a), newSessionListCmd(a), newSessionDestroyCmd(a), newSessionTouchCmd(a))
	return cmd
}

// sessionID resolves the SID|COOKIE argument of a session command.
func (o *sessionOptions) sessionID(arg string) (string, error) {
	in, err := o.a.cookieInput([]string{arg})
	if err != nil {
		return "", err
	}
	c := parseCookieArg(in)
	if c.kind == argBare {
		if len(c.text) > connectsid.MaxValueLen {
			return "", usageErrorf("the session ID is %d bytes long; at most %d", len(c.text), connectsid.MaxValueLen)
		}
		return c.text, nil
	}
	sid, idx, err := o.unsign(c)
	if err != nil {
		return "", o.explain(err)
	}
	o.noteRotation(idx)
	return sid, nil
}

// session get ----------------------------------------------------------------

func newSessionGetCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get SID|COOKIE",
		Short: "Print a session record as it is stored",
		Long: `get prints the session's record as connect-redis stores it, indented, with its
members in their stored order.

` + sidArgHelp + `

A record whose cookie.expires has passed is still printed, but the command
fails with "expired" and says how long ago it expired.`,
		Example: `  expressbridge session get d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR
  expressbridge session get --secret-file secrets.txt 'connect.sid=s%3Ad-L9x…'
  expressbridge session get --json "$SID" | jq .session.username`,
		Args: cobra.ExactArgs(1),
	}
	o := addSessionFlags(cmd, a)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		sid, sess, store, err := o.loadSession(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		defer store.Close()
		record := sess.Encode()
		var expired *cliError
		if now := time.Now(); sess.Expired(now) {
			expired = expiredError(sess, now)
		}
		if a.json {
			if expired != nil {
				expired.sid, expired.record = sid, record
				return expired
			}
			a.writeJSON(struct {
				OK      bool            `json:"ok"`
				SID     string          `json:"sid"`
				Session json.RawMessage `json:"session"`
			}{true, sid, record})
			return nil
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, record, "", "  "); err != nil {
			buf.Reset()
			buf.Write(record) // cannot happen: DecodeSession checked the JSON
		}
		buf.WriteByte('\n')
		_, _ = a.stdout.Write(buf.Bytes())
		if expired != nil {
			return expired
		}
		return nil
	}
	return cmd
}

// expiredError says by how long a session has expired.
func expiredError(sess *connectsid.Session, now time.Time) *cliError {
	exp := *sess.Cookie().Expires
	return &cliError{
		code: connectsid.CodeExpired,
		exit: exitRefused,
		msg: fmt.Sprintf("session %s expired %s ago (cookie.expires %s)",
			connectsid.Redact(sess.ID()), roundDuration(now.Sub(exp)), exp.UTC().Format(time.RFC3339)),
		hint: diagnose.HintFor(connectsid.ErrExpired, diagnose.Where{}).String() + "; Redis drops the record when its TTL ends",
	}
}

// roundDuration prints d to the second, or in days when it is long.
func roundDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.Round(time.Second).String()
}

// session list ---------------------------------------------------------------

func newSessionListCmd(a *app) *cobra.Command {
	var (
		limit     int
		showIDs   bool
		userField string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the sessions in the store, with their user and expiry",
		Long: `list finds the sessions under --prefix (with SCAN, as connect-redis's ids
does) and prints a table: SID, USER (the record's --user-field, which may be
a dotted path such as passport.user), EXPIRES (cookie.expires, or
browser-session for a cookie without expiry) and TTL (the time the Redis key
has left, or none).

Session IDs are redacted unless --show-ids: anyone who has one can act as
its user. With --json it prints an array of objects
{"sid","user","expires","ttl_seconds"}; user, expires and ttl_seconds are
null when absent, and a record that is not a session has "error".

Rows are sorted by session ID. Progress is reported on stderr for long
lists.`,
		Example: `  expressbridge session list
  expressbridge session list --limit 0 --user-field passport.user
  expressbridge session list --json --show-ids | jq -r '.[].sid'`,
		Args: cobra.NoArgs,
	}
	o := &sessionOptions{a: a}
	o.addStoreFlags(cmd)
	fs := cmd.Flags()
	fs.IntVar(&limit, "limit", defaultListLimit, "list at most this many sessions; 0 lists all")
	fs.BoolVar(&showIDs, "show-ids", false, "print whole session IDs instead of redacted ones")
	fs.StringVar(&userField, "user-field", "username", "record field shown as USER; a dotted path reads nested objects")
	bindEnv(fs, "user-field", envUserField)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if limit < 0 {
			return usageErrorf("--limit must be 0 (all) or more, not %d", limit)
		}
		store, err := o.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer store.Close()
		p := startProgress(a.stderr, store.Where())
		rows, more, err := listSessions(cmd.Context(), sessions(store), limit, userField, p)
		p.stop()
		if err != nil {
			return o.explain(err)
		}
		if more {
			fmt.Fprintf(a.stderr, "expressbridge: showing the first %d sessions found; pass a larger --limit, or 0 for all\n", limit)
		}
		if a.json {
			printListJSON(a.stdout, rows, showIDs)
			return nil
		}
		if len(rows) == 0 {
			fmt.Fprintf(a.stderr, "expressbridge: no sessions %s at %s\n", store.Where(), store.URL)
		}
		printListTable(a.stdout, rows, showIDs)
		return nil
	}
	return cmd
}

// listRow is one session of session list.
type listRow struct {
	sid     string
	user    *string
	expires *time.Time
	ttl     time.Duration // -1: no expiry
	problem string        // the error code of a record that is not a session
	gone    bool          // the key vanished between SCAN and GET
}

// listSessions reads up to limit sessions (all when 0), listWorkers at a
// time, sorted by ID. more reports that the store holds more than limit.
func listSessions(ctx context.Context, store sessionStore, limit int, userField string, p *progress) (rows []listRow, more bool, err error) {
	// 1. The IDs, one more than asked to tell whether there are more.
	want := 0
	if limit > 0 {
		want = limit + 1
	}
	ids, err := store.IDs(ctx, want)
	if err != nil {
		return nil, false, err
	}
	if limit > 0 && len(ids) > limit {
		ids, more = ids[:limit], true
	}
	p.begin(len(ids))

	// 2. Each record and its TTL; the first store failure stops them all.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rows = make([]listRow, len(ids))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(listWorkers, len(ids)) {
		wg.Go(func() {
			for i := range jobs {
				row, err := readRow(ctx, store, ids[i], userField)
				if err != nil {
					cancel(err)
					continue
				}
				rows[i] = row
				p.step()
			}
		})
	}
feed:
	for i := range ids {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, false, err
	}

	// 3. Sorted, without the sessions that ended meanwhile.
	kept := rows[:0]
	for _, r := range rows {
		if !r.gone {
			kept = append(kept, r)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].sid < kept[j].sid })
	return kept, more, nil
}

// readRow reads one session for session list. Only store failures are
// errors; a record that is not a session is a row with a problem.
func readRow(ctx context.Context, store sessionStore, sid, userField string) (listRow, error) {
	row := listRow{sid: sid}
	sess, err := store.Get(ctx, sid)
	switch {
	case errors.Is(err, connectsid.ErrNoSession):
		return listRow{gone: true}, nil
	case errors.Is(err, connectsid.ErrMalformedSession):
		row.problem = connectsid.CodeMalformedSession
	case err != nil:
		return row, err
	default:
		if u, ok := userOf(sess, userField); ok {
			row.user = &u
		}
		row.expires = sess.Cookie().Expires
	}
	row.ttl, err = store.TTL(ctx, sid)
	switch {
	case errors.Is(err, connectsid.ErrNoSession):
		return listRow{gone: true}, nil
	case err != nil:
		return row, err
	}
	return row, nil
}

// userOf returns a record's user field as the gate reads it (a dotted
// path; a string as it is, a number as JavaScript writes it), or another
// value as its JSON text, for the list.
func userOf(sess *connectsid.Session, field string) (string, bool) {
	f, err := auth.ParseField(field)
	if err != nil {
		return "", false
	}
	raw, ok := f.Raw(sess)
	if !ok {
		return "", false
	}
	if s, ok := auth.Text(raw); ok {
		return s, true
	}
	return string(raw), true
}

func shownID(sid string, showIDs bool) string {
	if showIDs {
		return sid
	}
	return connectsid.Redact(sid)
}

func printListTable(w io.Writer, rows []listRow, showIDs bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SID\tUSER\tEXPIRES\tTTL")
	for _, r := range rows {
		user, expires, ttl := "-", "browser-session", "none"
		if r.user != nil {
			user = cell(*r.user)
		}
		if r.expires != nil {
			expires = r.expires.UTC().Format(time.RFC3339)
		}
		if r.problem != "" {
			expires = r.problem
		}
		if r.ttl >= 0 {
			ttl = r.ttl.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(shownID(r.sid, showIDs)), user, expires, ttl)
	}
	_ = tw.Flush()
}

// cell keeps a table cell on one line and in one column, as the
// diagnosis keeps its messages.
func cell(s string) string { return diagnose.OneLine(s) }

type listJSON struct {
	SID        string  `json:"sid"`
	User       *string `json:"user"`
	Expires    *string `json:"expires"`
	TTLSeconds *int64  `json:"ttl_seconds"`
	Error      string  `json:"error,omitempty"`
}

func printListJSON(w io.Writer, rows []listRow, showIDs bool) {
	out := make([]listJSON, len(rows))
	for i, r := range rows {
		out[i] = listJSON{SID: shownID(r.sid, showIDs), User: r.user, Error: r.problem}
		if r.expires != nil {
			s := r.expires.UTC().Format(time.RFC3339Nano)
			out[i].Expires = &s
		}
		if r.ttl >= 0 {
			s := int64(r.ttl.Round(time.Second) / time.Second)
			out[i].TTLSeconds = &s
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// progress reports how far session list has come, on stderr: every
// progressEvery while it runs, and every progressKeys sessions of a long
// list. Its methods are safe for concurrent use.
type progress struct {
	w      io.Writer
	where  string // under prefix "sess:", in table "session"
	start  time.Time
	total  atomic.Int64 // -1 while scanning
	done   atomic.Int64
	mu     sync.Mutex // serialises writes to w
	quit   chan struct{}
	exited chan struct{}
}

func startProgress(w io.Writer, where string) *progress {
	p := &progress{w: w, where: where, start: time.Now(), quit: make(chan struct{}), exited: make(chan struct{})}
	p.total.Store(-1)
	go p.tick()
	return p
}

func (p *progress) tick() {
	defer close(p.exited)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.report()
		}
	}
}

// begin ends the scan: total sessions are to be read.
func (p *progress) begin(total int) { p.total.Store(int64(total)) }

// step counts one session read.
func (p *progress) step() {
	if n := p.done.Add(1); p.total.Load() > progressKeys && n%progressKeys == 0 {
		p.report()
	}
}

func (p *progress) report() {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Since(p.start).Round(time.Second)
	if total := p.total.Load(); total < 0 {
		fmt.Fprintf(p.w, "expressbridge: looking for sessions %s… (%v)\n", p.where, elapsed)
	} else {
		fmt.Fprintf(p.w, "expressbridge: read %d of %d sessions (%v)\n", p.done.Load(), total, elapsed)
	}
}

// stop ends the reports; none is written after it returns.
func (p *progress) stop() {
	close(p.quit)
	<-p.exited
}

// session destroy ------------------------------------------------------------

func newSessionDestroyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "destroy SID|COOKIE",
		Short: "Delete a session, logging its user out",
		Long: `destroy deletes the session's record, as connect-redis's destroy does when the
app calls req.session.destroy(): the user is logged out everywhere the
cookie is used.

` + sidArgHelp + `

It fails with no-session (exit 1) when there is no such session.`,
		Example: `  expressbridge session destroy d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR
  expressbridge session list --json --show-ids | jq -r '.[].sid' | xargs -n1 expressbridge session destroy`,
		Args: cobra.ExactArgs(1),
	}
	o := addSessionFlags(cmd, a)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		sid, err := o.sessionID(args[0])
		if err != nil {
			return err
		}
		store, err := o.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer store.Close()
		ss := sessions(store)
		if _, err := ss.TTL(cmd.Context(), sid); err != nil { // says whether it exists
			return o.explain(err)
		}
		if err := ss.Destroy(cmd.Context(), sid); err != nil {
			return o.explain(err)
		}
		if a.json {
			a.writeJSON(struct {
				OK  bool   `json:"ok"`
				SID string `json:"sid"`
			}{true, sid})
			return nil
		}
		fmt.Fprintf(a.stdout, "destroyed session %s\n", sid)
		return nil
	}
	return cmd
}

// session touch --------------------------------------------------------------

func newSessionTouchCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "touch SID|COOKIE",
		Short: "Renew a session's TTL as a request of its user would",
		Long: `touch renews the session's TTL as express-session and connect-redis do on a
request that leaves the session unchanged: to the cookie's originalMaxAge,
or to --ttl for a browser-session cookie. It prints the TTL the key has
afterwards. With --disable-touch or --disable-ttl it changes nothing, as
connect-redis.

` + sidArgHelp + `

An expired session (cookie.expires passed) is not renewed: the command fails
with "expired".`,
		Example: `  expressbridge session touch d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR
  expressbridge session touch --json --ttl 1h "$SID"`,
		Args: cobra.ExactArgs(1),
	}
	o := addSessionFlags(cmd, a)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		sid, sess, store, err := o.loadSession(ctx, args[0])
		if err != nil {
			return err
		}
		defer store.Close()
		if now := time.Now(); sess.Expired(now) {
			return expiredError(sess, now)
		}
		ss := sessions(store)
		if err := ss.Touch(ctx, sess); err != nil {
			return o.explain(err)
		}
		if o.disableTouch || o.disableTTL {
			a.note("touch is disabled (--disable-touch or --disable-ttl): the TTL was left as it was")
		}
		ttl, err := ss.TTL(ctx, sid)
		if err != nil {
			return o.explain(err)
		}
		if a.json {
			out := struct {
				OK         bool   `json:"ok"`
				SID        string `json:"sid"`
				TTLSeconds *int64 `json:"ttl_seconds"`
			}{OK: true, SID: sid}
			if ttl >= 0 {
				s := int64(ttl.Round(time.Second) / time.Second)
				out.TTLSeconds = &s
			}
			a.writeJSON(out)
			return nil
		}
		shown := "none"
		if ttl >= 0 {
			shown = ttl.Round(time.Second).String()
		}
		fmt.Fprintf(a.stdout, "touched session %s: TTL %s\n", sid, shown)
		return nil
	}
	return cmd
}

// loadSession reads the session an argument names (a session ID, a cookie
// value or a Cookie header), expired or not, so that the caller can say by
// how long. On success the caller must call store.Close.
func (o *sessionOptions) loadSession(ctx context.Context, arg string) (
	sid string, sess *connectsid.Session, store *storeurl.Store, err error) {
	if sid, err = o.sessionID(arg); err != nil {
		return "", nil, nil, err
	}
	if store, err = o.openStore(ctx); err != nil {
		return "", nil, nil, err
	}
	if sess, err = sessions(store).Get(ctx, sid); err != nil {
		store.Close()
		return "", nil, nil, o.explain(err)
	}
	return sid, sess, store, nil
}
