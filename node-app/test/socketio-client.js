#!/usr/bin/env node
'use strict'

// Drives the Go bridge's Socket.IO door with the real socket.io-client
// (the package pinned in package-lock.json), as an Express app's page
// would use it, after logging in through the real Express app. The Go test
// socketio/client_test.go starts everything and runs:
//
//   APP_URL=http://127.0.0.1:3000 BRIDGE_URL=http://127.0.0.1:8081 \
//     node test/socketio-client.js SCENARIO...
//
// Scenarios: polling-upgrade, websocket, polling-only, identity, save
// (needs the Go handler "count"), passport (needs the passport flavor),
// refusals, expiry, recovery and recovery-expiry (need the Go server of
// TestSocketIORecovery; the second an app whose sessions last 2 s),
// (needs an app whose sessions last a few seconds), store-unavailable
// (needs COOKIE: a cookie whose session was valid), and one user cannot
// push others off (the server's default limits): burst (one user sends
// 2,000 "say"s at once on WebSocket; two others, one on WebSocket, one on
// polling, stay connected and still talk; the sender is disconnected,
// "io server disconnect"), too-many-sessions (100 tabs of one login
// connect, the 101st gets connect_error too-many-sessions; a tab closed
// makes room).
// Each prints "ok SCENARIO: …" lines; the first failure exits 1.

const assert = require('node:assert/strict')
const { io } = require('socket.io-client')

const APP_URL = process.env.APP_URL
const BRIDGE_URL = process.env.BRIDGE_URL
const STEP_MS = 5000
const BURST = 2000 // says at once, in the burst scenario
const TABS = 100 // the server's default sessions per login

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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function once(emitter, event) {
  return within(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), `"${event}"`)
}

async function appPost(path, cookie, body) {
  const res = await fetch(APP_URL + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body || {}),
    redirect: 'manual',
  })
  return res
}

async function login(username) {
  // The password is the passport flavor's; the default flavor ignores it.
  const res = await appPost('/login', null, { username, password: 'let-me-in' })
  assert.equal(res.status, 200, `POST /login as ${username}`)
  const set = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='))
  assert.ok(set, 'login sets connect.sid')
  return set.split(';')[0]
}

function connect(cookie, opts = {}) {
  return io(BRIDGE_URL, {
    reconnection: false,
    ...(cookie ? { extraHeaders: { cookie } } : {}),
    ...opts,
  })
}

// Resolves with the first connect_error, fails on a connect.
function connectError(socket) {
  return within(
    new Promise((resolve, reject) => {
      socket.once('connect_error', resolve)
      socket.once('connect', () => reject(new Error('connected, but a connect_error was expected')))
    }),
    'connect_error',
  )
}

// Common checks of an accepted socket: hello, whoami, say/said, binary
// payloads both ways with acks, and a server → client ack.
async function chat(socket, user, name) {
  const [hello] = await once(socket, 'hello')
  assert.deepStrictEqual(hello, { user })
  assert.ok(socket.connected && typeof socket.id === 'string')
  log(`ok ${name}: hello ${JSON.stringify(hello)}, socket.id set`)

  const fields = await within(socket.emitWithAck('whoami'), 'whoami ack')
  assert.equal(fields.username, user)
  assert.equal(fields.loggedIn, true)
  assert.equal(fields.cookie, undefined, 'whoami carries no cookie')
  log(`ok ${name}: whoami ${JSON.stringify(fields)}`)

  const said = once(socket, 'said')
  socket.emit('say', `hello from ${user}`)
  const [msg] = await said
  assert.deepStrictEqual(msg, { user, text: `hello from ${user}` })
  log(`ok ${name}: said ${JSON.stringify(msg)}`)

  const bin = Buffer.from([0, 1, 2, 250, 255])
  const echoed = await within(
    new Promise((resolve) => socket.emit('echo', bin, { n: 1 }, new Uint8Array([7, 8]), (...args) => resolve(args))),
    'echo ack',
  )
  const isBinary = (x) => x instanceof ArrayBuffer || ArrayBuffer.isView(x)
  assert.ok(isBinary(echoed[0]) && isBinary(echoed[2]), `binary arguments come back binary: ${JSON.stringify(echoed)}`)
  assert.deepStrictEqual([...new Uint8Array(echoed[0])], [...bin])
  assert.deepStrictEqual(echoed[1], { n: 1 })
  assert.deepStrictEqual([...new Uint8Array(echoed[2])], [7, 8])
  log(`ok ${name}: binary echo with ack (${echoed.length} args)`)

  socket.once('ask', (n, cb) => cb(n * 2))
  const answer = once(socket, 'answer')
  socket.emit('ask-me')
  const [a] = await answer
  assert.deepStrictEqual(a, { answer: 42 })
  log(`ok ${name}: server's emitWithAck answered ${JSON.stringify(a)}`)
}

// The session ends in Express: session-ended {reason}, then the server
// disconnects the socket.
async function revoked(socket, reason, name) {
  const events = []
  socket.on('session-ended', (x) => events.push(['session-ended', x]))
  const disc = once(socket, 'disconnect')
  const [why, details] = await disc
  assert.deepStrictEqual(events, [['session-ended', { reason }]], `disconnect "${why}" ${details && details.description}`)
  assert.equal(why, 'io server disconnect')
  log(`ok ${name}: session-ended ${JSON.stringify({ reason })}, then disconnect "${why}"`)
}

// cookie-session's login: both cookies, as a browser sends them back.
async function csLogin(username) {
  const res = await appPost('/login', null, { username })
  assert.equal(res.status, 200, `POST /login as ${username}`)
  const set = res.headers.getSetCookie()
  const pair = (name) => {
    const c = set.find((x) => x.startsWith(name + '='))
    assert.ok(c, `login sets ${name}`)
    return c.split(';')[0]
  }
  return `${pair('session')}; ${pair('session.sig')}`
}

// whoami until it says what want says (the revalidation that follows a
// change in Express is asynchronous), within STEP_MS.
async function whoamiUntil(socket, want, what) {
  const deadline = Date.now() + STEP_MS
  for (;;) {
    const fields = await within(socket.emitWithAck('whoami'), 'whoami ack')
    if (Object.entries(want).every(([k, v]) => JSON.stringify(fields[k]) === JSON.stringify(v))) return fields
    if (Date.now() > deadline) throw new Error(`whoami never said ${JSON.stringify(want)} (${what}): ${JSON.stringify(fields)}`)
    await sleep(50)
  }
}

const TRANSPORTS = [['websocket'], ['polling']]

const scenarios = {
  // The session changes hands in Express without a regenerate (the same
  // browser, the same cookie, another user): a socket opened for Zoë ends
  // session-changed; before that, whoami is the session as it is now, not
  // the handshake's. The login field removed ends a socket logged-out.
  async identity() {
    for (const transports of TRANSPORTS) {
      const name = `identity ${transports[0]}`
      const cookie = await login('Zoë')
      const socket = connect(cookie, { transports })
      const [hello] = await once(socket, 'hello')
      assert.deepStrictEqual(hello, { user: 'Zoë' })
      assert.equal(socket.io.engine.transport.name, transports[0])
      assert.equal((await appPost('/test/set', cookie, { theme: 'dark' })).status, 200)
      const fields = await whoamiUntil(socket, { username: 'Zoë', theme: 'dark' }, 'a field Express set')
      log(`ok ${name}: whoami follows Express: ${JSON.stringify(fields)}`)
      const ended = revoked(socket, 'session-changed', name)
      assert.equal((await appPost('/test/set', cookie, { username: 'Mallory' })).status, 200)
      await ended
      socket.close()
      const again = connect(cookie, { transports })
      const [hello2] = await once(again, 'hello')
      assert.deepStrictEqual(hello2, { user: 'Mallory' })
      log(`ok ${name}: a socket opened with the same cookie now is ${JSON.stringify(hello2)}`)
      const out = revoked(again, 'logged-out', name)
      assert.equal((await appPost('/test/set', cookie, { loggedIn: null })).status, 200)
      await out
      again.close()
    }
  },

  // The passport flavor (the Go gate reads passport.user): req.logout()
  // ends the socket logged-out, every time; another user's id put in the
  // session ends it session-changed.
  async passport() {
    const logouts = Number(process.env.LOGOUTS || 10)
    for (let i = 0; i < logouts; i++) {
      const transports = TRANSPORTS[i % 2]
      const cookie = await login('alice')
      const socket = connect(cookie, { transports })
      const [hello] = await once(socket, 'hello')
      assert.deepStrictEqual(hello, { user: '42' })
      const ended = revoked(socket, 'logged-out', `passport logout ${i + 1}/${logouts} ${transports[0]}`)
      assert.equal((await appPost('/logout', cookie)).status, 200)
      await ended
      socket.close()
    }
    for (const transports of TRANSPORTS) {
      const name = `passport identity ${transports[0]}`
      await login('mallory') // id 100
      const cookie = await login('alice')
      const socket = connect(cookie, { transports })
      await once(socket, 'hello')
      const ended = revoked(socket, 'session-changed', name)
      assert.equal((await appPost('/test/set', cookie, { passport: { user: 100 } })).status, 200)
      await ended
      socket.close()
    }
  },

  // The Go handler "count" saves count+1 in the Express session
  // (Socket.SaveSession); Express reads it on its next request, and a
  // field Express set meanwhile is kept.
  async save() {
    for (const transports of TRANSPORTS) {
      const name = `save ${transports[0]}`
      const cookie = await login('Cat')
      const socket = connect(cookie, { transports })
      await once(socket, 'hello')
      for (let n = 1; n <= 3; n++) {
        assert.deepStrictEqual(await within(socket.emitWithAck('count'), 'count ack'), { count: n })
        assert.equal((await appPost('/test/set', cookie, { [`express${n}`]: n })).status, 200)
      }
      const res = await fetch(APP_URL + '/whoami', { headers: { cookie, accept: 'application/json' } })
      const who = await res.json()
      assert.equal(who.session.count, 3, JSON.stringify(who.session))
      assert.deepStrictEqual([who.session.express1, who.session.express2, who.session.express3], [1, 2, 3])
      assert.equal(who.username, 'Cat')
      log(`ok ${name}: Express reads count ${who.session.count} and its own fields ${[who.session.express1, who.session.express2, who.session.express3]}`)
      const fields = await whoamiUntil(socket, { count: 3, express3: 3 }, 'the saved session')
      log(`ok ${name}: whoami is the saved session: ${JSON.stringify(fields)}`)
      socket.close()
    }
  },

  async 'polling-upgrade'() {
    const name = 'polling-upgrade'
    const cookie = await login('Zoë')
    const socket = connect(cookie)
    const upgraded = once(socket.io, 'open').then(() => {
      assert.equal(socket.io.engine.transport.name, 'polling', 'default options start on polling')
      return once(socket.io.engine, 'upgrade')
    })
    await chat(socket, 'Zoë', name)
    await upgraded
    assert.equal(socket.io.engine.transport.name, 'websocket')
    log(`ok ${name}: upgraded from polling to websocket`)
    // Still works after the upgrade.
    const fields = await within(socket.emitWithAck('whoami'), 'whoami after upgrade')
    assert.equal(fields.username, 'Zoë')
    const ended = revoked(socket, 'logged-out', name)
    const res = await appPost('/logout', cookie)
    assert.equal(res.status, 200)
    await ended
    socket.close()
  },

  async websocket() {
    const name = 'websocket'
    const cookie = await login('Bob')
    const socket = connect(cookie, { transports: ['websocket'] })
    await chat(socket, 'Bob', name)
    assert.equal(socket.io.engine.transport.name, 'websocket')
    const ended = revoked(socket, 'logged-out', name)
    const res = await appPost('/test/set', cookie, { loggedIn: false })
    assert.equal(res.status, 200)
    await ended
    socket.close()
  },

  async 'polling-only'() {
    const name = 'polling-only'
    const cookie = await login('Ann')
    const socket = connect(cookie, { transports: ['polling'] })
    await chat(socket, 'Ann', name)
    assert.equal(socket.io.engine.transport.name, 'polling')
    const ended = revoked(socket, 'logged-out', name)
    const res = await appPost('/logout', cookie)
    assert.equal(res.status, 200)
    await ended
    socket.close()
  },

  // STORE_FLAVOR=cookie-session: the session is the cookie. Both
  // transports accept the login; a missing or forged .sig is refused; a
  // logout clears the browser's cookies but leaves open sockets (nothing on
  // a server to revoke), and the next handshake sees it.
  async 'cookie-session'() {
    const cookie = await csLogin('Zoë')
    for (const transports of [['polling', 'websocket'], ['polling'], ['websocket']]) {
      const socket = connect(cookie, { transports })
      const name = `cookie-session ${transports.join('+')}`
      const [hello] = await once(socket, 'hello') // serve's chat: hello, whoami, say
      assert.deepStrictEqual(hello, { user: 'Zoë' })
      const fields = await within(socket.emitWithAck('whoami'), 'whoami ack')
      assert.equal(fields.username, 'Zoë')
      assert.equal(fields.loggedIn, true)
      const said = once(socket, 'said')
      socket.emit('say', 'hello from Zoë')
      assert.deepStrictEqual((await said)[0], { user: 'Zoë', text: 'hello from Zoë' })
      log(`ok ${name}: hello, whoami ${JSON.stringify(fields)}, said on ${socket.io.engine.transport.name}`)
      socket.close()
    }
    const [session, sig] = cookie.split('; ')
    const value = session.slice('session='.length)
    const forgedValue = Buffer.from(JSON.stringify({ loggedIn: true, username: 'Mallory' })).toString('base64')
    const cases = [
      ['not-signed', 'signature', session],
      ['bad-signature', 'signature', `session=${forgedValue}; ${sig}`],
      ['bad-signature', 'signature', `${session}; session.sig=${sig.slice('session.sig='.length, -2)}AA`],
      ['no-cookie', 'cookie', sig],
    ]
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      for (const [code, step, c] of cases) {
        const socket = connect(c, { transports })
        const err = await connectError(socket)
        assert.equal(err.message, code)
        assert.equal(err.data.step, step)
        socket.close()
        log(`ok cookie-session refusals: ${transports.join('+')} ${code}: connect_error ${JSON.stringify({ message: err.message, data: err.data })}`)
      }
    }
    // Logout: cookie-session sets empty cookies; the open socket stays.
    const open = connect(cookie, { transports: ['websocket'] })
    await once(open, 'hello')
    const res = await appPost('/logout', cookie)
    assert.equal(res.status, 200)
    const cleared = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
    assert.ok(/(^|; )session=(;|$)/.test(cleared), `logout clears the cookie: ${cleared}`)
    await sleep(1000)
    assert.ok(open.connected, 'nothing on a server revokes the open socket')
    log(`ok cookie-session: after logout the open socket stays (nothing to revoke): ${open.connected}`)
    open.close()
    const after = connect(cleared, { transports: ['websocket'] })
    const err = await connectError(after)
    assert.equal(err.message, 'no-cookie')
    after.close()
    log(`ok cookie-session: the browser's cookie after logout is refused ${err.message} at the next handshake`)
    void value
  },

  // serve --max-connection-age (short, the Go test sets it): each
  // transport's socket is ended without session-ended, and socket.io-client
  // reconnects and is judged again.
  async 'max-connection-age'() {
    const cookie = process.env.COOKIE || (await csLogin('Max'))
    for (const transports of [['polling'], ['websocket']]) {
      const socket = connect(cookie, { transports, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 })
      const events = []
      socket.on('session-ended', (x) => events.push(x))
      await once(socket, 'hello')
      const [why] = await within(new Promise((resolve) => socket.once('disconnect', (...a) => resolve(a))), 'disconnect at max age', 20000)
      assert.notEqual(why, 'io server disconnect', 'a max age is no end of the session: the client reconnects')
      assert.deepStrictEqual(events, [])
      await within(new Promise((resolve) => socket.once('hello', resolve)), 'hello again after reconnecting', 20000)
      log(`ok max-connection-age ${transports.join('+')}: disconnect "${why}", no session-ended, reconnected and greeted again`)
      socket.close()
    }
  },

  async refusals() {
    const good = await login('Eve')
    const value = decodeURIComponent(good.slice('connect.sid='.length))
    const forged = 'connect.sid=' + encodeURIComponent(value.slice(0, -2) + (value.endsWith('AA') ? 'BB' : 'AA'))
    const gone = await login('Gus')
    assert.equal((await appPost('/logout', gone)).status, 200)
    const notIn = await login('Hal')
    assert.equal((await appPost('/test/set', notIn, { loggedIn: false })).status, 200)
    const cases = [
      ['no-cookie', 'cookie', null],
      ['not-signed', 'signature', 'connect.sid=plain-value'],
      ['malformed', 'signature', 'connect.sid=s%3Ano-dot'],
      ['bad-signature', 'signature', forged],
      ['no-session', 'store', gone],
      ['not-logged-in', 'login', notIn],
      // Records the Go test wrote into Redis, with cookies it signed:
      // [[code, step, cookie], …].
      ...JSON.parse(process.env.EXTRA_REFUSALS || '[]'),
    ]
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      for (const [code, step, cookie] of cases) {
        const socket = connect(cookie, { transports })
        const err = await connectError(socket)
        assert.equal(err.message, code)
        assert.equal(err.data.step, step)
        assert.equal(typeof err.data.message, 'string')
        assert.deepStrictEqual(Object.keys(err.data).sort(), ['message', 'step'])
        socket.close()
        log(`ok refusals: ${transports.join('+')} ${code}: connect_error ${JSON.stringify({ message: err.message, data: err.data })}`)
      }
    }
    // A page of another origin never gets an Engine.IO session: an HTTP
    // 403, which socket.io-client reports as a transport error.
    for (const [transports, want] of [[['polling', 'websocket'], 'xhr poll error'], [['websocket'], 'websocket error']]) {
      const socket = connect(good, { transports, extraHeaders: { cookie: good, origin: 'http://evil.example' } })
      const err = await connectError(socket)
      assert.equal(err.message, want)
      socket.close()
      const status = typeof err.description === 'number' ? ` (HTTP ${err.description})` : ''
      log(`ok refusals: ${transports.join('+')} bad-origin: connect_error "${err.message}"${status}`)
    }
  },

  // The app's cookie maxAge is short (the Go test sets it): the session
  // expires while the sockets are open, on each transport.
  async expiry() {
    const cookie = await login('Exp')
    const sockets = [connect(cookie, { transports: ['polling'] }), connect(cookie, { transports: ['websocket'] })]
    await Promise.all(sockets.map((so) => once(so, 'hello')))
    await Promise.all(sockets.map((so, i) => revoked(so, 'session-expired', `expiry ${['polling', 'websocket'][i]}`)))
    sockets.forEach((so) => so.close())
  },

  async 'store-unavailable'() {
    const cookie = process.env.COOKIE
    assert.ok(cookie, 'COOKIE is required')
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      const socket = connect(cookie, { transports })
      const err = await connectError(socket)
      assert.equal(err.message, 'store-unavailable')
      assert.equal(err.data.step, 'store')
      socket.close()
      log(`ok store-unavailable: ${transports.join('+')}: connect_error ${JSON.stringify({ message: err.message, data: err.data })}`)
    }
  },

  async burst() {
    const name = 'burst'
    const [mallory, bob, carol] = await Promise.all(['Mallory', 'Bob', 'Carol'].map(login))
    const b = connect(bob, { transports: ['websocket'] })
    const c = connect(carol, { transports: ['polling'] })
    await Promise.all([once(b, 'hello'), once(c, 'hello')])
    const dropped = []
    const heard = { Bob: 0, Carol: 0 }
    for (const [so, who] of [[b, 'Bob'], [c, 'Carol']]) {
      so.on('disconnect', (why) => dropped.push(`${who}: ${why}`))
      so.on('said', (m) => {
        if (m.user === 'Mallory') heard[who]++
      })
    }
    const m = connect(mallory, { transports: ['websocket'] })
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

  // A client that keeps sending after the server closed it (rate-limited)
  // still reads the DISCONNECT and the close frame after it, ROUNDS times
  // (200 unless set): "io server disconnect", never "transport error" or
  // "transport close" (a reset connection loses both).
  async 'rate-limited-rounds'() {
    const name = 'rate-limited-rounds'
    const rounds = Number(process.env.ROUNDS || 200)
    const cookie = process.env.COOKIE || (await login('Mallory'))
    for (let i = 0; i < rounds; i++) {
      const m = connect(cookie, { transports: ['websocket'] })
      await once(m, 'connect')
      const gone = once(m, 'disconnect')
      let sending = true
      const pump = () => {
        for (let n = 0; n < 50 && sending; n++) m.emit('say', 'x')
        if (sending) setImmediate(pump)
      }
      pump()
      const [why] = await gone
      sending = false
      assert.equal(why, 'io server disconnect', `round ${i}: the server's DISCONNECT is read`)
    }
    log(`ok ${name}: ${rounds} rounds of a client sending through its rate-limited close: "io server disconnect" every time`)
  },

  async 'too-many-sessions'() {
    const name = 'too-many-sessions'
    const cookie = await login('Tabby')
    const tabs = []
    for (let i = 0; i < TABS; i++) tabs.push(connect(cookie, { transports: ['websocket'] }))
    await within(Promise.all(tabs.map((so) => once(so, 'hello'))), `${TABS} tabs`, 30000)
    log(`ok ${name}: ${TABS} tabs of one login connected`)
    const extra = connect(cookie, { transports: ['websocket'] })
    const err = await connectError(extra)
    assert.equal(err.message, 'too-many-sessions')
    assert.equal(err.data.step, 'request')
    extra.close()
    log(`ok ${name}: tab ${TABS + 1}: connect_error ${JSON.stringify({ message: err.message, data: err.data })}`)
    tabs.pop().close()
    // The closed tab's session is forgotten as its WebSocket closes.
    let again
    for (let i = 0; i < 50; i++) {
      const so = connect(cookie, { transports: ['websocket'] })
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

  // Connection state recovery (needs the Go server of
  // TestSocketIORecovery: "join", "news" to a room, "left" to the
  // watchers): a WebSocket dropped while the server broadcasts comes back
  // with socket.recovered, the same id and the missed events in order;
  // the Express session is checked again at each recovery: logged out
  // meanwhile → connect_error no-session, another user in the session →
  // recovery-other-session, a pid presented with another cookie →
  // recovery-other-session.
  async recovery() {
    const opts = { transports: ['websocket'] }
    const bob = connect(await login('Bob'), opts)
    await once(bob, 'connect')
    await within(bob.emitWithAck('join', 'watchers'), 'join watchers')
    const news = (text) => within(bob.emitWithAck('news', { to: 'r', text }), `news ${text}`)

    // Drops a's transport; resolves once the server has seen it go.
    async function drop(a) {
      const left = once(bob, 'left')
      const disc = once(a, 'disconnect')
      a.io.engine.close()
      await disc // "forced close" on this side, "transport close" on the server's
      await left
    }
    async function joined(cookie) {
      const a = connect(cookie, opts)
      await once(a, 'connect')
      assert.equal(a.recovered, false)
      await within(a.emitWithAck('join', 'r'), 'join r')
      const got = once(a, 'news')
      await news('n0') // a's last offset
      const [text, offset] = await got
      assert.equal(text, 'n0')
      assert.equal(typeof offset, 'string', 'a broadcast carries its offset')
      return a
    }

    // 1. Recovered: same id, the missed events in order, none twice.
    const cookie = await login('Zoë')
    const a = await joined(cookie)
    const id = a.id
    await drop(a)
    await news('n1')
    await news('n2')
    const seen = []
    a.on('news', (text) => seen.push(text))
    a.connect()
    await once(a, 'connect')
    assert.equal(a.recovered, true, 'socket.recovered')
    assert.equal(a.id, id, 'the same socket id')
    await within(a.emitWithAck('join', 'r'), 'a round trip') // every missed event has come before its ack
    assert.deepStrictEqual(seen, ['n1', 'n2'])
    await news('n3')
    await within(a.emitWithAck('join', 'r'), 'a round trip')
    assert.deepStrictEqual(seen, ['n1', 'n2', 'n3'])
    log(`ok recovery: socket.recovered, the same id, missed ${JSON.stringify(seen.slice(0, 2))} in order then live`)

    // 2. Logged out while disconnected: refused with the gate's code.
    await drop(a)
    assert.equal((await appPost('/logout', cookie)).status, 200)
    a.connect()
    const err = await connectError(a)
    assert.equal(err.message, 'no-session')
    a.close()
    log(`ok recovery: logged out meanwhile → connect_error ${err.message}`)

    // 3. Another user in the session while disconnected: refused.
    const cookie2 = await login('Zoë')
    const b = await joined(cookie2)
    await drop(b)
    assert.equal((await appPost('/test/set', cookie2, { username: 'Mallory' })).status, 200)
    b.connect()
    const err2 = await connectError(b)
    assert.equal(err2.message, 'recovery-other-session')
    b.close()
    log(`ok recovery: another user meanwhile → connect_error ${err2.message}`)

    // 4. A pid presented with another session's cookie: refused.
    const c = await joined(await login('Zoë'))
    const pid = c._pid
    const offset = c._lastOffset
    await drop(c)
    const thief = connect(await login('Eve'), { ...opts, autoConnect: false })
    thief._pid = pid
    thief._lastOffset = offset
    thief.connect()
    const err3 = await connectError(thief)
    assert.equal(err3.message, 'recovery-other-session')
    thief.close()
    // The pid stays its own session's.
    c.connect()
    await once(c, 'connect')
    assert.equal(c.recovered, true)
    c.close()
    bob.close()
    log(`ok recovery: a pid with another cookie → connect_error ${err3.message}; its own session still recovers`)
  },

  // The session expires while the socket is disconnected (needs an app
  // whose sessions last 2 s): the reconnect is refused with the gate's
  // code, whatever recovery kept.
  async 'recovery-expiry'() {
    const a = connect(await login('Exp'), { transports: ['websocket'] })
    const [recovered, offset] = await once(a, 'hello')
    assert.equal(recovered, false)
    assert.equal(typeof offset, 'string')
    const disc = once(a, 'disconnect')
    a.io.engine.close()
    await disc
    await sleep(3000)
    a.connect()
    const err = await connectError(a)
    assert.ok(['expired', 'no-session'].includes(err.message), `connect_error ${err.message}`)
    assert.equal(a.recovered, false)
    a.close()
    log(`ok recovery-expiry: the session expired meanwhile → connect_error ${err.message} ${JSON.stringify(err.data)}`)
  },
}

async function main() {
  assert.ok(APP_URL || process.argv.includes('store-unavailable'), 'APP_URL is required')
  assert.ok(BRIDGE_URL, 'BRIDGE_URL is required')
  const names = process.argv.slice(2)
  for (const n of names) {
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
