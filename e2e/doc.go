// Package e2e holds the end-to-end tests that run the whole demo: Redis, the
// unmodified Express app (node-app), the Go bridge, and Debian's headless
// Chromium driven by playwright-core (node-app/scripts/browser-test.js).
// It has no code of its own; see browser_test.go.
package e2e
