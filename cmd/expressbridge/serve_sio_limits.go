package main

import (
	"github.com/spf13/pflag"

	"github.com/expressbridge/expressbridge"
	"github.com/expressbridge/expressbridge/socketio"
)

// sioLimits are serve's flags for what one user may make the Socket.IO
// door do: rate limits on events and the sessions per login.
type sioLimits struct {
	eventRate, userRate   float64
	eventBurst, userBurst int
	maxDropped, perLogin  int
	postBytes             int64 // POST bytes in flight per login; 0: 4 × maxHttpBufferSize
}

func (l *sioLimits) addFlags(fs *pflag.FlagSet) {
	fs.Float64Var(&l.eventRate, "socketio-max-events-per-second", socketio.DefaultMaxEventsPerSecond,
		"events per second one Socket.IO socket may send (a token bucket, with --socketio-event-burst); more are dropped; negative: no limit")
	bindEnv(fs, "socketio-max-events-per-second", "EXPRESSBRIDGE_SOCKETIO_MAX_EVENTS_PER_SECOND")
	fs.IntVar(&l.eventBurst, "socketio-event-burst", socketio.DefaultEventBurst,
		"events one Socket.IO socket may send at once")
	bindEnv(fs, "socketio-event-burst", "EXPRESSBRIDGE_SOCKETIO_EVENT_BURST")
	fs.Float64Var(&l.userRate, "socketio-max-user-events-per-second", socketio.DefaultMaxUserEventsPerSecond,
		"events per second all the Socket.IO sockets of one user may send together, on this instance; negative: no limit")
	bindEnv(fs, "socketio-max-user-events-per-second", "EXPRESSBRIDGE_SOCKETIO_MAX_USER_EVENTS_PER_SECOND")
	fs.IntVar(&l.userBurst, "socketio-user-event-burst", socketio.DefaultUserEventBurst,
		"events the Socket.IO sockets of one user may send at once together")
	bindEnv(fs, "socketio-user-event-burst", "EXPRESSBRIDGE_SOCKETIO_USER_EVENT_BURST")
	fs.IntVar(&l.maxDropped, "socketio-max-dropped-events", socketio.DefaultMaxDroppedEvents,
		"events over its limits a Socket.IO socket may have dropped within 10s before it is disconnected (rate-limited); negative: never")
	bindEnv(fs, "socketio-max-dropped-events", "EXPRESSBRIDGE_SOCKETIO_MAX_DROPPED_EVENTS")
	fs.IntVar(&l.perLogin, "socketio-max-sessions-per-login", socketio.DefaultMaxSessionsPerLogin,
		"Socket.IO sessions (tabs) one login may have open on this instance; more get connect_error too-many-sessions; negative: no cap")
	bindEnv(fs, "socketio-max-sessions-per-login", "EXPRESSBRIDGE_SOCKETIO_MAX_SESSIONS_PER_LOGIN")
	fs.Int64Var(&l.postBytes, "socketio-max-post-bytes-per-login", 0,
		"bytes of long-polling POST bodies one login may be sending at once on this instance (0: 4 × --socketio-max-buffer); "+
			"a POST past it gets 429 too-many-post-bytes and its session closes (the client reconnects); negative: no budget")
	bindEnv(fs, "socketio-max-post-bytes-per-login", "EXPRESSBRIDGE_SOCKETIO_MAX_POST_BYTES_PER_LOGIN")
}

// check refuses zeros (the library would read them as its defaults) and
// bursts that would drop every event.
func (l *sioLimits) check() error {
	if l.eventRate == 0 || l.userRate == 0 || l.maxDropped == 0 || l.perLogin == 0 {
		return usageErrorf("--socketio-max-events-per-second, --socketio-max-user-events-per-second, --socketio-max-dropped-events " +
			"and --socketio-max-sessions-per-login must not be 0 (negative: no limit)")
	}
	if l.eventBurst < 1 || l.userBurst < 1 {
		return usageErrorf("--socketio-event-burst and --socketio-user-event-burst must be at least 1")
	}
	return nil
}

// apply sets the limits in cfg.
func (l *sioLimits) apply(cfg *expressbridge.Config) {
	cfg.SocketIOMaxEventsPerSecond, cfg.SocketIOEventBurst = l.eventRate, l.eventBurst
	cfg.SocketIOMaxUserEventsPerSecond, cfg.SocketIOUserEventBurst = l.userRate, l.userBurst
	cfg.SocketIOMaxDroppedEvents, cfg.SocketIOMaxSessionsPerLogin = l.maxDropped, l.perLogin
	cfg.SocketIOMaxPostBytesPerLogin = l.postBytes
}
