package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// maxInput bounds what is read from stdin. Node refuses request headers
// over 16 KiB, so four times that holds any real Cookie header with room
// for pasted whitespace.
const maxInput = 4 * connectsid.MaxValueLen

func newUnsignCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unsign [COOKIE | -]",
		Short: "Verify a connect.sid cookie with the app's secrets and print its session ID",
		Long: `unsign verifies a session cookie as express-session does and prints the
session ID alone on a line.

COOKIE is either the cookie's value, as the browser sends it (s%3A…) or
decoded (s:…), or a whole Cookie header ("a=1; connect.sid=s%3A…", a leading
"Cookie:" is allowed), in which the cookie named by --cookie-name is used.
Without COOKIE, or with "-", it is read from stdin.

The secrets come from --secret-file or, without it, from ` + envSecret + `.
When the cookie verifies with a secret other than the first, a note on
stderr says so: cookies signed with an older secret are still in use, so
that secret cannot be retired yet.

With --store-url cookie-session: it reads an app on cookie-session instead:
COOKIE is the Cookie header with both cookies (session=…; session.sig=…),
verified with the keys (the secrets) and keygrip's algorithm, and what it
prints is the session's JSON; a refusal says which cookie is missing, that
no key verifies, or that the value is not a session.

Exit status: 0 verified, 1 refused (the code says why: no-cookie, not-signed,
bad-signature, malformed, malformed-session), 2 usage error.`,
		Example: `  export SESSION_SECRET='keyboard cat'
  expressbridge unsign 's%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs'
  expressbridge unsign 'theme=dark; connect.sid=s%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs'
  pbpaste | expressbridge unsign --secret-file /etc/myapp/secrets --json`,
		Args: cobra.MaximumNArgs(1),
	}
	o := &sessionOptions{a: a}
	o.addCookieFlags(cmd)
	cmd.Flags().StringVar(&o.storeURLFlag, "store-url", "",
		"cookie-session: (?algorithm=sha256|sha512 for new Keygrip(keys, alg)) verifies cookie-session's two cookies "+
			"and prints the session; other stores' URLs are not used by unsign")
	bindEnv(cmd.Flags(), "store-url", envStoreURL)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in, err := a.cookieInput(args)
		if err != nil {
			return err
		}
		if o.isCookieSession() {
			return o.unsignCookieSession(in)
		}
		sid, idx, err := o.unsign(parseCookieArg(in))
		if err != nil {
			return o.explain(err)
		}
		o.noteRotation(idx)
		if a.json {
			a.writeJSON(struct {
				OK          bool   `json:"ok"`
				SID         string `json:"sid"`
				SecretIndex int    `json:"secretIndex"`
			}{true, sid, idx})
			return nil
		}
		fmt.Fprintln(a.stdout, sid)
		return nil
	}
	return cmd
}

func newSignCmd(a *app) *cobra.Command {
	var header bool
	cmd := &cobra.Command{
		Use:   "sign SID",
		Short: "Print the connect.sid cookie value the app would set for a session ID",
		Long: `sign prints the cookie value express-session would write for SID, signed with
the first secret and encoded as the browser sends it (s%3A…). With --header
it prints a whole Cookie header instead, ready for curl or a WebSocket
client.

The secrets come from --secret-file (the first line signs) or, without it,
from ` + envSecret + `.

With --store-url cookie-session: the argument is the session's JSON (as
JSON.stringify(req.session) writes it), and sign prints the Cookie header
with the two cookies cookie-session sets for it, signed with the first key.`,
		Example: `  export SESSION_SECRET='keyboard cat'
  expressbridge sign d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR
  expressbridge sign --store-url cookie-session: '{"loggedIn":true,"username":"alice"}'
  curl -H "$(expressbridge sign --header "$SID")" http://localhost:3000/me`,
		Args: cobra.ExactArgs(1),
	}
	o := &sessionOptions{a: a}
	o.addCookieFlags(cmd)
	cmd.Flags().BoolVar(&header, "header", false, "print a Cookie header: Cookie: NAME=VALUE (NAME from --cookie-name)")
	cmd.Flags().StringVar(&o.storeURLFlag, "store-url", "",
		"cookie-session: (?algorithm=sha256|sha512): SID is then the session's JSON, and what is printed is the Cookie header "+
			"with both cookies cookie-session would set for it")
	bindEnv(cmd.Flags(), "store-url", envStoreURL)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if o.storeURLFlag != "" && o.isCookieSession() {
			return o.signCookieSession(args[0])
		}
		sid := args[0]
		switch {
		case sid == "":
			return usageErrorf("SID is empty")
		case !utf8.ValidString(sid):
			return usageErrorf("SID is not valid UTF-8")
		case len(sid) > connectsid.MaxValueLen:
			return usageErrorf("SID is %d bytes long; a cookie value is at most %d", len(sid), connectsid.MaxValueLen)
		}
		v, err := o.verifier()
		if err != nil {
			return err
		}
		value := v.Sign(sid)
		line := value
		if header {
			line = "Cookie: " + o.cookieName + "=" + value
		}
		if a.json {
			out := struct {
				OK     bool   `json:"ok"`
				SID    string `json:"sid"`
				Value  string `json:"value"`
				Header string `json:"header,omitempty"`
			}{OK: true, SID: sid, Value: value}
			if header {
				out.Header = line
			}
			a.writeJSON(out)
			return nil
		}
		fmt.Fprintln(a.stdout, line)
		return nil
	}
	return cmd
}

// Cookie arguments ----------------------------------------------------------

// argKind is what a COOKIE argument turned out to be.
type argKind int

const (
	argValue  argKind = iota // a cookie value: s%3A… or s:…
	argHeader                // a Cookie header, with or without "Cookie:"
	argBare                  // neither: a bare session ID, or a cookie that is not signed
)

type cookieArg struct {
	kind argKind
	text string
}

// parseCookieArg tells a cookie value from a Cookie header. A value starts
// with "s:" or "s%3A" (any case of hex), possibly inside one pair of double
// quotes; a header is anything else holding "=" or ";", with or without a
// leading "Cookie:".
func parseCookieArg(s string) cookieArg {
	s = strings.TrimSpace(s)
	if len(s) >= len("Cookie:") && strings.EqualFold(s[:len("Cookie:")], "Cookie:") {
		return cookieArg{argHeader, strings.TrimSpace(s[len("Cookie:"):])}
	}
	unquoted := s
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		unquoted = s[1 : len(s)-1]
	}
	switch {
	case strings.HasPrefix(unquoted, "s:"),
		len(unquoted) >= 4 && unquoted[:2] == "s%" && strings.EqualFold(unquoted[2:4], "3A"):
		return cookieArg{argValue, unquoted}
	case strings.ContainsAny(s, "=;"):
		return cookieArg{argHeader, s}
	}
	return cookieArg{argBare, unquoted}
}

// unsign verifies a cookie argument with the app's secrets. A bare argument
// is treated as a value, so that it fails with ErrNotSigned.
func (o *sessionOptions) unsign(c cookieArg) (sid string, secretIndex int, err error) {
	v, err := o.verifier()
	if err != nil {
		return "", -1, err
	}
	if c.kind == argHeader {
		o.header = c.text
		return v.FromHeader(c.text, o.cookieName)
	}
	return v.Unsign(connectsid.DecodeValue(c.text))
}

// unsignCookieSession verifies cookie-session's cookies in a Cookie header
// and prints the session's JSON (its fields, as the app reads them).
func (o *sessionOptions) unsignCookieSession(in string) error {
	o.cookieSessionOK = true
	st, err := storeurl.Open(context.Background(), o.storeURLFlag, storeurl.Options{})
	if err != nil {
		return usageErrorf("bad --store-url: %v", err)
	}
	c, err := o.codec(st.CookieAlgorithm)
	if err != nil {
		return err
	}
	header := strings.TrimSpace(in)
	if len(header) >= len("Cookie:") && strings.EqualFold(header[:len("Cookie:")], "Cookie:") {
		header = strings.TrimSpace(header[len("Cookie:"):])
	}
	o.header = header
	sid, idx, sess, err := c.FromHeader(header)
	if err != nil {
		e := o.explain(err)
		if ce, ok := e.(*cliError); ok {
			switch {
			case idx >= 0:
				ce.msg += fmt.Sprintf(" (signature verified with key %d of %d)", idx+1, c.Keys())
			case errors.Is(err, cookiesession.ErrNoSignature):
				ce.hint = "pass the whole Cookie header, both cookies: " + c.Name() + "=…; " + c.Name() + ".sig=…"
			case errors.Is(err, cookiesession.ErrBadSignature):
				ce.hint += cookieSessionAlgHint
			}
		}
		return e
	}
	if idx > 0 {
		o.a.note("verified with key %d of %d; cookies signed with older keys are still in use", idx+1, c.Keys())
	}
	if o.a.json {
		o.a.writeJSON(struct {
			OK       bool            `json:"ok"`
			SID      string          `json:"sid"`
			KeyIndex int             `json:"keyIndex"`
			Session  json.RawMessage `json:"session"`
		}{true, sid, idx, sess.AppJSON()})
		return nil
	}
	fmt.Fprintln(o.a.stdout, string(sess.AppJSON()))
	return nil
}

// signCookieSession prints the Cookie header cookie-session's browser
// sends back for a session whose JSON is record: session=…; session.sig=….
func (o *sessionOptions) signCookieSession(record string) error {
	st, err := storeurl.Open(context.Background(), o.storeURLFlag, storeurl.Options{})
	if err != nil {
		return usageErrorf("bad --store-url: %v", err)
	}
	c, err := o.codec(st.CookieAlgorithm)
	if err != nil {
		return err
	}
	if _, err := cookiesession.Decode("x", cookiesession.Encode([]byte(record))); err != nil || len(record) > connectsid.MaxValueLen {
		return usageErrorf("with --store-url cookie-session:, the argument is the session's JSON object, such as '{\"loggedIn\":true,\"username\":\"alice\"}'")
	}
	line := c.Header([]byte(record))
	if o.a.json {
		value, sig := c.Cookies([]byte(record))
		o.a.writeJSON(struct {
			OK     bool   `json:"ok"`
			Value  string `json:"value"`
			Sig    string `json:"sig"`
			Header string `json:"header"`
		}{true, value, sig, "Cookie: " + line})
		return nil
	}
	fmt.Fprintln(o.a.stdout, "Cookie: "+line)
	return nil
}

// cookieSessionAlgHint follows a bad-signature hint for cookie-session.
const cookieSessionAlgHint = "; and keygrip's algorithm: an app that passes new Keygrip(keys, 'sha256') needs --store-url 'cookie-session:?algorithm=sha256'"

// isCookieSession reports whether the store URL is cookie-session's.
func (o *sessionOptions) isCookieSession() bool {
	k, err := storeKind(o.storeURL())
	return err == nil && k == storeurl.CookieSession
}

// noteRotation tells the operator that a cookie verified with an older
// secret, which therefore cannot be retired yet.
func (o *sessionOptions) noteRotation(secretIndex int) {
	if secretIndex > 0 {
		o.a.note("verified with secret %d of %d; cookies signed with older secrets are still in use",
			secretIndex+1, o.v.Secrets())
	}
}

// cookieInput returns the COOKIE argument, or stdin's contents when the
// argument is "-" or absent, trimmed of surrounding spaces and the newline.
func (a *app) cookieInput(args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		s := strings.TrimSpace(args[0])
		if s == "" {
			return "", usageErrorf("the COOKIE argument is empty")
		}
		return s, nil
	}
	if len(args) == 0 && isTerminal(a.stdin) {
		return "", usageErrorf("no COOKIE: pass it as an argument, or on stdin")
	}
	data, err := io.ReadAll(io.LimitReader(a.stdin, maxInput+1))
	if err != nil {
		return "", &cliError{code: codeError, msg: fmt.Sprintf("cannot read stdin: %v", err), exit: exitRefused}
	}
	if len(data) > maxInput {
		return "", usageErrorf("stdin holds over %d bytes; a Cookie header is at most %d", maxInput, connectsid.MaxValueLen)
	}
	s := strings.TrimSpace(string(data))
	switch {
	case s == "":
		return "", usageErrorf("stdin is empty: pass one cookie value or Cookie header")
	case strings.ContainsAny(s, "\r\n"):
		return "", usageErrorf("stdin holds more than one line: pass one cookie value or Cookie header")
	}
	return s, nil
}

// isTerminal reports whether r is an interactive terminal, where waiting
// for input the user did not mean to type would look like a hang.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
