package bridge

import "encoding/json"

// Chat is the protocol `expressbridge serve` speaks, JSON text frames:
//
//	server → client on accept:   {"type":"hello","user":NAME}
//	client → server:             {"type":"say","text":"…"}
//	server → every connection:   {"type":"said","user":NAME,"text":"…"}
//	client → server:             {"type":"whoami"}
//	server → client:             {"type":"session","session":{…the app's fields, no cookie…}}
//	anything else:               {"type":"error","error":"bad-message"}, and the connection stays open
//
// The zero value is ready to use.
type Chat struct{}

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
func (Chat) Open(c *Conn) {
	user := c.User()
	c.SendJSON(chatOut{Type: "hello", User: &user})
}

// Message answers one client message.
func (Chat) Message(c *Conn, msg []byte) {
	var in chatIn
	if json.Unmarshal(msg, &in) != nil {
		in.Type = ""
	}
	switch {
	case in.Type == "say" && in.Text != nil:
		user := c.User()
		out, err := json.Marshal(chatOut{Type: "said", User: &user, Text: in.Text})
		if err == nil {
			c.Server().Broadcast(out)
		}
	case in.Type == "whoami":
		c.SendJSON(chatOut{Type: "session", Session: c.Session().AppJSON()})
	default:
		c.SendJSON(chatOut{Type: "error", Error: "bad-message"})
	}
}

// Close does nothing: Chat keeps no state per connection.
func (Chat) Close(*Conn) {}
