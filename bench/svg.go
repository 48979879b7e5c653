package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"strings"
)

// barColors are the bar colours of servers a, b and c (and on, cycled).
var barColors = []string{"#00add8", "#8e5ea2", "#5fa04e", "#d4a017"}

// shortNames label the bars.
var shortNames = map[string]string{"a": "Go bridge", "b": "Socket.IO", "c": "ws"}

// SVG draws the results as three bar charts side by side (server CPU per
// handshake, p99 ms or, with a fan-out run, the fan-out's server CPU per
// delivered message, RSS per idle connection in KB), one bar per server, each labelled
// with its value and its ratio to the Go bridge. It is plain SVG 1.1, no
// scripts, no external resources.
func (r *Results) SVG() []byte {
	const (
		width, height = 960, 410
		panelW        = 300
		plotTop       = 104
		plotH         = 220
		barW          = 58
	)
	var servers []ServerResult
	for _, s := range r.Servers {
		if s.Error == "" {
			servers = append(servers, s)
		}
	}
	type metric struct {
		title, better string
		prec          int
		value         func(ServerResult) float64
		ratio         func(*Ratios) Num
		floor         float64 // drawn as a dashed line when positive
	}
	metrics := []metric{
		{"server CPU µs per handshake", "lower is better", 0,
			func(s ServerResult) float64 { return s.CPUMicros }, func(r *Ratios) Num { return r.CPUPerHandshake }, 0},
		{"p99 latency, ms (connect → hello)", "lower is better", 1,
			func(s ServerResult) float64 { return s.P99Ms }, func(r *Ratios) Num { return r.P99 }, 0},
		{"RSS per idle connection, KB", "lower is better", 1,
			func(s ServerResult) float64 { return s.RSSPerConnKB }, func(r *Ratios) Num { return r.RSSPerConn }, 0},
	}
	// With a fan-out run, its server CPU per delivered message replaces the
	// p99 (which, like the rate, the shared machine sets more than the
	// server), with the floor drawn as a line.
	if r.fanoutByKey("a") != nil {
		var floor float64
		if f := r.fanoutByKey(FloorKey); f != nil {
			floor = f.CPUMicros
		}
		metrics[1] = metric{fmt.Sprintf("fan-out to %d: server CPU µs per message", r.Config.FanoutConns), "lower is better; dashed: the bare write(2) floor", 1,
			func(s ServerResult) float64 {
				if f := r.fanoutByKey(s.Key); f != nil {
					return f.CPUMicros
				}
				return 0
			}, func(r *Ratios) Num { return r.FanoutCPUPerMsg }, floor}
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	c := r.Config
	text(&b, width/2, 26, 17, "middle", "bold", "#222",
		"Authenticated WebSocket handshakes: expressbridge (Go) vs Node peers")
	text(&b, width/2, 46, 12, "middle", "normal", "#555", fmt.Sprintf(
		"%d handshakes at %d concurrent after %d warm-up (median of %d rounds), %d sessions, one Redis; RSS slope %d→%d idle connections; %d CPUs",
		c.Handshakes, c.Concurrency, c.Warmup, max(c.Rounds, 1), c.Sessions, c.Hold/3, c.Hold, r.Machine.CPUs))

	for i, m := range metrics {
		x0 := 20 + i*(panelW+13)
		text(&b, x0+panelW/2, plotTop-28, 14, "middle", "bold", "#222", m.title)
		text(&b, x0+panelW/2, plotTop-12, 11, "middle", "normal", "#777", m.better)
		top := 0.0
		for _, s := range servers {
			top = max(top, m.value(s))
		}
		if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
			top = 1
		}
		top = max(top, m.floor) * 1.18 // room for the labels
		base := plotTop + plotH
		if m.floor > 0 {
			y := float64(base) - m.floor/top*plotH
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"><title>%s</title></line>`+"\n",
				x0, y, x0+panelW, y, esc(fmt.Sprintf("floor: bare write(2) loop, %.1f µs per message", m.floor)))
			text(&b, x0+panelW-2, int(y)-4, 10, "end", "normal", "#c0392b", fmt.Sprintf("floor %.1f", m.floor))
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999" stroke-width="1"/>`+"\n", x0, base, x0+panelW, base)
		n := max(len(servers), 1)
		slot := panelW / n
		for j, s := range servers {
			v := m.value(s)
			h := 0.0
			if v > 0 && !math.IsInf(v, 0) {
				h = v / top * plotH
			}
			cx := x0 + slot*j + slot/2
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
				cx-barW/2, float64(base)-h, barW, h, barColors[j%len(barColors)],
				esc(fmt.Sprintf("(%s) %s: %.*f", s.Key, s.Name, m.prec, v)))
			label := fmt.Sprintf("%.*f", m.prec, v)
			text(&b, cx, int(float64(base)-h)-18, 12, "middle", "bold", "#222", label)
			if s.RatioToGo != nil {
				text(&b, cx, int(float64(base)-h)-5, 10, "middle", "normal", "#555", fmtRatio(m.ratio(s.RatioToGo))+" Go's")
			}
			name := shortNames[s.Key]
			if name == "" {
				name = s.Name
			}
			text(&b, cx, base+17, 12, "middle", "normal", "#222", "("+s.Key+") "+name)
		}
	}
	// Legend.
	ly := height - 38
	for j, s := range servers {
		lx := 40 + j*300
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", lx, ly-10, barColors[j%len(barColors)])
		text(&b, lx+18, ly, 12, "start", "normal", "#333", "("+s.Key+") "+s.Name)
	}
	text(&b, width/2, height-12, 10, "middle", "normal", "#777", "generated by cmd/ebload (scripts/bench-peers.sh), "+r.Generated)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func text(b *strings.Builder, x, y, size int, anchor, weight, fill, s string) {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="%d" text-anchor="%s" font-weight="%s" fill="%s">%s</text>`+"\n",
		x, y, size, anchor, weight, fill, esc(s))
}

func esc(s string) string {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(s))
	return buf.String()
}

// WriteSVG writes SVG() to path.
func (r *Results) WriteSVG(path string) error {
	return os.WriteFile(path, r.SVG(), 0o644)
}
