package engineio

import (
	"net/http"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/wsconn"
)

// The limits a client can hit, as LimitHit logs them and a LimitObserver
// hears them. Beside them, the table's bounds under their refusal codes:
// CodeServerFull, CodeTooManyRefused, CodeTooManySessions, and a login's
// POST budget's, CodeTooManyPostBytes.
const (
	LimitReadTimeout    = "read-timeout"         // a POST body not read within Config.ReadTimeout (408)
	LimitBodyTooLarge   = "body-too-large"       // a POST body over its limit (413; a WebSocket message over it is wsconn's message-too-large)
	LimitWriteTimeout   = "write-timeout"        // a long-polling response not written within Config.WriteTimeout
	LimitSlowClient     = wsconn.LimitSlowClient // a send queue full, in messages or bytes
	LimitTooManyPackets = "too-many-packets"     // a POST of more than parser.MaxPackets packets (400)
)

// LimitObserver is an Observer that also hears each limit a client hits
// (wsconn's: metrics.Metrics is one).
type LimitObserver = wsconn.LimitObserver

// LimitHit notes that a client hit limit: a LimitObserver hears it each
// time, and a warning is logged the first time and then at most once per
// 10 s per limit, with how many there were since (ratelog.Limits). remote
// is the client's address, or "". The Socket.IO server notes its own
// limits (arguments, auth, event rate) here too.
func (s *Server) LimitHit(limit, remote string) {
	s.limits.Hit(s.cfg.Door, limit, func() string { return remote })
}

// limitHitBy is LimitHit for a limit r's client hit: its address (behind
// TrustedProxies, the forwarded one) is worked out only for a log line.
func (s *Server) limitHitBy(limit string, r *http.Request) {
	s.limits.Hit(s.cfg.Door, limit, func() string { return auth.RemoteAddr(r, s.cfg.TrustedProxies) })
}
