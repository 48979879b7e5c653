// Package defaults holds the one rule every Config of the module follows:
// a zero field takes the documented default.
package defaults

// Set sets *p to def when *p is the zero value.
func Set[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
