// The Socket.IO chat page's script: logs in and out of the Express app
// with fetch, and talks to the Go bridge with socket.io-client, the way
// any page would. ?transports=polling keeps it on long-polling.
(function () {
  'use strict'

  var config = window.EXPRESSBRIDGE || {}
  function $(id) { return document.getElementById(id) }
  var statusEl = $('status')
  var whoamiEl = $('whoami')
  var transportEl = $('transport')
  var messagesEl = $('messages')

  // What happened, in order, for tests and the curious.
  var events = []
  window.__sio = { events: events }
  function record(name, data) { events.push([name, data === undefined ? null : data]) }

  function setStatus(text) { statusEl.textContent = text }
  function appendMessage(text) {
    var li = document.createElement('li')
    li.textContent = text
    messagesEl.appendChild(li)
  }
  function showLoggedIn(user) {
    whoamiEl.textContent = user ? 'logged in as ' + user : 'not logged in'
    $('login-form').hidden = !!user
    $('logout-form').hidden = !user
  }

  var opts = { withCredentials: true, autoConnect: false } // the bridge is another origin: send the cookie
  var only = new URLSearchParams(location.search).get('transports')
  if (only) opts.transports = only.split(',')
  var base = config.socketioUrl == null ? location.protocol + '//{hostname}:8081' : config.socketioUrl
  var socket = base === '' ? io(opts) : io(base.replace('{hostname}', location.hostname), opts)
  window.__sio.socket = socket

  socket.io.on('open', function () {
    transportEl.textContent = socket.io.engine.transport.name
    socket.io.engine.on('upgrade', function (t) {
      transportEl.textContent = t.name
      record('upgrade', t.name)
    })
  })
  socket.on('hello', function (m) {
    record('hello', m)
    setStatus('Connected as ' + m.user)
    socket.emit('whoami', function (fields) {
      record('whoami', fields)
      showLoggedIn(fields.username)
    })
  })
  socket.on('said', function (m) {
    record('said', m)
    appendMessage(m.user + ': ' + m.text)
  })
  socket.on('connect_error', function (err) {
    record('connect_error', { message: err.message, data: err.data || null })
    setStatus(err.message === 'no-cookie' || err.message === 'not-logged-in' || err.message === 'no-session'
      ? 'Not logged in (' + err.message + ')'
      : 'Refused: ' + err.message + (err.data ? ' at ' + err.data.step : ''))
  })
  socket.on('session-ended', function (m) {
    record('session-ended', m)
    setStatus('Session ended: ' + m.reason)
  })
  socket.on('disconnect', function (reason) {
    record('disconnect', reason)
    if (reason === 'io server disconnect') {
      setStatus(statusEl.textContent + ' (disconnected by the server)')
    }
  })

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault()
    fetch('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: $('username').value }),
    }).then(function (res) {
      if (!res.ok) throw new Error('login failed: ' + res.status)
      record('login', $('username').value)
      socket.connect() // again, now with the cookie
    }).catch(function (err) { setStatus(err.message) })
  })
  $('logout-form').addEventListener('submit', function (ev) {
    ev.preventDefault()
    fetch('/logout', { method: 'POST', headers: { accept: 'application/json' } }).then(function () {
      record('logout')
      showLoggedIn(null)
    })
  })
  $('send-form').addEventListener('submit', function (ev) {
    ev.preventDefault()
    var text = $('text').value
    if (text && socket.connected) socket.emit('say', text)
    $('text').value = ''
  })

  fetch('/whoami').then(function (r) { return r.json() }).then(function (w) {
    showLoggedIn(w.loggedIn ? w.username : null)
    socket.connect() // a page that is not logged in learns why it is refused
  })
})()
