package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expressbridge/expressbridge/internal/testenv"
	"github.com/expressbridge/expressbridge/socketio"
	"github.com/expressbridge/expressbridge/wsconn"
)

// The proof by difference: node-app/difftest/client.js (the real
// socket.io-client) runs each scenario against a Node socket.io 4.8
// server (node-app/difftest/server.js) and against diffServer, the Go
// server set up the same way, handler for handler; the two traces must be
// equal. Each feature of the Node API that the Go server has adds a
// scenario (and its handlers on both sides).
var diffScenarios = []string{"basic", "lifecycle", "rooms", "middleware", "any", "handshake", "dynamic", "acks", "compress", "recovery"}

// diffAuth is the auth the scenarios connect with.
type diffAuth struct {
	Name  *string `json:"name"`
	Watch bool    `json:"watch"`
	Token *string `json:"token"`
}

func diffAuthOf(so *socketio.Socket) diffAuth {
	var a diffAuth
	json.Unmarshal(so.Auth(), &a)
	return a
}

// nameOf is server.js's nameOf: the auth's name, or null.
func nameOf(so *socketio.Socket) any {
	if a := diffAuthOf(so); a.Name != nil {
		return *a.Name
	}
	return nil
}

// roomsOf is server.js's roomsOf: the rooms other than the socket's own, sorted.
func roomsOf(so *socketio.Socket) []socketio.Room {
	out := []socketio.Room{}
	for _, r := range so.Rooms() {
		if r != socketio.Room(so.ID()) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// diffServer is node-app/difftest/server.js in Go, line for line.
func diffServer(t *testing.T, trusted ...netip.Prefix) *socketio.Server {
	t.Helper()
	srv, err := socketio.New(socketio.Config{Insecure: true, TrustedProxies: trusted, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	io := srv.Of("/")
	watchers := socketio.BroadcastOptions{Rooms: []socketio.Room{"watchers"}}
	io.OnConnection(func(so *socketio.Socket) {
		if diffAuthOf(so).Watch {
			so.Join("watchers")
		}
		so.Emit("hello", nameOf(so))
	})
	io.On("echo", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) { ack(args.Values()...) })
	io.On("kick", func(so *socketio.Socket, _ socketio.Args, _ socketio.AckFunc) { so.Disconnect() })
	io.On("handshake", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		h := so.Handshake()
		out := map[string]any{
			"query":       h.Query.Get("x"),
			"auth":        h.Auth,
			"secure":      h.Secure,
			"address":     h.Address,
			"xdomain":     h.XDomain,
			"path":        strings.SplitN(h.URL, "?", 2)[0],
			"urlHasQuery": strings.Contains(h.URL, "x=1"),
			"time":        !h.Time.IsZero(),
			"issued":      "number",
		}
		// A header missing is undefined in Node: no key in its JSON.
		for key, name := range map[string]string{"foo": "X-Foo", "cookie": "Cookie"} {
			if v := h.Headers.Get(name); v != "" {
				out[key] = v
			}
		}
		ack(out)
	})
	io.On("join", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var rooms []socketio.Room
		args.Decode(0, &rooms)
		so.Join(rooms...)
		ack(roomsOf(so))
	})
	io.On("leave", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var room socketio.Room
		args.Decode(0, &room)
		so.Leave(room)
		ack(roomsOf(so))
	})
	type news struct {
		To, Except []socketio.Room
		Text       string
	}
	io.On("news", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var o news
		args.Decode(0, &o)
		io.Broadcast(socketio.BroadcastOptions{Rooms: o.To, Except: o.Except}, "news", o.Text)
		ack()
	})
	io.On("ask-all", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var ms int
		args.Decode(0, &ms)
		go func() { // BroadcastWithAck waits: not on the socket's reader
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(ms)*time.Millisecond)
			defer cancel()
			acks, err := io.BroadcastWithAck(ctx, socketio.BroadcastOptions{Rooms: []socketio.Room{"askers"}, Except: []socketio.Room{socketio.Room(so.ID())}}, "question")
			responses := []string{}
			for _, a := range acks {
				var r string
				a.Decode(0, &r)
				responses = append(responses, r)
			}
			slices.Sort(responses)
			var msg any
			if errors.Is(err, socketio.ErrAckTimeout) {
				msg = "operation has timed out" // socket.io's message
			} else if err != nil {
				msg = err.Error()
			}
			ack(msg, responses)
		}()
	})
	io.On("news-local", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var o news
		args.Decode(0, &o)
		io.Broadcast(socketio.BroadcastOptions{Rooms: o.To, Local: true}, "news", o.Text)
		ack()
	})
	io.On("news-others", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var o news
		args.Decode(0, &o)
		so.Broadcast(socketio.BroadcastOptions{Rooms: o.To}, "news", o.Text)
		ack()
	})
	io.OnDisconnecting(func(so *socketio.Socket, reason string) {
		io.Broadcast(watchers, "leaving", nameOf(so), reason, roomsOf(so))
	})
	io.OnDisconnect(func(so *socketio.Socket, reason string) {
		io.Broadcast(watchers, "left", nameOf(so), reason, roomsOf(so))
	})
	diffMiddleware(srv.Of("/mw"))
	diffAny(srv.Of("/any"))
	diffDynamic(srv)
	return srv
}

// diffCompress is server.js's second server, on /z/: PerMessageDeflate as
// engine.io's perMessageDeflate {threshold: 1024}.
func diffCompress(t *testing.T) *socketio.Server {
	t.Helper()
	srv, err := socketio.New(socketio.Config{Insecure: true, PerMessageDeflate: &wsconn.Deflate{Threshold: 1024},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	z := srv.Of("/")
	big := strings.Repeat("compressible ", 100)
	// `42["z","edge","` + pad + `"]` is 1024 bytes: the threshold; "under" is 1023.
	edge := strings.Repeat("x", 1024-len(`42["z","edge",""]`))
	under := strings.Repeat("x", 1023-len(`42["z","under",""]`))
	z.On("sizes", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		so.Emit("z", "big", big)
		so.Emit("z", "small", "small")
		so.Emit("z", "edge", edge)
		so.Emit("z", "under", under)
		so.Compress(false).Emit("z", "big-uncompressed", big)
		z.Emit("z", "broadcast-big", big)
		z.Broadcast(socketio.BroadcastOptions{NoCompress: true}, "z", "broadcast-uncompressed", big)
		ack()
	})
	z.On("length", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var text string
		args.Decode(0, &text)
		ack(len(text))
	})
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// mwData is what "/mw"'s middleware keeps in socket.data.
// diffRecovery is server.js's third server, on /r/, with recovery on
// (its defaults, as connectionStateRecovery: {}).
func diffRecovery(t *testing.T) *socketio.Server {
	t.Helper()
	srv, err := socketio.New(socketio.Config{Insecure: true, Recovery: &socketio.RecoveryConfig{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Of("/")
	r.OnConnection(func(so *socketio.Socket) {
		if !so.Recovered() {
			so.SetData(map[string]any{"first": true})
		}
		so.Emit("hello", so.Recovered())
	})
	r.On("join", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var rooms []socketio.Room
		args.Decode(0, &rooms)
		so.Join(rooms...)
		ack(roomsOf(so))
	})
	r.On("news", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		var o struct {
			To   socketio.Room
			Text string
		}
		args.Decode(0, &o)
		r.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{o.To}}, "news", o.Text)
		ack()
	})
	r.On("data", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) { ack(so.Data()) })
	r.OnDisconnect(func(so *socketio.Socket, reason string) {
		r.Broadcast(socketio.BroadcastOptions{Rooms: []socketio.Room{"watchers"}}, "left", reason)
	})
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

type mwData struct {
	Name  string   `json:"name"`
	Order []string `json:"order"`
}

// diffMiddleware is server.js's "/mw".
func diffMiddleware(mw *socketio.Namespace) {
	mw.Use(func(so *socketio.Socket) error {
		a := diffAuthOf(so)
		if a.Token == nil || *a.Token != "ok" {
			return &socketio.ConnectError{Message: "not authorized", Data: map[string]any{"code": 42, "token": a.Token}}
		}
		so.SetData(&mwData{Name: *a.Name, Order: []string{"first"}})
		return nil
	})
	mw.Use(func(so *socketio.Socket) error {
		d := so.Data().(*mwData)
		if d.Name == "plain" {
			return errors.New("plain refusal")
		}
		d.Order = append(d.Order, "second")
		return nil
	})
	mw.OnConnection(func(so *socketio.Socket) {
		so.Use(func(so *socketio.Socket, event string, _ socketio.Args) error {
			if event == "forbidden" {
				return errors.New("forbidden event")
			}
			return nil
		})
		so.OnError(func(err error) { so.Emit("mw-error", err.Error()) })
	})
	mw.On("allowed", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) { ack("allowed") })
	mw.On("forbidden", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) { ack("should not run") })
	mw.On("data", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) { ack(so.Data()) })
	mw.On("fetch", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		sockets, _ := mw.FetchSockets(context.Background(), socketio.BroadcastOptions{})
		data := make([]any, len(sockets))
		for i, s := range sockets {
			data[i] = s.Data
		}
		slices.SortFunc(data, func(x, y any) int {
			return strings.Compare(x.(map[string]any)["name"].(string), y.(map[string]any)["name"].(string))
		})
		ack(data)
	})
}

// diffAny is server.js's "/any".
func diffAny(anyNsp *socketio.Namespace) {
	anyNsp.OnConnection(func(so *socketio.Socket) {
		seen := func(dir string) socketio.AnyListener {
			return func(ev string, args socketio.Args) {
				if ev != "seen" {
					so.Emit("seen", dir, ev, args.Values())
				}
			}
		}
		offIn := so.OnAny(seen("in"))
		offOut := so.OnAnyOutgoing(seen("out"))
		so.SetData(func() { offIn(); offOut() }) // for "off"
	})
	anyNsp.On("ping", func(so *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		so.Emit("pong", args.Raw(0))
		ack(args.Raw(0))
	})
	anyNsp.On("shout", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		anyNsp.Emit("shout", "all")
		ack()
	})
	anyNsp.On("off", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		so.Data().(func())()
		ack()
	})
}

// diffDynamic is server.js's dynamic namespaces.
func diffDynamic(srv *socketio.Server) {
	orgs := srv.OfRegexp(regexp.MustCompile(`^/org-\d+$`))
	orgs.Use(func(so *socketio.Socket) error {
		if t := diffAuthOf(so).Token; t == nil || *t != "ok" {
			return errors.New("org refused")
		}
		return nil
	})
	orgs.OnConnection(func(so *socketio.Socket) { so.Emit("welcome", so.Namespace().Name()) })
	orgs.On("where", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) { ack(so.Namespace().Name()) })
	orgs.On("shout", func(so *socketio.Socket, _ socketio.Args, ack socketio.AckFunc) {
		orgs.Emit("org-news", "to every org")
		ack()
	})
	teams := srv.OfMatch(func(name string, auth json.RawMessage) bool {
		var a struct{ Team string }
		json.Unmarshal(auth, &a)
		return strings.HasPrefix(name, "/team-") && a.Team == name[len("/team-"):]
	})
	teams.OnConnection(func(so *socketio.Socket) { so.Emit("welcome", so.Namespace().Name()) })
}

// TestDifference runs every scenario against the Node server and the Go
// one, and compares the traces.
func TestDifference(t *testing.T) {
	nodeURL := testenv.StartNodeServer(t, "difftest/server.js", "PORT=0")
	mux := http.NewServeMux()
	mux.Handle("/", diffServer(t))
	mux.Handle("/z/", diffCompress(t))
	mux.Handle("/r/", diffRecovery(t))
	goURL := "http://" + testenv.ServeHTTP(t, mux)
	for _, sc := range diffScenarios {
		t.Run(sc, func(t *testing.T) {
			want := diffTrace(t, nodeURL, sc)
			got := diffTrace(t, goURL, sc)
			if len(want) < 2 {
				t.Fatalf("the Node trace of %s is empty", sc)
			}
			if !slices.Equal(got, want) {
				t.Errorf("traces differ (each line is the client's label, then what it saw):\n%s", diffLines(want, got))
			} else if testing.Verbose() {
				t.Logf("trace:\n%s", strings.Join(want, "\n"))
			}
		})
	}
}

// diffTrace runs the client on one scenario against url. Lines are kept
// in order per client (each connection is ordered) and the clients' lines
// put one after another, in the order each first appears: what two sockets
// see is not ordered between them.
func diffTrace(t *testing.T, url, scenario string) []string {
	out := testenv.NodeOutput(t, 2*time.Minute, []string{"SERVER_URL=" + url}, "difftest/client.js", scenario)
	byLabel := map[string][]string{}
	var labels []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		label, _, _ := strings.Cut(line, " ")
		if byLabel[label] == nil {
			labels = append(labels, label)
		}
		byLabel[label] = append(byLabel[label], line)
	}
	var lines []string
	for _, l := range labels {
		lines = append(lines, byLabel[l]...)
	}
	return lines
}

// diffLines shows both traces side by side, marking the lines that differ.
func diffLines(want, got []string) string {
	var b strings.Builder
	for i := 0; i < max(len(want), len(got)); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		mark := "  "
		if w != g {
			mark = "≠ "
		}
		b.WriteString(mark + "node: " + w + "\n" + mark + "go:   " + g + "\n")
	}
	return b.String()
}

// TestHandshake: beyond Node's, the Cookie header is left out of
// Handshake, and the address is the one a trusted proxy names.
func TestHandshake(t *testing.T) {
	srv := diffServer(t, netip.MustParsePrefix("127.0.0.1/32"))
	url := "http://" + testenv.ServeHTTP(t, srv)
	got := diffTrace(t, url, "handshake-go")
	want := []string{"scenario handshake-go", "h connect",
		`h ack handshake {"address":"203.0.113.7","auth":{},"issued":"number","path":"/socket.io/","query":"","secure":false,"time":true,"urlHasQuery":false,"xdomain":false}`}
	if !slices.Equal(got, want) {
		t.Errorf("trace:\n%s", diffLines(want, got))
	}
}
