#!/usr/bin/env node
'use strict'

// Push from Express (or any Node process) to the sockets of every instance,
// Go or Node, with the unmodified @socket.io/redis-emitter 5.1: what an
// Express route handler does to reach users connected to expressbridge.
//
//   node scripts/push.js REDIS_URL OP ARGS... [-- OP ARGS...]...
//
//   emit ROOM EVENT JSON       emitter.to(ROOM).emit(EVENT, JSON.parse(JSON))
//   emit-all EVENT JSON        emitter.emit(EVENT, JSON.parse(JSON))
//   join ROOM NEWROOM          emitter.in(ROOM).socketsJoin(NEWROOM)
//   leave ROOM OLDROOM         emitter.in(ROOM).socketsLeave(OLDROOM)
//   disconnect ROOM            emitter.in(ROOM).disconnectSockets()
//   ws TEXT                    emitter.of("/expressbridge-ws").emit("message", TEXT):
//                              a text frame for every /ws client of every Go instance
//
// Each operation is printed as it is published; the process exits once the
// Redis client has flushed them. Pub/Sub: sockets of instances not
// subscribed at that moment miss the message (at most once).

const { createClient } = require('redis')
const { Emitter } = require('@socket.io/redis-emitter')

async function main() {
  const [url, ...rest] = process.argv.slice(2)
  if (!url || rest.length === 0) {
    console.error('usage: node scripts/push.js REDIS_URL OP ARGS... [-- OP ARGS...]')
    process.exit(2)
  }
  const ops = [[]]
  for (const a of rest) {
    if (a === '--') ops.push([])
    else ops[ops.length - 1].push(a)
  }
  const client = createClient({ url })
  client.on('error', (err) => console.error('redis:', err.message))
  await client.connect()
  const emitter = new Emitter(client)
  for (const [op, ...args] of ops) {
    switch (op) {
      case 'emit':
        emitter.to(args[0]).emit(args[1], JSON.parse(args[2]))
        break
      case 'emit-all':
        emitter.emit(args[0], JSON.parse(args[1]))
        break
      case 'join':
        emitter.in(args[0]).socketsJoin(args[1])
        break
      case 'leave':
        emitter.in(args[0]).socketsLeave(args[1])
        break
      case 'disconnect':
        emitter.in(args[0]).disconnectSockets()
        break
      case 'ws':
        emitter.of('/expressbridge-ws').emit('message', args[0])
        break
      default:
        console.error(`unknown operation ${op}`)
        process.exit(2)
    }
    console.log(`published ${op} ${args.join(' ')}`)
  }
  await client.close() // QUIT after the queued PUBLISHes
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
