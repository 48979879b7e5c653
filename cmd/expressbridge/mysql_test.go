package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
)

// TestMySQL serves a passport app on express-mysql-session with
// `serve --store-url mysql://…`: accepted through MariaDB, a logout seen
// by the once-a-second read of every open session; doctor, session get and
// the probes on MariaDB; install-notify refused as PostgreSQL's.
func TestMySQL(t *testing.T) {
	secret := "mysql test secret ✓"
	m := testenv.StartMariaDB(t)
	app := testenv.StartNodeApp(t, testenv.NodeAppConfig{
		Secrets: []string{secret}, AuthFlavor: "passport",
		StoreFlavor: "express-mysql-session", DatabaseURL: m.URL(),
	})
	env := map[string]string{envStoreURL: m.URL() + "?table=sessions", envSecret: secret}
	passport := []string{"--login-field", "passport.user", "--user-field", "passport.user", "--allow-origin", app.URL()}
	ctx := context.Background()

	sv := startServe(t, []string{secret}, env, append([]string{"--metrics-listen", "127.0.0.1:0"}, passport...)...)
	waitReady(t, sv.base, http.StatusOK)
	cookie := app.Login(ctx, t, "alice")
	c := dialHello(t, sv.base, cookie, app.URL(), "42")
	took := logoutAndWaitClose(t, app, c, cookie)
	t.Logf("logout → close on MySQL (polling every second): %v", took)
	if took > 3*time.Second {
		t.Errorf("logout took %v to close the connection; want about a second", took)
	}
	if !strings.Contains(sv.stderr.String(), "the store is MySQL and --pubsub-url is not set") {
		t.Errorf("serve did not say it runs alone on a MySQL store:\n%s", sv.stderr.String())
	}
	body := get(t, "http://"+sv.metrics+"/metrics")
	if v, ok := metricValue(body, `expressbridge_store_request_duration_seconds_count{op="get many",result="ok"}`); !ok || v < 1 {
		t.Errorf("no timed get many on MySQL (%v, %v)\n%s", v, ok, body)
	}

	bob := app.Login(ctx, t, "bob")
	cli(t, env, "", append([]string{"doctor", bob}, passport[:4]...)...).want(t, exitOK,
		[]string{`✔ store      session `, " found in table `sessions` (TTL ", "accepted as 100\n"}, nil)
	cli(t, env, "", "session", "get", bob).want(t, exitOK, []string{`"passport": {`, `"user": 100`}, nil)
	app.Logout(ctx, t, bob)
	cli(t, env, "", append([]string{"doctor", bob}, passport[:4]...)...).want(t, exitRefused,
		[]string{`✘ store      no session `, " in table `sessions` at mysql://", "express-mysql-session's clearExpired"}, nil)
	cli(t, env, "", "store", "install-notify").want(t, exitUsage, nil, []string{"install-notify is for PostgreSQL"})
}
