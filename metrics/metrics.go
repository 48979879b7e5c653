// Package metrics exposes the bridge's Prometheus metrics: handshakes by
// door and result, open and ended connections, store latency, broadcasts
// and Pub/Sub resubscriptions, beside client_golang's Go and process
// collectors. No label carries a session ID or a user name: both are
// unbounded and personal.
//
// A Metrics is an auth.Observer and a bridge.Observer (so a wsconn.Observer, a
// liveness.Observer and an engineio Config.Observer too); its Handler serves
// the text exposition format on a listener of its own (serve's
// --metrics-listen), so the public port does not expose it.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// Namespace prefixes every metric of the bridge's own.
const Namespace = "expressbridge"

// Metrics holds the collectors on a registry of its own. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	handshakes   *prometheus.CounterVec
	open         *prometheus.GaugeVec
	ended        *prometheus.CounterVec
	limits       *prometheus.CounterVec
	storeLatency *prometheus.HistogramVec
	broadcasts   prometheus.Counter
	delivered    prometheus.Counter
	resubscribed prometheus.Counter
	adapterSubs  prometheus.Counter // adapter.go
}

// New returns metrics registered on a new registry, with the Go runtime's
// and the process's collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "handshakes_total",
			Help: "Requests checked by the gate, by door (ws, socket.io, http) and result (accepted or the refusal code).",
		}, []string{"door", "result"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "connections_open",
			Help: "Connections open now, by door.",
		}, []string{"door"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "connections_closed_total",
			Help: "Connections ended, by door and reason (logged-out, session-expired, session-changed, store-unavailable, " +
				"slow-client, ping-timeout, client-closed, shutting-down, server-disconnect, rate-limited, max-connection-age).",
		}, []string{"door", "reason"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "limits_hit_total",
			Help: "Limits clients hit, by door and limit (server-full, too-many-refused, too-many-sessions, read-timeout, " +
				"body-too-large, write-timeout, slow-client, too-many-packets, message-too-large, frame-timeout, too-many-args, " +
				"auth-too-large, event-dropped, rate-limited, too-many-post-bytes; door http: idle-connection-shed, " +
				"too-many-http-connections).",
		}, []string{"door", "limit"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "store_request_duration_seconds",
			Help: "Session store round trips, by operation (the Redis command, or the PostgreSQL store's operation) and result (ok, error).",
			// From a loopback Redis (~100 µs) to a store timeout (2 s).
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op", "result"}),
		broadcasts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "broadcasts_total",
			Help: "Broadcasts sent to this instance's connections.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "messages_delivered_total",
			Help: "Messages queued for connections by broadcasts.",
		}),
		resubscribed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "pubsub_resubscriptions_total",
			Help: "Times the session store's Pub/Sub watch subscribed again after losing its subscription.",
		}),
	}
	m.adapterSubs = newAdapterResubscriptions()
	m.reg.MustRegister(m.handshakes, m.open, m.ended, m.limits, m.storeLatency, m.broadcasts, m.delivered, m.resubscribed, m.adapterSubs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for an application's own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handshake counts one check of the gate (auth.Observer).
func (m *Metrics) Handshake(door, result string) { m.handshakes.WithLabelValues(door, result).Inc() }

// ConnectionOpened counts an accepted connection or Engine.IO session (wsconn.Observer).
func (m *Metrics) ConnectionOpened(door string) { m.open.WithLabelValues(door).Inc() }

// ConnectionClosed counts an ended connection or Engine.IO session (wsconn.Observer).
func (m *Metrics) ConnectionClosed(door, reason string) {
	m.open.WithLabelValues(door).Dec()
	m.ended.WithLabelValues(door, reason).Inc()
}

// Broadcast counts one broadcast queued for delivered connections
// (bridge.Observer).
func (m *Metrics) Broadcast(delivered int) {
	m.broadcasts.Inc()
	m.delivered.Add(float64(delivered))
}

// LimitHit counts a limit a client hit (wsconn.LimitObserver).
func (m *Metrics) LimitHit(door, limit string) { m.limits.WithLabelValues(door, limit).Inc() }

// Resubscribed counts a resubscription of the store's watch
// (bridge.Observer).
func (m *Metrics) Resubscribed() { m.resubscribed.Inc() }

// StoreRequest records one store round trip.
func (m *Metrics) StoreRequest(op string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.storeLatency.WithLabelValues(op, result).Observe(d.Seconds())
}

// RedisHook times every command of a go-redis client as a store request
// (client.AddHook). A missing key (redis.Nil) is an answer, not an error.
// Left out, as no session store requests: a connection's own set-up
// (HELLO, AUTH, SELECT, CLIENT SETINFO, which Redis before 7.2 refuses
// without harm), and PUBLISH, SPUBLISH and PUBSUB (broadcasts and the
// Socket.IO adapter's server counts, when the Pub/Sub shares the store's
// client).
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

// notStoreRequest names the commands RedisHook leaves out.
func notStoreRequest(name string) bool {
	switch name {
	case "hello", "auth", "select", "client", "publish", "spublish", "pubsub":
		return true
	}
	return false
}

type redisHook struct{ m *Metrics }

func (redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if notStoreRequest(cmd.Name()) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.m.StoreRequest(cmd.Name(), time.Since(start), storeErr(err))
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return !notStoreRequest(c.Name()) }) {
			return next(ctx, cmds) // a connection's set-up
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.m.StoreRequest("pipeline", time.Since(start), storeErr(err))
		return err
	}
}

func storeErr(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}
