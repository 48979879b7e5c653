package bridge_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/redisstore"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// hostileTimeout is the handshake timeout of the server under attack, and
// so its ReadHeaderTimeout, as serve sets both from --handshake-timeout.
const hostileTimeout = 2 * time.Second

// TestHostileInput sends each kind of hostile handshake or frame over a raw
// TCP connection, to the bridge behind an http.Server configured as serve
// configures its own (MaxHeaderBytes, ReadHeaderTimeout), and checks its
// documented answer: the HTTP status and error code, net/http's own answer
// where it refuses before the bridge, or the close code. Nothing may panic,
// in a handler (net/http would log it) or anywhere else (the test binary
// would die). README's "Hostile input" table lists the same rows.
func TestHostileInput(t *testing.T) {
	h := newHarness(t)
	e := newHostileEnv(t, h)

	tests := []hostileRow{
		// Sizes and counts.
		{name: "Cookie header of 64 KB", req: func(e *hostileEnv) string {
			return e.get(junkCookies(64<<10) + e.cookie)
		}, status: 431, text: "Request Header Fields Too Large"},
		{name: "Cookie header of 30 KB, under the limit, session cookie last", req: func(e *hostileEnv) string {
			return e.get(junkCookies(30<<10) + e.cookie)
		}, status: 101},
		{name: "Cookie header of 64 KB, session cookie last, behind net/http's default 1 MiB limit", plain: true,
			req: func(e *hostileEnv) string { return e.get(junkCookies(64<<10) + e.cookie) }, status: 101},
		{name: "Cookie header of 512 KB, no session cookie, behind net/http's default 1 MiB limit", plain: true,
			req:    func(e *hostileEnv) string { return e.get(junkCookies(512<<10) + "last=1") },
			status: 401, code: connectsid.CodeNoCookie},
		{name: "1,000 cookies, then the session cookie", req: func(e *hostileEnv) string {
			return e.get(manyCookies(1000) + e.cookie)
		}, status: 101},
		{name: "1,000 cookies, no session cookie", req: func(e *hostileEnv) string {
			return e.get(manyCookies(1000) + "last=1")
		}, status: 401, code: connectsid.CodeNoCookie},

		// Bytes net/http refuses before the bridge sees the request.
		{name: "NUL byte in the Cookie header", req: func(e *hostileEnv) string {
			return e.get(e.cookie + "; x=a\x00b")
		}, status: 400, text: "Bad Request"},
		{name: "control byte 0x01 in the Cookie header", req: func(e *hostileEnv) string {
			return e.get("x=\x01; " + e.cookie)
		}, status: 400, text: "Bad Request"},
		{name: "ESC in the Cookie header", req: func(e *hostileEnv) string {
			return e.get(e.cookie + "\x1b[31m")
		}, status: 400, text: "Bad Request"},
		{name: "DEL in the Cookie header", req: func(e *hostileEnv) string {
			return e.get(e.cookie + "\x7f")
		}, status: 400, text: "Bad Request"},
		{name: "bare CR in the Cookie header", req: func(e *hostileEnv) string {
			return e.get(e.cookie + "\rX-Injected: 1")
		}, status: 400, text: "Bad Request"},
		{name: "NUL byte in the session cookie's name", req: func(e *hostileEnv) string {
			return e.get("connect\x00.sid=" + e.value)
		}, status: 400, text: "Bad Request"},

		// Invalid UTF-8: bytes ≥ 0x80 are latin1 characters, as in Node.
		{name: "raw bytes 0xFF 0xFE in a sid signed over those bytes", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=" + e.h.verifier.SignRaw("\xff\xfe"+e.sid))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "%FF (not UTF-8) percent-encoded in the value", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=s%3A%FF" + e.sid + "." + e.mac)
		}, status: 401, code: connectsid.CodeNotSigned},
		{name: "raw 0xFF bytes in another cookie", req: func(e *hostileEnv) string {
			return e.get("junk=\xff\xfe\xfd; " + e.cookie)
		}, status: 101},

		// The shape of the signed value.
		{name: "s: with no dot", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=s:" + e.sid)
		}, status: 401, code: connectsid.CodeMalformed},
		{name: "s: alone", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=s:")
		}, status: 401, code: connectsid.CodeMalformed},
		{name: "s: with an empty sid", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=s:." + e.mac)
		}, status: 401, code: connectsid.CodeMalformed},
		{name: "s: with 1,000 dots before the real mac", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=s:" + e.sid + strings.Repeat(".", 1000) + e.mac)
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "s: and 10,000 dots", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=s:" + strings.Repeat(".", 10000))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "value of exactly 16 KiB, validly signed, no record", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=" + e.signedOfLen(connectsid.MaxValueLen))
		}, status: 401, code: connectsid.CodeNoSession},
		{name: "value of 16 KiB + 1, validly signed", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=" + e.signedOfLen(connectsid.MaxValueLen+1))
		}, status: 401, code: connectsid.CodeMalformed},

		// Forged signatures on a real session's sid.
		{name: "mac made with another secret", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=" + e.other.Sign(e.sid))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "mac with its first character changed", req: func(e *hostileEnv) string {
			return e.get(e.withMac(otherB64(e.mac[0]) + e.mac[1:]))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "mac with its last character changed", req: func(e *hostileEnv) string {
			return e.get(e.withMac(e.mac[:len(e.mac)-1] + otherB64(e.mac[len(e.mac)-1])))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "mac truncated by one character", req: func(e *hostileEnv) string {
			return e.get(e.withMac(e.mac[:len(e.mac)-1]))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "mac with base64 padding (=)", req: func(e *hostileEnv) string {
			return e.get(e.withMac(e.mac + "="))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "mac with its letters' case flipped", req: func(e *hostileEnv) string {
			return e.get(e.withMac(flipCase(e.mac)))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "HMAC-SHA1 with the right secret, base64", req: func(e *hostileEnv) string {
			return e.get(e.withMac(base64.RawStdEncoding.EncodeToString(e.hmac(sha1.New))))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "HMAC-SHA1 with the right secret, padded base64", req: func(e *hostileEnv) string {
			return e.get(e.withMac(base64.StdEncoding.EncodeToString(e.hmac(sha1.New))))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "HMAC-SHA512 with the right secret, base64", req: func(e *hostileEnv) string {
			return e.get(e.withMac(base64.RawStdEncoding.EncodeToString(e.hmac(sha512.New))))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "HMAC-SHA256 with the right secret, hex", req: func(e *hostileEnv) string {
			return e.get(e.withMac(hex.EncodeToString(e.hmac(sha256.New))))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "another session's mac", req: func(e *hostileEnv) string {
			return e.get(e.withMac(e.otherMac))
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "empty mac", req: func(e *hostileEnv) string {
			return e.get(e.withMac(""))
		}, status: 401, code: connectsid.CodeBadSignature},

		// Several session cookies: the first wins, as in Express.
		{name: "duplicate connect.sid: valid first, forged second", req: func(e *hostileEnv) string {
			return e.get(e.cookie + "; " + cookieName + "=" + e.other.Sign(e.sid))
		}, status: 101},
		{name: "duplicate connect.sid: forged first, valid second", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=" + e.other.Sign(e.sid) + "; " + e.cookie)
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "duplicate connect.sid: empty first, valid second", req: func(e *hostileEnv) string {
			return e.get(cookieName + "=; " + e.cookie)
		}, status: 401, code: connectsid.CodeNoCookie},
		{name: "two Cookie headers: forged first, valid second", req: func(e *hostileEnv) string {
			return e.get(cookieName+"="+e.other.Sign(e.sid), e.cookie)
		}, status: 401, code: connectsid.CodeBadSignature},
		{name: "two Cookie headers: valid first, forged second", req: func(e *hostileEnv) string {
			return e.get(e.cookie, cookieName+"="+e.other.Sign(e.sid))
		}, status: 101},
		{name: "value in double quotes", req: func(e *hostileEnv) string {
			return e.get(cookieName + `="` + e.value + `"`)
		}, status: 101},
		{name: "name in another case (Connect.sid)", req: func(e *hostileEnv) string {
			return e.get("Connect.sid=" + e.value)
		}, status: 401, code: connectsid.CodeNoCookie},

		// Records that are not what express-session writes.
		{name: "record that is not JSON", req: func(e *hostileEnv) string {
			return e.get(e.record("notjson", "{not JSON"))
		}, status: 401, code: connectsid.CodeMalformedSession},
		{name: "record that is a JSON array", req: func(e *hostileEnv) string {
			return e.get(e.record("array", `[{"cookie":{}}]`))
		}, status: 401, code: connectsid.CodeMalformedSession},
		{name: "record nested 10,000 levels deep (Go's JSON limit)", req: func(e *hostileEnv) string {
			return e.get(e.record("deep10000", sessionRecord("Deep", nested(10000-1))))
		}, status: 101},
		{name: "record nested 10,001 levels deep", req: func(e *hostileEnv) string {
			return e.get(e.record("deep10001", sessionRecord("Deeper", nested(10001-1))))
		}, status: 401, code: connectsid.CodeMalformedSession},
		{name: "record of exactly 512 KiB", req: func(e *hostileEnv) string {
			return e.get(e.record("max", paddedRecord(connectsid.DefaultMaxRecordSize)))
		}, status: 101},
		{name: "record of 512 KiB + 1", req: func(e *hostileEnv) string {
			return e.get(e.record("maxplus1", paddedRecord(connectsid.DefaultMaxRecordSize+1)))
		}, status: 401, code: connectsid.CodeMalformedSession},
		{name: "record of 10 MB", req: func(e *hostileEnv) string {
			return e.get(e.record("huge", paddedRecord(10<<20)))
		}, status: 401, code: connectsid.CodeMalformedSession},
		{name: "record with invalid UTF-8 in a string", req: func(e *hostileEnv) string {
			return e.get(e.record("badutf8", sessionRecord("\xff\xfe", `"x"`)))
		}, status: 101},

		// What is not a WebSocket handshake.
		{name: "POST upgrade", req: func(e *hostileEnv) string {
			return strings.Replace(e.get(e.cookie), "GET ", "POST ", 1)
		}, status: 405, code: auth.CodeBadRequest},
		{name: "OPTIONS upgrade", req: func(e *hostileEnv) string {
			return strings.Replace(e.get(e.cookie), "GET ", "OPTIONS ", 1)
		}, status: 405, code: auth.CodeBadRequest},
		{name: "GET upgrade without Sec-WebSocket-Key", req: func(e *hostileEnv) string {
			return strings.Replace(e.get(e.cookie), "Sec-WebSocket-Key: "+wsKey+"\r\n", "", 1)
		}, status: 400, code: auth.CodeBadRequest},
		{name: "handshake trickling in one byte every 100 ms", trickle: true, status: 400, text: "Bad Request"},

		// Frames after a valid handshake.
		{name: "text frame of exactly the read limit", frames: func(e *hostileEnv) []wsFrame {
			return []wsFrame{{op: opText, fin: true, payload: sayOfLen(bridge.DefaultReadLimit)}}
		}, status: 101, reply: "said"},
		{name: "text frame one byte over the read limit", frames: func(e *hostileEnv) []wsFrame {
			return []wsFrame{{op: opText, fin: true, payload: sayOfLen(bridge.DefaultReadLimit + 1)}}
		}, status: 101, close: 1009},
		{name: "message over the read limit in three fragments", frames: func(e *hostileEnv) []wsFrame {
			half := make([]byte, bridge.DefaultReadLimit/2)
			return []wsFrame{{op: opText, payload: half}, {op: opContinuation, payload: half},
				{op: opContinuation, fin: true, payload: []byte("0123456789")}}
		}, status: 101, close: 1009},
		{name: "unmasked client frame", frames: func(e *hostileEnv) []wsFrame {
			return []wsFrame{{op: opText, fin: true, payload: []byte(`{"type":"whoami"}`), unmasked: true}}
		}, status: 101, close: 1002},
		{name: "ping with a 126-byte payload", frames: func(e *hostileEnv) []wsFrame {
			return []wsFrame{{op: opPing, fin: true, payload: make([]byte, 126)}}
		}, status: 101, close: 1002},
		{name: "binary frame", frames: func(e *hostileEnv) []wsFrame {
			return []wsFrame{{op: opBinary, fin: true, payload: []byte{0, 1, 2, 0xff}}}
		}, status: 101, reply: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { e.run(t, tc) })
	}
	testenv.WaitFor(t, ioWait, "every connection to end", func() bool { return e.srv.Len() == 0 })
	for _, l := range []string{e.errLog.String(), h.logs.String()} {
		if strings.Contains(l, "panic") {
			t.Errorf("a log shows a panic:\n%s", l)
		}
	}
}

// hostileRow is one hostile input and its documented answer.
type hostileRow struct {
	name    string
	req     func(e *hostileEnv) string    // the whole request; nil: a valid handshake
	frames  func(e *hostileEnv) []wsFrame // sent after the upgrade
	trickle bool                          // send a handshake slowly instead (400 or no answer)
	plain   bool                          // to the bridge behind an http.Server with net/http's defaults
	status  int                           // 101 or a refusal's status
	code    string                        // the JSON body's error code
	text    string                        // in net/http's own text/plain answer
	close   int                           // close code expected after frames
	reply   string                        // type of the text frame expected after frames
}

// hostileEnv is the server under attack and a real Express session.
type hostileEnv struct {
	t      *testing.T // the running row's
	h      *harness
	srv    *bridge.Server
	addr   string          // the bridge behind an http.Server configured as serve's
	plain  string          // the bridge behind an httptest.Server (net/http's defaults)
	errLog *testenv.Buffer // net/http's own log (a handler's panic would be there)

	cookie, value, sid, mac string // Express's cookie: name=value, value = s%3Asid.mac
	otherMac                string // the mac of another Express session
	other                   *connectsid.Verifier
}

func newHostileEnv(t *testing.T, h *harness) *hostileEnv {
	e := &hostileEnv{h: h, errLog: &testenv.Buffer{}}
	var err error
	if e.other, err = connectsid.NewVerifier("another app's secret"); err != nil {
		t.Fatal(err)
	}
	e.cookie, e.sid = h.login("Zoë")
	e.value = strings.TrimPrefix(e.cookie, cookieName+"=")
	e.mac = e.value[strings.LastIndexByte(e.value, '.')+1:]
	_, otherSID := h.login("Other")
	raw := h.verifier.SignRaw(otherSID)
	e.otherMac = raw[strings.LastIndexByte(raw, '.')+1:]
	h.addSensitive(e.mac, e.otherMac)

	e.srv, err = bridge.New(bridge.Config{Gate: h.gate(auth.Config{}), Protocol: chat.WebSocket{TextLimit: -1}, Logger: h.logger, HandshakeTimeout: hostileTimeout})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", e.srv)
	hs := &http.Server{ // as serve builds it
		Handler:           mux,
		ReadHeaderTimeout: hostileTimeout,
		MaxHeaderBytes:    bridge.MaxHeaderBytes,
		ErrorLog:          log.New(e.errLog, "", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	e.plain = h.serve(bridge.Config{}).host
	served := make(chan struct{})
	go func() { defer close(served); hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
		<-served
	})
	return e
}

const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// get returns a valid WebSocket handshake with one Cookie header line per
// argument, each sent byte for byte.
func (e *hostileEnv) get(cookieLines ...string) string {
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: " + e.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n")
	for _, c := range cookieLines {
		b.WriteString("Cookie: " + c + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// withMac is the session cookie of the real sid with another mac.
func (e *hostileEnv) withMac(mac string) string { return cookieName + "=s:" + e.sid + "." + mac }

// hmac is the real sid's MAC with the right secret and another hash.
func (e *hostileEnv) hmac(h func() hash.Hash) []byte {
	m := hmac.New(h, []byte(secrets[0]))
	m.Write([]byte(e.sid))
	return m.Sum(nil)
}

// signedOfLen returns a validly signed value ("s:sid.mac") of n bytes.
func (e *hostileEnv) signedOfLen(n int) string {
	return e.h.verifier.SignRaw(strings.Repeat("L", n-len("s:.")-43))
}

// record stores value as the record of a new sid and returns its cookie.
func (e *hostileEnv) record(tag, value string) string {
	sid := "hostile-" + tag + "-0123456789abcdefghij"
	if err := e.h.rdb.Set(e.h.ctx, redisstore.DefaultPrefix+sid, value, time.Minute).Err(); err != nil {
		e.t.Fatalf("SET: %v", err)
	}
	return cookieName + "=" + e.h.verifier.Sign(sid)
}

// run sends one row's input on a new connection and checks the answer.
func (e *hostileEnv) run(t *testing.T, r hostileRow) {
	e.t = t
	addr := e.addr
	if r.plain {
		addr = e.plain
	}
	conn, err := net.DialTimeout("tcp", addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * ioWait))
	if r.trickle {
		e.trickle(t, conn)
		return
	}
	req := e.get(e.cookie)
	if r.req != nil {
		req = r.req(e)
	}
	// The server may answer before it has read everything (431): write
	// beside the read, and let the write fail.
	written := make(chan struct{})
	go func() { defer close(written); io.WriteString(conn, req) }()
	defer func() { conn.Close(); <-written }()

	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v, want %d", err, r.status)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	if resp.StatusCode != r.status {
		t.Fatalf("%s %.200q, want %d %s", resp.Status, body, r.status, r.code)
	}
	if r.code != "" {
		var rb refusalBody
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if err := json.Unmarshal(body, &rb); err != nil || rb.Error != r.code || rb.Message == "" {
			t.Fatalf("body %.200q, want error %q and a message", body, r.code)
		}
		if strings.Contains(rb.Message, e.sid) || strings.Contains(rb.Message, e.mac) {
			t.Errorf("message %q holds the sid or the mac", rb.Message)
		}
	}
	if r.text != "" && !strings.Contains(string(body), r.text) {
		t.Fatalf("body %.200q, want net/http's %q", body, r.text)
	}
	if r.status != http.StatusSwitchingProtocols {
		return
	}
	if m := readServerMsg(t, br); m.Type != "hello" {
		t.Fatalf("first frame %+v, want hello", m)
	}
	if r.frames == nil {
		return
	}
	for _, f := range r.frames(e) {
		if _, err := conn.Write(f.bytes()); err != nil {
			t.Fatalf("write frame: %v", err)
		}
	}
	if r.reply != "" {
		if m := readServerMsg(t, br); m.Type != r.reply {
			t.Fatalf("reply %+v, want type %q", m, r.reply)
		}
		return
	}
	for {
		op, payload, err := readServerFrame(br)
		if err != nil {
			t.Fatalf("connection ended with %v, want close %d", err, r.close)
		}
		if op != opClose {
			continue
		}
		if len(payload) < 2 || int(binary.BigEndian.Uint16(payload)) != r.close {
			t.Fatalf("close frame %q, want code %d", payload, r.close)
		}
		return
	}
}

// trickle sends a handshake one byte every 100 ms and checks that the
// server hangs up once ReadHeaderTimeout has passed, answering at most
// net/http's own 400 (it does when the timeout falls inside a line).
func (e *hostileEnv) trickle(t *testing.T, conn net.Conn) {
	req := e.get(e.cookie + strings.Repeat("; pad=x", 100))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(req); i++ { // bounded: the request's length
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); <-done }()
	start := time.Now()
	conn.SetReadDeadline(start.Add(hostileTimeout + 2*ioWait))
	answer, err := io.ReadAll(conn)
	took := time.Since(start)
	if err != nil && !isReset(err) {
		t.Fatalf("read %q, then %v after %v; want the server to hang up", answer, err, took)
	}
	if len(answer) > 0 && !strings.HasPrefix(string(answer), "HTTP/1.1 400 Bad Request\r\n") {
		t.Fatalf("answer %q, want none or net/http's 400", answer)
	}
	if took < hostileTimeout-200*time.Millisecond {
		t.Fatalf("cut after %v, before the %v header timeout", took, hostileTimeout)
	}
	t.Logf("a trickling handshake was cut after %v (ReadHeaderTimeout %v) with %.30q", took, hostileTimeout, answer)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// Opcodes of RFC 6455.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
)

// wsFrame is a client frame, masked unless unmasked is set.
type wsFrame struct {
	op       byte
	fin      bool
	payload  []byte
	unmasked bool
}

func (f wsFrame) bytes() []byte {
	b0 := f.op
	if f.fin {
		b0 |= 0x80
	}
	var mask byte = 0x80
	if f.unmasked {
		mask = 0
	}
	b := []byte{b0}
	switch n := len(f.payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n < 1<<16:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if f.unmasked {
		return append(b, f.payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, c := range f.payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// readServerFrame reads one unmasked server frame of any length.
func readServerFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return hdr[0] & 0x0f, payload, err
}

// readServerMsg reads frames up to the first text frame and decodes it.
func readServerMsg(t *testing.T, br *bufio.Reader) msg {
	t.Helper()
	for {
		op, payload, err := readServerFrame(br)
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		switch op {
		case opText:
			var m msg
			if err := json.Unmarshal(payload, &m); err != nil {
				t.Fatalf("frame is not JSON: %.200q", payload)
			}
			return m
		case opClose:
			t.Fatalf("closed: %q", payload)
		}
	}
}

// sayOfLen is a chat "say" message of exactly n bytes.
func sayOfLen(n int) []byte {
	const head, tail = `{"type":"say","text":"`, `"}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// junkCookies returns "; "-terminated cookies filling about n bytes.
func junkCookies(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "junk%05d=%s; ", i, strings.Repeat("v", 90))
	}
	return b.String()
}

// manyCookies returns n short "; "-terminated cookies.
func manyCookies(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "c%d=v%d; ", i, i)
	}
	return b.String()
}

// sessionRecord is a logged-in record as connect-redis stores it, with one
// extra field of the given JSON text.
func sessionRecord(user, extra string) string {
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	return `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},` +
		`"loggedIn":true,"username":"` + user + `","extra":` + extra + `}`
}

// nested is JSON arrays nested depth levels deep; inside the record's
// object it makes a document of depth+1.
func nested(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }

// paddedRecord is a logged-in record of exactly n bytes.
func paddedRecord(n int) string {
	short := sessionRecord("Big", `""`)
	return sessionRecord("Big", `"`+strings.Repeat("p", n-len(short))+`"`)
}

// otherB64 returns a base64 character other than c.
func otherB64(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// flipCase swaps the case of every ASCII letter.
func flipCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}
