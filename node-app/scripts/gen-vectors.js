#!/usr/bin/env node
'use strict'

// Generates the cross-language test vectors the Go tests read:
//   node scripts/gen-vectors.js [OUT]      (default ../testdata/cookies.json)
// The two big parse cases go to cookies-big.json beside OUT (same schema).
//
// Every expected answer comes from the real packages: cookie.parse and
// cookie-signature.sign as loaded by express-session, and verdicts from a
// real Express 4 + express-session app that receives each header over a raw
// TCP socket. Nothing here re-implements their logic to decide a result; the
// script only builds inputs. The output is deterministic (fixed sids and
// secrets, no dates, no randomness).
//
// A `header` string stands for the bytes Buffer.from(header, 'latin1'): that
// is exactly what is written to the socket, and what Node's HTTP parser hands
// back to JavaScript as req.headers.cookie.

const assert = require('assert')
const crypto = require('crypto')
const fs = require('fs')
const net = require('net')
const path = require('path')
const util = require('util')

const NODE_APP = path.resolve(__dirname, '..')

// ---------------------------------------------------------------------------
// The exact module instances express-session uses.

const esMain = require.resolve('express-session')
const esDir = path.dirname(esMain)
const fromSession = (request) => require.resolve(request, { paths: [esDir] })

// express-session's debug (2.x) decides whether a namespace is enabled when
// the instance is created, so hook it before express-session is loaded.
const debugModule = require(fromSession('debug'))
const debugLines = []
debugModule.enable('express-session')
debugModule.log = (...args) => {
  debugLines.push(util.format(...args))
}

const session = require('express-session')
const cookie = require(fromSession('cookie'))
const signature = require(fromSession('cookie-signature'))
const express4 = require('express')

{
  // Prove those are the very files express-session loaded.
  const children = require.cache[esMain].children.map((m) => m.filename)
  for (const request of ['cookie', 'cookie-signature', 'debug']) {
    assert(children.includes(fromSession(request)), `express-session does not use ${fromSession(request)}`)
  }
}

function packageVersion(pkgJsonPath) {
  return JSON.parse(fs.readFileSync(pkgJsonPath, 'utf8')).version
}

const versions = {
  express: packageVersion(require.resolve('express/package.json')),
  'express-session': packageVersion(path.join(esDir, 'package.json')),
  cookie: packageVersion(fromSession('cookie/package.json')),
  'cookie-signature': packageVersion(fromSession('cookie-signature/package.json')),
}
assert.strictEqual(versions.express.split('.')[0], '4', 'verify vectors need Express 4 at node_modules/express')

// ---------------------------------------------------------------------------
// Inputs.

const SECRET = 'keyboard cat'
const ROT2 = ['new-secret-2024', 'old-secret-2023']
const ROT3 = ['s-current', 's-previous', 's-ancient']
const UNICODE_SECRET = 'sécret-🔑'
const LONG_SECRET = Array.from({ length: 200 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[i % 36]).join('')
const NOT_LISTED = 'some-other-secret'

// uid-safe-looking sids (24 bytes -> 32 chars of base64url), fixed.
const SID = 'd-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR'
const SID2 = 'Tq3bN8Z0aX-y_LmP4vQ7wR2sK9dF1hJc'
const SID3 = 'yE2rW_9kP0-nQ5sT8uV1xZ4aB7cD3fGh'
const SID4 = 'Mn0pQrStUvWxYz-_AbCdEfGhIjKlMnOp'
const BIG_SID = Array.from({ length: 4096 }, (_, i) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[(i * 7) % 64]).join('')

const signed = (sid, secret) => 's:' + signature.sign(sid, secret)
const enc = (sid, secret) => encodeURIComponent(signed(sid, secret))
const macOf = (sid, secret) => signature.sign(sid, secret).slice(sid.length + 1)
const otherHmac = (algo, sid, secret) =>
  crypto.createHmac(algo, secret).update(sid).digest('base64').replace(/=+$/, '')

// Flips one character of a base64 MAC to another base64 character.
function flipChar(mac, index) {
  const c = mac[index]
  const replacement = c === 'A' ? 'B' : 'A'
  return mac.slice(0, index) + replacement + mac.slice(index + 1)
}

// Flips the case of the first letter in a MAC.
function flipCase(mac) {
  const i = mac.search(/[A-Za-z]/)
  const c = mac[i]
  const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()
  return mac.slice(0, i) + flipped + mac.slice(i + 1)
}

// Picks (deterministically) a sid whose MAC under `secret` holds both '+'
// and '/', so a raw, unencoded value shows them on the wire.
function sidWithPlusSlash(secret) {
  for (let i = 0; ; i++) {
    const sid = `plus-slash-${i}`
    const mac = macOf(sid, secret)
    if (mac.includes('+') && mac.includes('/')) return sid
  }
}

// ---------------------------------------------------------------------------
// parse: cookie.parse on a header string.

function parseCase(name, header) {
  checkHeader(header)
  return { name, header, cookies: cookie.parse(header) }
}

function checkHeader(header) {
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i)
    if (c > 0xff) throw new Error(`header char U+${c.toString(16)} is not latin1: ${JSON.stringify(header)}`)
    if (c === 0x0d || c === 0x0a || c === 0x00) throw new Error(`header holds CR/LF/NUL: ${JSON.stringify(header)}`)
  }
}

// A UTF-8 string as Node sees its raw bytes in a header: one char per byte.
const rawUtf8 = (s) => Buffer.from(s, 'utf8').toString('latin1')

function parseCases() {
  return [
    parseCase('single pair', 'a=b'),
    parseCase('two pairs', 'a=b; c=d'),
    parseCase('no space after semicolon', 'a=b;c=d'),
    parseCase('space before semicolon', 'a=b ;c=d'),
    parseCase('first pair of a name wins', 'a=1; a=2'),
    parseCase('first pair wins even when empty', 'a=; a=2'),
    parseCase('first pair wins even when not decodable', 'a=%zz; a=ok'),
    parseCase('names are case-sensitive', 'A=1; a=2'),
    parseCase('spaces around names and values', '  a  =  b  ;  c  =  d  '),
    parseCase('tabs around names and values', '\ta\t=\tb\t;\tc=d\t'),
    parseCase('spaces inside a value are kept', 'a=b c  d; e=f'),
    parseCase('space inside a name is kept', 'a b=c'),
    parseCase('double-quoted value', 'a="b"'),
    parseCase('double-quoted value with spaces outside', 'a=  "b"  '),
    parseCase('double-quoted value keeps inner spaces', 'a=" b "'),
    parseCase('lone double quote', 'a="'),
    parseCase('empty double quotes', 'a=""'),
    parseCase('opening quote only', 'a="b'),
    parseCase('closing quote only', 'a=b"'),
    parseCase('quotes inside a value', 'a=b"c"d'),
    parseCase('quoted value is percent-decoded', 'a="%41%42"'),
    parseCase('semicolon inside quotes still splits', 'a="b;c"; d=e'),
    parseCase('percent-decoded', 'a=%41%42'),
    parseCase('percent-encoded space', 'a=b%20c'),
    parseCase('plus is not a space', 'a=b+c'),
    parseCase('encoded plus', 'a=%2B'),
    parseCase('decoded only once', 'a=%2541'),
    parseCase('lone percent kept raw', 'a=%'),
    parseCase('bad escape %zz kept raw', 'a=%zz'),
    parseCase('one bad escape keeps the whole value raw', 'a=%41%zz'),
    parseCase('latin1 escape %E9 alone kept raw', 'a=caf%E9'),
    parseCase('UTF-8 escape decoded', 'a=caf%C3%A9'),
    parseCase('surrogate UTF-8 escape kept raw', 'a=%ED%A0%80'),
    parseCase('overlong UTF-8 escape kept raw', 'a=%C0%AF'),
    parseCase('truncated UTF-8 escape kept raw', 'a=%F0%9F%9A'),
    parseCase('4-byte UTF-8 escape decoded', 'a=%F0%9F%9A%80'),
    parseCase('names are not decoded', 'a%41=b'),
    parseCase('pair without = ignored', 'a; b=c'),
    parseCase('pair without = in the middle', 'a=b; c; d=e'),
    parseCase('only pairs without =', 'a; b; c'),
    parseCase('= inside a value', 'a=b=c=d'),
    parseCase('comma is not a separator', 'a=b, c=d'),
    parseCase('empty name', '=b'),
    parseCase('empty name and value', '=;'),
    parseCase('empty value', 'a=; b=c'),
    parseCase('value of spaces only', 'a=   ; b=c'),
    parseCase('semicolon runs', ';;a=b;;; ;c=d;;'),
    parseCase('empty header', ''),
    parseCase('one-char header', 'a'),
    parseCase('one-char header =', '='),
    parseCase('two-char header', 'a='),
    parseCase('__proto__ name is dropped', '__proto__=x; a=b'),
    parseCase('__proto__ twice', '__proto__=x; __proto__=y'),
    parseCase('Object.prototype names become own keys', 'constructor=x; toString=y; hasOwnProperty=z'),
    parseCase('numeric names', '2=b; 1=a; x=c'),
    parseCase('raw latin1 byte E9 in value', 'a=caf\u00e9'),
    parseCase('raw UTF-8 bytes of é in value (read as latin1)', 'a=' + rawUtf8('café')),
    parseCase('raw UTF-8 bytes in name', rawUtf8('nämé') + '=v'),
    parseCase('raw UTF-8 emoji bytes in value', 'a=' + rawUtf8('🚀')),
    parseCase('raw latin1 bytes plus a percent escape', 'a=\u00c3%41'),
    parseCase('raw high bytes next to a bad escape', 'a=\u00e9%zz'),
    parseCase('signed session cookie', 'connect.sid=' + enc(SID, SECRET)),
    parseCase('signed session cookie among others', '_ga=GA1.1.1234567890.1234567890; connect.sid=' + enc(SID, SECRET) + '; theme=dark'),
    parseCase('signed session cookie unencoded', 'connect.sid=' + signed(SID, SECRET)),
  ]
}

// ---------------------------------------------------------------------------
// sign: cookie-signature's sign.

function signCase(name, sid, secret) {
  const s = signed(sid, secret)
  return { name, sid, secret, signed: s, encoded: encodeURIComponent(s) }
}

function signCases() {
  return [
    signCase('uid-safe sid', SID, SECRET),
    signCase('uid-safe sid 2', SID2, SECRET),
    signCase('uid-safe sid 3, other secret', SID3, ROT2[0]),
    signCase('uid-safe sid 4, rotation secret', SID4, ROT3[2]),
    signCase('sid with dots', 'user.42.session', SECRET),
    signCase('sid with many dots', 'a.b.c.d.e.f.g', SECRET),
    signCase('sid ending in a dot', 'abc.', SECRET),
    signCase('sid with - and _', '-_-_abc_-_-', SECRET),
    signCase('sid with + and /', 'a+b/c+d/e', SECRET),
    signCase('sid with = and %', 'a=b%c', SECRET),
    signCase('sid with ; and space', 'a; b', SECRET),
    signCase('unicode sid', 'sïd-日本語-🚀', SECRET),
    signCase('unicode secret', SID, UNICODE_SECRET),
    signCase('unicode sid and secret', 'ünï.cödé', UNICODE_SECRET),
    signCase('long secret', SID, LONG_SECRET),
    signCase('1-char sid', 'x', SECRET),
    signCase('empty sid', '', SECRET),
    signCase('latin1 sid (as Node reads raw byte E9)', 'caf\u00e9', SECRET),
    signCase('raw UTF-8 bytes of é read as latin1', rawUtf8('café'), SECRET),
    signCase('4 KB sid', BIG_SID, SECRET),
  ]
}

// ---------------------------------------------------------------------------
// Raw HTTP over a socket.

function rawRequest(port, requestText) {
  return new Promise((resolve, reject) => {
    const chunks = []
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(Buffer.from(requestText, 'latin1'))
    })
    socket.setTimeout(10000, () => socket.destroy(new Error('timeout')))
    socket.on('data', (c) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1')
      const split = raw.indexOf('\r\n\r\n')
      if (split === -1) return reject(new Error(`no response: ${JSON.stringify(raw)}`))
      const lines = raw.slice(0, split).split('\r\n')
      const status = Number(lines[0].split(' ')[1])
      const headers = lines.slice(1).map((line) => {
        const colon = line.indexOf(':')
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
      })
      resolve({ status, headers, body: raw.slice(split + 4) })
    })
  })
}

function listen(app) {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server))
    server.once('error', reject)
  })
}

// ---------------------------------------------------------------------------
// verify: verdicts from a real Express 4 + express-session app.

// Answers every get with a valid logged-in session and records the sid asked for.
class RecordingStore extends session.Store {
  constructor() {
    super()
    this.gets = []
  }

  get(sid, cb) {
    this.gets.push(sid)
    setImmediate(() => cb(null, { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, loggedIn: true }))
  }

  set(sid, sess, cb) {
    if (cb) setImmediate(cb)
  }

  destroy(sid, cb) {
    if (cb) setImmediate(cb)
  }

  touch(sid, sess, cb) {
    if (cb) setImmediate(cb)
  }
}

const verifyApps = new Map()

async function verifyApp(secrets, cookieName) {
  const key = JSON.stringify([secrets, cookieName])
  if (!verifyApps.has(key)) {
    const store = new RecordingStore()
    const app = express4()
    app.use(session({ secret: secrets, name: cookieName, store, resave: false, saveUninitialized: false }))
    app.get('/', (req, res) => {
      res.json({ sessionID: req.sessionID === undefined ? null : req.sessionID, loggedIn: req.session.loggedIn === true })
    })
    const server = await listen(app)
    verifyApps.set(key, { store, server, port: server.address().port })
  }
  return verifyApps.get(key)
}

async function runVerify({ name, header, secrets, cookieName = 'connect.sid' }) {
  checkHeader(header)
  const { store, port } = await verifyApp(secrets, cookieName)
  store.gets.length = 0
  debugLines.length = 0
  const res = await rawRequest(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${header}\r\nConnection: close\r\n\r\n`)
  if (res.status !== 200) throw new Error(`verify case ${JSON.stringify(name)}: HTTP ${res.status} ${res.body}`)
  let body
  try { body = JSON.parse(Buffer.from(res.body, "latin1").toString("utf8")) } catch (e) { throw new Error(`${name}: ${JSON.stringify(res)}`) }
  const log = debugLines.join('\n')

  const out = { name, header, cookieName, secrets, verdict: null }
  if (store.gets.length > 0) {
    assert.strictEqual(store.gets.length, 1, name)
    assert(!/cookie signature invalid|cookie unsigned|no SID sent/.test(log), `${name}: accepted but the log says ${log}`)
    assert.strictEqual(body.sessionID, store.gets[0], name)
    assert.strictEqual(body.loggedIn, true, name)
    out.verdict = 'accept'
    out.sid = store.gets[0]
  } else {
    assert.strictEqual(body.loggedIn, false, name)
    if (/cookie signature invalid/.test(log)) out.verdict = 'bad-signature'
    else if (/cookie unsigned/.test(log)) out.verdict = 'not-signed'
    else if (/no SID sent/.test(log)) out.verdict = 'no-cookie'
    else throw new Error(`verify case ${JSON.stringify(name)}: no verdict in express-session's log:\n${log}`)
  }
  return out
}

function verifyCaseList() {
  const c = (name, header, secrets, cookieName) => ({ name, header, secrets, cookieName })
  const one = [SECRET]
  const good = 'connect.sid=' + enc(SID, SECRET)
  const macS = macOf(SID, SECRET)
  const plusSid = sidWithPlusSlash(SECRET)
  const BIG = 'connect.sid=' + enc(BIG_SID, SECRET)

  return [
    // one secret, standard sids
    c('one secret, uid-safe sid', good, one),
    c('one secret, uid-safe sid 2', 'connect.sid=' + enc(SID2, SECRET), one),
    c('one secret, uid-safe sid 3', 'connect.sid=' + enc(SID3, SECRET), one),
    c('one secret, uid-safe sid 4', 'connect.sid=' + enc(SID4, SECRET), one),
    c('one secret, signed by another secret', 'connect.sid=' + enc(SID, NOT_LISTED), one),

    // rotation
    c('rotation of 2, signed by the first', 'connect.sid=' + enc(SID, ROT2[0]), ROT2),
    c('rotation of 2, signed by the last', 'connect.sid=' + enc(SID, ROT2[1]), ROT2),
    c('rotation of 2, signed by a secret not in the list', 'connect.sid=' + enc(SID, NOT_LISTED), ROT2),
    c('rotation of 3, signed by the first', 'connect.sid=' + enc(SID2, ROT3[0]), ROT3),
    c('rotation of 3, signed by the middle', 'connect.sid=' + enc(SID2, ROT3[1]), ROT3),
    c('rotation of 3, signed by the last', 'connect.sid=' + enc(SID2, ROT3[2]), ROT3),
    c('rotation of 3, signed by a secret not in the list', 'connect.sid=' + enc(SID2, NOT_LISTED), ROT3),
    c('rotation of 3, signed by a prefix of a listed secret', 'connect.sid=' + enc(SID2, 's-curren'), ROT3),

    // unicode and long secrets
    c('unicode secret', 'connect.sid=' + enc(SID, UNICODE_SECRET), [UNICODE_SECRET]),
    c('unicode secret, signed with its NFD form', 'connect.sid=' + enc(SID, UNICODE_SECRET.normalize('NFD')), [UNICODE_SECRET]),
    c('unicode secret second in a rotation', 'connect.sid=' + enc(SID, UNICODE_SECRET), [SECRET, UNICODE_SECRET]),
    c('200-char secret', 'connect.sid=' + enc(SID, LONG_SECRET), [LONG_SECRET]),
    c('200-char secret, signed with its first 199 chars', 'connect.sid=' + enc(SID, LONG_SECRET.slice(0, 199)), [LONG_SECRET]),

    // sid shapes
    c('sid with a dot', 'connect.sid=' + enc('user.42', SECRET), one),
    c('sid with many dots', 'connect.sid=' + enc('a.b.c.d.e.f.g', SECRET), one),
    c('sid ending in a dot', 'connect.sid=' + enc('abc.', SECRET), one),
    c('sid starting with a dot', 'connect.sid=' + enc('.abc', SECRET), one),
    c('sid with - and _', 'connect.sid=' + enc('-_-_abc_-_-', SECRET), one),
    c('sid with + / = (percent-encoded)', 'connect.sid=' + enc('a+b/c=d', SECRET), one),
    c('sid with ; and space (percent-encoded)', 'connect.sid=' + enc('a; b', SECRET), one),
    c('sid with % (percent-encoded)', 'connect.sid=' + enc('100%', SECRET), one),
    c('unicode sid (percent-encoded)', 'connect.sid=' + enc('sïd-日本語-🚀', SECRET), one),
    c('1-char sid', 'connect.sid=' + enc('x', SECRET), one),
    c('4 KB sid', BIG, one),
    c('4 KB sid, tampered', BIG.replace('connect.sid=s%3AA', 'connect.sid=s%3AB'), one),
    c('empty sid, correctly signed', 'connect.sid=' + enc('', SECRET), one),

    // several cookies
    c('connect.sid first of several', good + '; _ga=GA1.1.1234567890.1234567890; theme=dark', one),
    c('connect.sid in the middle', '_ga=GA1.1.1234567890.1234567890; ' + good + '; theme=dark', one),
    c('connect.sid last of several', '_ga=GA1.1.1234567890.1234567890; theme=dark; ' + good, one),
    c('duplicate connect.sid, good first', good + '; connect.sid=' + enc(SID2, NOT_LISTED), one),
    c('duplicate connect.sid, bad first', 'connect.sid=' + enc(SID2, NOT_LISTED) + '; ' + good, one),
    c('duplicate connect.sid, unsigned first', 'connect.sid=plain; ' + good, one),
    c('duplicate connect.sid, empty first', 'connect.sid=; ' + good, one),
    c('duplicate connect.sid, two good ones', 'connect.sid=' + enc(SID2, SECRET) + '; ' + good, one),
    c('other cookies only', '_ga=GA1.1.1234567890.1234567890; theme=dark', one),
    c('name in another case', 'Connect.sid=' + enc(SID, SECRET), one),
    c('__proto__ cookie before connect.sid', '__proto__=x; ' + good, one),
    c('pair without = before connect.sid', 'flag; ' + good, one),
    c('semicolon runs around connect.sid', ';;; ' + good + ';;;', one),

    // another cookie name
    c('app.sid with connect.sid also present', 'connect.sid=' + enc(SID, SECRET) + '; app.sid=' + enc(SID2, SECRET), one, 'app.sid'),
    c('app.sid missing, connect.sid present', good, one, 'app.sid'),
    c('app.sid bad, connect.sid good', good + '; app.sid=' + enc(SID2, NOT_LISTED), one, 'app.sid'),

    // syntax around the value
    c('quoted value', 'connect.sid="' + enc(SID, SECRET) + '"', one),
    c('quoted value with spaces inside the quotes', 'connect.sid=" ' + enc(SID, SECRET) + ' "', one),
    c('spaces around name and value', 'a=b;   connect.sid   =   ' + enc(SID, SECRET) + '   ; c=d', one),
    c('tabs around name and value', 'a=b;\tconnect.sid\t=\t' + enc(SID, SECRET) + '\t; c=d', one),
    c('leading spaces and tab before the header value', ' \t ' + good, one),
    c('value raw, not percent-encoded', 'connect.sid=' + signed(SID, SECRET), one),
    c('value raw with + and / in the mac', 'connect.sid=' + signed(plusSid, SECRET), one),
    c('value encoded with lowercase hex', 'connect.sid=s%3a' + SID + '.' + encodeURIComponent(macS), one),
    c('every char of the mac percent-encoded', 'connect.sid=s%3A' + SID + '.' +
      Array.from(Buffer.from(macS, 'latin1')).map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''), one),
    c('dot percent-encoded', 'connect.sid=s%3A' + SID + '%2E' + encodeURIComponent(macS), one),
    c('double-encoded value', 'connect.sid=' + encodeURIComponent(enc(SID, SECRET)), one),
    c('bad escape %zz in value', 'connect.sid=' + enc(SID, SECRET) + '%zz', one),
    c('lone % at end of value', 'connect.sid=' + enc(SID, SECRET) + '%', one),
    c('bad escape in a raw s: value', 'connect.sid=' + signed(SID, SECRET) + '%zz', one),
    c('no s: prefix', 'connect.sid=' + signature.sign(SID, SECRET), one),
    c('S: prefix in upper case', 'connect.sid=S%3A' + encodeURIComponent(signature.sign(SID, SECRET)), one),
    c('plain unsigned sid', 'connect.sid=' + SID, one),
    c('empty value', 'connect.sid=', one),
    c('name without =', 'connect.sid', one),
    c('empty header', '', one),
    c('one-char header', 'a', one),

    // tampering
    c('tampered sid', 'connect.sid=' + encodeURIComponent('s:' + SID.replace('L9', 'L8') + '.' + macS), one),
    c('mac one char flipped', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + flipChar(macS, 5)), one),
    c('mac case flipped', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + flipCase(macS)), one),
    c('mac truncated by one char', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + macS.slice(0, -1)), one),
    c('mac with its = padding kept', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + macS + '='), one),
    c('mac with an extra char', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + macS + 'A'), one),
    c('mac in base64url alphabet', 'connect.sid=' + encodeURIComponent('s:' + plusSid + '.' + macOf(plusSid, SECRET).replace(/\+/g, '-').replace(/\//g, '_')), one),
    c('mac computed with HMAC-SHA1', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + otherHmac('sha1', SID, SECRET)), one),
    c('mac computed with HMAC-SHA512', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + otherHmac('sha512', SID, SECRET)), one),
    c('mac of another sid', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + macOf(SID2, SECRET)), one),
    c('s: with no dot', 'connect.sid=' + encodeURIComponent('s:' + SID), one),
    c('s: alone', 'connect.sid=s%3A', one),
    c('s: and a dot only', 'connect.sid=s%3A.', one),
    c('space inside the value', 'connect.sid=' + encodeURIComponent('s:' + SID + '.' + macS) + ' x', one),

    // raw bytes >= 0x80 (Node reads header bytes as latin1)
    c('raw latin1 byte E9 in sid, mac over the latin1 string', 'connect.sid=s:' + signature.sign('caf\u00e9', SECRET), one),
    c('raw UTF-8 bytes of é in sid, mac over the latin1 reading', 'connect.sid=s:' + signature.sign(rawUtf8('café'), SECRET), one),
    c('raw UTF-8 bytes of é in sid, mac over the UTF-8 text', 'connect.sid=s:' + rawUtf8('café') + '.' + macOf('café', SECRET), one),
    c('percent-encoded UTF-8 é in sid', 'connect.sid=' + enc('café', SECRET), one),
    c('percent-encoded latin1 %E9 in sid', 'connect.sid=s%3Acaf%E9.' + encodeURIComponent(macOf('caf\u00e9', SECRET)), one),
    c('raw UTF-8 emoji bytes in sid, mac over the latin1 reading', 'connect.sid=s:' + signature.sign(rawUtf8('sid-🚀'), SECRET), one),
    c('raw high byte in another cookie', 'theme=\u00e9t\u00e9; ' + good, one),
  ]
}

function bigVerifyCaseList() {
  const cookies = []
  for (let i = 0; i < 999; i++) cookies.push(`c${i}=v${i}`)
  cookies.push('connect.sid=' + enc(SID, SECRET))
  return [{ name: '1000 cookies, connect.sid last', header: cookies.join('; '), secrets: [SECRET], cookieName: 'connect.sid' }]
}

function bigParseCases() {
  // exactly 64 KiB: 512 cookies of 128 chars each, joined by '; ', padded
  const parts = []
  for (let i = 0; i < 512; i++) {
    const name = `k${String(i).padStart(4, '0')}`
    const value = Array.from({ length: 115 }, (_, j) => 'abcdefghijklmnopqrstuvwxyz0123456789%20'[(i + j) % 39]).join('')
    parts.push(`${name}=${value}`)
  }
  let big = parts.join('; ')
  big = (big + '; pad=' + 'p'.repeat(65536)).slice(0, 65536)
  assert.strictEqual(big.length, 65536)

  const many = []
  for (let i = 0; i < 1000; i++) many.push(`c${i}=v${i}`)
  return [parseCase('64 KiB header', big), parseCase('1000 cookies', many.join('; '))]
}

// ---------------------------------------------------------------------------
// setCookie: real logins against the app (app.js) with a fixed genid and no
// maxAge, so the Set-Cookie carries no date.

async function setCookieCase({ name, secrets, sid, cookieName, expressFlavor }) {
  const { createApp } = require(path.join(NODE_APP, 'app.js'))
  const { app } = createApp({
    secrets,
    cookieName: cookieName || null,
    prefix: 'sess:',
    disableTTL: false,
    disableTouch: false,
    ttl: null,
    maxAgeMs: null,
    expressFlavor,
    storeFlavor: 'connect-redis9',
    bridgeUrl: null,
    testRoutes: false,
    store: new session.MemoryStore(),
    genid: () => sid,
  })
  const server = await listen(app)
  try {
    const body = 'username=alice'
    const res = await rawRequest(server.address().port,
      'POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
    assert.strictEqual(res.status, 302, name)
    const setCookies = res.headers.filter(([h]) => h === 'set-cookie').map(([, v]) => v)
    assert.strictEqual(setCookies.length, 1, name)
    const header = setCookies[0]
    const prefix = (cookieName || 'connect.sid') + '='
    assert(header.startsWith(prefix), name)
    const value = header.slice(prefix.length).split(';')[0]
    return { name, secrets, sid, setCookie: header, value }
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
}

function setCookieCaseList() {
  return [
    { name: 'Express 4, default name, one secret', secrets: [SECRET], sid: SID, expressFlavor: '4' },
    { name: 'Express 4, rotation of 2 (the first signs)', secrets: ROT2, sid: SID2, expressFlavor: '4' },
    { name: 'Express 5, name app.sid, unicode secret', secrets: [UNICODE_SECRET], sid: SID3, cookieName: 'app.sid', expressFlavor: '5' },
    { name: 'Express 4, sid with dots and unicode', secrets: [SECRET], sid: 'user.42.ünï', expressFlavor: '4' },
    { name: 'Express 5, sid with + / =, rotation of 3', secrets: ROT3, sid: 'a+b/c=d', expressFlavor: '5' },
  ]
}

// ---------------------------------------------------------------------------

function document(parts) {
  return {
    generator: 'node-app/scripts/gen-vectors.js',
    versions,
    parse: parts.parse || [],
    sign: parts.sign || [],
    verify: parts.verify || [],
    setCookie: parts.setCookie || [],
  }
}

function write(file, doc) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
}

async function main() {
  const out = path.resolve(process.argv[2] || path.join(NODE_APP, '..', 'testdata', 'cookies.json'))
  const bigOut = path.join(path.dirname(out), 'cookies-big.json')

  const parse = parseCases()
  const sign = signCases()
  const verify = []
  for (const vc of verifyCaseList()) verify.push(await runVerify(vc))
  const bigVerify = []
  for (const vc of bigVerifyCaseList()) bigVerify.push(await runVerify(vc))
  const setCookie = []
  for (const sc of setCookieCaseList()) setCookie.push(await setCookieCase(sc))
  const bigParse = bigParseCases()

  for (const { server } of verifyApps.values()) await new Promise((resolve) => server.close(resolve))

  for (const list of [parse, sign, verify, setCookie, bigParse, bigVerify]) {
    const names = new Set(list.map((x) => x.name))
    assert.strictEqual(names.size, list.length, 'case names must be unique')
  }

  write(out, document({ parse, sign, verify, setCookie }))
  write(bigOut, document({ parse: bigParse, verify: bigVerify }))

  const verdicts = {}
  for (const v of verify.concat(bigVerify)) verdicts[v.verdict] = (verdicts[v.verdict] || 0) + 1
  process.stderr.write(
    `gen-vectors: ${path.relative(process.cwd(), out)}: parse=${parse.length} sign=${sign.length} ` +
    `verify=${verify.length} setCookie=${setCookie.length}; ${path.relative(process.cwd(), bigOut)}: ` +
    `parse=${bigParse.length} verify=${bigVerify.length}; verdicts ${JSON.stringify(verdicts)}\n`,
  )
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
