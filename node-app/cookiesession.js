'use strict'

// The app of STORE_FLAVOR=cookie-session: a plain Express app whose
// sessions are cookie-session's, logged in the way its README shows
// (set fields on req.session; log out with req.session = null). The keys
// are the secrets; KEYGRIP_ALGORITHM (sha256, sha512) makes it pass
// new Keygrip(keys, algorithm), as an app that wants another HMAC does.

const cookieSession = require('cookie-session')
const Keygrip = require('keygrip')

function createApp(config, { loadExpress, wantsJSON, validUsername }) {
  const express = loadExpress(config.expressFlavor)
  const app = express()
  const options = {
    keys: config.keygripAlgorithm ? new Keygrip(config.secrets, config.keygripAlgorithm) : config.secrets,
    sameSite: 'lax',
  }
  // Only the options the app sets: the cookies package copies each onto
  // the cookie, so an explicit name: undefined would name it "undefined".
  if (config.cookieName) options.name = config.cookieName
  if (config.maxAgeMs != null) options.maxAge = config.maxAgeMs
  app.use(cookieSession(options))
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json())

  app.post('/login', (req, res) => {
    const username = validUsername(req.body)
    if (username === null) {
      res.status(400).json({ error: 'bad-username' })
      return
    }
    req.session.loggedIn = true
    req.session.username = username
    if (wantsJSON(req)) res.json({ ok: true, user: username })
    else res.redirect('/')
  })

  app.post('/logout', (req, res) => {
    req.session = null
    if (wantsJSON(req)) res.json({ ok: true })
    else res.redirect('/')
  })

  app.get('/whoami', (req, res) => {
    res.json({
      sid: null,
      loggedIn: req.session.loggedIn === true,
      username: req.session.username ?? null,
      session: req.session,
    })
  })

  return { app, ready: Promise.resolve(), close: async () => {} }
}

module.exports = { createApp }
