package wsconn_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/wsconn"
)

// A raw WebSocket client: it writes the handshake and the frames itself,
// so that what it reads is the server's frames bit for bit (RSV1).

// rawFrame is one frame the server wrote.
type rawFrame struct {
	b0      byte
	payload []byte
}

func (f rawFrame) rsv1() bool { return f.b0&0x40 != 0 }
func (f rawFrame) op() byte   { return f.b0 & 0x0f }

// closeCode is the code of a close frame.
func (f rawFrame) closeCode() int {
	if f.op() != 8 || len(f.payload) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

// text is the frame's message, inflated when it has RSV1.
func (f rawFrame) text(t *testing.T) string {
	t.Helper()
	if !f.rsv1() {
		return string(f.payload)
	}
	b, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(f.payload),
		strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff"))))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return string(b)
}

type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	ext  string // the server's Sec-WebSocket-Extensions
}

// dialRaw opens a WebSocket to addr, offering extensions when not "".
func dialRaw(t *testing.T, addr, extensions string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return &rawClient{t: t, conn: conn, br: br, ext: resp.Header.Get("Sec-WebSocket-Extensions")}
}

// send writes one final, masked frame of first byte b0.
func (c *rawClient) send(b0 byte, payload []byte) {
	c.t.Helper()
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	key := [4]byte{1, 2, 3, 4}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i&3])
	}
	if _, err := c.conn.Write(f); err != nil {
		c.t.Fatal(err)
	}
}

// read reads the server's next frame.
func (c *rawClient) read() rawFrame {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(c.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(c.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return rawFrame{b0: h[0], payload: p}
}

// deflated is msg as a client compresses it (no context takeover).
func deflated(msg []byte) []byte {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	fw.Write(msg)
	fw.Flush()
	return bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// compressing sends, when it reads "go", the messages of
// TestDeflateRSV1; it echoes anything else.
type compressing struct{}

var (
	bigMsg   = strings.Repeat("a large message that compresses well; ", 40) // 1560 bytes
	smallMsg = "a small one"
)

func (compressing) Open(*wsconn.Conn)  {}
func (compressing) Close(*wsconn.Conn) {}
func (compressing) Message(c *wsconn.Conn, msg []byte) {
	if string(msg) != "go" {
		c.Send(msg)
		return
	}
	c.Send([]byte(bigMsg))
	c.Send([]byte(smallMsg))
	c.SendCompress([]byte(bigMsg), false)
	c.SendMessage(wsconn.NewMessage([]byte(bigMsg), true))
	c.SendMessage(wsconn.NewMessage([]byte(smallMsg), true))
	c.SendMessage(wsconn.NewMessage([]byte(bigMsg), false))
}

// serveDeflate serves compressing with opts.Deflate and returns its address.
func serveDeflate(t *testing.T, deflate *wsconn.Deflate) string {
	t.Helper()
	hub, err := wsconn.NewHub(wsconn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.ServeHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.Accept(w, r, &auth.Session{}, wsconn.Options{Handler: compressing{}, Deflate: deflate})
	}))
	t.Cleanup(func() { hub.Shutdown(t.Context()) })
	return addr
}

// TestDeflateRSV1: with Options.Deflate and the client's offer, the
// server answers without context takeover, and a message has RSV1 exactly
// when it reaches the threshold and its compress flag is set, whether
// sent alone or as a Message built once for many; without either, no
// extension and never RSV1.
func TestDeflateRSV1(t *testing.T) {
	const offer = "permessage-deflate; client_max_window_bits"
	for _, tc := range []struct {
		name      string
		deflate   *wsconn.Deflate
		offer     string
		ext       string
		wantRSV1s string
	}{
		{"negotiated", &wsconn.Deflate{}, offer,
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", "100100"},
		{"threshold over the large one", &wsconn.Deflate{Threshold: 4096}, offer,
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", "000000"},
		{"off on the server", nil, offer, "", "000000"},
		{"not offered", &wsconn.Deflate{}, "", "", "000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, serveDeflate(t, tc.deflate), tc.offer)
			if c.ext != tc.ext {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", c.ext, tc.ext)
			}
			c.send(0x81, []byte("go"))
			var got strings.Builder
			for i, want := range []string{bigMsg, smallMsg, bigMsg, bigMsg, smallMsg, bigMsg} {
				f := c.read()
				if f.op() != 1 || f.text(t) != want {
					t.Fatalf("message %d: op %d, %.20q…, want %.20q…", i, f.op(), f.text(t), want)
				}
				fmt.Fprint(&got, map[bool]int{false: 0, true: 1}[f.rsv1()])
			}
			if got.String() != tc.wantRSV1s {
				t.Errorf("RSV1 per message %s, want %s", got.String(), tc.wantRSV1s)
			}
		})
	}
}

// TestInflate: a compressed client message is inflated; one inflating past
// the read limit (a deflate bomb, far under the limit on the wire) closes
// the connection with 1009; RSV1 without negotiation is a protocol error,
// 1002.
func TestInflate(t *testing.T) {
	addr := serveDeflate(t, &wsconn.Deflate{})
	t.Run("inflated", func(t *testing.T) {
		c := dialRaw(t, addr, "permessage-deflate")
		c.send(0xc1, deflated([]byte(bigMsg)))
		if f := c.read(); f.text(t) != bigMsg {
			t.Fatalf("echo %.20q…", f.text(t))
		}
	})
	t.Run("bomb", func(t *testing.T) {
		c := dialRaw(t, addr, "permessage-deflate")
		bomb := deflated(make([]byte, 8<<20)) // 8 MiB of zeros
		if len(bomb) >= wsconn.DefaultReadLimit {
			t.Fatalf("the bomb is %d bytes on the wire: not under the limit", len(bomb))
		}
		c.send(0xc1, bomb)
		if f := c.read(); f.closeCode() != 1009 {
			t.Fatalf("frame op %d code %d, want a close 1009", f.op(), f.closeCode())
		}
	})
	t.Run("not negotiated", func(t *testing.T) {
		c := dialRaw(t, addr, "")
		c.send(0xc1, deflated([]byte(bigMsg)))
		if f := c.read(); f.closeCode() != 1002 {
			t.Fatalf("frame op %d code %d, want a close 1002", f.op(), f.closeCode())
		}
	})
}
