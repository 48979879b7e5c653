package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/bridge"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
	"github.com/expressbridge/expressbridge/engineio"
	"github.com/expressbridge/expressbridge/examples/chat"
	"github.com/expressbridge/expressbridge/metrics"
	"github.com/expressbridge/expressbridge/socketio"
)

// serveOptions are serve's own flags, beside the shared session options.
type serveOptions struct {
	listen, path     string
	socketioPath     string
	sioPing, sioWait time.Duration // Socket.IO's pingInterval and pingTimeout
	sioMaxBuffer     int64         // Socket.IO's maxHttpBufferSize
	sioMaxSessions   int           // the Engine.IO session table's bound
	sioMaxRefused    int           // refused sessions per client address
	sioQueueBytes    int           // bytes waiting for a Socket.IO client; 0: 4 × sioMaxBuffer
	sioReadTimeout   time.Duration // a long-polling POST's body
	sioWriteTimeout  time.Duration // a long-polling response
	sioRecovery      time.Duration // connection state recovery's maxDisconnectionDuration; 0: off
	idleTimeout      time.Duration
	writeTimeout     time.Duration // every response but long-polling's
	sioLimits        sioLimits     // what one user may make the Socket.IO door do
	origins          []string
	readLimit        int64
	pingInterval     time.Duration
	sendQueue        int
	handshakeTimeout time.Duration
	shutdownTimeout  time.Duration
	revalidate       time.Duration
	revalidateSet    bool // given on the command line or in the environment
	touch            time.Duration
	maxAge           time.Duration
	maxHTTPConns     int // open HTTP connections but upgraded WebSockets
	closeOnStoreFail bool
	gcPercent        int
	cpuProfile       string
	metricsListen    string
	trustProxy       []string
	logFormat        string
	logLevel         string
	pubsub           pubsubOptions // pubsub.go
}

func newServeCmd(a *app) *cobra.Command {
	var so serveOptions
	var o *sessionOptions
	var g *gateOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the WebSocket bridge beside an Express app",
		Long: `serve runs the WebSocket bridge. Each handshake is checked the way the Express
app would check a request: the signed session cookie (with the app's secrets
and cookie name), the session record in the app's Redis (with its prefix),
and the login field (--login-field, truthy as JavaScript sees it; for
passport apps --login-field passport.user --user-field passport.user).
Refused handshakes get an HTTP status and a JSON body
{"error":CODE,"step":STEP,"message":…}; add ?explain=1 to the WebSocket URL to have the
reason sent as a frame instead (browsers cannot read a refused handshake).

Share three things with the Express app: its secret list (--secret-file or
SESSION_SECRET), its Redis (--redis-url, --prefix) and its cookie name
(--cookie-name). Pages of other origins may connect only when listed with
--allow-origin (the bridge usually runs on another port than the app, which
is another origin).

A connection ends (close code 4401, reason logged-out, session-expired or
session-changed) when its session does: the bridge subscribes to Redis
keyspace notifications for the prefix, switching on the event classes it
needs (CONFIG SET, merged with those set), or revalidates open sessions every
--revalidate-interval where CONFIG is not allowed.

While Redis does not answer, handshakes get 503 store-unavailable and open
connections stay open; with --close-on-store-failure the bridge pings Redis
every second and closes every connection with 4503 store-unavailable when a
ping fails. Request headers over 32 KiB get 431.

At --socketio-path (/socket.io/; empty turns it off) the bridge also speaks
Socket.IO (Engine.IO 4: long-polling, WebSocket and the upgrade) to the
unmodified socket.io-client of the app's pages, with the same checks: a
refused client gets connect_error with err.message the code (no-cookie,
not-logged-in, …) and err.data {step, message}. On namespace "/" it runs the
chat: "hello" {user} on connect, "say" TEXT → "said" {user, text} to every
socket, "whoami" with an ack → the session's app fields; when the session
ends, "session-ended" {reason}, then the server disconnects the socket.

GET /healthz answers 200 while the store answers, 503 otherwise; GET /readyz
also needs the session watch running (what a load balancer should use). SIGINT or
SIGTERM stop accepting, close every connection with 1001 and exit within
--shutdown-timeout.`,
		Example: `  SESSION_SECRET='keyboard cat' expressbridge serve \
      --redis-url redis://127.0.0.1:6379 --allow-origin http://localhost:3000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			so.revalidateSet = cmd.Flags().Changed("revalidate-interval")
			return so.run(cmd.Context(), a, o, g)
		},
	}
	o = addSessionFlags(cmd, a)
	fs := cmd.Flags()
	fs.StringVar(&so.listen, "listen", "127.0.0.1:8081", "address to listen on")
	bindEnv(fs, "listen", "EXPRESSBRIDGE_LISTEN")
	fs.StringVar(&so.path, "path", "/ws", "path of the WebSocket endpoint")
	bindEnv(fs, "path", "EXPRESSBRIDGE_PATH")
	fs.StringVar(&so.socketioPath, "socketio-path", expressbridge.DefaultSocketIOPath,
		"path of the Socket.IO endpoint (socket.io-client's path option); empty: no Socket.IO")
	bindEnv(fs, "socketio-path", "EXPRESSBRIDGE_SOCKETIO_PATH")
	// Socket.IO's own server options, under their names there, so that a
	// fleet moving from Node keeps what its clients expect.
	fs.DurationVar(&so.sioPing, "socketio-ping-interval", socketio.DefaultPingInterval,
		"Socket.IO's pingInterval: how often the server pings a Socket.IO client")
	bindEnv(fs, "socketio-ping-interval", "EXPRESSBRIDGE_SOCKETIO_PING_INTERVAL")
	fs.DurationVar(&so.sioWait, "socketio-ping-timeout", socketio.DefaultPingTimeout,
		"Socket.IO's pingTimeout: how long a ping may go unanswered before the client is closed")
	bindEnv(fs, "socketio-ping-timeout", "EXPRESSBRIDGE_SOCKETIO_PING_TIMEOUT")
	fs.Int64Var(&so.sioMaxBuffer, "socketio-max-buffer", socketio.DefaultMaxHTTPBufferSize,
		"Socket.IO's maxHttpBufferSize: largest long-polling payload or WebSocket message from a Socket.IO client, in bytes")
	bindEnv(fs, "socketio-max-buffer", "EXPRESSBRIDGE_SOCKETIO_MAX_BUFFER")
	fs.IntVar(&so.sioMaxSessions, "socketio-max-sessions", engineio.DefaultMaxSessions,
		"most Socket.IO sessions open at once; a handshake beyond gets 503 server-full before any session exists")
	bindEnv(fs, "socketio-max-sessions", "EXPRESSBRIDGE_SOCKETIO_MAX_SESSIONS")
	fs.IntVar(&so.sioMaxRefused, "socketio-max-refused-per-address", engineio.DefaultMaxRefusedPerAddress,
		"most open Socket.IO sessions of one client address (behind --trust-proxy, the forwarded one) whose handshake "+
			"was refused (a refused session only tells its connect_error); one beyond gets 429 too-many-refused")
	bindEnv(fs, "socketio-max-refused-per-address", "EXPRESSBRIDGE_SOCKETIO_MAX_REFUSED_PER_ADDRESS")
	fs.IntVar(&so.sioQueueBytes, "socketio-send-queue-bytes", 0,
		"bytes that may wait for a Socket.IO client (polling or WebSocket) before it is closed as slow, beside --send-queue's count; "+
			"0: 4 × --socketio-max-buffer")
	bindEnv(fs, "socketio-send-queue-bytes", "EXPRESSBRIDGE_SOCKETIO_SEND_QUEUE_BYTES")
	fs.DurationVar(&so.sioReadTimeout, "socketio-read-timeout", socketio.DefaultReadTimeout,
		"bound on receiving a Socket.IO long-polling POST's body (socket.io-client posts small payloads at once): "+
			"a body that stalls or trickles is cut (408) and its session closed")
	bindEnv(fs, "socketio-read-timeout", "EXPRESSBRIDGE_SOCKETIO_READ_TIMEOUT")
	fs.DurationVar(&so.sioWriteTimeout, "socketio-write-timeout", socketio.DefaultWriteTimeout,
		"bound on sending a Socket.IO long-polling response: a client that does not read it is cut and its session closed")
	bindEnv(fs, "socketio-write-timeout", "EXPRESSBRIDGE_SOCKETIO_WRITE_TIMEOUT")
	fs.DurationVar(&so.sioRecovery, "socketio-recovery", 0,
		"Socket.IO connection state recovery: how long a socket that lost its transport is kept (its id, rooms, data, "+
			"the broadcasts it missed) for the same Express session and user, checked again at the reconnect; "+
			"0: off, as in Node (socket.io's default when on: 2m); one instance only, with --no-pubsub")
	bindEnv(fs, "socketio-recovery", "EXPRESSBRIDGE_SOCKETIO_RECOVERY")
	so.sioLimits.addFlags(fs)
	fs.StringSliceVar(&so.origins, "allow-origin", nil,
		"origin (scheme://host[:port]) whose pages may connect; repeatable; none: only pages of the bridge's own host")
	bindEnv(fs, "allow-origin", "EXPRESSBRIDGE_ALLOW_ORIGIN")
	g = addGateFlags(cmd)
	fs.Int64Var(&so.readLimit, "read-limit", bridge.DefaultReadLimit, "largest client message in bytes")
	bindEnv(fs, "read-limit", "EXPRESSBRIDGE_READ_LIMIT")
	fs.DurationVar(&so.pingInterval, "ping-interval", bridge.DefaultPingInterval, "how often to ping clients")
	bindEnv(fs, "ping-interval", "EXPRESSBRIDGE_PING_INTERVAL")
	fs.IntVar(&so.sendQueue, "send-queue", bridge.DefaultSendQueue, "messages queued per client (/ws and Socket.IO) before a slow client is closed")
	bindEnv(fs, "send-queue", "EXPRESSBRIDGE_SEND_QUEUE")
	fs.DurationVar(&so.handshakeTimeout, "handshake-timeout", bridge.DefaultHandshakeTimeout, "bound on reading a handshake and loading its session (each store round trip is also bounded by the store's own 2s)")
	bindEnv(fs, "handshake-timeout", "EXPRESSBRIDGE_HANDSHAKE_TIMEOUT")
	fs.DurationVar(&so.revalidate, "revalidate-interval", bridge.DefaultRevalidateInterval,
		"how often open sessions are reloaded when Redis keyspace notifications are unavailable; "+
			"on PostgreSQL without the notify trigger, 1s unless set (on MySQL always)")
	bindEnv(fs, "revalidate-interval", "EXPRESSBRIDGE_REVALIDATE_INTERVAL")
	fs.DurationVar(&so.touch, "touch-interval", expressbridge.DefaultTouchInterval,
		"renew an active session's TTL at most this often, as Express does on each request (0: never)")
	bindEnv(fs, "touch-interval", "EXPRESSBRIDGE_TOUCH_INTERVAL")
	fs.DurationVar(&so.maxAge, "max-connection-age", 0,
		"end every connection (/ws and Socket.IO) after at most this long, reason max-connection-age, so that clients "+
			"reconnect and are judged again; with cookie-session it bounds how long a socket outlives a logout (0: never)")
	bindEnv(fs, "max-connection-age", "EXPRESSBRIDGE_MAX_CONNECTION_AGE")
	fs.IntVar(&so.maxHTTPConns, "max-http-connections", expressbridge.DefaultMaxHTTPConnections,
		"HTTP connections kept open, upgraded WebSockets apart (each costs ~22 KB): past it the one idle longest is closed, "+
			"or the new one when none is idle; negative: no cap")
	bindEnv(fs, "max-http-connections", "EXPRESSBRIDGE_MAX_HTTP_CONNECTIONS")
	fs.BoolVar(&so.closeOnStoreFail, "close-on-store-failure", false,
		"ping Redis every second and close every connection (4503 store-unavailable) when it does not answer; "+
			"by default connections stay open through an outage")
	bindEnv(fs, "close-on-store-failure", "EXPRESSBRIDGE_CLOSE_ON_STORE_FAILURE")
	fs.DurationVar(&so.shutdownTimeout, "shutdown-timeout", expressbridge.DefaultShutdownTimeout, "bound on a graceful shutdown")
	bindEnv(fs, "shutdown-timeout", "EXPRESSBRIDGE_SHUTDOWN_TIMEOUT")
	fs.DurationVar(&so.idleTimeout, "idle-timeout", expressbridge.DefaultIdleTimeout,
		"close a kept-alive HTTP connection idle for this long (above Socket.IO's ping interval, so that polling clients keep theirs)")
	bindEnv(fs, "idle-timeout", "EXPRESSBRIDGE_IDLE_TIMEOUT")
	fs.DurationVar(&so.writeTimeout, "write-timeout", expressbridge.DefaultWriteTimeout,
		"cut a client that has not read its response (/healthz, a refusal, a handshake answer) within this long of its request")
	bindEnv(fs, "write-timeout", "EXPRESSBRIDGE_WRITE_TIMEOUT")
	fs.IntVar(&so.gcPercent, "gc-percent", 50,
		"Go's GC target (GOGC): the bridge mostly holds idle connections, and a lower target keeps memory near what they "+
			"hold at a small CPU cost during handshake bursts; 100 is Go's default. A GOGC variable wins")
	bindEnv(fs, "gc-percent", "EXPRESSBRIDGE_GC_PERCENT")
	fs.StringSliceVar(&so.trustProxy, "trust-proxy", nil,
		"address or CIDR of a reverse proxy (nginx) whose X-Forwarded-For names the client in logs; repeatable")
	bindEnv(fs, "trust-proxy", "EXPRESSBRIDGE_TRUST_PROXY")
	fs.StringVar(&so.metricsListen, "metrics-listen", "",
		"serve Prometheus metrics at http://ADDR/metrics, on a listener of their own so the public port does not expose them "+
			"(off unless set; e.g. 127.0.0.1:9464)")
	bindEnv(fs, "metrics-listen", "EXPRESSBRIDGE_METRICS_LISTEN")
	so.pubsub.addFlags(fs)
	fs.StringVar(&so.cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file until shutdown: for performance work")
	bindEnv(fs, "cpuprofile", "EXPRESSBRIDGE_CPUPROFILE")
	fs.StringVar(&so.logFormat, "log-format", "text", "log format: text or json")
	bindEnv(fs, "log-format", "EXPRESSBRIDGE_LOG_FORMAT")
	fs.StringVar(&so.logLevel, "log-level", "info", "log level: debug, info, warn or error (debug logs each refusal's step)")
	bindEnv(fs, "log-level", "EXPRESSBRIDGE_LOG_LEVEL")
	return cmd
}

func (so *serveOptions) run(ctx context.Context, a *app, o *sessionOptions, g *gateOptions) error {
	log, err := newLogger(a.stderr, so.logFormat, so.logLevel)
	if err != nil {
		return err
	}
	var ver *connectsid.Verifier
	var keys []string // cookie-session's
	if k, kerr := storeKind(o.storeURL()); kerr == nil && k == storeurl.CookieSession {
		if keys, err = o.secrets(); err != nil {
			return err
		}
		o.cookieSessionName()
	} else if ver, err = o.verifier(); err != nil {
		return err
	}
	if a.getenv("GOGC") == "" {
		debug.SetGCPercent(so.gcPercent)
	}
	if so.cpuProfile != "" {
		f, err := os.Create(so.cpuProfile)
		if err != nil {
			return usageErrorf("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return usageErrorf("--cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := so.config(o, g, ver, log)
	if err != nil {
		return err
	}
	cfg.Secrets = keys
	// go-redis logs pool trouble on its own; route it through slog (its
	// logger is its package's one, set once here by the program).
	redis.SetLogger(redisLog{log})
	srv, err := expressbridge.New(ctx, cfg)
	if err != nil {
		if errors.Is(err, socketio.ErrRecoveryFleet) {
			return usageErrorf("--socketio-recovery keeps this instance's broadcasts only: run it with --no-pubsub (recovery across instances is not built yet)")
		}
		if errors.Is(err, storeurl.ErrBadURL) {
			kind, _ := storeKind(o.storeURL())
			return o.badStore(kind, err)
		}
		return usageErrorf("%s", strings.TrimPrefix(err.Error(), expressbridge.ErrConfig.Error()+": "))
	}
	defer srv.Close()
	// serve's own door: the demo chat, on /ws and on Socket.IO's "/".
	if !cfg.DisableSocketIO {
		chat.SocketIO(srv.Of("/"))
	}

	ln, err := net.Listen("tcp", so.listen)
	if err != nil {
		return usageErrorf("cannot listen on %s: %v", so.listen, err)
	}
	sioURL := ""
	if !cfg.DisableSocketIO {
		sioURL = "http://" + ln.Addr().String() + cfg.SocketIOPath
	}
	info := srv.Info()
	log.Info("expressbridge serving",
		"url", "ws://"+ln.Addr().String()+so.path, "socketio", sioURL, "store", info.Store, "sessions", info.Sessions,
		"cookie", o.cookieName, "secrets", info.Secrets,
		"origins", originsForLog(so.origins), "pubsub", info.FanOut)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cfg.Metrics != nil {
		mln, err := net.Listen("tcp", so.metricsListen)
		if err != nil {
			return usageErrorf("cannot listen on --metrics-listen %s: %v", so.metricsListen, err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("/metrics", cfg.Metrics.Handler())
		ms := &http.Server{Handler: mmux, ReadHeaderTimeout: so.handshakeTimeout}
		go ms.Serve(mln)
		defer ms.Close()
		log.Info("metrics serving", "url", "http://"+mln.Addr().String()+"/metrics")
	}
	if err := srv.Serve(ctx, ln); err != nil {
		if errors.Is(err, expressbridge.ErrShutdownTimeout) {
			return &cliError{code: codeError, msg: "shutdown did not finish within --shutdown-timeout", exit: exitRefused}
		}
		return err
	}
	return nil
}

// config turns the flags into the library's Config. Flag combinations
// that cannot work are refused here, in the flags' words.
func (so *serveOptions) config(o *sessionOptions, g *gateOptions, ver *connectsid.Verifier, log *slog.Logger) (expressbridge.Config, error) {
	var cfg expressbridge.Config
	kind, err := o.checkStoreFlags()
	if err != nil {
		return cfg, err
	}
	if !strings.HasPrefix(so.path, "/") {
		return cfg, usageErrorf("--path must start with /, not %q", so.path)
	}
	if so.socketioPath != "" {
		if !strings.HasPrefix(so.socketioPath, "/") {
			return cfg, usageErrorf("--socketio-path must start with / (or be empty), not %q", so.socketioPath)
		}
		if so.socketioPath == so.path {
			return cfg, usageErrorf("--socketio-path and --path must differ (both %q)", so.path)
		}
		if so.sioPing <= 0 || so.sioWait <= 0 || so.sioMaxBuffer <= 0 || so.sioMaxSessions <= 0 || so.sioMaxRefused <= 0 ||
			so.sioReadTimeout <= 0 || so.sioWriteTimeout <= 0 {
			return cfg, usageErrorf("--socketio-ping-interval, --socketio-ping-timeout, --socketio-max-buffer, " +
				"--socketio-max-sessions, --socketio-max-refused-per-address, --socketio-read-timeout and " +
				"--socketio-write-timeout must be positive")
		}
		if so.sioQueueBytes < 0 {
			return cfg, usageErrorf("--socketio-send-queue-bytes must not be negative")
		}
		if so.sioRecovery < 0 {
			return cfg, usageErrorf("--socketio-recovery must not be negative (0: off)")
		}
		if err := so.sioLimits.check(); err != nil {
			return cfg, err
		}
	}
	if so.idleTimeout <= 0 || so.writeTimeout <= 0 {
		return cfg, usageErrorf("--idle-timeout and --write-timeout must be positive")
	}
	proxies, err := parseProxies(so.trustProxy)
	if err != nil {
		return cfg, err
	}
	cfg = expressbridge.Config{
		StoreURL:                     o.storeURL(),
		StoreOptions:                 o.storeOptions(),
		Verifier:                     ver,
		CookieName:                   o.cookieName,
		LoginField:                   g.loginField,
		UserField:                    g.userField,
		AcceptExpired:                g.acceptExpired,
		AllowedOrigins:               so.origins,
		WebSocket:                    chat.WebSocket{},
		WebSocketPath:                so.path,
		DisableSocketIO:              so.socketioPath == "",
		SocketIOPath:                 so.socketioPath,
		SocketIOPingInterval:         so.sioPing,
		SocketIOPingTimeout:          so.sioWait,
		SocketIOMaxBuffer:            so.sioMaxBuffer,
		SocketIOMaxSessions:          so.sioMaxSessions,
		SocketIOMaxRefusedPerAddress: so.sioMaxRefused,
		PubSubURL:                    so.pubsub.url,
		PubSubSharded:                so.pubsub.sharded,
		PubSubKey:                    so.pubsub.key,
		ReadLimit:                    so.readLimit,
		PingInterval:                 so.pingInterval,
		SendQueue:                    so.sendQueue,
		HandshakeTimeout:             so.handshakeTimeout,
		CloseOnStoreUnavailable:      so.closeOnStoreFail,
		TrustedProxies:               proxies,
		ShutdownTimeout:              so.shutdownTimeout,
		Logger:                       log,
		SocketIOSendQueueBytes:       so.sioQueueBytes,
		SocketIOReadTimeout:          so.sioReadTimeout,
		SocketIOWriteTimeout:         so.sioWriteTimeout,
		SocketIORecovery:             so.sioRecovery,
		IdleTimeout:                  so.idleTimeout,
		WriteTimeout:                 so.writeTimeout,
	}
	so.sioLimits.apply(&cfg)
	if so.revalidateSet {
		cfg.RevalidateInterval = so.revalidate
	}
	if so.maxAge < 0 {
		return cfg, usageErrorf("--max-connection-age must not be negative (0: never)")
	}
	cfg.MaxConnectionAge = so.maxAge
	if so.maxHTTPConns == 0 {
		return cfg, usageErrorf("--max-http-connections must not be 0 (negative: no cap)")
	}
	cfg.MaxHTTPConnections = so.maxHTTPConns
	cfg.TouchInterval = so.touch
	if so.touch == 0 {
		cfg.TouchInterval = -1 // --touch-interval 0: never
	}
	switch {
	case !so.pubsub.on || so.pubsub.off:
		cfg.SingleInstance = true
	case so.pubsub.url == "" && (kind == storeurl.Postgres || kind == storeurl.MySQL || kind == storeurl.Knex || kind == storeurl.CookieSession):
		log.Info("no fan-out between instances: the store is " + kind.Name() + " and --pubsub-url is not set; " +
			"run one instance, or give every instance the same --pubsub-url")
		cfg.SingleInstance = true
	}
	if so.metricsListen != "" {
		cfg.Metrics = metrics.New()
	}
	return cfg, nil
}

// parseProxies reads --trust-proxy: addresses or CIDR prefixes.
func parseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, usageErrorf("--trust-proxy %q is not an address or a CIDR prefix (e.g. 127.0.0.1 or 10.0.0.0/8)", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func originsForLog(o []string) string {
	if len(o) == 0 {
		return "same host only"
	}
	return strings.Join(o, ",")
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: use text or json", format)
}

// redisLog sends go-redis's own log lines to slog at debug level: the
// bridge reports what matters (503s, /healthz) itself.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
