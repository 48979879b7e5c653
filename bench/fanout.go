package bench

import "time"

// The fan-out run: N idle authenticated connections on one server, one
// of them says something, the server broadcasts it to all N (itself
// included); repeated. It measures delivered messages per second and the
// server's CPU per delivered message, and the same for the floor (ebload
// floor: the same frame written to the same number of sockets by a bare
// loop of write(2) calls). The connections are held by the raw client
// (raw_linux.go): Linux only.

// fanoutText is what the trigger says: 64 characters, a chat line.
const fanoutText = "fan-out benchmark line, sixty-four characters long, as chat is.."

// fanoutWait bounds one broadcast's delivery to every connection.
const fanoutWait = 20 * time.Second

// FanoutRound is one run of broadcasts.
type FanoutRound struct {
	Broadcasts  int     `json:"broadcasts"`
	Delivered   int64   `json:"delivered"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"delivered_per_sec"`
	CPUMicros   float64 `json:"server_cpu_us_per_msg"`
	SysMicros   float64 `json:"server_kernel_us_per_msg"`
	LoadMicros  float64 `json:"loadgen_cpu_us_per_msg"`
	Missing     int64   `json:"missing,omitempty"` // messages not delivered within the wait
	OtherCores  float64 `json:"other_cores"`
	TimedOutMsg string  `json:"timed_out,omitempty"`
}

// FanoutResult is one server's fan-out: the round with the median server
// CPU per delivered message, and all rounds.
type FanoutResult struct {
	Key          string        `json:"key"`
	Name         string        `json:"name"`
	Conns        int           `json:"conns"`
	OpenFailures Failures      `json:"open_failures"`
	OpenSeconds  float64       `json:"open_seconds"`
	FanoutRound                // the median round
	Rounds       []FanoutRound `json:"rounds"`
	Error        string        `json:"error,omitempty"`
}

// FloorKey is the fan-out floor's key in the results.
const FloorKey = "floor"
