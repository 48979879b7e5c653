'use strict'

// Routes for the Go cross-language tests. Mounted only when
// EXPRESSBRIDGE_TEST_ROUTES=1; the demo app itself does not need them.

function snapshot(session) {
  // What a JSON client sees, and what connect-redis stores (minus nothing).
  return JSON.parse(JSON.stringify(session))
}

function fixture() {
  return {
    profile: {
      name: 'Zoë 🚀',
      tags: ['a', null, 1.5, true],
      nested: { deep: { x: [1, { y: null }], s: 'ünïcödé ✓ 日本語' } },
    },
    at: new Date(0),
    big: 'x'.repeat(100000),
    n: 12345678901234,
    neg: -0.5,
    small: 1e-7,
    nul: null,
    t: true,
    f: false,
    empty: '',
    arr: [],
    obj: {},
    quote: '"\\<>&\u2028',
  }
}

// Keys that would break the Session object if assigned: its cookie, and
// anything it inherits or defines as non-enumerable (id, req, save, touch,
// __proto__, constructor, ...).
function reservedKey(session, key) {
  if (key === 'cookie') return true
  return key in session && !Object.prototype.propertyIsEnumerable.call(session, key)
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function mount(app, express, { config, cookieName, expressVersion }) {
  const router = express.Router()

  function saveAndRespond(req, res, next) {
    req.session.save((err) => {
      if (err) return next(err)
      res.json(snapshot(req.session))
    })
  }

  router.post('/fixture', (req, res, next) => {
    if (req.session.loggedIn !== true) {
      res.status(401).json({ error: 'not-logged-in' })
      return
    }
    Object.assign(req.session, fixture())
    saveAndRespond(req, res, next)
  })

  router.post('/set', (req, res, next) => {
    if (!isPlainObject(req.body)) {
      res.status(400).json({ error: 'body-must-be-object' })
      return
    }
    const bad = Object.keys(req.body).find((key) => reservedKey(req.session, key))
    if (bad !== undefined) {
      res.status(400).json({ error: 'reserved-key', key: bad })
      return
    }
    Object.assign(req.session, req.body)
    saveAndRespond(req, res, next)
  })

  router.post('/maxage', (req, res, next) => {
    const ms = req.body && req.body.ms
    if (!(ms === null || (typeof ms === 'number' && Number.isFinite(ms)))) {
      res.status(400).json({ error: 'bad-ms' })
      return
    }
    req.session.cookie.maxAge = ms
    saveAndRespond(req, res, next)
  })

  router.get('/config', (req, res) => {
    res.json({
      prefix: config.prefix,
      cookieName,
      expressVersion,
      store: config.storeFlavor,
      disableTTL: config.disableTTL,
      disableTouch: config.disableTouch,
      ttl: config.ttl,
      maxAgeMs: config.maxAgeMs,
    })
  })

  app.use('/test', router)
}

module.exports = { mount, fixture }
