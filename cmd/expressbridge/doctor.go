package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/auth/diagnose"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// doctor hands one cookie to auth/diagnose, which asks the gate that serve
// uses (auth.Gate: cookie, signature, store, record, login, user) with a
// trace and explains each step; doctor prints the findings, one line per
// step, with the hints in its flags' names. So doctor, the bridge's refusal
// log and ?explain=1 cannot disagree.

// stepAccepted is doctor's verdict line after the gate's steps.
const stepAccepted = diagnose.StepAccepted

// stepWidth is the width of the step column: the message column follows.
const stepWidth = len(auth.StepSignature) + 2

type doctorOptions struct {
	showIDs    bool
	showValues bool
}

func newDoctorCmd(a *app) *cobra.Command {
	var do doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor [COOKIE | -]",
		Short: "Tell why the bridge would accept or refuse a cookie, step by step",
		Long: `doctor hands a session cookie to the same gate that serve uses for every
handshake, with the same options, and prints one line per step: cookie (the
cookie of --cookie-name in the header), signature (the app's secrets), store
(the record in Redis under --prefix), record (a session record, not
expired), login (--login-field is truthy; passport apps: passport.user) and
user (--user-field, the user's name or id). It
stops at the first step that fails, with its cause and the next thing to
try: the cookie names present, a session found under another prefix, a
secret rotation in progress, the fields a record holds.

COOKIE is the cookie's value (s%3A…) or a whole Cookie header, as the
browser sends it (copy it from the developer tools' network tab); without
COOKIE, or with "-", it is read from stdin. The cookie is never printed, nor
any secret; session IDs are shortened unless --show-ids and field values
hidden unless --show-values.

The step names and error codes are the bridge's, as in its refusal log
(--log-level debug) and in ?explain=1. With --json the steps are printed as
an array of {"step","ok","code","message","details","hint",…}; the last is
{"step":"accepted","user":…} when the cookie would be accepted.

Exit status: 0 accepted, 1 refused, 2 usage error, 3 Redis unavailable.`,
		Example: `  export SESSION_SECRET='keyboard cat' REDIS_URL=redis://127.0.0.1:6379
  expressbridge doctor 'theme=dark; connect.sid=s%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs'
  pbpaste | expressbridge doctor --secret-file /etc/myapp/secrets --prefix myapp:
  expressbridge doctor --json "$COOKIE" | jq '.[-1]'`,
		Args: cobra.MaximumNArgs(1),
	}
	o := addSessionFlags(cmd, a)
	g := addGateFlags(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&do.showIDs, "show-ids", false, "print whole session IDs instead of shortened ones")
	fs.BoolVar(&do.showValues, "show-values", false, "print the values of the record's fields, not only their names")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		// Everything that is the command line's fault first: exit 2.
		in, err := a.cookieInput(args)
		if err != nil {
			return err
		}
		// The gate judges expiry; the store hands it every record.
		o.cookieSessionOK = true
		store, err := o.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer store.Close()
		var gate *auth.Gate
		if store.Kind == storeurl.CookieSession {
			gate, err = o.cookieSessionGate(g, store.CookieAlgorithm)
		} else {
			v, verr := o.verifier()
			if verr != nil {
				return verr
			}
			gate, err = g.gate(v, sessions(store), o.cookieName, nil, nil)
		}
		if err != nil {
			return err
		}
		cfg := diagnose.Config{Gate: gate, Store: store, SecretSource: o.secretSource,
			ShowIDs: do.showIDs, ShowValues: do.showValues}
		diagnosis := diagnose.Value
		arg := parseCookieArg(in)
		if arg.kind == argHeader || (store.Kind == storeurl.CookieSession && strings.Contains(arg.text, "=")) {
			diagnosis = diagnose.Cookie
		}
		report, err := diagnosis(cmd.Context(), cfg, arg.text)
		if err != nil {
			return err // cannot happen: the gate and the store are set
		}
		checks := o.checks(report)
		if a.json {
			a.writeJSONIndent(checks)
		} else {
			printChecks(a.stdout, checks)
		}
		if !report.Accepted() {
			return &cliError{code: report.Code(), exit: exitStatus(report.Code()), quiet: true}
		}
		return nil
	}
	return cmd
}

// check is one step of the diagnosis, as printed.
type check struct {
	Step    string   `json:"step"`
	OK      bool     `json:"ok"`
	Warning bool     `json:"warning,omitempty"` // ok, but worth knowing (the user step only)
	Code    string   `json:"code,omitempty"`    // the bridge's refusal code, when not ok
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
	Hint    string   `json:"hint,omitempty"` // the next thing to try

	// Facts for scripts, each on its step.
	SID        string     `json:"sid,omitempty"`         // signature: shortened unless --show-ids
	Secret     int        `json:"secret,omitempty"`      // signature: which secret verified, from 1
	Secrets    int        `json:"secrets,omitempty"`     // signature: how many there are
	TTLSeconds *int64     `json:"ttl_seconds,omitempty"` // store: the key's TTL; absent when none
	Found      []foundKey `json:"found,omitempty"`       // store: the session under other prefixes
	Fields     []string   `json:"fields,omitempty"`      // login, user: the record's fields
	User       *string    `json:"user,omitempty"`        // accepted
}

// foundKey is the session found under another prefix.
type foundKey struct {
	Prefix     string `json:"prefix"`
	TTLSeconds *int64 `json:"ttl_seconds"` // null: the key has no TTL
}

// checks words the report's findings for the command line: hints and
// details with the flags' names, the store's password scrubbed.
func (o *sessionOptions) checks(r *diagnose.Report) []check {
	names := flagNames{o}
	out := make([]check, len(r.Findings))
	for i, f := range r.Findings {
		c := check{Step: f.Step, OK: f.Status != diagnose.Fail, Warning: f.Status == diagnose.Warn, Code: f.Code,
			Message: o.scrubURL(f.Message), Hint: o.scrubURL(f.Hint.Format(names)),
			SID: f.SID, Secret: f.Secret, Secrets: f.Secrets, TTLSeconds: ttlSeconds(f.TTL), Fields: f.Fields, User: f.User}
		if f.Code == connectsid.CodeBadSignature && f.Secrets > 0 {
			c.Hint = o.secretHint(true) // the secrets' source is the command line's
			if o.cookieSessionOK && o.isCookieSession() {
				c.Hint += cookieSessionAlgHint
			}
		}
		for _, d := range f.Details {
			c.Details = append(c.Details, o.scrubURL(d.Format(names)))
		}
		for _, k := range f.Found {
			c.Found = append(c.Found, foundKey{Prefix: k.Prefix, TTLSeconds: ttlSeconds(k.TTL)})
		}
		out[i] = c
	}
	return out
}

// printChecks writes the steps aligned, one line each, details and hint
// below.
func printChecks(w io.Writer, checks []check) {
	indent := strings.Repeat(" ", 2+stepWidth)
	for _, c := range checks {
		mark := "✔"
		switch {
		case !c.OK:
			mark = "✘"
		case c.Warning:
			mark = "!"
		}
		if c.Step == stepAccepted {
			fmt.Fprintf(w, "%s %s\n", mark, c.Message)
			continue
		}
		fmt.Fprintf(w, "%s %-*s%s\n", mark, stepWidth, c.Step, c.Message)
		for _, l := range c.Details {
			fmt.Fprintf(w, "%s%s\n", indent, l)
		}
		if c.Hint != "" {
			fmt.Fprintf(w, "%shint: %s\n", indent, c.Hint)
		}
	}
}

// writeJSONIndent prints v as indented JSON, as session list does.
func (a *app) writeJSONIndent(v any) {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ttlSeconds is a TTL in whole seconds for JSON; nil for none.
func ttlSeconds(ttl *time.Duration) *int64 {
	if ttl == nil {
		return nil
	}
	s := int64(ttl.Round(time.Second) / time.Second)
	return &s
}

// shellWordRe matches words that need no quoting in a shell.
var shellWordRe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellWord quotes s for a shell command line, when it needs it.
func shellWord(s string) string {
	s = cell(s)
	if shellWordRe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
