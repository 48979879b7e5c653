package engineio_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/engineio/parser"
	"github.com/expressbridge/expressbridge/liveness"
	"github.com/expressbridge/expressbridge/wsconn"
)

// upper is a Handler: each text message back in capitals.
type upper struct{ s *engineio.Session }

func (upper) Opened() {}
func (h upper) Message(p parser.Packet) {
	if !p.Binary {
		p.Data = []byte(strings.ToUpper(string(p.Data)))
	}
	_ = h.s.Send(p) // fails only when the session is closing
}
func (h upper) End(r liveness.Reason) { h.s.CloseWith(wsconn.CloseFor(r)) }
func (upper) Closed(string)           {}

// A raw Engine.IO server with a Handler of its own, spoken to over
// long-polling as engine.io-client would. (Insecure, for the example: a
// real one has a liveness.Tracker, whose gate checks every handshake.)
func ExampleNew() {
	srv, err := engineio.New(engineio.Config{
		Handler:  func(s *engineio.Session) engineio.Handler { return upper{s} },
		Insecure: true,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	ts := httptest.NewServer(srv)
	defer ts.Close()
	url := ts.URL + "/engine.io/?EIO=4&transport=polling"

	// 1. The handshake: an OPEN packet with the session's sid.
	open := get(url)
	sid := open[len(`0{"sid":"`):strings.Index(open, `","`)]
	// 2. A message up, and its answer down.
	resp, err := http.Post(url+"&sid="+sid, "text/plain", strings.NewReader("4hello"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(get(url + "&sid=" + sid))
	// Output: 4HELLO
}

func get(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return string(b)
}
