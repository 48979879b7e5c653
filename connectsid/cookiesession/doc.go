// Package cookiesession reads and writes the sessions of an Express app
// that uses cookie-session 2 (expressjs/cookie-session, with keygrip 1 and
// cookies 0.9): there the cookie is the session. The session cookie (named
// "session" by default) holds base64 of JSON.stringify(req.session), and
// the cookie beside it, "session.sig", holds keygrip's HMAC of
// "session=<value>" (SHA-1 unless the app passes new Keygrip(keys, alg)),
// in URL-safe base64 without padding. The app's keys are the secrets: the
// first signs, any verifies.
//
// A Codec finds both cookies in a Cookie header as the cookies package
// finds them, verifies the signature with each key in turn, and decodes the
// session as cookie-session does, into a connectsid.Session whose fields
// are the app's (it has no cookie object). The session's ID is not the
// app's: cookie-session has none. ID is a hash of the cookie's value,
// stable while the session does not change, so that the bridge's
// connection tracking has a name for it; it names nothing on any server.
//
// There is no store: nothing to look up, nothing to revoke. A logout
// (req.session = null) clears the browser's cookie and is seen at the next
// handshake; a copy of the old cookie still verifies until the keys
// change. The store conformance suite (connectsid/storetest) therefore
// does not apply as a whole: its Get, Set, Touch, Destroy, TTL and
// revocation cases have nothing to run on. What is checked instead is what
// cookie-session does with a cookie: the golden vectors in testdata/ (made
// by node-app/scripts/gen-cookiesession-vectors.js with the real npm
// packages) for signing with each algorithm, key rotation, the cookies
// package's header parsing and cookie-session's decoding, FuzzFromHeader
// for every header, and the real Express app's logins through both doors
// (cmd/expressbridge's cookie-session tests).
//
// Every rule here is checked against the real npm packages.
package cookiesession
