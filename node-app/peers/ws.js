#!/usr/bin/env node
'use strict'

// Benchmark peer (c): a plain `ws` server doing by hand what express-session
// does for a request, with the Express app's own pieces: parse the Cookie
// header with the `cookie` package express-session uses, unsign the "s:"
// value with its `cookie-signature` trying each secret in order (the first
// signs, all verify), store.get(sid) on the app's connect-redis store, and
// require loggedIn === true. Accepted: one text frame
// {"type":"hello","user":NAME}. Refused: an HTTP 401 (503 when the store
// fails, 404 off the /ws path) with a JSON body, before the upgrade, as the
// Go bridge does.
// The upgrade is wired the way ws's README shows for client authentication
// (noServer + the HTTP server's 'upgrade' event).
//
// Env: the same as server.js. Prints "listening on http://HOST:PORT".

const { WebSocketServer } = require('ws')
const { start } = require('./common')

const PATH = '/ws' // the bridge's default path

start('peers/ws', ({ server, store, secrets, cookieName, fromSession }) => {
  const cookie = fromSession('cookie')
  const signature = fromSession('cookie-signature')
  const wss = new WebSocketServer({ noServer: true })

  // The session ID from the Cookie header, or undefined: express-session's
  // getcookie (header part) and unsigncookie.
  function sessionID(header) {
    if (!header) return undefined
    const raw = cookie.parse(header)[cookieName]
    if (!raw || raw.substr(0, 2) !== 's:') return undefined
    const signed = raw.slice(2)
    for (let i = 0; i < secrets.length; i++) {
      const sid = signature.unsign(signed, secrets[i])
      if (sid !== false) return sid
    }
    return undefined
  }

  const REASONS = { 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' }

  function refuse(socket, status, code) {
    const body = JSON.stringify({ error: code })
    const reason = REASONS[status]
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Cache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }

  function onSocketError() {}

  // The fan-out benchmark's broadcast, as the bridge's chat does it:
  // {"type":"say","text":T} from one client becomes
  // {"type":"said","user":NAME,"text":T} to every client, by the loop over
  // wss.clients that ws's README shows for a broadcast.
  function onMessage(ws, data, isBinary) {
    if (isBinary) return
    let msg
    try {
      msg = JSON.parse(data)
    } catch {
      return
    }
    if (!msg || msg.type !== 'say' || typeof msg.text !== 'string') return
    const out = JSON.stringify({ type: 'said', user: ws.session.username, text: msg.text })
    for (const client of wss.clients) {
      if (client.readyState === 1) client.send(out)
    }
  }

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', onSocketError)
    if (req.url !== PATH && !req.url.startsWith(PATH + '?')) return refuse(socket, 404, 'not-found')
    const sid = sessionID(req.headers.cookie)
    if (sid === undefined) return refuse(socket, 401, 'no-session')
    store.get(sid, (err, sess) => {
      if (err) return refuse(socket, 503, 'store-unavailable')
      if (!sess || sess.loggedIn !== true) return refuse(socket, 401, 'not-logged-in')
      socket.removeListener('error', onSocketError)
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.session = sess // kept with the connection, as the bridge and Socket.IO keep theirs
        ws.on('error', onSocketError)
        ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary))
        ws.send(JSON.stringify({ type: 'hello', user: sess.username }))
      })
    })
  })

  return async () => {
    for (const ws of wss.clients) ws.terminate()
    await new Promise((resolve) => wss.close(() => resolve()))
  }
})
