'use strict'

// The receiving end of the Go encoder's test: a real Socket.IO server with
// the real @socket.io/redis-adapter on the Redis given as argv[2], and a
// socket.io-client connected to it (in room "user:42", socket.data
// {name: "zoe"}, answering "q" acks with {answer: x + 1}). It prints one JSON
// line per thing that happens, Buffers as {"$bin": hex}:
//
//   {"ready": true}                         once the client is connected
//   {"client": EVENT, "args": [...]}        the client received EVENT
//   {"server": EVENT, "args": [...]}        the server got a serverSideEmit
//
// and exits on SIGTERM or when stdin closes.

const http = require('http')
const { Server } = require('socket.io')
const { io: ioc } = require('socket.io-client')
const { createClient } = require('redis')
const { createAdapter } = require('@socket.io/redis-adapter')

const url = process.argv[2]
const clients = []

function plain(v) {
  if (Buffer.isBuffer(v)) return { $bin: v.toString('hex') }
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString('hex') }
  if (Array.isArray(v)) return v.map(plain)
  if (v && typeof v === 'object') {
    const o = {}
    for (const [k, x] of Object.entries(v)) o[k] = plain(x)
    return o
  }
  return v
}

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
  const io = new Server(httpServer, { adapter: createAdapter(await redis(), await redis()) })
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  io.on('connection', (socket) => {
    socket.data = { name: 'zoe' }
    socket.join('user:42')
  })
  for (const ev of ['from-go-server']) {
    io.on(ev, (...args) => log({ server: ev, args: plain(args) }))
  }
  const client = ioc(`http://127.0.0.1:${httpServer.address().port}`, { transports: ['websocket'], reconnection: false })
  client.onAny((ev, ...args) => {
    if (ev === 'q') return
    log({ client: ev, args: plain(args) })
  })
  client.on('q', (x, cb) => {
    log({ client: 'q', args: [x] })
    cb({ answer: x + 1 })
  })
  client.on('disconnect', (reason) => log({ client: 'disconnect', args: [reason] }))
  await new Promise((resolve) => client.once('connect', resolve))
  await new Promise((resolve) => setTimeout(resolve, 200)) // the adapter's subscriptions
  log({ ready: true })

  const stop = async () => {
    client.close()
    io.close()
    await Promise.all(clients.map((r) => r.close().catch(() => r.destroy())))
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.stdin.on('end', stop)
  process.stdin.resume()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
