// The chat page's script: logs in and out of the Express app with fetch and
// talks to the Go bridge over a WebSocket. No build step, no framework.
(function () {
  'use strict'

  var config = window.EXPRESSBRIDGE || {}
  var SESSION_END_REASONS = ['logged-out', 'session-expired', 'session-changed']
  var MAX_BACKOFF_MS = 10000

  function $(id) { return document.getElementById(id) }
  var statusEl = $('status')
  var whoamiEl = $('whoami')
  var loginForm = $('login-form')
  var logoutForm = $('logout-form')
  var usernameInput = $('username')
  var loginError = $('login-error')
  var messagesEl = $('messages')
  var sendForm = $('send-form')
  var textInput = $('text')

  var ws = null           // the current socket; events of older ones are ignored
  var connected = false   // the current socket got its "hello"
  var retryTimer = null
  var backoffMs = 1000

  function setStatus(text) { statusEl.textContent = text }

  // The bridge's URL: BRIDGE_URL as the app gives it, where {hostname} is
  // the page's own host name (so the page works whether it was opened as
  // localhost or 127.0.0.1: the cookie belongs to the name in the address
  // bar), or a path on the page's own origin ("/ws" behind one proxy).
  function bridgeURL() {
    var base = (config.bridgeUrl || 'ws://{hostname}:8081/ws').replace('{hostname}', location.hostname)
    var url = new URL(base, location.href)
    if (url.protocol === 'http:') url.protocol = 'ws:'
    if (url.protocol === 'https:') url.protocol = 'wss:'
    url.searchParams.set('explain', '1')
    return url.toString()
  }

  function appendMessage(text) {
    var li = document.createElement('li')
    li.textContent = text
    messagesEl.appendChild(li)
    messagesEl.scrollTop = messagesEl.scrollHeight
  }

  function scheduleReconnect(delayMs) {
    clearTimeout(retryTimer)
    retryTimer = setTimeout(function () { connect(true) }, delayMs)
  }

  // Drops the current socket without reacting to its close.
  function dropSocket(code, reason) {
    clearTimeout(retryTimer)
    retryTimer = null
    var old = ws
    ws = null
    connected = false
    if (old) old.close(code, reason)
  }

  // A retry keeps the status line as it is ("Disconnected", "Server
  // unavailable, retrying…") until the new socket says otherwise.
  function connect(isRetry) {
    dropSocket(1000, 'reconnect')
    var sock
    try {
      sock = new WebSocket(bridgeURL())
    } catch (err) {
      setStatus('Disconnected')
      scheduleReconnect(backoffMs)
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS)
      return
    }
    ws = sock
    if (!isRetry) setStatus('Connecting…')

    sock.onmessage = function (event) {
      if (sock !== ws) return
      var msg
      try { msg = JSON.parse(event.data) } catch (e) { return }
      if (!msg || typeof msg !== 'object') return
      if (msg.type === 'hello') {
        connected = true
        backoffMs = 1000
        setStatus('Connected as ' + msg.user)
      } else if (msg.type === 'said') {
        appendMessage(msg.user + ': ' + msg.text)
      }
      // {"type":"error"} frames are followed by a close whose code says it all.
    }

    sock.onclose = function (event) {
      if (sock !== ws) return
      var wasConnected = connected
      ws = null
      connected = false
      onClose(event.code, event.reason, wasConnected)
    }
  }

  function onClose(code, reason, wasConnected) {
    if (code === 4401) {
      if (wasConnected && SESSION_END_REASONS.indexOf(reason) !== -1) {
        setStatus('Disconnected: ' + reason)
      } else {
        setStatus('Not logged in')
      }
    } else if (code === 4403) {
      setStatus('Refused: origin not allowed')
    } else if (code === 4503) {
      setStatus('Server unavailable, retrying…')
      scheduleReconnect(2000)
    } else {
      setStatus('Disconnected')
      scheduleReconnect(backoffMs)
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS)
    }
  }

  function showLoggedIn(username) {
    whoamiEl.textContent = username === null ? 'not logged in' : username
    loginForm.hidden = username !== null
    logoutForm.hidden = username === null
  }

  function refreshWhoami() {
    return fetch('/whoami', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (res) { return res.json() })
      .then(function (who) { showLoggedIn(who.loggedIn ? who.username : null) })
      .catch(function () { whoamiEl.textContent = 'unknown' })
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body || {}),
    }).then(function (res) {
      return res.json().catch(function () { return {} }).then(function (data) {
        return { ok: res.ok, data: data }
      })
    })
  }

  loginForm.addEventListener('submit', function (event) {
    event.preventDefault()
    loginError.textContent = ''
    postJSON('/login', { username: usernameInput.value }).then(function (result) {
      if (!result.ok) {
        loginError.textContent = result.data.error === 'bad-username'
          ? 'Username must be 1 to 64 characters.'
          : 'Login failed.'
        return
      }
      showLoggedIn(result.data.user)
      backoffMs = 1000
      connect()
    }, function () {
      loginError.textContent = 'Login failed.'
    })
  })

  logoutForm.addEventListener('submit', function (event) {
    event.preventDefault()
    postJSON('/logout').then(function (result) {
      if (!result.ok) return
      showLoggedIn(null)
      var sock = ws
      if (!sock) {
        // Nothing open (or only a retry pending): stay disconnected.
        dropSocket()
        setStatus('Disconnected: logged-out')
        return
      }
      // The bridge should close it with 4401 "logged-out"; if it has not
      // within a second, close it here.
      setTimeout(function () {
        if (ws !== sock) return
        dropSocket(1000, 'logged-out')
        setStatus('Disconnected: logged-out')
      }, 1000)
    })
  })

  sendForm.addEventListener('submit', function (event) {
    event.preventDefault()
    var text = textInput.value
    if (!text || !ws || !connected) return
    ws.send(JSON.stringify({ type: 'say', text: text }))
    textInput.value = ''
    textInput.focus()
  })

  refreshWhoami()
  connect()
})()
