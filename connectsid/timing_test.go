package connectsid

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Unsign compares signatures with subtle.ConstantTimeCompare (key.verify),
// so how long it takes must not depend on where a forged mac goes wrong:
// otherwise an attacker could guess a valid mac byte by byte.

const (
	// Each round times timingBatch calls of each kind back to back, the
	// two kinds in alternating order, so that drift and load fall on both
	// alike. A batch is short (well under a scheduler time slice even under
	// -race), so most pairs run undisturbed.
	timingRounds = 1001
	timingBatch  = 20
	// timingTolerance bounds the median, over the rounds, of the ratio of
	// the pair's times: 1 when the two take the same time. Paired ratios
	// and their median shrug off the rounds a busy machine disturbs, where
	// the medians of the two kinds, each on its own, can be far apart on a
	// loaded 2-core machine. Seen with -race and two CPU hogs: under 3%.
	timingTolerance = 0.10
	// signSigmas bounds the rank check: in how many rounds the first-byte
	// forgery was the slower one. With no difference that count is
	// Binomial(timingRounds, ½); six standard deviations off means a
	// consistent difference, however small, that noise does not explain.
	signSigmas = 6
)

// TestUnsignTimeDoesNotDependOnWhereTheMacIsWrong times Unsign of two
// forgeries of a real mac, one wrong in its first byte and one in its last,
// in many interleaved rounds, and checks that their paired times agree in
// median (within timingTolerance) and in rank (neither is consistently the
// slower). A control shows the same measurement does tell apart a refusal
// that skips the HMAC.
func TestUnsignTimeDoesNotDependOnWhereTheMacIsWrong(t *testing.T) {
	v := mustVerifier(t, "timing secret")
	good := v.SignRaw(testSID)
	dot := strings.LastIndexByte(good, '.') + 1
	// Both forgeries sit at the start of a buffer of their own (equal
	// alignment) and differ from the real mac in one byte: the first or
	// the last.
	firstWrong := sameAlignment(good[:dot] + flip(good[dot]) + good[dot+1:])
	lastWrong := sameAlignment(good[:len(good)-1] + flip(good[len(good)-1]))
	for _, f := range []string{firstWrong, lastWrong} {
		if _, _, err := v.Unsign(f); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Unsign(forgery) = %v, want ErrBadSignature", err)
		}
	}

	first, last := timeRounds(v, firstWrong, lastWrong)
	ratio := median(ratios(first, last))
	firstSlower := 0
	for i := range first {
		if first[i] > last[i] {
			firstSlower++
		}
	}
	t.Logf("%d rounds × %d calls: first byte wrong %.0f ns, last byte wrong %.0f ns (medians); "+
		"median ratio %.3f (tolerance ±%.0f%%); first slower in %d of %d rounds",
		timingRounds, timingBatch, median(first), median(last), ratio, 100*timingTolerance, firstSlower, timingRounds)
	if math.Abs(ratio-1) > timingTolerance {
		t.Errorf("Unsign's time depends on where the mac is wrong: first/last = %.3f", ratio)
	}
	if sd := math.Sqrt(timingRounds) / 2; math.Abs(float64(firstSlower)-timingRounds/2.0) > signSigmas*sd {
		t.Errorf("the first-byte forgery was slower in %d of %d rounds: a consistent difference (more than %d σ from half)",
			firstSlower, timingRounds, signSigmas)
	}

	// Control: a mac of the wrong length is refused before any HMAC is
	// computed; the same measurement must see that difference.
	f, short := timeRounds(v, firstWrong, sameAlignment(good[:len(good)-1]))
	control := median(ratios(short, f))
	t.Logf("control: a mac of the wrong length takes %.2f× the time of a forged one", control)
	if control > 1-3*timingTolerance {
		t.Errorf("the measurement cannot tell a refusal without HMAC from one with: ratio %.2f", control)
	}
}

// timeRounds returns, for each round, the mean time of one Unsign of a and
// of b, in ns.
func timeRounds(v *Verifier, a, b string) (ta, tb []float64) {
	ta = make([]float64, timingRounds)
	tb = make([]float64, timingRounds)
	batch := func(s string) float64 {
		start := time.Now()
		for range timingBatch {
			v.Unsign(s)
		}
		return float64(time.Since(start).Nanoseconds()) / timingBatch
	}
	batch(a) // warm the pools and caches
	batch(b)
	for r := range timingRounds {
		if r%2 == 0 {
			ta[r] = batch(a)
			tb[r] = batch(b)
		} else {
			tb[r] = batch(b)
			ta[r] = batch(a)
		}
	}
	return ta, tb
}

// ratios returns a[i]/b[i].
func ratios(a, b []float64) []float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return r
}

// sameAlignment copies s to the start of a fresh 256-byte buffer, so that
// every string it returns has the same alignment.
func sameAlignment(s string) string {
	buf := make([]byte, 256)
	n := copy(buf, s)
	return unsafe.String(&buf[0], n)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
