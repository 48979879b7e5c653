'use strict'
// The real socket.io-client against examples/socketio-service, with the
// cookie of a passport login (COOKIE) and the app's origin (ORIGIN).
// Prints one line per check; after "ready" it waits for the logout that
// the Go test then makes, and prints how the server ended the socket.
const assert = require('node:assert/strict')
const { io } = require('socket.io-client')

const opts = { transports: ['websocket'], extraHeaders: { cookie: process.env.COOKIE, origin: process.env.ORIGIN } }
const url = process.env.URL
const timer = setTimeout(() => { console.log('timeout'); process.exit(1) }, 15000)

async function main() {
  const chat = io(url + '/chat', opts)
  const notes = io(url + '/notes', opts)
  assert.equal(await chat.timeout(5000).emitWithAck('join', 'lobby'), 'lobby')
  const said = new Promise((resolve) => chat.once('said', resolve))
  chat.emit('say', { room: 'lobby', text: 'hi' })
  console.log('said', JSON.stringify(await said))
  console.log('count', JSON.stringify(await notes.timeout(5000).emitWithAck('count', 'héllo')))
  const ended = new Promise((resolve) => chat.once('session-ended', resolve))
  const gone = new Promise((resolve) => chat.once('disconnect', resolve))
  console.log('ready')
  console.log('session-ended', JSON.stringify(await ended))
  console.log('disconnect', await gone)
  clearTimeout(timer)
  notes.close()
}
main().catch((err) => { console.log('error', err.message); process.exit(1) })
