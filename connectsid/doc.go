// Package connectsid reads and writes what an Express app using
// express-session puts in a browser and in its session store: the Cookie
// header (parsed as the npm cookie package 0.7 parses it), the signed
// connect.sid value (verified and signed as cookie-signature 1.0 does it),
// and the session record (the JSON that connect-redis stores).
//
// The package does no I/O. Stores live in sub-packages (see redisstore).
//
// Every rule here is checked against the real npm packages by vectors in
// testdata/ that node-app/scripts/gen-vectors.js writes.
package connectsid
