package diagnose

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:                        "24h",
		58*time.Minute + 12*time.Second:       "58m12s",
		time.Hour + 5*time.Second:             "1h0m5s",
		5 * time.Minute:                       "5m",
		90*time.Minute + 400*time.Millisecond: "1h30m",
		0:                                     "0s",
		72 * time.Hour:                        "3 days",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestListNames(t *testing.T) {
	for _, tt := range []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"a", "b\nc"}, "a, b c"},
		{[]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}, "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … (2 more)"},
	} {
		if got := listNames(tt.names); got != tt.want {
			t.Errorf("listNames(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}
