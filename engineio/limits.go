package engineio

import "github.com/expressbridge/expressbridge/wsconn"

// The limits a client can hit, as LimitHit logs them and a LimitObserver
// hears them. Beside them, the table's bounds under their refusal codes:
// CodeServerFull, CodeTooManyRefused, CodeTooManySessions, and a login's
// POST budget's, CodeTooManyPostBytes.
const (
	LimitReadTimeout    = "read-timeout"     // a POST body not read within Config.ReadTimeout (408)
	LimitBodyTooLarge   = "body-too-large"   // a POST body or WebSocket message over its limit (413, 1009)
	LimitWriteTimeout   = "write-timeout"    // a long-polling response not written within Config.WriteTimeout
	LimitSlowClient     = "slow-client"      // a send queue full, in messages or bytes
	LimitTooManyPackets = "too-many-packets" // a POST of more than parser.MaxPackets packets (400)
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
	if o, ok := s.cfg.Observer.(LimitObserver); ok {
		o.LimitHit(s.cfg.Door, limit)
	}
	s.limitLog.Hit(s.log, s.cfg.Door, limit, remote)
}
