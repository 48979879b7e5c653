#!/usr/bin/env node
'use strict'

// Benchmark peer (b): a Socket.IO 4 server sharing the Express app's
// express-session middleware the way Socket.IO's documentation shows
// ("How to use with express-session"): io.engine.use(sessionMiddleware),
// then a Socket.IO middleware that lets only logged-in sessions connect.
// A connected socket gets one `hello` event, {user: NAME}; a session that is
// not logged in gets CONNECT_ERROR {"message":"unauthorized"}. A `say` event
// with a string T is broadcast with io.emit('said', {user, text: T}) (the
// fan-out benchmark).
//
// Env: the same as server.js (PORT, HOST, REDIS_URL, SESSION_SECRETS_FILE,
// SESSION_PREFIX, ...). Prints "listening on http://HOST:PORT" when ready.

const { Server } = require('socket.io')
const { start } = require('./common')

start('peers/socketio', ({ server, sessionMiddleware }) => {
  const io = new Server(server)

  io.engine.use(sessionMiddleware)

  io.use((socket, next) => {
    const session = socket.request.session
    if (session && session.loggedIn === true) next()
    else next(new Error('unauthorized'))
  })

  io.on('connection', (socket) => {
    const user = socket.request.session.username
    socket.emit('hello', { user })
    // The fan-out benchmark's broadcast: one io.emit to every socket.
    socket.on('say', (text) => {
      if (typeof text === 'string') io.emit('said', { user, text })
    })
  })

  return () => new Promise((resolve) => io.close(() => resolve()))
})
