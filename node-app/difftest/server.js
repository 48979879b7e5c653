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

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
})
process.on('SIGTERM', () => io.close(() => process.exit(0)))
