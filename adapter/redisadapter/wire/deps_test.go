package wire_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoServerPackage: the codec depends on the standard library,
// MessagePack and at most the pure Socket.IO packet codec; never on a
// server package of this module (socketio, bridge, engineio, auth, …) nor
// on a Redis client. go list walks every dependency, direct or not.
func TestImportsNoServerPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/expressbridge/expressbridge/adapter/redisadapter/wire", // itself
		"github.com/expressbridge/expressbridge/socketio/parser",           // a codec, no I/O
		"github.com/vmihailenco/msgpack/v5",
		"github.com/vmihailenco/tagparser/v2", // msgpack's
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list listed no package")
	}
	for _, dep := range deps {
		ok := false
		for _, a := range allowed {
			ok = ok || dep == a || strings.HasPrefix(dep, a+"/")
		}
		if !ok {
			t.Errorf("the wire package depends on %s", dep)
		}
	}
}
