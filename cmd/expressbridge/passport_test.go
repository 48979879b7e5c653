package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestPassport serves a real passport-local app (passport 0.7: req.login
// on /login, req.logout on /logout, the serialized id a number) with
// `serve --login-field passport.user --user-field passport.user`, as the
// README's passport recipe says.
func TestPassport(t *testing.T) {
	secret := "passport test secret ✓"
	r := testenv.StartRedis(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{RedisURL: r.URL(), Secrets: []string{secret}, AuthFlavor: "passport"})
	env := map[string]string{"REDIS_URL": r.URL(), envSecret: secret}
	sv := startServe(t, []string{secret}, env,
		"--login-field", "passport.user", "--user-field", "passport.user", "--allow-origin", app.URL())
	ctx := context.Background()
	dial := func(cookie string) (*websocket.Conn, *http.Response, error) {
		return websocket.DefaultDialer.Dial("ws://"+sv.base+"/ws", http.Header{"Cookie": {cookie}, "Origin": {app.URL()}})
	}
	refused := func(what, cookie, code string) {
		t.Helper()
		c, resp, err := dial(cookie)
		if err == nil {
			c.Close()
			t.Fatalf("%s: accepted, want 401 %s", what, code)
		}
		var ref struct{ Error, Step string }
		if resp != nil {
			body, _ := io.ReadAll(resp.Body)
			json.Unmarshal(body, &ref)
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized || ref.Error != code {
			t.Fatalf("%s: %v %+v, want 401 %s", what, resp, ref, code)
		}
	}

	// 1. alice (id 42) logs in through passport: accepted as "42".
	cookie := app.Login(ctx, t, "alice")
	c, _, err := dial(cookie)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, sv.stderr.String())
	}
	defer c.Close()
	var hello struct{ Type, User string }
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" || hello.User != "42" {
		t.Fatalf("hello = %+v, %v; want user 42", hello, err)
	}
	// A numeric id that is not 42 works the same.
	bob := app.Login(ctx, t, "bob")
	cb, _, err := dial(bob)
	if err != nil {
		t.Fatalf("dial bob: %v", err)
	}
	cb.Close()

	// doctor agrees, and names the passport field.
	res := cli(t, env, "", "doctor", "--login-field", "passport.user", "--user-field", "passport.user", cookie)
	res.want(t, exitOK, []string{"✔ login      passport.user is a number, which JavaScript counts as true\n",
		"✔ user       passport.user is \"42\"\n", "accepted as 42\n"}, nil)
	// With the default login field, doctor points at passport.
	cli(t, env, "", "doctor", cookie).want(t, exitRefused, []string{"✘ login      the record has no field loggedIn\n",
		"hint: passport.user is set: the app logs in with passport; pass --login-field passport.user --user-field passport.user\n"}, nil)

	// 2. req.logout: the open connection closes with 4401.
	fresh := app.LogoutCookie(ctx, t, cookie)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ce *websocket.CloseError
	for {
		if _, _, err = c.ReadMessage(); err != nil {
			break
		}
	}
	// passport saves the session without its user, then regenerates it:
	// either change the bridge sees first is the logout.
	if !errors.As(err, &ce) || ce.Code != 4401 || ce.Text != "logged-out" {
		t.Fatalf("on logout the client got %v, want close 4401 logged-out", err)
	}

	// 3. The old cookie: its session is gone.
	refused("the cookie from before the logout", cookie, connectsid.CodeNoSession)

	// 4. The fresh session passport leaves after logout has no user.
	if fresh == "" {
		t.Fatal("passport's logout set no fresh session cookie")
	}
	refused("the session after logout", fresh, auth.CodeNotLoggedIn)
	res = cli(t, env, "", "doctor", "--login-field", "passport.user", fresh)
	res.want(t, exitRefused, []string{"✘ login      the record has no field passport.user\n",
		"hint: passport holds no user: the user logged out"}, nil)
	if strings.Contains(res.stdout, secret) {
		t.Fatal("doctor printed the secret")
	}
}
