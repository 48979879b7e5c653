package testenv

import (
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a started child process that leads its own process group.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
	err  error         // cmd.Wait's result; read only after done is closed
}

// startProc starts cmd in a new process group (with the parent-death signal
// on Linux), as the user of cmd.SysProcAttr.Credential when set, and reaps
// it in the background.
func startProc(cmd *exec.Cmd) (*proc, error) {
	attr := sysProcAttr()
	if cmd.SysProcAttr != nil {
		attr.Credential = cmd.SysProcAttr.Credential // a caller's user switch (private PostgreSQL as root) survives
	}
	cmd.SysProcAttr = attr
	cmd.WaitDelay = 2 * time.Second // do not hang on pipes held by stray grandchildren
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited and been reaped.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process group unless the leader is already reaped
// (its id may then belong to someone else).
func (p *proc) signal(sig syscall.Signal) {
	if !p.exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// stop sends sig and waits up to grace for the exit; if the process is still
// running it is SIGKILLed and waited for. It reports whether the process
// exited within grace (always true for SIGKILL).
func (p *proc) stop(sig syscall.Signal, grace time.Duration) bool {
	if sig != syscall.SIGKILL {
		p.signal(sig)
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.done:
			return true
		case <-timer.C:
		}
	}
	p.signal(syscall.SIGKILL)
	<-p.done
	return sig == syscall.SIGKILL
}

// maxLogLines is how many complete output lines a lineLog keeps.
const maxLogLines = 500

// lineLog collects the output of a child process as lines, keeping the last
// maxLogLines. Its writers are safe for concurrent use.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

// writer returns an io.Writer feeding l; onLine, when non-nil, is called
// (under l's lock, so it must be quick) with every complete line written.
func (l *lineLog) writer(onLine func(string)) *lineWriter {
	return &lineWriter{log: l, onLine: onLine}
}

// tail returns the last n lines, newline-joined, including unterminated ones.
func (l *lineLog) tail(n int, partial ...*lineWriter) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := append([]string(nil), l.lines...)
	for _, w := range partial {
		if w.buf != "" {
			lines = append(lines, w.buf)
		}
	}
	return strings.Join(lastLines(lines, n), "\n")
}

// lineWriter is one stream (stdout or stderr) feeding a lineLog.
type lineWriter struct {
	log    *lineLog
	onLine func(string)
	buf    string // unterminated tail of what was written; guarded by log.mu
}

// Write implements io.Writer.
func (w *lineWriter) Write(b []byte) (int, error) {
	w.log.mu.Lock()
	defer w.log.mu.Unlock()
	w.buf += string(b)
	for {
		i := strings.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSuffix(w.buf[:i], "\r")
		w.buf = w.buf[i+1:]
		w.log.lines = append(w.log.lines, line)
		if len(w.log.lines) > maxLogLines {
			w.log.lines = w.log.lines[len(w.log.lines)-maxLogLines:]
		}
		if w.onLine != nil {
			w.onLine(line)
		}
	}
	return len(b), nil
}

// lastLines returns the last n elements of lines.
func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
