package socketio_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/wsconn"
)

// rsv1Sniffer is a client's connection that notes, for each data frame
// the server writes, whether it has RSV1 (compressed): gorilla inflates
// what it reads and says nothing of it.
type rsv1Sniffer struct {
	net.Conn
	mu      sync.Mutex
	buf     []byte
	headers bool   // the 101 has been read
	rsv1    []bool // per data frame, in order
}

func (s *rsv1Sniffer) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p[:n]...)
	if !s.headers {
		i := bytes.Index(s.buf, []byte("\r\n\r\n"))
		if i < 0 {
			return n, err
		}
		s.buf, s.headers = s.buf[i+4:], true
	}
	for len(s.buf) >= 2 {
		h, m := 2, uint64(s.buf[1]&0x7f)
		switch m {
		case 126:
			h = 4
		case 127:
			h = 10
		}
		if len(s.buf) < h {
			break
		}
		switch m {
		case 126:
			m = uint64(binary.BigEndian.Uint16(s.buf[2:4]))
		case 127:
			m = binary.BigEndian.Uint64(s.buf[2:10])
		}
		if uint64(len(s.buf)) < uint64(h)+m {
			break
		}
		if op := s.buf[0] & 0x0f; op == 1 || op == 2 {
			s.rsv1 = append(s.rsv1, s.buf[0]&0x40 != 0)
		}
		s.buf = s.buf[uint64(h)+m:]
	}
	return n, err
}

func (s *rsv1Sniffer) frames() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.rsv1...)
}

// TestCompressFlag: with PerMessageDeflate a Socket.IO client that offers
// permessage-deflate gets each message compressed exactly when it reaches
// the threshold and was not sent with compress false, on an emit and on a
// broadcast; the client's compressed messages are inflated. Without
// PerMessageDeflate nothing is compressed.
func TestCompressFlag(t *testing.T) {
	big := strings.Repeat("compressible ", 100) // 1300 bytes
	for _, tc := range []struct {
		name    string
		deflate *wsconn.Deflate
		want    string
	}{
		// open, connect, big, small, big compress(false), broadcast big,
		// broadcast big NoCompress, echo of the client's big message.
		{"on", &wsconn.Deflate{}, "00100101"},
		{"off", nil, "00000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := socketio.New(socketio.Config{Insecure: true, PerMessageDeflate: tc.deflate})
			if err != nil {
				t.Fatal(err)
			}
			io := srv.Of("/")
			io.OnConnection(func(so *socketio.Socket) {
				so.Emit("m", big)
				so.Emit("m", "small")
				so.Compress(false).Emit("m", big)
				io.Broadcast(socketio.BroadcastOptions{}, "m", big)
				io.Broadcast(socketio.BroadcastOptions{NoCompress: true}, "m", big)
			})
			io.On("echo", func(so *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
				so.Emit("m", args.Values()...)
			})
			addr := testenv.ServeHTTP(t, srv)
			t.Cleanup(func() { srv.Shutdown(context.Background()) })

			var sniff *rsv1Sniffer
			d := websocket.Dialer{EnableCompression: true, NetDialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, a)
				if err == nil {
					sniff = &rsv1Sniffer{Conn: c}
					return sniff, nil
				}
				return nil, err
			}}
			c, resp, err := d.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); (ext != "") != (tc.deflate != nil) {
				t.Fatalf("Sec-WebSocket-Extensions %q", ext)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			read := func() string {
				t.Helper()
				_, m, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				return string(m)
			}
			if m := read(); m[0] != '0' {
				t.Fatalf("open %q", m)
			}
			c.WriteMessage(websocket.TextMessage, []byte("40"))
			if m := read(); !strings.HasPrefix(m, "40") {
				t.Fatalf("connect %q", m)
			}
			bigEvent, _ := json.Marshal([]string{"m", big})
			for i, want := range []string{"42" + string(bigEvent), `42["m","small"]`, "42" + string(bigEvent),
				"42" + string(bigEvent), "42" + string(bigEvent)} {
				if m := read(); m != want {
					t.Fatalf("message %d: %.30q…", i, m)
				}
			}
			echo, _ := json.Marshal([]string{"echo", big})
			c.WriteMessage(websocket.TextMessage, append([]byte("42"), echo...)) // compressed when negotiated
			if m := read(); m != "42"+string(bigEvent) {
				t.Fatalf("echo: %.30q…", m)
			}
			var got strings.Builder
			for _, z := range sniff.frames() {
				got.WriteByte("01"[map[bool]int{false: 0, true: 1}[z]])
			}
			if got.String() != tc.want {
				t.Errorf("RSV1 per message %s, want %s", got.String(), tc.want)
			}
		})
	}
}

var _ http.Handler = (*socketio.Server)(nil)
