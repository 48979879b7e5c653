'use strict'

// Helpers shared by the two protocol suites (node:test ports of the
// upstream mocha suites): the same functions the upstream files define,
// plus the servers' URLs from the environment.

const NodeWebSocket = require('ws')

// A browser's WebSocket dispatches "open" and each message as a task of
// its own, so a test that awaits one of them and then listens for the next
// message never misses it, even when both came in one TCP read (a server's
// first frame in the same read as its 101 response, or two frames). ws
// emits them in the same tick; this WebSocket emits the first at once (so
// events stay in order with other I/O, such as a fetch that completes
// later) and each further one after the microtasks its predecessor queued
// (an awaiting test's continuation) have run. The suites' code is unchanged.
const MICROTASK_HOPS = 16

function afterMicrotasks(fn, hops = MICROTASK_HOPS) {
  if (hops === 0) fn()
  else queueMicrotask(() => afterMicrotasks(fn, hops - 1))
}

class WebSocket extends NodeWebSocket {
  emit(event, ...args) {
    if (event !== 'open' && event !== 'message') return super.emit(event, ...args)
    if (!this._pending) this._pending = []
    this._pending.push([event, args])
    if (!this._busy) this._dispatch()
    return true
  }

  _dispatch() {
    if (this._pending.length === 0) return
    this._busy = true
    const [event, args] = this._pending.shift()
    super.emit(event, ...args)
    afterMicrotasks(() => {
      this._busy = false
      this._dispatch()
    })
  }
}

const URL = process.env.SERVER_URL || 'http://localhost:3000'
const WS_URL = URL.replace('http', 'ws')

// Upstream runs every test against one server that pings every 300 ms, so
// a stall of 300 ms on a loaded machine can put a ping where a test
// expects a payload. Here SERVER_URL may ping rarely (expressbridge's
// pings later than the 2 s each test is allowed), and the tests that need
// the heartbeat name a server of their own (each defaults to SERVER_URL,
// so one server configured as upstream's still runs them all):
// HEARTBEAT_SERVER pings every 300 ms and waits 200 ms for the pong, as
// the handshake tests read and the heartbeat tests check; PING_SERVER
// pings every 300 ms and waits long for the pong, for the tests that
// await a ping and never answer it.
function server(url) {
  return { URL: url, WS_URL: url.replace('http', 'ws') }
}
const HEARTBEAT_SERVER = server(process.env.HEARTBEAT_SERVER_URL || URL)
const PING_SERVER = server(process.env.PING_SERVER_URL || URL)

const PING_INTERVAL = 300
const PING_TIMEOUT = 200

function sleep(delay) {
  return new Promise((resolve) => setTimeout(resolve, delay))
}

function waitFor(socket, eventType) {
  return new Promise((resolve) => {
    socket.addEventListener(eventType, (event) => resolve(event), { once: true })
  })
}

// chai's to.have.all.keys: exactly these keys.
function hasAllKeys(assert, value, keys) {
  assert.deepStrictEqual(Object.keys(value).sort(), [...keys].sort())
}

// chai's eql on an ArrayBuffer received with binaryType "arraybuffer".
function bufferOf(bytes) {
  return Uint8Array.from(bytes).buffer
}

module.exports = { WebSocket, URL, WS_URL, HEARTBEAT_SERVER, PING_SERVER, PING_INTERVAL, PING_TIMEOUT, sleep, waitFor, hasAllKeys, bufferOf }
