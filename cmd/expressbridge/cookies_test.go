package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid"
)

// The app's secrets, newest first, as in its secret option. Distinctive so
// that a leak into any output is found.
var secrets = []string{"S3cr3t-NEWEST-a71f", "S3cr3t-MIDDLE-0c2e", "S3cr3t-OLDEST-93bd"}

const testSID = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"

// signWith returns the encoded cookie value for sid signed with secret.
func signWith(t *testing.T, secret, sid string) string {
	t.Helper()
	v, err := connectsid.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	return v.Sign(sid)
}

// secretFile writes lines to a file of mode perm and returns its path.
func secretFile(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // not subject to the umask
		t.Fatal(err)
	}
	return path
}

// macOf returns the signature part of an encoded cookie value.
func macOf(value string) string { return value[strings.LastIndexByte(value, '.')+1:] }

func TestUnsign(t *testing.T) {
	t.Parallel()
	value := signWith(t, secrets[0], testSID)        // s%3A…
	raw := strings.Replace(value, "%3A", ":", 1)     // s:…
	lower := strings.Replace(value, "%3A", "%3a", 1) // s%3a…
	rotated := signWith(t, secrets[1], testSID)
	file := secretFile(t, strings.Join(secrets, "\r\n")+"\r\n\r\n", 0o600)
	envOne := map[string]string{envSecret: secrets[0]}
	envFile := map[string]string{envSecretFile: file}

	tests := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		note  bool // the rotation note on stderr
	}{
		{"encoded value", envOne, "", []string{value}, false},
		{"decoded value", envOne, "", []string{raw}, false},
		{"lower-case escape", envOne, "", []string{lower}, false},
		{"quoted value", envOne, "", []string{`"` + value + `"`}, false},
		{"header", envOne, "", []string{"theme=dark; connect.sid=" + value + "; lang=fr"}, false},
		{"header with Cookie:", envOne, "", []string{"Cookie: a=1; connect.sid=" + value}, false},
		{"stdin", envOne, value + "\n", nil, false},
		{"stdin dash crlf", envOne, "a=1; connect.sid=" + value + "\r\n", []string{"-"}, false},
		{"secret file", nil, "", []string{value, "--secret-file", file}, false},
		{"secret file from env", envFile, "", []string{value}, false},
		{"rotated secret", envFile, "", []string{rotated}, true},
		{"cookie name flag", envOne, "", []string{"--cookie-name", "app.sid", "connect.sid=x; app.sid=" + value}, false},
		{"cookie name env", map[string]string{envSecret: secrets[0], envCookieName: "app.sid"}, "", []string{"app.sid=" + value}, false},
		{"flag beats env", map[string]string{envSecret: secrets[0], envCookieName: "nope"}, "", []string{"--cookie-name", "app.sid", "app.sid=" + value}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tt.env, tt.stdin, append([]string{"unsign"}, tt.args...)...)
			r.want(t, exitOK, nil, nil)
			if r.stdout != testSID+"\n" {
				t.Errorf("stdout = %q, want the sid alone on a line", r.stdout)
			}
			const note = "note: verified with secret 2 of 3; cookies signed with older secrets are still in use\n"
			if want := map[bool]string{true: note}[tt.note]; r.stderr != want {
				t.Errorf("stderr = %q, want %q", r.stderr, want)
			}
			r.lacks(t, "a secret", secrets...)

			// The same with --json.
			r = cli(t, tt.env, tt.stdin, append([]string{"unsign", "--json"}, tt.args...)...)
			r.want(t, exitOK, nil, nil)
			var got struct {
				OK          bool   `json:"ok"`
				SID         string `json:"sid"`
				SecretIndex *int   `json:"secretIndex"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("--json: %v\n%s", err, r)
			}
			wantIndex := map[bool]int{true: 1}[tt.note]
			if !got.OK || got.SID != testSID || got.SecretIndex == nil || *got.SecretIndex != wantIndex {
				t.Errorf("--json = %s, want ok, sid %s, secretIndex %d", r.stdout, testSID, wantIndex)
			}
		})
	}
}

// TestUnsignRefused checks each refusal: its code, exit 1, a hint, the same
// in JSON, and that neither a secret nor the cookie's signature is shown.
func TestUnsignRefused(t *testing.T) {
	t.Parallel()
	forged := signWith(t, "not the app's secret", testSID)
	env := map[string]string{envSecret: secrets[0]}
	tests := []struct {
		name, arg, code, hint string
	}{
		{"no cookie", "theme=dark; lang=fr", "no-cookie", "no cookie named connect.sid; names present: lang, theme (use --cookie-name)"},
		{"empty cookie", "connect.sid=; a=1", "no-cookie", "the cookie connect.sid is empty"},
		{"bare sid", testSID, "not-signed", "the cookie must be the signed value Express sets (s%3A…), not the bare session ID"},
		{"unsigned in header", "connect.sid=" + testSID, "not-signed", "not the bare session ID"},
		{"bad signature", forged, "bad-signature", "check that SESSION_SECRET is the Express app's secret option"},
		{"bad signature in header", "connect.sid=" + forged, "bad-signature", "SESSION_SECRET"},
		{"truncated signature", forged[:len(forged)-3], "bad-signature", "SESSION_SECRET"},
		{"no dot", "s%3A" + testSID, "malformed", "s%3A<session ID>.<signature>"},
		{"empty sid", "s%3A." + macOf(forged), "malformed", "copied whole"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, env, "", "unsign", tt.arg)
			r.want(t, exitRefused, nil, []string{"expressbridge: " + tt.code + ": ", "\nhint: ", tt.hint})
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			r.lacks(t, "a secret", secrets[0])
			r.lacks(t, "the cookie's signature", macOf(forged))

			r = cli(t, env, "", "--json", "unsign", tt.arg)
			r.want(t, exitRefused, nil, nil)
			var got map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("--json: %v\n%s", err, r)
			}
			if got["ok"] != false || got["error"] != tt.code || got["message"] == "" {
				t.Errorf("--json = %s, want ok false, error %s and a message", r.stdout, tt.code)
			}
			r.lacks(t, "the cookie's signature", macOf(forged))
		})
	}
	// With a secret file the bad-signature hint names the file.
	file := secretFile(t, secrets[0]+"\n", 0o600)
	cli(t, nil, "", "unsign", "--secret-file", file, forged).want(t, exitRefused, nil,
		[]string{"hint: check that --secret-file holds the Express app's secret option, in the same order"})
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	value := signWith(t, secrets[0], testSID)
	dir := t.TempDir()
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"no secret", nil, []string{"unsign", value}, exitUsage,
			"expressbridge: usage: no secret: set SESSION_SECRET or pass --secret-file FILE (one secret per line, the first signs)\n"},
		{"empty SESSION_SECRET", map[string]string{envSecret: ""}, []string{"sign", testSID}, exitUsage, "usage: no secret"},
		{"no --secret flag", nil, []string{"unsign", "--secret", secrets[0], value}, exitUsage, "usage: unknown flag: --secret\nhint: secrets never go on the command line"},
		{"no --secret= flag", nil, []string{"unsign", "--secret=" + secrets[0], value}, exitUsage, "usage: unknown flag: --secret\n"},
		{"missing file", nil, []string{"unsign", "--secret-file", filepath.Join(dir, "nope"), value}, exitUsage, "usage: cannot read the secret file: open "},
		{"directory", nil, []string{"unsign", "--secret-file", dir, value}, exitUsage, "is not a regular file"},
		{"empty file", nil, []string{"unsign", "--secret-file", secretFile(t, "\n \r\n\n", 0o600), value}, exitUsage, "holds no secret"},
		{"file beats SESSION_SECRET", map[string]string{envSecret: "wrong"}, []string{"unsign", "--secret-file", secretFile(t, secrets[0], 0o600), value}, exitOK, ""},
		{"BOM and CRLF", nil, []string{"unsign", "--secret-file", secretFile(t, "\uFEFF"+secrets[0]+"\r\n", 0o600), value}, exitOK, ""},
		{"spaces are part of a secret", nil, []string{"unsign", "--secret-file", secretFile(t, secrets[0]+" \n", 0o600), value}, exitRefused, "bad-signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tt.env, "", tt.args...)
			r.want(t, tt.code, nil, []string{tt.stderr})
			if tt.code != exitOK {
				r.lacks(t, "a secret", secrets[0])
			}
		})
	}
}

func TestSecretFileReadableByAll(t *testing.T) {
	t.Parallel()
	value := signWith(t, secrets[0], testSID)
	open := secretFile(t, strings.Join(secrets, "\n"), 0o644)
	r := cli(t, nil, "", "unsign", "--secret-file", open, value)
	r.want(t, exitOK, []string{testSID}, nil)
	warning := "expressbridge: warning: secret file " + open + " is readable by every user (mode 0644); run: chmod 600 " + open + "\n"
	if r.stderr != warning {
		t.Errorf("stderr = %q, want the warning once: %q", r.stderr, warning)
	}
	r.lacks(t, "a secret", secrets...)

	// Group-readable is the operator's choice: no warning.
	r = cli(t, nil, "", "unsign", "--secret-file", secretFile(t, secrets[0], 0o640), value)
	r.want(t, exitOK, nil, nil)
	if r.stderr != "" {
		t.Errorf("stderr = %q for mode 0640, want nothing", r.stderr)
	}
}

func TestUnsignInput(t *testing.T) {
	t.Parallel()
	env := map[string]string{envSecret: secrets[0]}
	value := signWith(t, secrets[0], testSID)
	tests := []struct {
		name, stdin string
		args        []string
		stderr      string
	}{
		{"empty stdin", "", nil, "usage: stdin is empty"},
		{"two lines", value + "\n" + value + "\n", []string{"-"}, "usage: stdin holds more than one line"},
		{"too long", strings.Repeat("a", maxInput+1), nil, "usage: stdin holds over"},
		{"empty argument", "", []string{" "}, "usage: the COOKIE argument is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cli(t, env, tt.stdin, append([]string{"unsign"}, tt.args...)...).want(t, exitUsage, nil, []string{tt.stderr})
		})
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	value := signWith(t, secrets[0], testSID)
	file := secretFile(t, strings.Join(secrets, "\n"), 0o600)
	env := map[string]string{envSecret: secrets[0]}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stdout string
	}{
		{"value", env, []string{testSID}, value + "\n"},
		{"first secret of a file signs", nil, []string{"--secret-file", file, testSID}, value + "\n"},
		{"header", env, []string{"--header", testSID}, "Cookie: connect.sid=" + value + "\n"},
		{"header with cookie name", env, []string{"--header", "--cookie-name", "app.sid", testSID}, "Cookie: app.sid=" + value + "\n"},
		{"json", env, []string{"--json", testSID}, `{"ok":true,"sid":"` + testSID + `","value":"` + value + `"}` + "\n"},
		{"json header", env, []string{"--json", "--header", testSID},
			`{"ok":true,"sid":"` + testSID + `","value":"` + value + `","header":"Cookie: connect.sid=` + value + `"}` + "\n"},
		{"the Express test vector", map[string]string{envSecret: "keyboard cat"}, []string{testSID},
			"s%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tt.env, "", append([]string{"sign"}, tt.args...)...)
			r.want(t, exitOK, nil, nil)
			if r.stdout != tt.stdout || r.stderr != "" {
				t.Errorf("got\n%s\nwant stdout %q", r, tt.stdout)
			}
			r.lacks(t, "a secret", secrets...)
		})
	}

	// What sign prints, unsign takes back, as a value and as a header.
	odd := "ünïcode/sid+with=odd;chars"
	signed := cli(t, env, "", "sign", odd)
	header := cli(t, env, "", "sign", "--header", odd)
	for _, in := range []string{signed.stdout, header.stdout} {
		r := cli(t, env, in, "unsign")
		if r.code != exitOK || r.stdout != odd+"\n" {
			t.Errorf("unsign of %q:\n%s", in, r)
		}
	}

	cli(t, env, "", "sign", "").want(t, exitUsage, nil, []string{"usage: SID is empty"})
	cli(t, nil, "", "sign", testSID).want(t, exitUsage, nil, []string{"usage: no secret"})
}
