'use strict'

// Reads the environment (see README.md), starts the app, and prints exactly
// one stdout line "listening on http://HOST:PORT" once both the HTTP server
// listens and the Redis client is connected.

// Signal handlers first, so a SIGTERM during start-up still exits 0.
let stopping = false
let server = null
let closeApp = null

async function shutdown(signal) {
  if (stopping) return
  stopping = true
  // If closing hangs (a client keeps a connection), exit anyway.
  setTimeout(() => process.exit(0), 3000).unref()
  try {
    if (server) {
      await new Promise((resolve) => {
        server.close(() => resolve())
        if (server.closeAllConnections) server.closeAllConnections()
      })
    }
    if (closeApp) await closeApp()
  } catch (err) {
    console.error(`node-app: error during ${signal} shutdown:`, err.message)
  }
  process.exit(0)
}

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

const { fromEnv, ConfigError } = require('./config')

let config
try {
  config = fromEnv(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`node-app: ${err.message}\n`)
  process.exit(2)
}

const { createApp } = require('./app')
const { app, ready, close } = createApp(config)
closeApp = close

const listening = new Promise((resolve, reject) => {
  const s = app.listen(config.port, config.host, () => resolve(s))
  s.once('error', reject)
  server = s
})

listening.catch((err) => {
  console.error(`node-app: cannot listen on ${config.host}:${config.port}: ${err.message}`)
  process.exit(1)
})

Promise.all([listening, ready]).then(([s]) => {
  if (stopping) return
  const { port } = s.address()
  process.stdout.write(`listening on http://${config.host}:${port}\n`)
})
