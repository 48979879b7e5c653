'use strict'

// The payload that must cross a mixed fleet exactly (adapter-traffic.js's
// golden messages, adapter-peer.js's "emitExact"): keys out of alphabetical
// order (and array-index keys, which JavaScript enumerates first), integers
// beyond 2^53, 2^63 and 2^64 (notepack.io wraps the last), floats, -0.

const TEXT =
  '{"order":1,"text":"hi ✓","from":"a","2":"two","1":"one","nested":{"z":[3,{"y":-0,"x":0.1}],"a":null},' +
  '"big":9007199254740993,"bigger":12345678901234567890,"huge":123456789012345678901234567890,' +
  '"negbig":-9223372036854775809,"floats":[1.5,-2.25,1e-7,5e-324,-1e-300,123.456],"ints":[4294967296,-2147483649,255,-33]}'

// exactJSON is the payload as JSON.parse gives it from a client's packet.
function exactJSON() {
  return JSON.parse(TEXT)
}

// exact is exactJSON with Buffers nested in an object and an array, and a
// Date.
function exact() {
  const v = exactJSON()
  v.bin = { inner: [Buffer.from([1, 2]), { deep: Buffer.from([]) }] }
  v.when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))
  return v
}

module.exports = { TEXT, exactJSON, exact }
