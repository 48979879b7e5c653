package connectsid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// The inputs node-app/scripts/bench-unsign.js times with cookie-signature,
// so `make bench` can set the two side by side.
const (
	benchSecret = "bench-secret-0123456789"
	benchSID    = "d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"
)

func benchHeader(v *Verifier) string {
	return "_ga=GA1.1.1234567890.1234567890; theme=dark; connect.sid=" + v.Sign(benchSID) + "; lang=en"
}

func BenchmarkParseCookies(b *testing.B) {
	h := benchHeader(mustVerifier(b, benchSecret))
	b.ReportAllocs()
	for b.Loop() {
		ParseCookies(h)
	}
}

func BenchmarkLookup(b *testing.B) {
	h := benchHeader(mustVerifier(b, benchSecret))
	b.ReportAllocs()
	for b.Loop() {
		Lookup(h, "connect.sid")
	}
}

func BenchmarkUnsign(b *testing.B) {
	v := mustVerifier(b, benchSecret)
	value := v.SignRaw(benchSID)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.Unsign(value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnsignLastOfThree is a rotation list whose last secret signed.
func BenchmarkUnsignLastOfThree(b *testing.B) {
	v := mustVerifier(b, "a-newer-secret", "a-new-secret", benchSecret)
	value := mustVerifier(b, benchSecret).SignRaw(benchSID)
	b.ReportAllocs()
	for b.Loop() {
		v.Unsign(value)
	}
}

func BenchmarkFromHeader(b *testing.B) {
	v := mustVerifier(b, benchSecret)
	h := benchHeader(v)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.FromHeader(h, "connect.sid"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareHMAC is the floor Unsign is held to: a fresh HMAC-SHA256 of
// the sid and its base64, with no parsing and no comparison.
func BenchmarkBareHMAC(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		h := hmac.New(sha256.New, []byte(benchSecret))
		h.Write([]byte(benchSID))
		_ = base64.RawStdEncoding.EncodeToString(h.Sum(nil))
	}
}

func BenchmarkDecodeSession(b *testing.B) {
	b.Run("typical", func(b *testing.B) { benchDecode(b, expressRecord) })
	big := `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-24T15:59:17.672Z","httpOnly":true,"path":"/","sameSite":"lax"},"loggedIn":true,"username":"Zoë","blob":"` +
		strings.Repeat("x", 64<<10) + `"}`
	b.Run("64KB", func(b *testing.B) { benchDecode(b, big) })
}

func benchDecode(b *testing.B, record string) {
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSession(benchSID, record); err != nil {
			b.Fatal(err)
		}
	}
}
