'use strict'

// Start-up shared by the benchmark peers (socketio.js, ws.js): they read the
// same environment as server.js (config.js's fromEnv) and build the Express
// app with app.js's createApp, so the express-session middleware, its Redis
// store (connect-redis, same prefix), secrets list and cookie name are the
// Express app's own instances, not a copy of its options. Each peer then
// serves WebSockets on PORT instead of the Express routes.
//
// Contract (the same as server.js): once the HTTP server listens and the
// Redis client is connected it prints exactly one stdout line
// "listening on http://HOST:PORT"; SIGTERM/SIGINT close everything and exit 0.

const http = require('http')
const path = require('path')

const { fromEnv, ConfigError } = require('../config')
const { createApp } = require('../app')

// The packages express-session itself uses (cookie 0.7.2, cookie-signature
// 1.0.7), resolved from its directory as scripts/bench-unsign.js does.
const esDir = path.dirname(require.resolve('express-session'))
const fromSession = (request) => require(require.resolve(request, { paths: [esDir] }))

// sessionMiddlewareOf returns the express-session middleware that
// createApp() mounted on its app (Express 4 keeps the router in app._router,
// Express 5 in app.router).
function sessionMiddlewareOf(app) {
  const router = app._router || app.router
  const layer = router && router.stack.find((l) => l.name === 'session')
  if (!layer) throw new Error('peers: createApp() mounted no express-session middleware')
  return layer.handle
}

/**
 * start(name, setup): reads the env, builds the app's session pieces, calls
 * setup({server, config, store, secrets, cookieName, sessionMiddleware,
 * fromSession}) which attaches its WebSocket server to `server` and may
 * return an async close function, then listens on HOST:PORT.
 */
function start(name, setup) {
  let stopping = false
  let server = null
  let closeApp = null
  let closePeer = null

  async function shutdown(signal) {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(0), 3000).unref()
    try {
      if (closePeer) await closePeer()
      if (server) {
        await new Promise((resolve) => {
          server.close(() => resolve())
          if (server.closeAllConnections) server.closeAllConnections()
        })
      }
      if (closeApp) await closeApp()
    } catch (err) {
      console.error(`${name}: error during ${signal} shutdown:`, err.message)
    }
    process.exit(0)
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  let config
  try {
    config = fromEnv(process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${name}: ${err.message}\n`)
    process.exit(2)
  }

  const { app, store, ready, close } = createApp(config)
  closeApp = close
  server = http.createServer((req, res) => {
    res.writeHead(404, { 'Content-Type': 'application/json' })
    res.end('{"error":"not-found"}')
  })
  closePeer = setup({
    server,
    config,
    store,
    secrets: config.secrets,
    cookieName: config.cookieName || 'connect.sid',
    sessionMiddleware: sessionMiddlewareOf(app),
    fromSession,
  }) || null

  const listening = new Promise((resolve, reject) => {
    server.listen(config.port, config.host, () => resolve(server))
    server.once('error', reject)
  })
  listening.catch((err) => {
    console.error(`${name}: cannot listen on ${config.host}:${config.port}: ${err.message}`)
    process.exit(1)
  })
  Promise.all([listening, ready]).then(([s]) => {
    if (stopping) return
    process.stdout.write(`listening on http://${config.host}:${s.address().port}\n`)
  })
}

module.exports = { start }
