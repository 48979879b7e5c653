#!/usr/bin/env node
'use strict'

// One user cannot push others off the Go bridge's Socket.IO door: driven
// with the real socket.io-client (pinned in package-lock.json) after
// logging in through the real Express app. The Go test
// socketio/ratelimit_test.go starts everything and runs:
//
//   APP_URL=http://127.0.0.1:3000 BRIDGE_URL=http://127.0.0.1:8081 \
//     node test/socketio-burst.js SCENARIO...
//
// Scenarios:
//   burst              one user sends 2,000 "say"s at once on WebSocket; two
//                      other users (one on WebSocket, one on polling) stay
//                      connected and can still talk, the sender is limited
//                      and disconnected ("io server disconnect")
//   too-many-sessions  100 tabs of one login connect, the 101st gets
//                      connect_error too-many-sessions; a tab closed makes room
// Each prints "ok SCENARIO: …" lines; the first failure exits 1.

const assert = require('node:assert/strict')
const { io } = require('socket.io-client')

const APP_URL = process.env.APP_URL
const BRIDGE_URL = process.env.BRIDGE_URL
const STEP_MS = 5000
const BURST = 2000
const TABS = 100

function log(...args) {
  console.log(...args)
}

function within(promise, what, ms = STEP_MS) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

function once(emitter, event) {
  return within(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), `"${event}"`)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function login(username) {
  const res = await fetch(APP_URL + '/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ username }),
    redirect: 'manual',
  })
  assert.equal(res.status, 200, `POST /login as ${username}`)
  const set = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='))
  assert.ok(set, 'login sets connect.sid')
  return set.split(';')[0]
}

function connect(cookie, transports) {
  return io(BRIDGE_URL, { reconnection: false, forceNew: true, extraHeaders: { cookie }, transports })
}

const scenarios = {
  async burst() {
    const name = 'burst'
    const [mallory, bob, carol] = await Promise.all(['Mallory', 'Bob', 'Carol'].map(login))
    const b = connect(bob, ['websocket'])
    const c = connect(carol, ['polling'])
    await Promise.all([once(b, 'hello'), once(c, 'hello')])
    const dropped = []
    const heard = { Bob: 0, Carol: 0 }
    for (const [so, who] of [[b, 'Bob'], [c, 'Carol']]) {
      so.on('disconnect', (why) => dropped.push(`${who}: ${why}`))
      so.on('said', (m) => {
        if (m.user === 'Mallory') heard[who]++
      })
    }
    const m = connect(mallory, ['websocket'])
    await once(m, 'hello')
    const gone = once(m, 'disconnect')
    for (let i = 0; i < BURST; i++) m.emit('say', 'x')
    const [why] = await gone
    await sleep(1000) // what the burst could still do to the others
    assert.deepStrictEqual(dropped, [], 'nobody else is disconnected')
    assert.equal(why, 'io server disconnect', 'the sender is disconnected by the server')
    log(`ok ${name}: ${BURST} says at once: the sender is disconnected ("${why}")`)
    assert.ok(b.connected && c.connected, 'the others stay connected')
    assert.ok(heard.Bob > 0 && heard.Bob < BURST / 10 && heard.Carol === heard.Bob, `relayed: ${JSON.stringify(heard)}`)
    log(`ok ${name}: Bob (websocket) and Carol (polling) stay connected; each got ${heard.Bob} of the ${BURST}`)
    for (const [from, to, who] of [[b, c, 'Bob'], [c, b, 'Carol']]) {
      const said = within(
        new Promise((resolve) => to.on('said', (msg) => msg.user === who && resolve(msg))),
        `${who}'s say`,
      )
      from.emit('say', `still here, ${who}`)
      assert.deepStrictEqual(await said, { user: who, text: `still here, ${who}` })
    }
    log(`ok ${name}: Bob and Carol still talk to each other`)
    b.close()
    c.close()
  },

  async 'too-many-sessions'() {
    const name = 'too-many-sessions'
    const cookie = await login('Tabby')
    const tabs = []
    for (let i = 0; i < TABS; i++) tabs.push(connect(cookie, ['websocket']))
    await within(Promise.all(tabs.map((so) => once(so, 'hello'))), `${TABS} tabs`, 30000)
    log(`ok ${name}: ${TABS} tabs of one login connected`)
    const extra = connect(cookie, ['websocket'])
    const [err] = await once(extra, 'connect_error')
    assert.equal(err.message, 'too-many-sessions')
    assert.equal(err.data.step, 'request')
    extra.close()
    log(`ok ${name}: tab ${TABS + 1}: connect_error ${JSON.stringify({ message: err.message, data: err.data })}`)
    tabs.pop().close()
    // The closed tab's session is forgotten as its WebSocket closes.
    let again
    for (let i = 0; i < 50; i++) {
      const so = connect(cookie, ['websocket'])
      const ok = await within(
        new Promise((resolve) => {
          so.once('hello', () => resolve(true))
          so.once('connect_error', () => resolve(false))
        }),
        'a new tab',
      )
      if (ok) {
        again = so
        break
      }
      so.close()
      await sleep(100)
    }
    assert.ok(again, 'a tab closed makes room for a new one')
    log(`ok ${name}: a tab closed makes room for a new one`)
    again.close()
    tabs.forEach((so) => so.close())
  },
}

async function main() {
  assert.ok(APP_URL, 'APP_URL is required')
  assert.ok(BRIDGE_URL, 'BRIDGE_URL is required')
  for (const n of process.argv.slice(2)) {
    if (!scenarios[n]) throw new Error(`unknown scenario ${n}`)
    await scenarios[n]()
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('FAIL', err && err.stack ? err.stack : err)
    process.exit(1)
  },
)
