package redisstore_test

import (
	"strings"
	"testing"

	"github.com/expressbridge/expressbridge/connectsid/redisstore"
)

// TestOpenURLHidesPassword: a URL that does not parse is refused with a
// reason, never with the URL and its password.
func TestOpenURLHidesPassword(t *testing.T) {
	for _, u := range []string{
		"redis://user:s3cret-pw@127.0.0.1:6379/%zz",
		"redis+cluster://user:s3cret-pw@127.0.0.1:6379/%zz",
		"redis://user:s3cret-pw@127.0.0.1:26379/%zz?master_name=m",
		"redis://user:s3cret-pw@[::1:6379/0",
	} {
		_, err := redisstore.OpenURL(u)
		if err == nil {
			t.Errorf("OpenURL(%s) accepted a broken URL", redisstore.Redact(u))
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("OpenURL's error shows the password: %v", err)
		}
	}
}
