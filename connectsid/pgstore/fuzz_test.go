package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/expressbridge/expressbridge/connectsid/pgstore"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// FuzzQuoteIdent checks against a real PostgreSQL that any name (table and
// schema names come from flags) quoted by QuoteIdent is one identifier that
// means exactly that name: no injection, no change.
func FuzzQuoteIdent(f *testing.F) {
	for _, s := range []string{"session", `a"b`, `"`, `""`, `x"; DROP TABLE session; --`, "Zoë 🚀", `\`, "$$",
		"$expressbridge$", "a.b", " ", "sElEcT", strings.Repeat("x", 63)} {
		f.Add(s)
	}
	pg := testenv.StartPostgres(f)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close(ctx) })
	f.Fuzz(func(t *testing.T, name string) {
		if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) || len(name) > 63 {
			return // not a PostgreSQL identifier (empty, NUL, bad UTF-8) or truncated by it
		}
		rows, err := conn.Query(ctx, "SELECT 1 AS "+pgstore.QuoteIdent(name))
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		fields := rows.FieldDescriptions()
		rows.Close()
		if len(fields) != 1 || fields[0].Name != name {
			t.Fatalf("%q came back as %v", name, fields)
		}
	})
}
