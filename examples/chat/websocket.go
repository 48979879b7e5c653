// Package chat is the demo chat that `expressbridge serve` runs: the same
// chat on the WebSocket door (WebSocket) and on Socket.IO (SocketIO), for
// the pages of node-app. It is an example of a protocol of one's own, not
// a library default: nothing relays client messages unless a program
// registers it.
package chat

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/expressbridge/expressbridge/bridge"
)

// WebSocket is the chat on the WebSocket door (bridge.Config.Protocol),
// JSON text frames:
//
//	server → client on accept:   {"type":"hello","user":NAME}
//	client → server:             {"type":"say","text":"…"}
//	server → every connection:   {"type":"said","user":NAME,"text":"…"}
//	client → server:             {"type":"whoami"}
//	server → client:             {"type":"session","session":{…the app's fields, no cookie…}}
//	anything else:               {"type":"error","error":"bad-message"}, and the connection stays open
//
// A say's text longer than TextLimit characters is anything else.
//
// The zero value is ready to use.
type WebSocket struct {
	// TextLimit is the longest text relayed, in characters (MaxText when
	// 0; negative: no bound but the door's read limit, for tests of the
	// door itself).
	TextLimit int
}

type chatIn struct {
	Type string  `json:"type"`
	Text *string `json:"text"`
}

type chatOut struct {
	Type    string          `json:"type"`
	User    *string         `json:"user,omitempty"`
	Text    *string         `json:"text,omitempty"`
	Error   string          `json:"error,omitempty"`
	Session json.RawMessage `json:"session,omitempty"`
}

// Open greets the user by the name the session holds.
func (WebSocket) Open(c *bridge.Conn) {
	user := c.User()
	c.SendJSON(chatOut{Type: "hello", User: &user})
}

// Message answers one client message.
func (w WebSocket) Message(c *bridge.Conn, msg []byte) {
	limit := w.TextLimit
	if limit == 0 {
		limit = MaxText
	}
	broadcast, reply := chatAnswer(c.User(), msg, c.Session().AppJSON, limit)
	if broadcast != nil {
		bridge.ServerOf(c).Broadcast(broadcast) // every connection of the door, on every instance
	}
	if reply != nil {
		c.Send(reply)
	}
}

// chatAnswer is the protocol itself, without I/O: what to send to every
// connection and what to answer the sender, for one message from user.
// Any input gets one of the two, and the output is always valid JSON. A
// text over limit characters is refused (negative: no limit).
func chatAnswer(user string, msg []byte, session func() []byte, limit int) (broadcast, reply []byte) {
	var in chatIn
	if json.Unmarshal(msg, &in) != nil {
		in.Type = ""
	}
	switch {
	case in.Type == "say" && in.Text != nil && textFits(*in.Text, limit):
		out, err := json.Marshal(chatOut{Type: "said", User: &user, Text: in.Text})
		if err == nil {
			return out, nil
		}
	case in.Type == "whoami":
		out, err := json.Marshal(chatOut{Type: "session", Session: session()})
		if err == nil {
			return nil, out
		}
	}
	return nil, []byte(badMessage)
}

// MaxText is the longest text, in characters (Unicode code points), the
// chat relays by default: a long paragraph, and a bound on what one
// message makes the server send to every connection.
const MaxText = 2000

// textFits reports whether text is at most limit characters long
// (negative: any length).
func textFits(text string, limit int) bool {
	return limit < 0 || len(text) <= limit || utf8.RuneCountInString(text) <= limit
}

// badMessage answers anything the chat does not understand.
const badMessage = `{"type":"error","error":"bad-message"}`

// Close does nothing: the chat keeps no state per connection.
func (WebSocket) Close(*bridge.Conn) {}
