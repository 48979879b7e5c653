package diagnose

import (
	"fmt"
	"strings"
)

// Setting is one of the settings a hint may tell to change. The library
// words it in general terms; a caller that exposes settings under names of
// its own (a command line's flags) gives a Namer to Text.Format.
type Setting string

// The settings hints name.
const (
	SettingSecrets        Setting = "secrets"         // the app's secret option, in its order
	SettingCookieName     Setting = "cookie-name"     // express-session's name option
	SettingStoreURL       Setting = "store-url"       // the store's address (host, database)
	SettingPrefix         Setting = "prefix"          // connect-redis's prefix option
	SettingSchema         Setting = "schema"          // connect-pg-simple's schemaName
	SettingTable          Setting = "table"           // connect-pg-simple's tableName
	SettingLoginField     Setting = "login-field"     // auth.Config.LoginField
	SettingUserField      Setting = "user-field"      // auth.Config.UserField
	SettingAcceptExpired  Setting = "accept-expired"  // auth.Config.AcceptExpired, a switch
	SettingAllowedOrigins Setting = "allowed-origins" // auth.Config.AllowedOrigins
	SettingShowValues     Setting = "show-values"     // Config.ShowValues, a switch
)

// Change is a setting and the value a hint suggests for it; Value is
// empty when the hint cannot tell (and for a switch, which is turned on).
type Change struct {
	Setting Setting
	Value   string
}

// Namer words settings for Text.Format.
type Namer interface {
	// Name is the setting as a noun: "the cookie name", "--cookie-name".
	Name(s Setting) string
	// Set is the instruction to make the changes, in order.
	Set(changes ...Change) string
}

// General words settings in general terms; Text.String uses it.
type General struct{}

// Name returns the setting in general terms.
func (General) Name(s Setting) string {
	switch s {
	case SettingSecrets:
		return "the secrets"
	case SettingCookieName:
		return "the cookie name"
	case SettingStoreURL:
		return "the store's address"
	case SettingPrefix:
		return "the key prefix"
	case SettingSchema:
		return "the schema"
	case SettingTable:
		return "the table"
	case SettingLoginField:
		return "the login field"
	case SettingUserField:
		return "the user field"
	case SettingAcceptExpired:
		return "accepting expired sessions"
	case SettingAllowedOrigins:
		return "the allowed origins"
	case SettingShowValues:
		return "showing values"
	}
	return string(s)
}

// Set returns "set the cookie name to app.sid", "turn on accepting expired
// sessions", joined with "and".
func (g General) Set(changes ...Change) string {
	words := make([]string, len(changes))
	for i, c := range changes {
		switch {
		case c.Setting == SettingAcceptExpired || c.Setting == SettingShowValues:
			words[i] = "turn on " + g.Name(c.Setting)
		case c.Value == "":
			words[i] = "set " + g.Name(c.Setting)
		default:
			words[i] = "set " + g.Name(c.Setting) + " to " + c.Value
		}
	}
	return strings.Join(words, " and ")
}

// Text is a message that may name settings: String words them in
// general terms, Format in a Namer's. The zero Text is empty.
type Text struct {
	parts []part
}

// part is a run of words, a setting's name (with a value shown after it
// in parentheses when shown is set), or changes to make.
type part struct {
	words   string
	name    Setting
	shown   string
	changes []Change
}

// String returns the text in general terms.
func (t Text) String() string { return t.Format(General{}) }

// Format returns the text with n's names for the settings.
func (t Text) Format(n Namer) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch {
		case p.changes != nil:
			b.WriteString(n.Set(p.changes...))
		case p.name != "":
			b.WriteString(n.Name(p.name))
			if p.shown != "" {
				b.WriteString(" (" + p.shown + ")")
			}
		default:
			b.WriteString(p.words)
		}
	}
	return b.String()
}

// IsZero reports whether the text is empty.
func (t Text) IsZero() bool { return len(t.parts) == 0 }

// MarshalText returns String, for JSON.
func (t Text) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Settings returns the settings the text names or changes, in order.
func (t Text) Settings() []Setting {
	var out []Setting
	for _, p := range t.parts {
		if p.name != "" {
			out = append(out, p.name)
		}
		for _, c := range p.changes {
			out = append(out, c.Setting)
		}
	}
	return out
}

// text builds a Text of strings, Texts and the parts name, nameShown and
// set make.
func text(pieces ...any) Text {
	var t Text
	for _, p := range pieces {
		switch p := p.(type) {
		case string:
			if p != "" {
				t.parts = append(t.parts, part{words: p})
			}
		case part:
			t.parts = append(t.parts, p)
		case Text:
			t.parts = append(t.parts, p.parts...)
		default:
			panic(fmt.Sprintf("diagnose: text of a %T", p)) // a mistake in this package
		}
	}
	return t
}

// name is a setting's name; nameShown the same with its value after it.
func name(s Setting) part                    { return part{name: s} }
func nameShown(s Setting, value string) part { return part{name: s, shown: value} }

// set is the instruction to make changes.
func set(changes ...Change) part { return part{changes: changes} }
