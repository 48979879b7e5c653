//go:build unix

package engineio_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/internal/testrig"
	"github.com/expressbridge/expressbridge/liveness"
)

// TestPostBudgetPerLogin: one login's sessions each POSTing most of an
// announced maxHttpBufferSize, then stalling, hold at most
// MaxPostBytesPerLogin between them: the POSTs past it get 429
// too-many-post-bytes at once, unread, their sessions closed; what is
// held is given back when the stalled bodies are cut, and the login
// posts again.
func TestPostBudgetPerLogin(t *testing.T) {
	const (
		maxBuffer = 100_000
		budget    = engineio.PostBudgetPayloads * maxBuffer
		sessions  = 10
	)
	rig := testrig.Start(t, testrig.Config{})
	logs := newLogs(t)
	live, err := liveness.New(liveness.Config{Gate: rig.Gate, Logger: logger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	reasons := make(chan string, sessions+1)
	srv, err := engineio.New(engineio.Config{Live: live, MaxHTTPBufferSize: maxBuffer, ReadTimeout: time.Minute, Logger: logger(logs),
		Handler: func(s *engineio.Session) engineio.Handler { return &recorder{echo: echo{s}, closed: reasons} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	url := "http://" + testenv.ServeHTTP(t, srv) + "/engine.io/?EIO=4&transport=polling"
	cookie, sess := rig.Login("Ann")
	open := func() string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(b), `0{"sid":"`) {
			t.Fatalf("handshake: %d %q", resp.StatusCode, b)
		}
		return url + "&sid=" + string(b[len(`0{"sid":"`):strings.Index(string(b), `","`)])
	}

	almost := "4" + strings.Repeat("x", maxBuffer-1_001)
	answers := make(chan *http.Response, sessions)
	conns := make([]net.Conn, sessions)
	for i := range conns {
		conns[i] = rawPost(t, open(), "Cookie: "+cookie+"\r\nContent-Length: 100000\r\n", func(c net.Conn) {
			io.WriteString(c, almost) // then stall
			c.SetReadDeadline(time.Now().Add(time.Minute))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				answers <- resp
			}
		})
	}
	const refused = sessions - budget/maxBuffer
	for range refused {
		select {
		case resp := <-answers:
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), engineio.CodeTooManyPostBytes) {
				t.Fatalf("a POST past the budget: %d %s, want 429 %s", resp.StatusCode, b, engineio.CodeTooManyPostBytes)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("fewer than %d of %d stalled POSTs refused", refused, sessions)
		}
		if got := <-reasons; got != "transport error" {
			t.Errorf("a session refused its POST closed with %q, want transport error", got)
		}
	}
	if got := srv.PostBytes(sess.ID); got != budget {
		t.Errorf("the login holds %d POST bytes, want its budget %d", got, budget)
	}
	select {
	case resp := <-answers:
		t.Fatalf("a POST within the budget was answered %d while its body stalls", resp.StatusCode)
	default:
	}
	// A chunked POST past the budget, trickling: refused, and its
	// connection closed, not drained for as long as it trickles.
	trickling := rawPost(t, open(), "Cookie: "+cookie+"\r\nTransfer-Encoding: chunked\r\n", func(c net.Conn) {
		for {
			if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	trickling.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(trickling)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a trickling chunked POST past the budget: %v %v, want 429", resp, err)
	}
	// Closed: EOF, or a reset when the close met bytes the server never
	// read (the trickle); still open: the read deadline.
	if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection of a refused trickling POST is still open: %v", err)
	}
	<-reasons
	for _, c := range conns {
		c.Close()
	}
	testenv.WaitFor(t, 10*time.Second, "the stalled bodies' bytes given back", func() bool { return srv.PostBytes(sess.ID) == 0 })
	if st := status(t, http.MethodPost, open(), "4hello"); st != http.StatusForbidden {
		// status sends no cookie: the session refuses it (403), not the budget
		t.Fatalf("POST without the cookie: %d, want 403", st)
	}
	req, _ := http.NewRequest(http.MethodPost, open(), strings.NewReader("4hello"))
	req.Header.Set("Cookie", cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a POST of the login once its bytes are back: %v %v, want 200", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), engineio.CodeTooManyPostBytes) {
		t.Errorf("no warning for the refused POSTs:\n%s", logs.String())
	}
}
