'use strict'

// A plain Express app using express-session + connect-redis, set up the way
// their READMEs show. It knows nothing about the Go bridge except the URL it
// hands to the page.

const path = require('path')
const fs = require('fs')
const session = require('express-session')

const PAGE = fs.readFileSync(path.join(__dirname, 'views', 'index.html'), 'utf8')

function loadExpress(flavor) {
  return flavor === '5' ? require('express5') : require('express')
}

// Builds the Redis client and the connect-redis store for the configured
// flavor. `ready` resolves once the client is connected.
function createRedisStore(config) {
  const storeOptions = { prefix: config.prefix }
  if (config.ttl != null) storeOptions.ttl = config.ttl
  if (config.disableTTL) storeOptions.disableTTL = true
  if (config.disableTouch) storeOptions.disableTouch = true

  if (config.storeFlavor === 'connect-redis9-cluster' || config.storeFlavor === 'connect-redis9-sentinel') {
    return require('./redis-scale').createScaleStore(config, storeOptions)
  }

  if (config.storeFlavor === 'connect-redis8-ioredis') {
    const { RedisStore } = require('connect-redis8')
    const Redis = require('ioredis')
    const client = new Redis(config.redisUrl)
    client.on('error', (err) => console.error('redis client error:', err.message))
    const ready = new Promise((resolve) => {
      if (client.status === 'ready') resolve()
      else client.once('ready', resolve)
    })
    const store = new RedisStore({ client, ...storeOptions })
    return { store, ready, close: () => client.quit().catch(() => client.disconnect()) }
  }

  const { RedisStore } = require('connect-redis')
  const { createClient } = require('redis')
  const client = createClient({ url: config.redisUrl })
  client.on('error', (err) => console.error('redis client error:', err.message))
  const ready = client.connect().then(() => undefined)
  ready.catch((err) => console.error('redis connect failed:', err.message))
  const store = new RedisStore({ client, ...storeOptions })
  return {
    store,
    ready,
    close: async () => {
      if (client.isOpen) await client.close().catch(() => client.destroy())
    },
  }
}

// Safe to put inside <script>: no "</script>", no "<!--", no U+2028/2029.
function scriptJSON(value) {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

function wantsJSON(req) {
  return (req.get('accept') || '').includes('application/json') || Boolean(req.is('application/json'))
}

function validUsername(body) {
  if (!body || typeof body.username !== 'string') return null
  const username = body.username.trim()
  const length = Array.from(username).length // code points
  return length >= 1 && length <= 64 ? username : null
}

/**
 * createApp(config) -> { app, close, ready, store }
 *
 * config: the object config.fromEnv() returns. Two extra keys exist for
 * scripts only (never set from the environment): `store` (use this
 * express-session store instead of Redis) and `genid` (express-session's
 * genid option).
 */
function createApp(config) {
  if (config.storeFlavor === 'cookie-session') {
    return require('./cookiesession').createApp(config, { loadExpress, wantsJSON, validUsername })
  }
  const express = loadExpress(config.expressFlavor)
  const app = express()

  let redis = null
  let store = config.store
  if (!store) {
    if (config.storeFlavor === 'connect-pg-simple') redis = require('./pgstore').createPgStore(config)
    else if (config.storeFlavor === 'express-mysql-session') redis = require('./mysqlstore').createMySQLStore(config)
    else if (config.storeFlavor === 'connect-session-knex') redis = require('./knexstore').createKnexStore(config)
    else redis = createRedisStore(config)
    store = redis.store
  }

  const cookieName = config.cookieName || 'connect.sid'
  const cookie = { sameSite: 'lax', httpOnly: true }
  if (config.maxAgeMs != null) cookie.maxAge = config.maxAgeMs

  const sessionOptions = {
    store,
    secret: config.secrets,
    resave: false,
    saveUninitialized: false,
    cookie,
  }
  if (config.cookieName) sessionOptions.name = config.cookieName
  if (config.genid) sessionOptions.genid = config.genid

  app.use(session(sessionOptions))
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json())

  const page = PAGE.replace('/*CONFIG*/null', () => scriptJSON({ bridgeUrl: config.bridgeUrl || null }))

  app.get('/', (req, res) => {
    res.type('html').send(page)
  })
  app.use(express.static(path.join(__dirname, 'public')))
  require('./socketio-page').mount(app, express, { bridgeUrl: config.bridgeUrl, scriptJSON })

  let auth = {
    loggedIn: (req) => req.session.loggedIn === true,
    username: (req) => req.session.username ?? null,
  }
  if (config.authFlavor === 'passport') {
    auth = require('./passport').mount(app, { cookieName, wantsJSON, validUsername })
  } else {
    app.post('/login', (req, res, next) => {
      const username = validUsername(req.body)
      if (username === null) {
        res.status(400).json({ error: 'bad-username' })
        return
      }
      // regenerate the session, which is good practice to help
      // guard against forms of session fixation
      req.session.regenerate((err) => {
        if (err) return next(err)

        req.session.loggedIn = true
        req.session.username = username

        // save the session before redirection to ensure page
        // load does not happen before session is saved
        req.session.save((err) => {
          if (err) return next(err)
          if (wantsJSON(req)) res.json({ ok: true, user: username })
          else res.redirect('/')
        })
      })
    })

    app.post('/logout', (req, res, next) => {
      req.session.destroy((err) => {
        if (err) return next(err)
        res.clearCookie(cookieName)
        if (wantsJSON(req)) res.json({ ok: true })
        else res.redirect('/')
      })
    })
  }

  app.get('/whoami', (req, res) => {
    res.json({
      sid: req.sessionID,
      loggedIn: auth.loggedIn(req),
      username: auth.username(req),
      session: req.session,
    })
  })

  if (config.testRoutes) {
    require('./test-routes').mount(app, express, {
      config,
      cookieName,
      expressVersion: require(`${config.expressFlavor === '5' ? 'express5' : 'express'}/package.json`).version,
    })
  }

  // JSON errors (bad JSON bodies, store failures).
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const status = err.status || err.statusCode || 500
    if (status >= 500) console.error(err)
    res.status(status).json({ error: status >= 500 ? 'internal' : 'bad-request' })
  })

  return {
    app,
    store,
    ready: redis ? redis.ready : Promise.resolve(),
    close: async () => {
      if (redis) await redis.close()
    },
  }
}

module.exports = { createApp }
