package connectsid

import (
	"encoding/json"
	"fmt"
)

// DecodeFields decodes a session that is a plain JSON object of the app's
// fields, with no cookie object: cookie-session's, whose cookie is the
// session. Every member is an app field, "cookie" included; members for
// which drop reports true are left out, as the session's own package
// leaves them out when it loads one. It fails with ErrMalformedSession,
// naming a redacted sid, when record is not a JSON object. The Session
// refers to record's memory. It has no cookie.expires: it never expires
// by Expired, and its Encode is the fields alone.
func DecodeFields(sid, record string, drop func(key string) bool) (*Session, error) {
	if !json.Valid(bytesOf(record)) {
		return nil, fmt.Errorf("%w (sid %s): not valid JSON", ErrMalformedSession, Redact(sid))
	}
	members, err := splitObject(record)
	if err != nil {
		return nil, fmt.Errorf("%w (sid %s): %v", ErrMalformedSession, Redact(sid), err)
	}
	if drop != nil {
		kept := members[:0]
		for _, m := range members {
			if !drop(m.key) {
				kept = append(kept, m)
			}
		}
		members = kept
	}
	return &Session{id: sid, members: members, fieldsOnly: true}, nil
}
