package auth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
)

// records is the smallest auth.Store: session records by ID, as
// connect-redis or connect-pg-simple would hand them over. A real program
// uses redisstore.Store on the Express app's Redis.
type records map[string]string

func (m records) Get(_ context.Context, sid string) (*connectsid.Session, error) {
	rec, ok := m[sid]
	if !ok {
		return nil, connectsid.ErrNoSession
	}
	return connectsid.DecodeSession(sid, rec)
}

// ExampleGate_Require puts a Go route behind the Express app's login: it
// answers with the name of the user whose passport login the session holds,
// and refuses everyone else with the bridge's JSON body.
func ExampleGate_Require() {
	verifier, _ := connectsid.NewVerifier("keyboard cat") // express-session's secret
	store := records{
		"d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR": `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},` +
			`"passport":{"user":42}}`,
	}
	gate, err := auth.New(auth.Config{
		Verifier:   verifier,
		Store:      store,
		LoginField: "passport.user", // passport's login
		UserField:  "passport.user",
	})
	if err != nil {
		panic(err)
	}
	hello := gate.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := auth.SessionFrom(r.Context())
		fmt.Fprintf(w, "hello, user %s\n", s.User)
	}))
	srv := httptest.NewServer(hello)
	defer srv.Close()

	for _, cookie := range []string{
		"connect.sid=" + verifier.Sign("d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"), // what Express set at login
		"",
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s", resp.StatusCode, body)
	}
	// Output:
	// 200 hello, user 42
	// 401 {"error":"no-cookie","step":"cookie","message":"no session cookie"}
}
