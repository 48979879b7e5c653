package bridge

import (
	"net/http"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/wsconn"
)

// Close codes of the explain mode and of sessions that end: the HTTP
// status a browser cannot read, carried in the 4000 range.
const (
	CloseUnauthorized = wsconn.CloseUnauthorized
	CloseForbidden    = wsconn.CloseForbidden
	CloseUnavailable  = wsconn.CloseUnavailable
)

// CloseCode is the WebSocket close code that stands for a refusal's status
// in explain mode.
func CloseCode(r *auth.Refusal) int {
	switch r.Status {
	case http.StatusForbidden:
		return CloseForbidden
	case http.StatusServiceUnavailable:
		return CloseUnavailable
	}
	return CloseUnauthorized
}
