'use strict'

// The passport flavor of the app (AUTH_FLAVOR=passport): passport 0.7 with
// passport-local, set up the way passport's documentation and its
// todos-express-password example show. The login lives where most Express
// apps keep it: req.session.passport.user holds the serialized user id, a
// number. The Go bridge reads it with --login-field passport.user.

const passport = require('passport')
const LocalStrategy = require('passport-local')

// The demo's password for every user: this app is a test partner, not a
// user database.
const PASSWORD = 'let-me-in'

// A tiny user table. alice is 42, so that tests can check that a numeric id
// reaches Go as "42"; other names get the next free id.
function createUsers() {
  const byName = new Map([['alice', { id: 42, username: 'alice' }]])
  const byId = new Map([[42, byName.get('alice')]])
  let nextId = 100
  return {
    findOrCreate(username) {
      let user = byName.get(username)
      if (!user) {
        user = { id: nextId++, username }
        byName.set(username, user)
        byId.set(user.id, user)
      }
      return user
    },
    byId: (id) => byId.get(id),
  }
}

function mount(app, { cookieName, wantsJSON, validUsername }) {
  const users = createUsers()

  passport.use(
    new LocalStrategy((username, password, cb) => {
      const name = validUsername({ username })
      if (name === null || password !== PASSWORD) return cb(null, false, { message: 'Incorrect username or password.' })
      return cb(null, users.findOrCreate(name))
    }),
  )
  passport.serializeUser((user, cb) => {
    process.nextTick(() => cb(null, user.id))
  })
  passport.deserializeUser((id, cb) => {
    process.nextTick(() => cb(null, users.byId(id) || false))
  })

  app.use(passport.authenticate('session'))

  // passport.authenticate logs in with req.login, which regenerates the
  // session and stores passport.user.
  app.post('/login', passport.authenticate('local', { failWithError: true }), (req, res) => {
    if (wantsJSON(req)) res.json({ ok: true, user: req.user.username, id: req.user.id })
    else res.redirect('/')
  })

  // req.logout removes passport.user, saves, and regenerates the session.
  // keepSessionInfo carries the app's other session data (here, the
  // visitor's theme) into the fresh session, which is saved without a user.
  app.post('/logout', (req, res, next) => {
    req.session.theme = req.session.theme || 'light'
    req.logout({ keepSessionInfo: true }, (err) => {
      if (err) return next(err)
      if (wantsJSON(req)) res.json({ ok: true })
      else res.redirect('/')
    })
  })

  return {
    loggedIn: (req) => Boolean(req.user),
    username: (req) => (req.user ? req.user.username : null),
    cookieName,
  }
}

module.exports = { mount, PASSWORD }
