#!/usr/bin/env node
'use strict'

// The client of the proof by difference: the real socket.io-client runs
// each scenario against SERVER_URL and prints a trace, one line per thing
// the client saw (events, ack values, connect_error messages and data,
// disconnect reasons). socketio/difftest_test.go runs it against a Node
// socket.io server (server.js) and against the Go server set up the same
// way, and compares the traces line for line; nothing in a trace depends
// on which server answered (no ids, no times).
//
//   SERVER_URL=http://127.0.0.1:PORT node difftest/client.js SCENARIO...

const net = require('net')
const zlib = require('zlib')
const { io } = require('socket.io-client')

const URL = process.env.SERVER_URL
const STEP_MS = 10000

// sorted is v with its objects' keys sorted: a trace does not depend on
// the order a server built an object in (a Go map has none).
function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted)
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]))
  return v === undefined ? null : v
}

function trace(...parts) {
  console.log(parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(sorted(p)))).join(' '))
}

function within(promise, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_MS)
    }),
  ]).finally(() => clearTimeout(timer))
}

function once(emitter, event) {
  return within(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), `"${event}"`)
}

// open connects to nsp and traces how: "LABEL connect" or
// "LABEL connect_error MESSAGE DATA". Events named in record are traced
// as they come ("LABEL EVENT ARGS...").
async function open(label, nsp, opts = {}, record = []) {
  const s = io(URL + nsp, { forceNew: true, reconnection: false, transports: ['websocket'], ...opts })
  for (const ev of record) s.on(ev, (...args) => trace(label, ev, ...args))
  // Traced as it happens, before the events that follow it in the same
  // read (a promise would trace later).
  await within(
    new Promise((resolve) => {
      s.once('connect', () => resolve(trace(label, 'connect')))
      s.once('connect_error', (err) => resolve(trace(label, 'connect_error', err.message, err.data)))
    }),
    `${label} to connect`,
  )
  return s
}

// next waits for the next event ev on s and traces it.
function next(label, s, ev) {
  return within(
    new Promise((resolve) =>
      s.once(ev, (...args) => {
        trace(label, ev, ...args)
        resolve(args)
      }),
    ),
    `"${ev}"`,
  )
}

// ack emits ev with args and a callback, and traces what the callback
// got: "LABEL ack EV ARGS..." (every argument of the acknowledgement).
// watchLeave waits for the watcher's "leaving" then "left" (the server's
// disconnecting and disconnect of another socket) and traces them.
function watchLeave(w) {
  const leaving = next('watcher', w, 'leaving')
  const left = leaving.then(() => null)
  const both = next('watcher', w, 'left')
  return Promise.all([left, both])
}

async function ack(label, s, ev, ...args) {
  const res = await within(
    new Promise((resolve) => s.timeout(STEP_MS).emit(ev, ...args, (err, ...res) => resolve(err ? ['error', err.message] : res))),
    `ack of ${ev}`,
  )
  trace(label, 'ack', ev, ...res)
  return res
}

// relay starts a TCP relay to the server at URL and returns its URL. Of
// what the server writes it parses the 101's Sec-WebSocket-Extensions and
// each frame's header, and traces ("relay ...") every "z" event: its name
// and whether its frame had RSV1 (compressed), before passing the bytes on,
// so a trace line comes before the client sees the event.
function relay() {
  const target = new globalThis.URL(URL)
  const srv = net.createServer((c) => {
    const up = net.connect(Number(target.port), target.hostname)
    c.pipe(up)
    c.on('error', () => up.destroy())
    up.on('error', () => c.destroy())
    up.on('end', () => c.end())
    let buf = Buffer.alloc(0)
    let head = true
    up.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      if (head) {
        const i = buf.indexOf('\r\n\r\n')
        if (i >= 0) {
          const ext = /\r\nsec-websocket-extensions: *permessage-deflate/i.test(buf.subarray(0, i).toString())
          trace('relay', 'permessage-deflate', ext)
          buf = buf.subarray(i + 4)
          head = false
        }
      }
      while (!head && buf.length >= 2) {
        let n = buf[1] & 0x7f
        let h = 2
        if (n === 126) {
          if (buf.length < 4) break
          n = buf.readUInt16BE(2)
          h = 4
        } else if (n === 127) {
          if (buf.length < 10) break
          n = Number(buf.readBigUInt64BE(2))
          h = 10
        }
        if (buf.length < h + n) break
        const rsv1 = (buf[0] & 0x40) !== 0
        let p = buf.subarray(h, h + n)
        if ((buf[0] & 0x0f) === 1) {
          if (rsv1) p = zlib.inflateRawSync(Buffer.concat([p, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
          const text = p.toString()
          if (text.startsWith('42["z",')) {
            const name = JSON.parse(text.slice(2))[1]
            // engine.io 6.6's WebSocket transport drops the compress flag
            // (ws then compresses by size alone); the Go server honours it:
            // for compress(false) only the arrival is compared.
            if (name.endsWith('-uncompressed')) trace('relay', name)
            else trace('relay', name, rsv1 ? 'compressed' : 'plain')
          }
        }
        buf = buf.subarray(h + n)
      }
      c.write(chunk)
    })
  })
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${srv.address().port}`, close: () => srv.close() })),
  )
}

const scenarios = {
  // permessage-deflate on the server at /z/: which messages come
  // compressed (over and at the threshold, not under it), by emit and by
  // broadcast, and a large message of the client's, compressed, read back.
  // The client offers server_no_context_takeover: the Go server always
  // answers it (no window kept per connection), and ws applies its
  // threshold only with it (with context takeover it compresses all).
  async compress() {
    const r = await relay()
    const s = io(r.url + '/', {
      path: '/z/',
      forceNew: true,
      reconnection: false,
      transports: ['websocket'],
      perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true },
    })
    await once(s, 'connect')
    trace('z', 'connect')
    let n = 0
    const all = within(new Promise((resolve) => s.on('z', () => ++n === 7 && resolve())), 'the "z" events')
    await ack('z', s, 'sizes')
    await all
    await ack('z', s, 'length', 'long text '.repeat(500))
    s.close()
    r.close()
  },

  // Connection state recovery on the server at /r/: a socket in room r
  // loses its WebSocket (engine.close()), the watcher hears it leave, two
  // broadcasts to r and one elsewhere go meanwhile; the socket connects
  // again: recovered, the same id, its rooms and data, the two missed
  // events (before "connect", as the client hands them out) and none
  // twice. Each event's last argument, its offset, is traced by its type.
  async recovery() {
    const opts = { path: '/r/', forceNew: true, reconnection: false, transports: ['websocket'] }
    const w = io(URL + '/', opts)
    w.on('left', (reason, offset) => trace('w', 'left', reason, typeof offset))
    await once(w, 'connect')
    await ack('w', w, 'join', ['watchers'])
    const a = io(URL + '/', opts)
    for (const ev of ['hello', 'news']) a.on(ev, (x, offset) => trace('a', ev, x, typeof offset))
    a.on('connect', () => trace('a', 'connect', 'recovered', a.recovered))
    a.on('disconnect', (reason) => trace('a', 'disconnect', reason))
    await once(a, 'connect')
    await ack('a', a, 'join', ['r'])
    const n0 = once(a, 'news')
    await ack('w', w, 'news', { to: 'r', text: 'n0' })
    await n0
    const id = a.id
    const left = once(w, 'left')
    a.io.engine.close()
    await left
    await ack('w', w, 'news', { to: 'r', text: 'n1' })
    await ack('w', w, 'news', { to: 'watchers', text: 'not for a' })
    await ack('w', w, 'news', { to: 'r', text: 'n2' })
    a.connect()
    await once(a, 'hello')
    trace('a', 'same id', a.id === id)
    await ack('a', a, 'join', [])
    await ack('a', a, 'data')
    await ack('w', w, 'news', { to: 'r', text: 'n3' })
    await ack('a', a, 'data') // n3 has come before this ack
    a.disconnect()
    w.disconnect()
  },

  // Events, acks both ways, an unknown namespace, the client's
  // disconnect reason when the server kicks it.
  async basic() {
    const a = await open('a', '/', { auth: { name: 'a' } }, ['hello'])
    await ack('a', a, 'echo', 1, 'two', { three: [3] }, null)
    await ack('a', a, 'echo')
    const bad = await open('bad', '/nope')
    bad.close()
    const aGone = once(a, 'disconnect')
    a.emit('kick')
    trace('a', 'disconnect', (await aGone)[0])
  },

  // disconnecting (rooms still readable) then disconnect, with the
  // server's reasons: kicked, left, connection dropped.
  async lifecycle() {
    const w = await open('watcher', '/', { auth: { name: 'watcher', watch: true } })
    const a = await open('a', '/', { auth: { name: 'a' } })
    await ack('a', a, 'join', ['red', 'blue'])
    const gone = watchLeave(w)
    const aGone = once(a, 'disconnect')
    a.emit('kick')
    trace('a', 'disconnect', (await aGone)[0])
    await gone
    const b = await open('b', '/', { auth: { name: 'b' } })
    await ack('b', b, 'join', ['green'])
    const left = watchLeave(w)
    b.disconnect()
    await left
    const c = await open('c', '/', { auth: { name: 'c' } })
    const dropped = watchLeave(w)
    c.io.engine.close()
    await dropped
    w.disconnect()
  },

  // socket.handshake: query, auth, headers, address, url, secure.
  async handshake() {
    const h = await open('h', '/', { query: { x: '1' }, auth: { name: 'h' }, extraHeaders: { 'x-foo': 'bar' } })
    await ack('h', h, 'handshake')
    h.close()
  },

  // Go only (the Node server shows the cookie, and trusts no proxy): a
  // Cookie header and X-Forwarded-For through a trusted proxy.
  async 'handshake-go'() {
    const extraHeaders = { cookie: 'a=b', 'x-forwarded-for': '203.0.113.7' }
    const h = await open('h', '/', { extraHeaders, transports: ['polling'] })
    await ack('h', h, 'handshake')
    h.close()
  },

  // Namespace middleware (refusals with and without data, the order),
  // socket.data, socket middleware and its error, fetchSockets.
  async middleware() {
    for (const [label, auth] of [['none', {}], ['wrong', { token: 'no' }], ['plain', { token: 'ok', name: 'plain' }]]) {
      ;(await open(label, '/mw', { auth })).close()
    }
    const a = await open('a', '/mw', { auth: { token: 'ok', name: 'a' } })
    await ack('a', a, 'allowed')
    const refused = next('a', a, 'mw-error')
    a.emit('forbidden', () => trace('a', 'forbidden ran'))
    await refused
    await ack('a', a, 'data')
    const b = await open('b', '/mw', { auth: { token: 'ok', name: 'b' } })
    await ack('a', a, 'fetch')
    a.close()
    b.close()
  },

  // onAny, onAnyOutgoing (an emit and a broadcast), then their removal.
  async any() {
    const a = await open('a', '/any', {}, ['seen', 'pong', 'shout'])
    await ack('a', a, 'ping', { n: [1, 'two'] })
    await ack('a', a, 'shout')
    await ack('a', a, 'off')
    await ack('a', a, 'ping', 3)
    a.close()
  },

  // Dynamic namespaces: by a regular expression and by a function.
  async dynamic() {
    const a = await open('a', '/org-1', { auth: { token: 'ok' } }, ['welcome', 'org-news'])
    const b = await open('b', '/org-22', { auth: { token: 'ok' } }, ['welcome', 'org-news'])
    ;(await open('bad', '/org-x', { auth: { token: 'ok' } })).close()
    ;(await open('refused', '/org-3', { auth: {} })).close()
    await ack('a', a, 'where')
    const news = [a, b].map((s) => once(s, 'org-news'))
    await ack('b', b, 'shout')
    await Promise.all(news)
    const t = await open('t', '/team-red', { auth: { team: 'red' } }, ['welcome'])
    ;(await open('t2', '/team-blue', { auth: { team: 'red' } })).close()
    for (const s of [a, b, t]) s.close()
  },

  // A broadcast with acks and a timeout: two answer, one does not.
  async acks() {
    const socks = {}
    for (const name of ['asker', 'yes', 'no', 'silent']) {
      socks[name] = await open(name, '/', { auth: { name } })
      await ack(name, socks[name], 'join', ['askers'])
    }
    socks.yes.on('question', (cb) => cb('yes'))
    socks.no.on('question', (cb) => cb('no'))
    socks.silent.on('question', () => trace('silent', 'asked'))
    await ack('asker', socks.asker, 'ask-all', 2000)
    socks.silent.off('question')
    socks.silent.on('question', (cb) => cb('now'))
    await ack('asker', socks.asker, 'ask-all', 5000)
    for (const s of Object.values(socks)) s.close()
  },

  // Rooms and broadcasts: to several rooms, except, socket.to.
  async rooms() {
    const socks = {}
    for (const [name, rooms] of [['a', ['red']], ['b', ['red', 'blue']], ['c', ['blue']], ['d', []]]) {
      socks[name] = await open(name, '/', { auth: { name } }, ['news'])
      await ack(name, socks[name], 'join', rooms)
    }
    await ack('b', socks.b, 'leave', 'nothing')
    await ack('a', socks.a, 'news', { to: ['red', 'blue'], text: 'red or blue' })
    await ack('a', socks.a, 'news', { to: ['red'], except: ['blue'], text: 'red not blue' })
    await ack('a', socks.a, 'news', { except: ['red'], text: 'all but red' })
    await ack('b', socks.b, 'news-others', { to: ['red'], text: 'red but b' })
    await ack('c', socks.c, 'news-local', { to: ['blue'], text: 'blue here' })
    // The barrier: every socket gets "end" after what came before.
    const ends = Object.values(socks).map((s) =>
      within(new Promise((resolve) => s.on('news', (text) => text === 'end' && resolve())), 'news end'),
    )
    await ack('d', socks.d, 'news', { text: 'end' })
    await Promise.all(ends)
    for (const s of Object.values(socks)) s.disconnect()
  },
}

async function main() {
  const names = process.argv.slice(2)
  for (const name of names) {
    if (!scenarios[name]) throw new Error(`unknown scenario ${name}`)
    trace('scenario', name)
    await scenarios[name]()
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
