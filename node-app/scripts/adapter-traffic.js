'use strict'

// Makes the real @socket.io/redis-adapter 8.3, @socket.io/redis-emitter 5.1
// and the sharded adapter publish one of each message they know, on the
// Redis given as argv[2], one step at a time. A Go test subscribes first and
// captures what arrives (adapter/redisadapter/wire/testdata/messages.json); this script
// only causes traffic. It prints "step NAME" before each step and "done" at
// the end.
//
// Two Socket.IO servers, A and B, share the classic adapter (so that
// requests have a server to answer them); one socket.io-client is connected
// to A, in room "user:42", with socket.data {name: "zoe"}. Server C uses the
// sharded adapter with channelPrefix "sharded".

const http = require('http')
const { Server } = require('socket.io')
const { io: ioc } = require('socket.io-client')
const { createClient } = require('redis')
const { createAdapter, createShardedAdapter } = require('@socket.io/redis-adapter')
const { Emitter } = require('@socket.io/redis-emitter')
const { exactJSON, exact } = require('./exact-payload')

const url = process.argv[2]
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const clients = []

async function redis() {
  const c = createClient({ url })
  c.on('error', (err) => console.error('redis:', err.message))
  await c.connect()
  clients.push(c)
  return c
}

async function server(adapter) {
  const httpServer = http.createServer()
  const io = new Server(httpServer, { adapter })
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  return { io, httpServer, port: httpServer.address().port }
}

async function main() {
  const a = await server(createAdapter(await redis(), await redis()))
  const b = await server(createAdapter(await redis(), await redis()))
  const c = await server(createShardedAdapter(await redis(), await redis(), { channelPrefix: 'sharded' }))
  const emitter = new Emitter(await redis())

  a.io.on('connection', (socket) => {
    socket.data = { name: 'zoe' }
    socket.join('user:42')
  })
  a.io.on('hello-servers', (n, cb) => cb('pong ' + n))
  a.io.on('exact-answer', (cb) => cb(exactJSON()))
  const client = ioc(`http://127.0.0.1:${a.port}`, { transports: ['websocket'] })
  client.on('q', (x, cb) => cb({ answer: x + 1 }))
  client.on('exact-q', (cb) => cb(exact()))
  await new Promise((resolve) => client.once('connect', resolve))
  await sleep(300) // the adapters' subscriptions

  const steps = [
    ['emitter to one room', () => emitter.to('user:42').emit('hello', { text: 'hi ✓', n: 1, pi: 3.5, ok: true, none: null, list: [1, 'two'], big: 70000, neg: -5 })],
    ['emitter to everyone', () => emitter.emit('everyone', 'x')],
    ['emitter to rooms except, volatile', () => emitter.to(['room:a', 'room:b']).except('room:c').volatile.emit('multi', 1)],
    ['emitter binary', () => emitter.emit('bin', Buffer.from([1, 2, 3]), { when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)) })],
    ['emitter socketsJoin', () => emitter.in('user:42').socketsJoin('room:joined')],
    ['emitter socketsLeave', () => emitter.in('user:42').socketsLeave(['room:joined'])],
    ['emitter serverSideEmit', () => emitter.serverSideEmit('ping', 1, 'a')],
    ['server to one room', () => a.io.to('user:42').emit('from-server', { a: 1 })],
    ['server except, compress false', () => a.io.except('room:x').compress(false).emit('plain', 2)],
    ['server fetchSockets', () => b.io.fetchSockets()],
    ['server allRooms', () => b.io.of('/').adapter.allRooms()],
    ['server serverSideEmit with ack', () => b.io.serverSideEmitWithAck('hello-servers', 7)],
    ['server broadcast with ack', () => b.io.timeout(2000).emitWithAck('q', 41)],
    ['server disconnectSockets', () => b.io.in('room:nobody').disconnectSockets(true)],
    ['sharded broadcast', () => c.io.emit('s-all', 1)],
    ['sharded room broadcast, binary', () => c.io.to('room:s').emit('s-room', { b: Buffer.from([9]) })],
    ['sharded socketsJoin', () => c.io.in('room:s').socketsJoin('room:t')],
    ['emitter disconnectSockets', () => emitter.disconnectSockets()],
    // Payloads that must cross exactly (exact-payload.js), Buffers nested.
    ['emitter exact payload', () => emitter.emit('exact-emitter', exact(), Buffer.from([0xff, 0]))],
    ['server exact payload', () => a.io.emit('exact-server', exact())],
    ['server exact serverSideEmit', () => b.io.serverSideEmit('exact-sse', exactJSON())],
    ['server exact serverSideEmit answer', () => b.io.serverSideEmitWithAck('exact-answer')],
    ['server exact broadcast ack', () => b.io.timeout(2000).emitWithAck('exact-q')],
  ]
  for (const [name, run] of steps) {
    console.log('step ' + name)
    await run()
    await sleep(150)
  }
  console.log('done')
  client.close()
  for (const s of [a, b, c]) s.io.close()
  await Promise.all(clients.map((r) => r.close().catch(() => r.destroy())))
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
