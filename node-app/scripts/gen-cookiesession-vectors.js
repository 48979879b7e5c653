#!/usr/bin/env node
'use strict'

// Generates the cookie-session vectors the Go tests read:
//   node scripts/gen-cookiesession-vectors.js [OUT]
//   (default ../connectsid/cookiesession/testdata/vectors.json)
//
// Every answer comes from the real packages: the cookies cookie-session
// sets (a real Express 4 app with cookie-session, its Set-Cookie headers),
// and what that app sees for each Cookie header sent over a raw TCP socket
// (req.session.isNew, JSON.stringify(req.session), whether the cookies
// package re-signed .sig because an older key verified). Signatures of the
// crafted inputs are made by the keygrip instance cookie-session uses.
// A `header` string stands for Buffer.from(header, 'latin1'). The output
// is deterministic.

const assert = require('assert')
const fs = require('fs')
const net = require('net')
const path = require('path')

const NODE_APP = path.resolve(__dirname, '..')
const csMain = require.resolve('cookie-session')
const cookieSession = require('cookie-session')
const cookiesMain = require.resolve('cookies', { paths: [path.dirname(csMain)] })
const Keygrip = require(require.resolve('keygrip', { paths: [path.dirname(cookiesMain)] }))
const express = require('express')

const version = (main, name) => {
  let dir = path.dirname(main)
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).name !== name) dir = path.dirname(dir)
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
}

// The apps: keys and algorithm, as cookieSession({ keys }) or
// cookieSession({ keys: new Keygrip(keys, alg) }).
const APPS = {
  sha1: { keys: ['new key', 'old key'] },
  sha1old: { keys: ['old key'] },
  sha256: { keys: ['k256 one', 'k256 two'], algorithm: 'sha256' },
  sha512: { keys: ['k512'], algorithm: 'sha512' },
  named: { keys: ['new key'], name: 'my.sess' },
}

function appKeys(a) { return a.algorithm ? new Keygrip(a.keys, a.algorithm) : a.keys }
function grip(a) { return new Keygrip(a.keys, a.algorithm) }

function rawRequest(port, text) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    const chunks = []
    sock.on('data', (d) => chunks.push(d))
    sock.on('error', reject)
    sock.on('end', () => {
      const s = Buffer.concat(chunks).toString('latin1')
      const [head, body] = [s.slice(0, s.indexOf('\r\n\r\n')), s.slice(s.indexOf('\r\n\r\n') + 4)]
      const setCookie = head.split('\r\n').filter((l) => /^set-cookie:/i.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim())
      resolve({ status: Number(head.split(' ')[1]), setCookie, body })
    })
    sock.end(Buffer.from(text, 'latin1'))
  })
}

const servers = []
async function start(a) {
  const app = express()
  app.use(express.json())
  // Only the options the app sets: cookies copies every option onto the
  // cookie, so an explicit name: undefined would name it "undefined".
  app.use(cookieSession(a.name ? { name: a.name, keys: appKeys(a) } : { keys: appKeys(a) }))
  app.get('/see', (req, res) => {
    const s = req.session
    res.json({ isNew: s.isNew, json: JSON.stringify(s) })
  })
  app.post('/set', (req, res) => {
    for (const [k, v] of Object.entries(req.body)) req.session[k] = v
    res.end('ok')
  })
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  servers.push(server)
  a.port = server.address().port
}

// sign: what cookie-session sets for a session of these fields.
async function signCase(name, appName, fields) {
  const a = APPS[appName]
  const body = JSON.stringify(fields)
  const res = await rawRequest(a.port, `POST /set HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` + Buffer.from(body, 'utf8').toString('latin1'))
  assert.strictEqual(res.status, 200, name)
  const cookieName = a.name || 'session'
  const get = (n) => {
    const h = res.setCookie.find((c) => c.startsWith(n + "="))
    if (!h) throw new Error(name + ": no Set-Cookie " + n + ": " + JSON.stringify(res))
    return h.slice(n.length + 1, h.indexOf(';'))
  }
  const value = get(cookieName)
  const sig = get(cookieName + '.sig')
  const record = Buffer.from(value, 'base64').toString('utf8')
  return { name, app: appName, record, value, sig }
}

// see: what the app makes of a Cookie header.
async function seeCase(name, appName, header, note) {
  const a = APPS[appName]
  for (let i = 0; i < header.length; i++) assert(header.charCodeAt(i) <= 0xff, name)
  const res = await rawRequest(a.port, `GET /see HTTP/1.1\r\nHost: x\r\nCookie: ${header}\r\nConnection: close\r\n\r\n`)
  assert.strictEqual(res.status, 200, name + ' ' + res.body)
  const body = JSON.parse(Buffer.from(res.body, 'latin1').toString('utf8'))
  const sigName = (a.name || 'session') + '.sig'
  const out = { name, app: appName, header, accepted: !body.isNew }
  if (!body.isNew) out.json = body.json
  out.resigned = res.setCookie.some((c) => c.startsWith(sigName + '=') && !c.startsWith(sigName + '=;'))
  out.sigCleared = res.setCookie.some((c) => c.startsWith(sigName + '=;'))
  if (note) out.bridge = note // where the bridge knowingly differs (input description)
  return out
}

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64')

async function main() {
  const out = path.resolve(process.argv[2] || path.join(NODE_APP, '..', 'connectsid', 'cookiesession', 'testdata', 'vectors.json'))
  for (const a of Object.values(APPS)) await start(a)

  const sign = []
  sign.push(await signCase('login', 'sha1', { loggedIn: true, username: 'alice' }))
  sign.push(await signCase('unicode', 'sha1', { loggedIn: true, username: 'Zoë 🎉', note: 'a "quote" </script>' }))
  sign.push(await signCase('nested', 'sha1', { passport: { user: 42 }, theme: 'dark' }))
  sign.push(await signCase('old key', 'sha1old', { loggedIn: true, username: 'bob' }))
  sign.push(await signCase('sha256', 'sha256', { loggedIn: true, username: 'carol' }))
  sign.push(await signCase('sha512', 'sha512', { loggedIn: true, username: 'dave' }))
  sign.push(await signCase('named cookie', 'named', { loggedIn: true, username: 'erin' }))
  sign.push(await signCase('padding 1', 'sha1', { u: 'ab' }))
  sign.push(await signCase('padding 2', 'sha1', { u: 'abc' }))
  const S = Object.fromEntries(sign.map((s) => [s.name, s]))

  // A value and its signature by the app's own keygrip (first key).
  const signed = (appName, value) => {
    const a = APPS[appName]
    return `${a.name || 'session'}=${value}; ${a.name || 'session'}.sig=${grip(a).sign((a.name || 'session') + '=' + value)}`
  }
  const login = S.login
  const see = []
  const add = async (name, appName, header, note) => see.push(await seeCase(name, appName, header, note))

  await add('login', 'sha1', `session=${login.value}; session.sig=${login.sig}`)
  await add('sig first', 'sha1', `session.sig=${login.sig}; session=${login.value}`)
  await add('among others', 'sha1', `a=1; session=${login.value};b=2;  session.sig=${login.sig}; c=3`)
  await add('unicode', 'sha1', `session=${S.unicode.value}; session.sig=${S.unicode.sig}`)
  await add('nested', 'sha1', `session=${S.nested.value}; session.sig=${S.nested.sig}`)
  await add('rotation: signed by the old key', 'sha1', `session=${S['old key'].value}; session.sig=${S['old key'].sig}`)
  await add('sha256', 'sha256', `session=${S.sha256.value}; session.sig=${S.sha256.sig}`)
  await add('sha512', 'sha512', `session=${S.sha512.value}; session.sig=${S.sha512.sig}`)
  await add('sha1 cookie to a sha256 app', 'sha256', `session=${login.value}; session.sig=${login.sig}`)
  await add('named cookie', 'named', `my.sess=${S['named cookie'].value}; my.sess.sig=${S['named cookie'].sig}`)
  await add('named cookie, default name sent', 'named', `session=${S['named cookie'].value}; session.sig=${S['named cookie'].sig}`)
  await add('no sig', 'sha1', `session=${login.value}`)
  await add('empty sig', 'sha1', `session=${login.value}; session.sig=`)
  await add('no session', 'sha1', `session.sig=${login.sig}`)
  await add('empty session', 'sha1', `session=; session.sig=${login.sig}`)
  await add('no cookie header value', 'sha1', `other=1`)
  await add('sig of another value', 'sha1', `session=${S.nested.value}; session.sig=${login.sig}`)
  await add('sig one char off', 'sha1', `session=${login.value}; session.sig=${login.sig.slice(0, -1)}${login.sig.endsWith('A') ? 'B' : 'A'}`)
  await add('sig truncated', 'sha1', `session=${login.value}; session.sig=${login.sig.slice(0, -1)}`)
  await add('sig with padding', 'sha1', `session=${login.value}; session.sig=${login.sig}=`)
  await add('tampered value', 'sha1', `session=${b64('{"loggedIn":true,"username":"mallory"}')}; session.sig=${login.sig}`)
  await add('first of two session cookies', 'sha1', `session=${login.value}; session=${S.nested.value}; session.sig=${login.sig}`)
  await add('second of two session cookies', 'sha1', `session=${S.nested.value}; session=${login.value}; session.sig=${login.sig}`)
  await add('quoted value', 'sha1', signed('sha1', login.value).replace(/^session=([^;]*)/, 'session="$1"'))
  await add('quoted sig', 'sha1', `session=${login.value}; session.sig="${login.sig}"`)
  await add('spaces before names', 'sha1', `   session=${login.value};   session.sig=${login.sig}`)
  await add('tab before name', 'sha1', `a=1;\tsession=${login.value}; session.sig=${login.sig}`)
  await add('name as a suffix', 'sha1', `xsession=${login.value}; xsession.sig=${login.sig}`)
  await add('name as a prefix', 'sha1', `sessionx=${login.value}; session.sigx=${login.sig}`)
  await add('space before =', 'sha1', `session =${login.value}; session.sig=${login.sig}`)
  await add('trailing space in value, signed', 'sha1', `session=${login.value} ; session.sig=${grip(APPS.sha1).sign('session=' + login.value + ' ')}`, 'refuses: not base64 as cookie-session writes it')
  await add('percent-encoded value', 'sha1', signed('sha1', encodeURIComponent(S['padding 1'].value)))
  await add('unpadded value, signed', 'sha1', signed('sha1', S['padding 1'].value.replace(/=+$/, '')))
  await add('url-safe base64, signed', 'sha1', signed('sha1', b64('{"u":"\u00ff\u00fe?>"}').replace(/\+/g, '-').replace(/\//g, '_')), 'refuses: not base64 as cookie-session writes it')
  await add('dropped fields', 'sha1', signed('sha1', b64('{"loggedIn":true,"isNew":1,"isPopulated":2,"_ctx":3,"constructor":4,"__proto__":{"a":1},"toString":5,"cookie":{"x":1}}')))
  await add('duplicate keys', 'sha1', signed('sha1', b64('{"username":"a","username":"b","loggedIn":true}')))
  await add('not JSON, signed', 'sha1', signed('sha1', b64('{"loggedIn":tru')))
  await add('JSON number, signed', 'sha1', signed('sha1', b64('1')), 'refuses: not a JSON object')
  await add('JSON null, signed', 'sha1', signed('sha1', b64('null')), 'refuses: not a JSON object')
  await add('JSON array, signed', 'sha1', signed('sha1', b64('["x"]')), 'refuses: not a JSON object')
  await add('empty object, signed', 'sha1', signed('sha1', b64('{}')))
  await add('latin1 byte in value, signed', 'sha1', signed('sha1', login.value + '\u00e9'), 'refuses: not base64 as cookie-session writes it')

  for (const s of servers) await new Promise((r) => s.close(r))
  const names = new Set(see.map((x) => x.name))
  assert.strictEqual(names.size, see.length)

  const doc = {
    comment: 'Generated by node-app/scripts/gen-cookiesession-vectors.js from the real npm packages; do not edit.',
    versions: { node: process.version, 'cookie-session': version(csMain, 'cookie-session'), cookies: version(cookiesMain, 'cookies'),
      keygrip: version(require.resolve('keygrip', { paths: [path.dirname(cookiesMain)] }), 'keygrip'), express: version(require.resolve('express'), 'express') },
    apps: Object.fromEntries(Object.entries(APPS).map(([k, a]) => [k, { keys: a.keys, algorithm: a.algorithm || 'sha1', name: a.name || 'session' }])),
    sign,
    see,
  }
  delete doc.versions.node // the output must not depend on the Node version
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, JSON.stringify(doc, null, 2) + '\n')
  process.stderr.write(`gen-cookiesession-vectors: ${path.relative(process.cwd(), out)}: sign=${sign.length} see=${see.length} accepted=${see.filter((s) => s.accepted).length}\n`)
}

main().catch((err) => { console.error(err); process.exit(1) })
