//go:build linux

package bench

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StartFloor runs `ebload floor` (this executable) on 127.0.0.1:port.
func StartFloor(port int, sh Shared) (*Proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "floor", "-listen", "127.0.0.1:"+strconv.Itoa(port))
	return sh.start("floor", "ebload floor", cmd, func(line string) bool { return strings.HasPrefix(line, "listening on ") }, startTimeout)
}

// runFanout measures one server's fan-out on a fresh process of it.
func runFanout(o Options, spec ServerSpec, sh Shared, appDir string, sessions []Session, logf func(string, ...any)) (fr FanoutResult) {
	fr = FanoutResult{Key: spec.Key, Name: spec.Name, Conns: o.FanoutConns}
	if spec.Key == FloorKey {
		fr.Name = "floor: bare write(2) loop"
	}
	port, err := FreePort()
	var p *Proc
	if err == nil {
		switch {
		case spec.Key == FloorKey:
			p, err = StartFloor(port, sh)
		case spec.Script == "":
			p, err = StartBridge(o.bridgeBin(spec), port, sh)
		default:
			p, err = StartNode(o.Node, appDir, spec.Script, port, sh)
		}
	}
	if err != nil {
		fr.Error = err.Error()
		return fr
	}
	defer p.Stop(stopGrace)
	proto := spec.Proto
	if spec.Key == FloorKey {
		proto = Bare
	}
	pool, err := NewRawPool(port, spec.Path, proto, nil)
	if err != nil {
		fr.Error = err.Error()
		return fr
	}
	defer pool.Close()
	t0 := time.Now()
	fails, aborted := pool.Open(sessions, 0, o.FanoutConns, o.Concurrency, o.PhaseLimit)
	fr.OpenSeconds = round(Num(time.Since(t0).Seconds()), 1).f()
	fr.OpenFailures = fails
	n := pool.Len()
	logf("(%s) fan-out: %d connections open in %.1f s, %d failed", spec.Key, n, fr.OpenSeconds, fails.Total)
	if aborted || n == 0 {
		fr.Error = fmt.Sprintf("opened %d of %d connections within %v", n, o.FanoutConns, o.PhaseLimit)
		return fr
	}
	time.Sleep(o.Settle) // let the opening's garbage and timers settle

	var trigger []byte
	switch {
	case spec.Key == FloorKey:
		trigger = []byte(`{"type":"said","user":"` + sessions[0].User + `","text":"` + fanoutText + `"}`)
	case proto == SocketIO:
		trigger = []byte(`42["say","` + fanoutText + `"]`)
	default:
		trigger = []byte(`{"type":"say","text":"` + fanoutText + `"}`)
	}
	quietLeft := o.QuietWait
	for r := range max(o.Rounds, 1) {
		if quietLeft > 0 {
			_, waited := WaitQuiet(quietLeft, o.QuietCores)
			quietLeft -= waited
		}
		rd := fanoutRound(pool, p.PID(), trigger, int64(n), o.FanoutBroadcasts)
		fr.Rounds = append(fr.Rounds, rd)
		logf("(%s) fan-out round %d: %d broadcasts to %d: %d delivered in %.2f s (%.0f/s); server CPU %.2f µs/msg (kernel %.2f), loadgen %.2f; other processes %.2f cores%s",
			spec.Key, r+1, rd.Broadcasts, n, rd.Delivered, rd.Seconds, rd.PerSecond, rd.CPUMicros, rd.SysMicros, rd.LoadMicros, rd.OtherCores, rd.TimedOutMsg)
		if p.Exited() {
			fr.Error = fmt.Sprintf("the server exited (%v)\n%s", p.ExitErr(), p.Tail(20))
			return fr
		}
	}
	order := slices.Clone(fr.Rounds)
	slices.SortStableFunc(order, func(a, b FanoutRound) int { return cmp.Compare(a.CPUMicros, b.CPUMicros) })
	fr.FanoutRound = order[(len(order)-1)/2]
	return fr
}

// fanoutRound sends k broadcasts one after another, each once the previous
// one has reached every connection, and reads the CPU counters around them.
func fanoutRound(pool *RawPool, pid int, trigger []byte, n int64, k int) FanoutRound {
	rd := FanoutRound{Broadcasts: k}
	s0, _ := CPUTime(pid)
	l0 := SelfCPUTime()
	m0, _ := ReadMachineCPU()
	d0 := pool.Delivered()
	t0 := time.Now()
	for i := range k {
		want := d0 + int64(i+1)*n
		if err := pool.Send(trigger); err != nil {
			rd.TimedOutMsg = "; sending the trigger: " + err.Error()
			break
		}
		deadline := time.Now().Add(fanoutWait)
		for pool.Delivered() < want && time.Now().Before(deadline) {
			time.Sleep(200 * time.Microsecond)
		}
		if pool.Delivered() < want {
			rd.TimedOutMsg = fmt.Sprintf("; broadcast %d reached %d of %d within %v", i+1, pool.Delivered()-want+n, n, fanoutWait)
			break
		}
	}
	wall := time.Since(t0)
	m1, _ := ReadMachineCPU()
	s1, _ := CPUTime(pid)
	l1 := SelfCPUTime()
	rd.Delivered = pool.Delivered() - d0
	rd.Missing = int64(k)*n - rd.Delivered
	rd.Seconds = round(Num(wall.Seconds()), 3).f()
	sv, lg := s1.Sub(s0), l1.Sub(l0)
	rd.OtherCores = round(Num(contention(m0, m1, wall, sv.Total()+lg.Total()).OtherCores), 2).f()
	if rd.Delivered > 0 {
		per := func(d time.Duration) float64 {
			return round(Num(float64(d.Nanoseconds())/1e3/float64(rd.Delivered)), 3).f()
		}
		rd.CPUMicros, rd.SysMicros, rd.LoadMicros = per(sv.Total()), per(sv.Sys), per(lg.Total())
		rd.PerSecond = round(Num(float64(rd.Delivered)/wall.Seconds()), 0).f()
	}
	return rd
}
