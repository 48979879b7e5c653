#!/usr/bin/env node
'use strict'

// The Node side of the proof by difference (socketio/difftest_test.go): a
// socket.io 4.8 server with the handlers that the Go test server
// (socketio/difftest_test.go, diffServer) registers the same way, line for
// line. client.js runs the same scenarios against both and prints a trace;
// the Go test compares the two traces.
//
// Env: PORT (0 for any). Prints "listening on http://127.0.0.1:PORT".

const http = require('http')
const { Server } = require('socket.io')

const server = http.createServer()
const io = new Server(server)

// Rooms other than the socket's own, sorted: what the trace prints.
const roomsOf = (socket) => [...socket.rooms].filter((r) => r !== socket.id).sort()
const nameOf = (socket) => socket.handshake.auth.name || null

// "/": events, acks, rooms, broadcasts, the lifecycle.
io.on('connection', (socket) => {
  if (socket.handshake.auth.watch) socket.join('watchers')
  socket.emit('hello', nameOf(socket))
  socket.on('echo', (...args) => {
    const ack = args.pop()
    ack(...args)
  })
  socket.on('kick', () => socket.disconnect())
  // What a port reads of socket.handshake (no times: they differ).
  socket.on('handshake', (ack) => {
    const h = socket.handshake
    ack({
      query: h.query.x,
      auth: h.auth,
      secure: h.secure,
      address: h.address,
      xdomain: h.xdomain,
      path: h.url.split('?')[0],
      urlHasQuery: h.url.includes('x=1'),
      time: typeof h.time === 'string' && !Number.isNaN(Date.parse(h.time)),
      issued: typeof h.issued,
      foo: h.headers['x-foo'],
      cookie: h.headers.cookie,
    })
  })
  socket.on('join', (rooms, ack) => {
    socket.join(rooms)
    ack(roomsOf(socket))
  })
  socket.on('leave', (room, ack) => {
    socket.leave(room)
    ack(roomsOf(socket))
  })
  // {to, except, text}: io.to(to).except(except).emit('news', text)
  socket.on('news', (o, ack) => {
    io.to(o.to || []).except(o.except || []).emit('news', o.text)
    ack()
  })
  // Broadcast with acks: every socket in "askers" but the asker is asked;
  // the ack gets the answers (sorted) or the timeout's error.
  socket.on('ask-all', (ms, ack) => {
    socket.broadcast.to('askers').timeout(ms).emit('question', (err, responses) => {
      ack(err ? err.message : null, responses.sort())
    })
  })
  socket.on('news-local', (o, ack) => {
    io.local.to(o.to || []).emit('news', o.text)
    ack()
  })
  socket.on('news-others', (o, ack) => {
    socket.to(o.to || []).emit('news', o.text)
    ack()
  })
  // "leaving" and "left": the reserved names disconnecting and disconnect
  // cannot be emitted.
  socket.on('disconnecting', (reason) => {
    io.to('watchers').emit('leaving', nameOf(socket), reason, roomsOf(socket))
  })
  socket.on('disconnect', (reason) => {
    io.to('watchers').emit('left', nameOf(socket), reason, roomsOf(socket))
  })
})

// "/mw": namespace middleware (a refusal with data, one without, the
// order), socket.data, socket middleware and its error, fetchSockets.
const mw = io.of('/mw')
mw.use((socket, next) => {
  const a = socket.handshake.auth
  if (a.token !== 'ok') {
    const err = new Error('not authorized')
    err.data = { code: 42, token: a.token === undefined ? null : a.token }
    return next(err)
  }
  socket.data.name = a.name
  socket.data.order = ['first']
  next()
})
mw.use((socket, next) => {
  if (socket.data.name === 'plain') return next(new Error('plain refusal'))
  socket.data.order.push('second')
  next()
})
mw.on('connection', (socket) => {
  socket.use(([event], next) => (event === 'forbidden' ? next(new Error('forbidden event')) : next()))
  socket.on('error', (err) => socket.emit('mw-error', err.message))
  socket.on('allowed', (ack) => ack('allowed'))
  socket.on('forbidden', (ack) => ack('should not run'))
  socket.on('data', (ack) => ack(socket.data))
  socket.on('fetch', async (ack) => {
    const sockets = await mw.fetchSockets()
    ack(sockets.map((s) => s.data).sort((x, y) => (x.name < y.name ? -1 : 1)))
  })
})

// "/any": onAny and onAnyOutgoing, then their removal.
const anyNsp = io.of('/any')
anyNsp.on('connection', (socket) => {
  const seen = (dir) => (ev, ...args) => {
    if (ev !== 'seen') socket.emit('seen', dir, ev, args.filter((a) => typeof a !== 'function'))
  }
  const incoming = seen('in')
  const outgoing = seen('out')
  socket.onAny(incoming)
  socket.onAnyOutgoing(outgoing)
  socket.on('ping', (n, ack) => {
    socket.emit('pong', n)
    ack(n)
  })
  socket.on('shout', (ack) => {
    anyNsp.emit('shout', 'all')
    ack()
  })
  socket.on('off', (ack) => {
    socket.offAny(incoming)
    socket.offAnyOutgoing(outgoing)
    ack()
  })
})

// Dynamic namespaces: a regular expression and a function, the parent's
// middleware and handlers on each child, the parent's emit to all.
const orgs = io.of(/^\/org-\d+$/)
orgs.use((socket, next) => (socket.handshake.auth.token === 'ok' ? next() : next(new Error('org refused'))))
orgs.on('connection', (socket) => {
  socket.emit('welcome', socket.nsp.name)
  socket.on('where', (ack) => ack(socket.nsp.name))
  socket.on('shout', (ack) => {
    orgs.emit('org-news', 'to every org')
    ack()
  })
})
const teams = io.of((name, auth, next) => next(null, name.startsWith('/team-') && auth.team === name.slice(6)))
teams.on('connection', (socket) => socket.emit('welcome', socket.nsp.name))

// "compress": a second server on /z/ with perMessageDeflate as engine.io
// enables it ({threshold: 1024}). "sizes" sends messages over, at, under
// the threshold, and with compress(false), by emit and by broadcast; the
// client's relay traces which arrived compressed. "length" answers the
// length of what the client sent (compressed by the client).
const z = new Server(server, { path: '/z/', perMessageDeflate: { threshold: 1024 } })
const big = 'compressible '.repeat(100)
// '42["z","edge","' + pad + '"]' is 1024 bytes: the threshold; "under" is 1023.
const edge = 'x'.repeat(1024 - '42["z","edge",""]'.length)
const under = 'x'.repeat(1023 - '42["z","under",""]'.length)
z.on('connection', (socket) => {
  socket.on('sizes', (ack) => {
    socket.emit('z', 'big', big)
    socket.emit('z', 'small', 'small')
    socket.emit('z', 'edge', edge)
    socket.emit('z', 'under', under)
    socket.compress(false).emit('z', 'big-uncompressed', big)
    z.emit('z', 'broadcast-big', big)
    z.compress(false).emit('z', 'broadcast-uncompressed', big)
    ack()
  })
  socket.on('length', (text, ack) => ack(text.length))
})

// "recovery": a third server on /r/ with connectionStateRecovery (its
// defaults: 2 min, skipMiddlewares). A fresh socket gets data
// {first: true}; "hello" says whether it was recovered; "news" is
// io.to(to).emit('news', text); a watcher hears "left" with the reason.
const r = new Server(server, { path: '/r/', connectionStateRecovery: {} })
r.on('connection', (socket) => {
  if (!socket.recovered) socket.data = { first: true }
  socket.emit('hello', socket.recovered)
  socket.on('join', (rooms, ack) => {
    socket.join(rooms)
    ack(roomsOf(socket))
  })
  socket.on('news', (o, ack) => {
    r.to(o.to).emit('news', o.text)
    ack()
  })
  socket.on('data', (ack) => ack(socket.data))
  socket.on('disconnect', (reason) => r.to('watchers').emit('left', reason))
})

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
})
process.on('SIGTERM', () => io.close(() => process.exit(0)))
