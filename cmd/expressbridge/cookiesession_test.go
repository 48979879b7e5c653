package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestCookieSession serves a real Express app on cookie-session 2.1.1
// (STORE_FLAVOR=cookie-session: the login sets fields on req.session, the
// logout sets it to null) with `serve --store-url cookie-session:`: the
// /ws door and socket.io-client on both transports accept its login and
// refuse a missing or forged .sig; the keys rotate (a cookie signed by the
// second key verifies); doctor and unsign explain each refusal.
func TestCookieSession(t *testing.T) {
	ctx := context.Background()
	keys := []string{"new cookie key ✓", "old cookie key"}
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{StoreFlavor: "cookie-session", Secrets: keys})
	old := testenv.StartNodeApp(t, testenv.NodeAppConfig{StoreFlavor: "cookie-session", Secrets: keys[1:]})
	sv := startServe(t, keys, nil, "--store-url", "cookie-session:", "--allow-origin", app.URL())
	env := map[string]string{"EXPRESSBRIDGE_SECRET_FILE": sv.secretFile(t, keys), "EXPRESSBRIDGE_STORE_URL": "cookie-session:"}

	cookie := app.Login(ctx, t, "alice")
	if !strings.HasPrefix(cookie, "session=") || !strings.Contains(cookie, "; session.sig=") {
		t.Fatalf("login cookie %q: want session and session.sig", cookie)
	}
	wsHello(t, sv, app.URL(), cookie, "alice")
	rotated := old.Login(ctx, t, "bob") // signed by the second key
	wsHello(t, sv, app.URL(), rotated, "bob")

	session, sig, _ := strings.Cut(cookie, "; ")
	forged := "session=eyJsb2dnZWRJbiI6dHJ1ZSwidXNlcm5hbWUiOiJtYWxsb3J5In0=; " + sig
	for _, tc := range []struct{ what, cookie, code, step string }{
		{"no .sig", session, "not-signed", "signature"},
		{"forged value", forged, "bad-signature", "signature"},
		{"no session cookie", sig, "no-cookie", "cookie"},
	} {
		wsRefused(t, sv, app.URL(), tc.what, tc.cookie, tc.code, tc.step)
	}

	// doctor and unsign say what failed.
	cli(t, env, "", "doctor", cookie).want(t, exitOK, []string{
		"✔ cookie     session found, with session.sig\n",
		"✔ signature  session.sig verified with key 1 of 2 (HMAC-SHA1)\n",
		"✔ store      none: cookie-session keeps the session in the cookie; nothing on a server can revoke it\n",
		"accepted as alice\n"}, nil)
	cli(t, env, "", "doctor", rotated).want(t, exitOK, []string{"verified with key 2 of 2 (HMAC-SHA1) — a rotation is in progress"}, nil)
	cli(t, env, "", "doctor", session).want(t, exitRefused, []string{"✘ signature  no session.sig cookie beside session"}, nil)
	cli(t, env, "", "doctor", forged).want(t, exitRefused, []string{"✘ signature  no key verifies session.sig (2 keys tried, HMAC-SHA1)"}, nil)
	// sign writes what the real app set at the login, byte for byte.
	cli(t, env, "", "sign", "--store-url", "cookie-session:", `{"loggedIn":true,"username":"alice"}`).want(t, exitOK,
		[]string{"Cookie: " + cookie + "\n"}, nil)
	cli(t, env, "", "unsign", "--store-url", "cookie-session:", cookie).want(t, exitOK, []string{`"username":"alice"`}, nil)
	cli(t, env, "", "unsign", "--store-url", "cookie-session:", rotated).want(t, exitOK, []string{`"username":"bob"`},
		[]string{"verified with key 2 of 2"})
	cli(t, env, "", "unsign", "--store-url", "cookie-session:", session).want(t, exitRefused, nil, []string{"not-signed", "no .sig cookie"})
	cli(t, env, "", "unsign", "--store-url", "cookie-session:", forged).want(t, exitRefused, nil, []string{"bad-signature"})

	// socket.io-client on both transports, refusals and the logout.
	testenv.RunNode(t, 90*time.Second, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=http://" + sv.base},
		"test/socketio-client.js", "cookie-session")
}

// TestCookieSessionSHA256: an app that passes new Keygrip(keys, 'sha256')
// is served with ?algorithm=sha256; the default (sha1) refuses its cookies.
func TestCookieSessionSHA256(t *testing.T) {
	ctx := context.Background()
	keys := []string{"k256"}
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{StoreFlavor: "cookie-session", Secrets: keys, KeygripAlgorithm: "sha256"})
	cookie := app.Login(ctx, t, "carol")
	sv := startServe(t, keys, nil, "--store-url", "cookie-session:?algorithm=sha256", "--allow-origin", app.URL())
	wsHello(t, sv, app.URL(), cookie, "carol")
	sha1 := startServe(t, keys, nil, "--store-url", "cookie-session:", "--allow-origin", app.URL())
	wsRefused(t, sha1, app.URL(), "sha256 cookie, sha1 bridge", cookie, "bad-signature", "signature")
	env := map[string]string{"EXPRESSBRIDGE_SECRET_FILE": sv.secretFile(t, keys), "EXPRESSBRIDGE_STORE_URL": "cookie-session:?algorithm=sha256"}
	cli(t, env, "", "doctor", cookie).want(t, exitOK, []string{"verified with key 1 of 1 (HMAC-SHA256)", "accepted as carol\n"}, nil)
}

// TestMaxConnectionAge: serve --max-connection-age ends /ws connections
// with 1001 max-connection-age, and Socket.IO's on both transports without
// session-ended, so that socket.io-client reconnects and is judged again.
func TestMaxConnectionAge(t *testing.T) {
	ctx := context.Background()
	keys := []string{"age key"}
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{StoreFlavor: "cookie-session", Secrets: keys})
	sv := startServe(t, keys, nil, "--store-url", "cookie-session:", "--allow-origin", app.URL(), "--max-connection-age", "2s",
		"--metrics-listen", "127.0.0.1:0")
	cookie := app.Login(ctx, t, "max")
	c := wsHello(t, sv, app.URL(), cookie, "max")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "max-connection-age" {
		t.Fatalf("at the max age the client got %v, want close 1001 max-connection-age", err)
	}
	testenv.RunNode(t, 90*time.Second, []string{"APP_URL=" + app.URL(), "BRIDGE_URL=http://" + sv.base, "COOKIE=" + cookie},
		"test/socketio-client.js", "max-connection-age")
	// The metrics count the reason on each door (Socket.IO: polling, then
	// websocket; a reconnected socket may reach its age too before it closes).
	testenv.WaitFor(t, 20*time.Second, "max-connection-age counted on both doors", func() bool {
		body := get(t, "http://"+sv.metrics+"/metrics")
		ws, _ := metricValue(body, `expressbridge_connections_closed_total{door="ws",reason="max-connection-age"}`)
		sio, _ := metricValue(body, `expressbridge_connections_closed_total{door="socket.io",reason="max-connection-age"}`)
		return ws >= 1 && sio >= 2
	})
}

func wsHello(t *testing.T, sv *served, origin, cookie, user string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+sv.base+"/ws", http.Header{"Cookie": {cookie}, "Origin": {origin}})
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		t.Fatalf("dial as %s: %v %s\n%s", user, err, body, sv.stderr.String())
	}
	t.Cleanup(func() { c.Close() })
	var hello struct{ Type, User string }
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" || hello.User != user {
		t.Fatalf("hello = %+v, %v; want user %s", hello, err, user)
	}
	return c
}

func wsRefused(t *testing.T, sv *served, origin, what, cookie, code, step string) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+sv.base+"/ws", http.Header{"Cookie": {cookie}, "Origin": {origin}})
	if err == nil {
		c.Close()
		t.Fatalf("%s: accepted, want 401 %s", what, code)
	}
	var ref struct{ Error, Step string }
	if resp != nil {
		body, _ := io.ReadAll(resp.Body)
		json.Unmarshal(body, &ref)
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized || ref.Error != code || ref.Step != step {
		t.Fatalf("%s: %v %+v, want 401 %s at %s", what, resp, ref, code, step)
	}
}

// secretFile writes keys to a file of the test's, for the CLI's commands.
func (sv *served) secretFile(t *testing.T, keys []string) string {
	t.Helper()
	p := t.TempDir() + "/keys"
	if err := os.WriteFile(p, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
