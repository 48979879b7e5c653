package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
)

// TestLogsHoldNoSecrets walks the refusal and accept paths with the
// server's logger at Debug and checks that the log holds no secret, no
// whole cookie (encoded or decoded) and no whole session ID, while still
// saying what happened. Every other test checks the same at cleanup.
func TestLogsHoldNoSecrets(t *testing.T) {
	h := newHarness(t)
	b := h.serve(bridge.Config{})
	other, err := connectsid.NewVerifier("another app's secret")
	if err != nil {
		t.Fatal(err)
	}
	h.addSensitive("another app's secret")

	cookie, sid := h.login("Zoë")
	c := mustDial(t, b.ws, cookie, "Zoë")
	send(t, c, map[string]string{"type": "say", "text": "hello"})
	readMsg(t, c)
	send(t, c, map[string]string{"type": "whoami"})
	readMsg(t, c)

	gone, _ := h.login("Gone")
	h.app.Logout(h.ctx, t, gone)
	quitter, _ := h.login("Quitter")
	if st, body := h.app.PostJSON(h.ctx, t, "/test/set", quitter, map[string]any{"loggedIn": false}); st != http.StatusOK {
		t.Fatalf("/test/set: %d %s", st, body)
	}
	forged := cookieName + "=" + other.Sign(sid)
	h.addSensitive(forged, strings.TrimPrefix(forged, cookieName+"="), other.SignRaw(sid))

	refusals := []struct {
		cookie string
		header []string
		code   string
	}{
		{"", nil, connectsid.CodeNoCookie},
		{cookieName + "=" + sid, nil, connectsid.CodeNotSigned},
		{forged, nil, connectsid.CodeBadSignature},
		{cookieName + "=s%3A" + sid, nil, connectsid.CodeMalformed},
		{gone, nil, connectsid.CodeNoSession},
		{quitter, nil, auth.CodeNotLoggedIn},
		{cookie, []string{"Origin", "https://evil.example"}, auth.CodeBadOrigin},
	}
	for _, r := range refusals {
		if _, resp, err := dial(t, b.ws, r.cookie, r.header...); err == nil || resp == nil {
			t.Fatalf("%s: handshake not refused (%v)", r.code, err)
		}
	}
	h.redis.Kill(t)
	if _, resp, err := dial(t, b.ws, cookie); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with Redis down: %v (%s)", err, describe(resp))
	}

	logs := h.logs.String()
	for _, r := range refusals {
		if !strings.Contains(logs, "code="+r.code) {
			t.Errorf("no refusal logged with code=%s", r.code)
		}
	}
	for _, want := range []string{"code=" + connectsid.CodeStoreUnavailable, "level=WARN", "connection accepted", "sid=" + connectsid.Redact(sid)} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %q", want)
		}
	}
	h.checkLogs()
}
