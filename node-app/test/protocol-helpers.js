'use strict'

// Helpers shared by the two protocol suites (node:test ports of the
// upstream mocha suites): the same functions the upstream files define,
// plus the server URL from the environment.

const NodeWebSocket = require('ws')

// A browser's WebSocket dispatches each message as its own task, so a test
// that awaits one message and then listens for the next never misses the
// next, even when both came in one TCP read. ws emits all the messages of
// one read in the same tick; this WebSocket emits the first at once (so
// messages stay in order with other I/O, such as a fetch that completes
// later) and each further one after the microtasks its predecessor queued
// (an awaiting test's continuation) have run. The suites' code is unchanged.
const MICROTASK_HOPS = 16

function afterMicrotasks(fn, hops = MICROTASK_HOPS) {
  if (hops === 0) fn()
  else queueMicrotask(() => afterMicrotasks(fn, hops - 1))
}

class WebSocket extends NodeWebSocket {
  emit(event, ...args) {
    if (event !== 'message') return super.emit(event, ...args)
    if (!this._pending) this._pending = []
    this._pending.push(args)
    if (!this._busy) this._dispatch()
    return true
  }

  _dispatch() {
    if (this._pending.length === 0) return
    this._busy = true
    super.emit('message', ...this._pending.shift())
    afterMicrotasks(() => {
      this._busy = false
      this._dispatch()
    })
  }
}

const URL = process.env.SERVER_URL || 'http://localhost:3000'
const WS_URL = URL.replace('http', 'ws')

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

module.exports = { WebSocket, URL, WS_URL, PING_INTERVAL, PING_TIMEOUT, sleep, waitFor, hasAllKeys, bufferOf }
