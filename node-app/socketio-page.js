'use strict'

// The Socket.IO demo page: /socketio.html, a chat that talks to the Go
// bridge with the unmodified socket.io-client, served from node_modules
// as any Express app would serve it. Mounted by app.js; it changes nothing
// else in the app.

const path = require('path')
const fs = require('fs')

const PAGE = fs.readFileSync(path.join(__dirname, 'views', 'socketio.html'), 'utf8')

// The bridge's HTTP origin: socket.io-client takes http(s) URLs and
// appends its path (/socket.io/). Derived from BRIDGE_URL (ws://host:port/ws,
// where {hostname} stands for the page's own host name); "" when BRIDGE_URL
// is a path: the bridge is on the page's own origin (behind one proxy) and
// io() connects there.
function socketioURL(bridgeUrl) {
  if (!bridgeUrl) return null
  if (bridgeUrl.startsWith('/')) return ''
  const u = new URL(bridgeUrl.replace('{hostname}', 'page-hostname.invalid'))
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:'
  return u.origin.replace('page-hostname.invalid', '{hostname}')
}

function mount(app, express, { bridgeUrl, scriptJSON }) {
  // The package's own dist folder, as its README suggests serving it.
  const dist = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist')
  app.use('/socket.io-client', express.static(dist))
  const page = PAGE.replace('/*CONFIG*/null', () => scriptJSON({ socketioUrl: socketioURL(bridgeUrl) }))
  app.get('/socketio.html', (req, res) => {
    res.type('html').send(page)
  })
}

module.exports = { mount, socketioURL }
