package bench

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ReadRSSKB returns VmRSS of process pid, in KiB, from /proc/PID/status.
func ReadRSSKB(pid int) (int64, error) { return ReadStatusKB(pid, "VmRSS") }

// ReadStatusKB returns field (VmRSS, VmHWM, …) of process pid, in KiB,
// from /proc/PID/status.
func ReadStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest)) // "12345", "kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: odd %s line %q", pid, field, line)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s line", pid, field)
}

// Plateau is the RSS of a server holding a number of connections.
type Plateau struct {
	Conns   int     `json:"conns"`
	RSSKB   int64   `json:"rss_kb"`  // median of Samples
	Samples []int64 `json:"samples"` // KiB
}

// SettledRSS waits settle, then takes n samples of pid's RSS gap apart and
// returns them with their median.
func SettledRSS(pid int, settle time.Duration, n int, gap time.Duration) (median int64, samples []int64, err error) {
	time.Sleep(settle)
	for i := range n {
		if i > 0 {
			time.Sleep(gap)
		}
		kb, err := ReadRSSKB(pid)
		if err != nil {
			return 0, samples, err
		}
		samples = append(samples, kb)
	}
	return Median(samples), samples, nil
}

// Median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none. xs is not modified.
func Median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Slope returns the RSS per connection, in KiB, between two plateaus: the
// growth from lo to hi divided by the connections added, so that whatever
// the process held before lo (code, heaps, garbage of earlier work) cancels
// out. It fails unless hi holds more connections than lo.
func Slope(lo, hi Plateau) (float64, error) {
	if hi.Conns <= lo.Conns {
		return 0, fmt.Errorf("slope: the high plateau holds %d connections, not more than the low one's %d", hi.Conns, lo.Conns)
	}
	return float64(hi.RSSKB-lo.RSSKB) / float64(hi.Conns-lo.Conns), nil
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux ABI Go supports.
const clockTick = 100

// CPU is a process's CPU time so far.
type CPU struct{ User, Sys time.Duration }

// Total is User+Sys.
func (c CPU) Total() time.Duration { return c.User + c.Sys }

// Sub returns c−d.
func (c CPU) Sub(d CPU) CPU { return CPU{c.User - d.User, c.Sys - d.Sys} }

// CPUTime returns the user and system CPU time process pid has used, from
// /proc/PID/stat (resolution 10 ms).
func CPUTime(pid int) (CPU, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPU{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return CPU{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return CPU{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return CPU{}, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return CPU{time.Duration(utime) * time.Second / clockTick, time.Duration(stime) * time.Second / clockTick}, nil
}

// SelfCPUTime returns the CPU time of this process (getrusage).
func SelfCPUTime() CPU {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return CPU{}
	}
	return CPU{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// RaiseFileLimit sets this process's RLIMIT_NOFILE soft limit to at least
// want (raising the hard limit too when allowed, as root). Because it calls
// syscall.Setrlimit, processes started afterwards inherit the new limit
// (Go otherwise restores the original soft limit in children). It returns
// the soft limit now in force, and an error when it is below want.
func RaiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	nl := lim
	if nl.Max < want {
		nl.Max = want
	}
	nl.Cur = max(nl.Cur, want)
	err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl)
	if err == nil {
		return nl.Cur, nil
	}
	// Not allowed to raise the hard limit: go as far as it allows.
	nl = lim
	nl.Cur = max(lim.Cur, min(want, lim.Max))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl); err != nil {
		return lim.Cur, err
	}
	return nl.Cur, fmt.Errorf("the hard limit is %d and raising it failed (%v)", lim.Max, err)
}

// MachineCPU is the first line of /proc/stat, in clock ticks.
type MachineCPU struct {
	Total, Idle, IOWait, SoftIRQ, Steal uint64
}

// ReadMachineCPU reads the machine-wide CPU counters.
func ReadMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}, fmt.Errorf("/proc/stat: odd first line %q", line)
	}
	var v [8]uint64 // user nice system idle iowait irq softirq steal
	var m MachineCPU
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return MachineCPU{}, fmt.Errorf("/proc/stat: %v", err)
		}
		v[i] = n
		m.Total += n
	}
	m.Idle, m.IOWait, m.SoftIRQ, m.Steal = v[3], v[4], v[6], v[7]
	return m, nil
}

// busySince is the time the machine's CPUs were not idle between earlier and m.
func (m MachineCPU) busySince(earlier MachineCPU) time.Duration {
	busy := (m.Total - m.Idle - m.IOWait) - (earlier.Total - earlier.Idle - earlier.IOWait)
	return time.Duration(busy) * time.Second / clockTick
}

// Contention is how busy the machine was during a phase, in cores
// (CPU-seconds per second): all of it, the benchmark's own processes
// (server, load generator, redis), softirq (mostly the loopback traffic's
// packet processing, charged to no process) and the rest: other processes
// on this shared machine, which disturb the figures.
type Contention struct {
	BusyCores    float64 `json:"busy_cores"`
	BenchCores   float64 `json:"bench_cores"`
	SoftIRQCores float64 `json:"softirq_cores"`
	OtherCores   float64 `json:"other_cores"`
	StealCores   float64 `json:"steal_cores"`
}

func contention(before, after MachineCPU, wall, bench time.Duration) Contention {
	if wall <= 0 {
		return Contention{}
	}
	cores := func(d time.Duration) float64 { return round(Num(d.Seconds()/wall.Seconds()), 2).f() }
	ticks := func(n uint64) time.Duration { return time.Duration(n) * time.Second / clockTick }
	busy := after.busySince(before)
	soft := ticks(after.SoftIRQ - before.SoftIRQ)
	return Contention{
		BusyCores:    cores(busy),
		BenchCores:   cores(bench),
		SoftIRQCores: cores(soft),
		OtherCores:   cores(max(0, busy-bench-soft)),
		StealCores:   cores(ticks(after.Steal - before.Steal)),
	}
}

// WaitQuiet waits, up to limit, until the machine has been nearly idle
// (less than threshold cores busy) for one second, and returns the busy
// cores of the last second sampled and how long it waited. It is called
// while the benchmark's own processes are idle.
func WaitQuiet(limit time.Duration, threshold float64) (busy float64, waited time.Duration) {
	start := time.Now()
	for {
		a, err := ReadMachineCPU()
		if err != nil {
			return 0, 0
		}
		t0 := time.Now()
		time.Sleep(time.Second)
		b, err := ReadMachineCPU()
		if err != nil {
			return 0, 0
		}
		busy = b.busySince(a).Seconds() / time.Since(t0).Seconds()
		if busy < threshold || time.Since(start) >= limit {
			return round(Num(busy), 2).f(), time.Since(start)
		}
	}
}
