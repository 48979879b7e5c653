package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Session is one logged-in user: the name the app stored and the Cookie
// header a browser would send ("connect.sid=s%3A…").
type Session struct {
	User   string
	Cookie string
	header http.Header // built once: {"Cookie": [Cookie]}
}

// NewSession returns a Session for a user and its Cookie header value.
func NewSession(user, cookie string) Session {
	return Session{User: user, Cookie: cookie, header: http.Header{"Cookie": {cookie}}}
}

// Login logs n users in through the real Express app at baseURL (POST
// /login with a JSON username, as the app's page does), 8 at a time, and
// returns their sessions. Users are named prefix-0001, prefix-0002, …
func Login(ctx context.Context, baseURL, prefix string, n int) ([]Session, error) {
	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 8},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	out := make([]Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				user := fmt.Sprintf("%s-%04d", prefix, i+1)
				cookie, err := login(ctx, client, baseURL, user)
				out[i], errs[i] = NewSession(user, cookie), err
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func login(ctx context.Context, client *http.Client, baseURL, user string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": user})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /login as %s: %v", user, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var res struct {
		OK   bool   `json:"ok"`
		User string `json:"user"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || !res.OK || res.User != user {
		return "", fmt.Errorf("POST /login as %s: want 200 {\"ok\":true,\"user\":%q}, got %s %s", user, user, resp.Status, b)
	}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		pair, _, _ := strings.Cut(sc, ";")
		if name, _, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && name == CookieName {
			return strings.TrimSpace(pair), nil
		}
	}
	return "", fmt.Errorf("POST /login as %s: no %s cookie in %q", user, CookieName, resp.Header.Values("Set-Cookie"))
}
