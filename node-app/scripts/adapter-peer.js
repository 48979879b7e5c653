#!/usr/bin/env node
'use strict'

// A Node member of a mixed fleet: a real Socket.IO 4 server on the real
// @socket.io/redis-adapter (createAdapter, or with SHARDED=1 createShardedAdapter
// in subscriptionMode "static") on the Redis given as argv[2], and one socket.io-client
// connected to it that joins room "user:node" (and answers "question" with
// {"client": "node", "args": ARGS}). It prints one JSON line per
// thing that happens:
//
//   {"ready": true, "port": PORT}       once the client is connected
//   {"client": EVENT, "args": [...]}    the client received EVENT
//   {"server": EVENT, "args": [...], "ack": BOOL}
//                                       the server got a serverSideEmit ("ping"
//                                       is answered {"node": ARGS} when it has an ack)
//   {"fetched": N, "rooms": [...], "data": [...]}
//                                       the answer to a "fetch" command (each
//                                       socket's rooms and data, sorted)
//   {"sse": EVENT, "err": MSG|null, "responses": [...]}
//                                       the ack of a "sse" or "sseWithAck" command
//   {"asked": EVENT, "err": MSG|null, "responses": [...]}
//                                       the ack of an "ask" command
//   {"dialed": NAME}                    a "dial" client is connected
//
// and reads one JSON command per line on stdin:
//
//   {"emit": [EVENT, ...ARGS]}          io.emit(EVENT, ...ARGS)
//   {"to": ROOM, "emit": [EVENT, ...]}  io.to(ROOM).emit(...)
//   {"emitExact": EVENT}                io.emit(EVENT, exact()) (exact-payload.js:
//                                       nested Buffers, a Date)
//   {"fetch": true}                     io.fetchSockets()
//   {"join": ROOM, "in": ROOM}          io.in(ROOM).socketsJoin(ROOM)
//   {"sse": [EVENT, ...ARGS]}           io.serverSideEmit(EVENT, ...ARGS, callback)
//   {"sseWithAck": [EVENT, ...ARGS]}    await io.serverSideEmitWithAck(EVENT, ...ARGS)
//   {"ask": [EVENT, ...ARGS], "timeout": MS[, "to": ROOM]}
//                                       io[.to(ROOM)].timeout(MS).emit(EVENT, ...ARGS, callback)
//   {"dial": URL, "cookie": COOKIE, "name": NAME}
//                                       a socket.io-client (websocket) to URL with that
//                                       Cookie header, which answers "question" with
//                                       {"client": NAME, "args": ARGS}
//
// It exits when stdin closes or on SIGTERM.

const http = require('http')
const readline = require('readline')
const { Server } = require('socket.io')
const { io: ioc } = require('socket.io-client')
const { createClient } = require('redis')
const { createAdapter, createShardedAdapter } = require('@socket.io/redis-adapter')
const { exact } = require('./exact-payload')

const url = process.argv[2]
const clients = []
const dialed = []

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

async function redis() {
  const c = createClient({ url })
  c.on('error', (err) => console.error('redis:', err.message))
  await c.connect()
  clients.push(c)
  return c
}

async function main() {
  const httpServer = http.createServer()
  const pub = await redis()
  const sub = await redis()
  // Sharded: subscriptionMode "static", every broadcast on the namespace's
  // channel, which Go instances subscribe to (they do not follow "dynamic"
  // room channels).
  const adapter = process.env.SHARDED === '1'
    ? createShardedAdapter(pub, sub, { subscriptionMode: 'static' })
    : createAdapter(pub, sub)
  const io = new Server(httpServer, { adapter })
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  io.on('connection', (socket) => {
    socket.data = { user: 'node' }
    socket.join('user:node')
  })
  io.on('ping', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null
    log({ server: 'ping', args, ack: !!ack })
    if (ack) ack({ node: args })
  })
  const client = ioc(`http://127.0.0.1:${httpServer.address().port}`, { transports: ['websocket'], reconnection: false })
  client.onAny((ev, ...args) => log({ client: ev, args }))
  client.on('question', (...args) => args.pop()({ client: 'node', args }))
  client.on('disconnect', (reason) => log({ client: 'disconnect', args: [reason] }))
  await new Promise((resolve) => client.once('connect', resolve))
  await new Promise((resolve) => setTimeout(resolve, 200)) // the adapter's subscriptions
  log({ ready: true, port: httpServer.address().port })

  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', async (line) => {
    const cmd = JSON.parse(line)
    if (cmd.emit) (cmd.to ? io.to(cmd.to) : io).emit(...cmd.emit)
    if (cmd.emitExact) io.emit(cmd.emitExact, exact())
    if (cmd.join) io.in(cmd.in).socketsJoin(cmd.join)
    if (cmd.sse) {
      io.serverSideEmit(...cmd.sse, (err, responses) =>
        log({ sse: cmd.sse[0], err: err ? err.message : null, responses }))
    }
    if (cmd.sseWithAck) {
      try {
        log({ sse: cmd.sseWithAck[0], err: null, responses: await io.serverSideEmitWithAck(...cmd.sseWithAck) })
      } catch (err) {
        log({ sse: cmd.sseWithAck[0], err: err.message, responses: err.responses })
      }
    }
    if (cmd.ask) {
      (cmd.to ? io.to(cmd.to) : io).timeout(cmd.timeout).emit(...cmd.ask, (err, responses) =>
        log({ asked: cmd.ask[0], err: err ? err.message : null, responses }))
    }
    if (cmd.dial) {
      const c = ioc(cmd.dial, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie: cmd.cookie } })
      dialed.push(c)
      c.on('question', (...args) => {
        const ack = args.pop()
        ack({ client: cmd.name, args })
      })
      c.on('connect_error', (err) => log({ dialError: cmd.name, err: err.message }))
      c.once('connect', () => log({ dialed: cmd.name }))
    }
    if (cmd.fetch) {
      const sockets = await io.fetchSockets()
      const data = sockets.map((s) => JSON.stringify(s.data)).sort()
      log({ fetched: sockets.length, rooms: sockets.map((s) => [...s.rooms].filter((r) => r !== s.id)), data })
    }
  })
  const stop = async () => {
    client.close()
    dialed.forEach((c) => c.close())
    io.close()
    await Promise.all(clients.map((r) => r.close().catch(() => r.destroy())))
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  rl.on('close', stop)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
