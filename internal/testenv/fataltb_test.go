package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fatalTB is a testing.TB that records Fatal messages instead of failing the
// real test, so failure paths can be checked. Everything else goes to the
// embedded real TB.
type fatalTB struct {
	testing.TB
	mu       sync.Mutex
	msgs     []string
	cleanups []func()
}

func (f *fatalTB) Helper()                        {}
func (f *fatalTB) Cleanup(fn func())              { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fatalTB) Fatal(args ...any)              { f.fail(fmt.Sprint(args...)) }
func (f *fatalTB) Fatalf(format string, a ...any) { f.fail(fmt.Sprintf(format, a...)) }
func (f *fatalTB) Error(args ...any)              { f.record(fmt.Sprint(args...)) }
func (f *fatalTB) Errorf(format string, a ...any) { f.record(fmt.Sprintf(format, a...)) }
func (f *fatalTB) Failed() bool                   { f.mu.Lock(); defer f.mu.Unlock(); return len(f.msgs) > 0 }
func (f *fatalTB) record(msg string)              { f.mu.Lock(); f.msgs = append(f.msgs, msg); f.mu.Unlock() }
func (f *fatalTB) fail(msg string)                { f.record(msg); runtime.Goexit() }

// fatalMessage runs fn with a fatalTB, runs its cleanups, and returns what
// it reported; the real test fails if fn reported nothing.
func fatalMessage(t *testing.T, fn func(testing.TB)) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	if len(f.msgs) == 0 {
		t.Fatal("expected a test failure, got none")
	}
	return strings.Join(f.msgs, "\n")
}
