#!/usr/bin/env node
'use strict'

// The Node side of bench/fanout: a Socket.IO 4 server on the real
// @socket.io/redis-adapter (createAdapter), without authentication (the Go
// side of the bench runs without it too), on PORT. Prints
// "listening on http://127.0.0.1:PORT" once Redis is connected.
//
//   REDIS_URL=redis://127.0.0.1:6379 PORT=8090 node scripts/fanout-peer.js

const http = require('http')
const { Server } = require('socket.io')
const { createClient } = require('redis')
const { createAdapter } = require('@socket.io/redis-adapter')

async function main() {
  const url = process.env.REDIS_URL
  const pub = createClient({ url })
  const sub = pub.duplicate()
  for (const c of [pub, sub]) c.on('error', (err) => console.error('redis:', err.message))
  await Promise.all([pub.connect(), sub.connect()])
  const httpServer = http.createServer()
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub) })
  await new Promise((resolve) => httpServer.listen(Number(process.env.PORT), '127.0.0.1', resolve))
  await new Promise((resolve) => setTimeout(resolve, 100)) // the adapter's subscriptions
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`)
  const stop = () => {
    io.close()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
