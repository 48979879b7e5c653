package chat

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzChatMessage feeds the chat protocol any bytes a client could send:
// it must never panic, answer each message exactly once (a broadcast or a
// reply), and always answer valid JSON.
func FuzzChatMessage(f *testing.F) {
	for _, s := range []string{`{"type":"say","text":"hi"}`, `{"type":"whoami"}`, `{"type":"say"}`,
		`{"type":"say","text":null}`, `{"type":"say","text":"\u0000\ud800"}`, `[]`, `"x"`, ``, `{"type":1}`,
		`{"type":"say","text":"<b>&</b>","type":"whoami"}`,
		`{"type":"say","text":"` + strings.Repeat("é", MaxText) + `"}`, `{"type":"say","text":"` + strings.Repeat("x", MaxText+1) + `"}`} {
		f.Add("Zoë", []byte(s))
	}
	session := func() []byte { return []byte(`{"loggedIn":true,"username":"Zoë"}`) }
	f.Fuzz(func(t *testing.T, user string, msg []byte) {
		if !utf8.ValidString(user) {
			return // names come from JSON records: always UTF-8
		}
		broadcast, reply := chatAnswer(user, msg, session, MaxText)
		if (broadcast == nil) == (reply == nil) {
			t.Fatalf("%q: broadcast %q and reply %q; want exactly one", msg, broadcast, reply)
		}
		out := broadcast
		if out == nil {
			out = reply
		}
		var v struct {
			Type string  `json:"type"`
			User *string `json:"user"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(out, &v); err != nil || v.Type == "" {
			t.Fatalf("%q: answer %q is not a protocol frame: %v", msg, out, err)
		}
		if broadcast != nil && (v.Type != "said" || v.User == nil || *v.User != user) {
			t.Fatalf("%q: broadcast %q must be said by %q", msg, broadcast, user)
		}
		if broadcast != nil && (v.Text == nil || utf8.RuneCountInString(*v.Text) > MaxText) {
			t.Fatalf("%q: broadcast %q must carry a text of at most MaxText characters", msg, broadcast)
		}
	})
}
