package chat

import (
	"encoding/json"

	"github.com/expressbridge/expressbridge/socketio"
)

// SocketIO registers the chat on ns, the Socket.IO form of WebSocket:
//
//	server → socket on connect:  "hello" {"user":NAME}; the socket joins room "user:NAME"
//	client → server:             "say" TEXT
//	server → every socket:       "said" {"user":NAME,"text":TEXT}
//	client → server, with ack:   "whoami" → ack({…the session's app fields, no cookie…})
//	server → socket:             "session-ended" {"reason":…}, then DISCONNECT, when the Express session ends
//
// A "say" whose text is not a string, or is longer than MaxText
// characters, is acknowledged (when asked) with {"error":"bad-message"}
// and not broadcast.
func SocketIO(ns *socketio.Namespace) {
	ns.OnConnection(func(so *socketio.Socket) {
		so.Join(UserRoom(so.User()))
		so.Emit("hello", chatUser{User: so.User()})
	})
	ns.On("say", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var text string
		if args.Decode(0, &text) != nil || !textFits(text, MaxText) {
			if ack != nil {
				ack(chatError{Error: "bad-message"})
			}
			return
		}
		ns.Emit("said", chatSaid{User: so.User(), Text: text})
		if ack != nil {
			ack()
		}
	})
	ns.On("whoami", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		if ack == nil {
			return
		}
		fields := json.RawMessage("{}")
		if sess := so.Session(); sess != nil {
			fields = sess.Record.AppJSON()
		}
		ack(fields)
	})
}

// UserRoom is the room of a user's sockets in the chat.
func UserRoom(user string) socketio.Room { return socketio.Room("user:" + user) }

type chatUser struct {
	User string `json:"user"`
}

type chatSaid struct {
	User string `json:"user"`
	Text string `json:"text"`
}

type chatError struct {
	Error string `json:"error"`
}
