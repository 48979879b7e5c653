//go:build !race

package connectsid

const raceEnabled = false
