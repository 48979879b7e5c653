package diagnose_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/auth/diagnose"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// TestHintFor: every refusal code has a hint on either store, in general
// words that name no flag, with the settings it names.
func TestHintFor(t *testing.T) {
	redis := diagnose.Where{Kind: storeurl.Redis, URL: "redis://127.0.0.1:6379", Prefix: "sess:"}
	pg := diagnose.Where{Kind: storeurl.Postgres, URL: "postgres://app@db/app", Table: `"session"`}
	refusal := func(code string) error { return &auth.Refusal{Code: code} }
	for _, tt := range []struct {
		err      error
		where    diagnose.Where
		hint     string
		settings string
	}{
		{connectsid.ErrNoCookie, redis, "pass the Cookie header the browser sends to the app", ""},
		{connectsid.ErrNotSigned, redis, "not the bare session ID", ""},
		{fmt.Errorf("%w (sid x)", connectsid.ErrBadSignature), redis, "check that the secrets are exactly the app's secret option", "secrets"},
		{connectsid.ErrMalformed, redis, "was it copied whole?", ""},
		{connectsid.ErrNoSession, redis, `check that the key prefix ("sess:") and the store's address (host and database number)`, "prefix store-url"},
		{connectsid.ErrNoSession, pg, "check that the store's address (database), the schema and the table are the app's", "store-url schema table"},
		{connectsid.ErrExpired, redis, "the user must log in again in the Express app", ""},
		{fmt.Errorf("%w (sid x): no cookie object", connectsid.ErrMalformedSession), redis, `writes keys under "sess:"; check the key prefix`, "prefix"},
		{fmt.Errorf("%w (sid x): not valid JSON", connectsid.ErrMalformedSession), redis, "connect-redis's serializer option", ""},
		{connectsid.ErrMalformedSession, pg, `writes rows into "session"; check the table`, "table"},
		{connectsid.ErrStoreUnavailable, redis, "is redis-server running? check the store's address", "store-url"},
		{connectsid.ErrStoreUnavailable, pg, "is PostgreSQL running, and does the table exist? check the store's address and the table", "store-url table"},
		{refusal(connectsid.CodeStoreUnavailable), redis, "is redis-server running?", "store-url"},
		{refusal(auth.CodeNotLoggedIn), redis, "set the login field to NAME (a dotted path such as passport.user)", "login-field"},
		{refusal(auth.CodeBadOrigin), redis, "add its origin to the allowed origins", "allowed-origins"},
		{errors.New("something else"), redis, "", ""},
	} {
		h := diagnose.HintFor(tt.err, tt.where)
		var settings []string
		for _, s := range h.Settings() {
			settings = append(settings, string(s))
		}
		switch {
		case !strings.Contains(h.String(), tt.hint) || (tt.hint == "") != h.IsZero():
			t.Errorf("HintFor(%v, %s) = %q, want it to hold %q", tt.err, tt.where.Kind, h, tt.hint)
		case strings.Join(settings, " ") != tt.settings:
			t.Errorf("HintFor(%v, %s) names %v, want %q", tt.err, tt.where.Kind, settings, tt.settings)
		case strings.Contains(h.String(), "--"):
			t.Errorf("HintFor(%v) = %q names a flag", tt.err, h)
		}
	}
}

// flags is a Namer as a command line has one.
type flags struct{}

func (flags) Name(s diagnose.Setting) string { return "--" + string(s) }

func (f flags) Set(changes ...diagnose.Change) string {
	words := []string{"pass"}
	for _, c := range changes {
		words = append(words, f.Name(c.Setting))
		if c.Value != "" {
			words = append(words, c.Value)
		}
	}
	return strings.Join(words, " ")
}

func TestGeneral(t *testing.T) {
	g := diagnose.General{}
	for _, tt := range []struct {
		changes []diagnose.Change
		want    string
	}{
		{[]diagnose.Change{{Setting: diagnose.SettingCookieName, Value: "app.sid"}}, "set the cookie name to app.sid"},
		{[]diagnose.Change{{Setting: diagnose.SettingPrefix}}, "set the key prefix"},
		{[]diagnose.Change{{Setting: diagnose.SettingAcceptExpired}}, "turn on accepting expired sessions"},
		{[]diagnose.Change{{Setting: diagnose.SettingLoginField, Value: "passport.user"}, {Setting: diagnose.SettingUserField, Value: "passport.user"}},
			"set the login field to passport.user and set the user field to passport.user"},
	} {
		if got := g.Set(tt.changes...); got != tt.want {
			t.Errorf("Set(%v) = %q, want %q", tt.changes, got, tt.want)
		}
	}
	for _, s := range []diagnose.Setting{diagnose.SettingSecrets, diagnose.SettingCookieName, diagnose.SettingStoreURL,
		diagnose.SettingPrefix, diagnose.SettingSchema, diagnose.SettingTable, diagnose.SettingLoginField, diagnose.SettingUserField,
		diagnose.SettingAcceptExpired, diagnose.SettingAllowedOrigins, diagnose.SettingShowValues} {
		if n := g.Name(s); n == string(s) || n == "" {
			t.Errorf("General.Name(%s) = %q, want words", s, n)
		}
	}
}

func TestTextFormat(t *testing.T) {
	h := diagnose.HintFor(connectsid.ErrNoSession, diagnose.Where{Kind: storeurl.Redis, Prefix: "sess:"})
	if got, want := h.Format(flags{}), `check that --prefix ("sess:") and --store-url (host and database number) are the app's`; !strings.HasSuffix(got, want) {
		t.Errorf("Format = %q, want it to end %q", got, want)
	}
	if b, err := h.MarshalText(); err != nil || string(b) != h.String() {
		t.Errorf("MarshalText = %q, %v; want String", b, err)
	}
	if !(diagnose.Text{}).IsZero() || (diagnose.Text{}).String() != "" {
		t.Error("the zero Text is not empty")
	}
}
