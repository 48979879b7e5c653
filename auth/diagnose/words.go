package diagnose

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of what findings show.
const (
	maxNames      = 10 // cookie or field names listed in one message
	maxShownValue = 40 // longest field value shown with ShowValues
)

// OneLine keeps a name or value that came from a user on one line, as
// every message and detail of a Finding is: control characters become
// spaces.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// listNames joins names for a message, at most maxNames of them.
func listNames(names []string) string {
	shown := make([]string, 0, min(len(names), maxNames+1))
	for i, n := range names {
		if i == maxNames {
			shown = append(shown, fmt.Sprintf("… (%d more)", len(names)-i))
			break
		}
		shown = append(shown, OneLine(n))
	}
	return strings.Join(shown, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// jsonType names the type of a JSON value as a person would.
func jsonType(raw []byte) string {
	switch s := string(raw); {
	case s == "true" || s == "false":
		return "a boolean"
	case s == "null":
		return "null"
	case strings.HasPrefix(s, `"`):
		return "a string"
	case strings.HasPrefix(s, "{"):
		return "an object"
	case strings.HasPrefix(s, "["):
		return "an array"
	}
	return "a number"
}

// shownValue is a field's JSON text on one line, cut at maxShownValue
// characters.
func shownValue(raw []byte) string {
	s := OneLine(string(raw))
	if utf8.RuneCountInString(s) > maxShownValue {
		s = string([]rune(s)[:maxShownValue]) + "…"
	}
	return s
}

// shortDuration prints d to the second without zero units ("24h",
// "58m12s"), or in days when long.
func shortDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ttlText says what a key's TTL is (-1: none).
func ttlText(ttl time.Duration) string {
	if ttl < 0 {
		return "no TTL: Redis keeps it until it is deleted"
	}
	return "TTL " + shortDuration(ttl)
}

// ttlOrNil is a TTL as a Finding holds it: nil for none (-1).
func ttlOrNil(ttl time.Duration) *time.Duration {
	if ttl < 0 {
		return nil
	}
	return &ttl
}

// ttlOf is the reverse of ttlOrNil.
func ttlOf(ttl *time.Duration) time.Duration {
	if ttl == nil {
		return -1
	}
	return *ttl
}
