package connectsid

import (
	"errors"
	"strings"
	"testing"
)

const testSID = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"

func mustVerifier(t testing.TB, secrets ...string) *Verifier {
	t.Helper()
	v, err := NewVerifier(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewVerifierRefusesEmptySecrets(t *testing.T) {
	for _, secrets := range [][]string{nil, {""}, {"a", ""}} {
		if _, err := NewVerifier(secrets...); !errors.Is(err, ErrEmptySecret) {
			t.Errorf("NewVerifier(%q) = %v, want ErrEmptySecret", secrets, err)
		}
	}
}

func TestRotation(t *testing.T) {
	old := mustVerifier(t, "old")
	signedOld := old.SignRaw(testSID)
	rotating := mustVerifier(t, "new", "old")
	sid, idx, err := rotating.Unsign(signedOld)
	if err != nil || sid != testSID || idx != 1 {
		t.Fatalf("Unsign = %q, %d, %v; want the sid from secret 1", sid, idx, err)
	}
	if _, idx, _ := rotating.Unsign(rotating.SignRaw(testSID)); idx != 0 {
		t.Fatalf("new cookies must be signed with the first secret, got index %d", idx)
	}
	if _, _, err := mustVerifier(t, "new").Unsign(signedOld); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("retired secret still verifies: %v", err)
	}
}

func TestUnsignRejections(t *testing.T) {
	v := mustVerifier(t, "secret")
	good := v.SignRaw(testSID)
	mac := good[strings.LastIndexByte(good, '.')+1:]
	tests := []struct {
		name, value string
		want        error
	}{
		{"no prefix", testSID + "." + mac, ErrNotSigned},
		{"empty", "", ErrNotSigned},
		{"no dot", "s:" + testSID, ErrMalformed},
		{"empty sid", v.SignRaw(""), ErrMalformed},
		{"too long", "s:" + strings.Repeat("a", MaxValueLen), ErrMalformed},
		{"tampered sid", "s:X" + testSID[1:] + "." + mac, ErrBadSignature},
		{"flipped mac", good[:len(good)-1] + flip(good[len(good)-1]), ErrBadSignature},
		{"truncated mac", good[:len(good)-1], ErrBadSignature},
		{"padded mac", good + "=", ErrBadSignature},
		{"upper-cased mac", "s:" + testSID + "." + strings.ToUpper(mac), ErrBadSignature},
		{"extra dot", good + ".", ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid, _, err := v.Unsign(tt.value)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unsign = %q, %v; want %v", sid, err, tt.want)
			}
			if ErrorCode(err) == "" {
				t.Fatalf("error %v has no code", err)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestFromHeader(t *testing.T) {
	v := mustVerifier(t, "secret")
	enc := v.Sign(testSID)
	tests := []struct {
		name, header string
		want         error
	}{
		{"alone", "connect.sid=" + enc, nil},
		{"among others", "a=1; connect.sid=" + enc + "; b=2", nil},
		{"first wins", "connect.sid=" + enc + "; connect.sid=junk", nil},
		{"first wins, bad first", "connect.sid=junk; connect.sid=" + enc, ErrNotSigned},
		{"quoted", `connect.sid="` + enc + `"`, nil},
		{"absent", "a=1", ErrNoCookie},
		{"empty", "connect.sid=", ErrNoCookie},
		{"empty header", "", ErrNoCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid, _, err := v.FromHeader(tt.header, "connect.sid")
			if !errors.Is(err, tt.want) || (tt.want == nil && sid != testSID) {
				t.Fatalf("FromHeader = %q, %v; want %v", sid, err, tt.want)
			}
		})
	}
}

// TestErrorsHoldNoSecret checks every rejection's text for the secrets and
// the whole sid.
func TestErrorsHoldNoSecret(t *testing.T) {
	secrets := []string{"first-secret-value", "second-secret-value"}
	v := mustVerifier(t, secrets...)
	other := mustVerifier(t, "unrelated-secret")
	values := []string{other.SignRaw(testSID), "s:" + testSID, testSID, v.SignRaw(testSID) + "x"}
	for _, val := range values {
		_, _, err := v.Unsign(val)
		if err == nil {
			t.Fatalf("Unsign(%q) accepted", val)
		}
		for _, s := range append(secrets, testSID) {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error %q holds %q", err, s)
			}
		}
	}
}

func TestUnsignDoesNotAllocate(t *testing.T) {
	v := mustVerifier(t, "other", "secret")
	value := mustVerifier(t, "secret").SignRaw(testSID)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := v.Unsign(value); err != nil {
			t.Fatal(err)
		}
	})
	switch {
	case raceEnabled:
		// make test runs this test again without -race, where it counts.
		t.Logf("allocations not counted under -race (sync.Pool drops items on purpose): %v", allocs)
	case allocs != 0:
		t.Fatalf("Unsign allocates %v times per call", allocs)
	}
}

func TestErrorCode(t *testing.T) {
	if got := ErrorCode(nil); got != "" {
		t.Fatalf("ErrorCode(nil) = %q", got)
	}
	if got := ErrorCode(errors.New("x")); got != "" {
		t.Fatalf("ErrorCode(unrelated) = %q", got)
	}
	wrapped := errors.Join(errors.New("ctx"), ErrStoreUnavailable)
	if got := ErrorCode(wrapped); got != CodeStoreUnavailable {
		t.Fatalf("ErrorCode(wrapped) = %q", got)
	}
}

func TestRedactNeverShowsWholeSID(t *testing.T) {
	for _, sid := range []string{"", "a", "abcd", testSID, strings.Repeat("x", 200)} {
		if r := Redact(sid); sid != "" && strings.Contains(r, sid) {
			t.Errorf("Redact(%q) = %q", sid, r)
		}
	}
}

func TestSplitSignedAndLooksSigned(t *testing.T) {
	mac := strings.Repeat("A", SignatureLen)
	for _, tt := range []struct {
		value, sid, mac string
		ok, looks       bool
	}{
		{"s:" + testSID + "." + mac, testSID, mac, true, true},
		{"s:" + testSID + "." + mac[:42], testSID, mac[:42], true, false}, // cut short
		{"s:a.b." + mac, "a.b", mac, true, true},                          // the last "." splits
		{"s:." + mac, "", mac, true, false},                               // empty ID
		{"s:" + testSID, "", "", false, false},                            // no signature
		{testSID, "", "", false, false},                                   // not signed
		{"GA1.2.3", "", "", false, false},
		{"", "", "", false, false},
	} {
		sid, got, ok := SplitSigned(tt.value)
		if sid != tt.sid || got != tt.mac || ok != tt.ok {
			t.Errorf("SplitSigned(%q) = %q, %q, %v; want %q, %q, %v", tt.value, sid, got, ok, tt.sid, tt.mac, tt.ok)
		}
		if looks := LooksSigned(tt.value); looks != tt.looks {
			t.Errorf("LooksSigned(%q) = %v, want %v", tt.value, looks, tt.looks)
		}
	}
}
