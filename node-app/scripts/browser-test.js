#!/usr/bin/env node
'use strict'

// Drives the chat page in Debian's headless Chromium (through playwright-core,
// which never downloads a browser) against a running Express app and Go
// bridge, the way a person would: two people log in through the form, chat,
// and one logs out. The Go test e2e/browser_test.go starts everything and
// runs this script; it can also be run by hand against a running demo:
//
//   APP_URL=http://127.0.0.1:3000 node scripts/browser-test.js
//
// Settings, from argv (--app-url=URL, --chromium=PATH, --out-dir=DIR,
// --docs-shot=PATH) or else the environment:
//   APP_URL    the Express app (the page's origin); required
//   CHROMIUM   the browser (default /usr/bin/chromium)
//   OUT_DIR    where screenshots go (default ../build/e2e)
//   DOCS_SHOT  where to write the README screenshot (default: none written)
//   ALSO_URL   the same app under another host name (localhost for 127.0.0.1):
//              a third person logs in there and must be connected too
//
// Each step prints one line "step N: … ok". The first failing step prints
// "FAIL step N: …" with both pages' #status and console errors, saves
// OUT_DIR/failure-A.png and failure-B.png, and the script exits 1.

const fs = require('fs')
const path = require('path')
const { chromium } = require('playwright-core')

// How Chromium must be started on these machines: no sandbox (root), no GPU,
// and nothing that reaches for the network on its own.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const VIEWPORT = { width: 1000, height: 700 }
const STEP_TIMEOUT_MS = 10000 // for any one wait
const WATCHDOG_MS = 100000 // the whole run; the Go test allows 120 s

const ZOE = 'Zoë'
const BOB = 'Bob'
const MSG_ZOE = 'hello from Zoë'
const MSG_BOB = 'hi Zoë, Bob here'

class StepError extends Error {} // a failed expectation: its message says it all

function settings(argv, env) {
  const flags = {}
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/s.exec(arg)
    if (!m) throw new StepError(`unknown argument ${JSON.stringify(arg)} (use --app-url=URL, --chromium=PATH, --out-dir=DIR, --docs-shot=PATH)`)
    flags[m[1]] = m[2]
  }
  const pick = (flag, name, def) => flags[flag] || env[name] || def
  const s = {
    appUrl: pick('app-url', 'APP_URL', ''),
    chromium: pick('chromium', 'CHROMIUM', '/usr/bin/chromium'),
    outDir: path.resolve(pick('out-dir', 'OUT_DIR', path.join(__dirname, '..', '..', 'build', 'e2e'))),
    docsShot: pick('docs-shot', 'DOCS_SHOT', ''),
    alsoUrl: pick('also-url', 'ALSO_URL', ''),
  }
  if (!s.appUrl) throw new StepError('APP_URL (or --app-url=URL) is required: the Express app, e.g. http://127.0.0.1:3000')
  try {
    s.appUrl = new URL(s.appUrl).toString()
  } catch (e) {
    throw new StepError(`APP_URL ${JSON.stringify(s.appUrl)} is not a URL (want e.g. http://127.0.0.1:3000)`)
  }
  if (s.docsShot) s.docsShot = path.resolve(s.docsShot)
  return s
}

// Records every WebSocket the page opens: frames received, the close event
// (code, reason) and whether the page itself called close(). It only
// observes; the page gets the native socket.
function recordWebSockets() {
  const Native = window.WebSocket
  const log = []
  window.__wsLog = log
  function Recorded(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols)
    const rec = { url: String(ws.url), opened: false, frames: [], close: null, closedByPage: null }
    log.push(rec)
    ws.addEventListener('open', () => { rec.opened = true })
    ws.addEventListener('message', (e) => { rec.frames.push(String(e.data)) })
    ws.addEventListener('close', (e) => { rec.close = { code: e.code, reason: e.reason } })
    const close = ws.close
    ws.close = function (code, reason) {
      rec.closedByPage = { code: code === undefined ? null : code, reason: reason === undefined ? null : reason }
      return close.apply(ws, arguments)
    }
    return ws
  }
  Recorded.prototype = Native.prototype
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Recorded[k] = Native[k]
  window.WebSocket = Recorded
}

async function main() {
  const cfg = settings(process.argv.slice(2), process.env)
  fs.mkdirSync(cfg.outDir, { recursive: true })
  console.log(`browser-test: app ${cfg.appUrl}, chromium ${cfg.chromium}, screenshots in ${cfg.outDir}`)

  const pages = {} // label → { page, consoleErrors, pageErrors }
  let current = null
  let browser = null

  const watchdog = setTimeout(() => {
    console.log(`FAIL step ${current ? current.n : 0}: the whole run took longer than ${WATCHDOG_MS / 1000} s`)
    Promise.resolve(browser && browser.close()).finally(() => process.exit(1))
  }, WATCHDOG_MS)

  async function step(n, title, fn) {
    current = { n, title }
    const t0 = Date.now()
    const detail = await fn()
    console.log(`step ${n}: ${title}${detail ? ' (' + detail + ')' : ''} ... ok [${Date.now() - t0} ms]`)
  }

  async function openPage(label) {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, locale: 'en-US' })
    await context.addInitScript(recordWebSockets)
    const page = await context.newPage()
    page.setDefaultTimeout(STEP_TIMEOUT_MS)
    const entry = { label, context, page, consoleErrors: [], pageErrors: [] }
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return
      const where = msg.location() && msg.location().url
      entry.consoleErrors.push(where ? `${msg.text()} (${where})` : msg.text())
    })
    page.on('pageerror', (err) => { entry.pageErrors.push(String(err && err.stack || err)) })
    pages[label] = entry
    return entry
  }

  const statusOf = (page) => page.$eval('#status', (el) => el.textContent).catch((e) => `(unreadable: ${e.message})`)
  const messagesOf = (page) => page.$$eval('#messages li', (lis) => lis.map((li) => li.textContent))
  const sockets = (page) => page.evaluate(() => window.__wsLog)

  async function waitStatus(entry, want, timeout = STEP_TIMEOUT_MS) {
    try {
      await entry.page.waitForFunction((w) => document.getElementById('status').textContent === w, want, { timeout, polling: 50 })
    } catch (e) {
      throw new StepError(`page ${entry.label}: #status should become ${JSON.stringify(want)} within ${timeout} ms, it is ${JSON.stringify(await statusOf(entry.page))}`)
    }
  }

  async function waitMessages(entry, want) {
    try {
      await entry.page.waitForFunction((w) => {
        const got = Array.from(document.querySelectorAll('#messages li'), (li) => li.textContent)
        return got.length === w.length && got.every((t, i) => t === w[i])
      }, want, { timeout: STEP_TIMEOUT_MS, polling: 50 })
    } catch (e) {
      throw new StepError(`page ${entry.label}: #messages should be ${JSON.stringify(want)}, it is ${JSON.stringify(await messagesOf(entry.page))}`)
    }
  }

  // expectText waits up to 5 s for selector's text: the page fills it in
  // from its own fetch (/whoami), which may end after the status shown by
  // the WebSocket.
  async function expectText(entry, selector, want) {
    const deadline = Date.now() + 5000
    let got
    for (;;) {
      got = await entry.page.$eval(selector, (el) => el.textContent)
      if (got === want || Date.now() > deadline) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    if (got !== want) throw new StepError(`page ${entry.label}: ${selector} is ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
  }

  async function expectVisible(entry, selector, visible) {
    const got = await entry.page.isVisible(selector)
    if (got !== visible) throw new StepError(`page ${entry.label}: ${selector} should be ${visible ? 'visible' : 'hidden'}`)
  }

  // The last socket the page opened, checked to be a refused one: the
  // bridge's explain mode sends {"type":"error","error":CODE} and closes 4401.
  async function expectRefused(entry, wantCode) {
    const log = await sockets(entry.page)
    const last = log[log.length - 1]
    if (!last) throw new StepError(`page ${entry.label}: the page opened no WebSocket`)
    const frame = last.frames.map((f) => { try { return JSON.parse(f) } catch (e) { return null } })
      .find((m) => m && m.type === 'error')
    if (!last.close || last.close.code !== 4401 || !frame || frame.error !== wantCode) {
      throw new StepError(`page ${entry.label}: want the bridge to refuse with an error frame "${wantCode}" and close 4401; socket ${JSON.stringify(last)}`)
    }
    return `${new URL(last.url).pathname}${new URL(last.url).search}: error frame "${frame.error}", close ${last.close.code} "${last.close.reason}"`
  }

  async function login(entry, name) {
    await entry.page.fill('#username', name)
    await entry.page.click('#login-button')
    await waitStatus(entry, 'Connected as ' + name)
    await expectText(entry, '#whoami', name)
    await expectVisible(entry, '#login-form', false)
    await expectVisible(entry, '#logout-button', true)
  }

  async function say(entry, text) {
    await entry.page.fill('#text', text)
    await entry.page.click('#send-button')
  }

  try {
    browser = await chromium.launch({
      executablePath: cfg.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    })
    console.log(`browser-test: launched Chromium ${browser.version()}`)

    const A = await openPage('A')
    let B = null

    await step(1, 'A opens the page logged out: "Not logged in"', async () => {
      await A.page.goto(cfg.appUrl)
      await waitStatus(A, 'Not logged in')
      await expectText(A, '#whoami', 'not logged in')
      await expectVisible(A, '#login-form', true)
      return expectRefused(A, 'no-cookie')
    })

    await step(2, `A logs in as ${ZOE} through the form: "Connected as ${ZOE}"`, async () => {
      await A.page.evaluate(() => { window.__sameDocument = true })
      await login(A, ZOE)
      if (!(await A.page.evaluate(() => window.__sameDocument === true))) {
        throw new StepError('page A: the page reloaded during login; the script should have logged in with fetch')
      }
      const log = await sockets(A.page)
      return `${log.length} sockets so far, no reload`
    })

    await step(3, `B (own cookie jar) logs in as ${BOB}: "Connected as ${BOB}"`, async () => {
      B = await openPage('B')
      await B.page.goto(cfg.appUrl)
      await waitStatus(B, 'Not logged in')
      await login(B, BOB)
      await waitStatus(A, 'Connected as ' + ZOE) // A is unaffected
    })

    const both = [`${ZOE}: ${MSG_ZOE}`, `${BOB}: ${MSG_BOB}`]
    await step(4, 'A and B chat; both pages show both messages', async () => {
      await say(A, MSG_ZOE)
      await waitMessages(A, both.slice(0, 1))
      await waitMessages(B, both.slice(0, 1))
      await say(B, MSG_BOB)
      await waitMessages(A, both)
      await waitMessages(B, both)
      if ((await A.page.inputValue('#text')) !== '') throw new StepError('page A: #text was not cleared after sending')
    })

    await step(5, 'screenshots of the logged-in chat', async () => {
      const shots = []
      for (const entry of [A, B]) {
        await entry.page.mouse.move(0, 0) // no hover colour on a button
        await entry.page.evaluate(() => document.activeElement && document.activeElement.blur()) // no focus ring
        const file = path.join(cfg.outDir, `chat-${entry.label}.png`)
        await entry.page.screenshot({ path: file })
        shots.push(file)
      }
      if (cfg.docsShot) {
        fs.mkdirSync(path.dirname(cfg.docsShot), { recursive: true })
        await A.page.screenshot({ path: cfg.docsShot })
        shots.push(cfg.docsShot)
      }
      return shots.map((f) => path.relative(process.cwd(), f)).join(', ')
    })

    await step(6, 'A logs out: "Disconnected: logged-out", then refused as "Not logged in"; B stays connected', async () => {
      const oldCookies = (await A.context.cookies()).filter((c) => c.name === 'connect.sid')
      if (oldCookies.length !== 1) throw new StepError(`page A: want one connect.sid cookie while logged in, have ${JSON.stringify(oldCookies)}`)
      const before = (await sockets(A.page)).length
      const t0 = Date.now()
      await A.page.click('#logout-button')
      await waitStatus(A, 'Disconnected: logged-out', 3000)
      const took = Date.now() - t0
      await expectText(A, '#whoami', 'not logged in')
      await expectVisible(A, '#login-form', true)
      const log = await sockets(A.page)
      const sock = log[before - 1]
      let how
      if (sock.closedByPage) {
        how = `the page closed its socket after ${took} ms; the bridge did not close it on logout`
      } else if (sock.close && sock.close.code === 4401 && sock.close.reason === 'logged-out') {
        how = `the bridge closed it with 4401 "logged-out" after ${took} ms`
      } else {
        throw new StepError(`page A: the socket ended unexpectedly: ${JSON.stringify(sock)}`)
      }
      // chat.js does not reconnect after a logout; wait a while to be sure the
      // page neither reconnects as Zoë nor changes its status.
      await A.page.waitForTimeout(2500)
      const after = await sockets(A.page)
      const status = await statusOf(A.page)
      if (status !== 'Disconnected: logged-out' && status !== 'Not logged in') {
        throw new StepError(`page A: after logout #status became ${JSON.stringify(status)}`)
      }
      if (after.slice(before).some((s) => s.frames.some((f) => f.includes('"hello"')))) {
        throw new StepError(`page A: a socket opened after logout was accepted: ${JSON.stringify(after.slice(before))}`)
      }
      // A fresh load connects again, without a cookie: refused.
      await A.page.reload()
      await waitStatus(A, 'Not logged in')
      const noCookie = await expectRefused(A, 'no-cookie')
      // The old cookie of the destroyed session, put back: refused too.
      await A.context.addCookies(oldCookies)
      await A.page.reload()
      await waitStatus(A, 'Not logged in')
      const oldCookie = await expectRefused(A, 'no-session')
      await expectText(A, '#whoami', 'not logged in')
      // B never noticed.
      await waitStatus(B, 'Connected as ' + BOB, 1000)
      const bLog = await sockets(B.page)
      if (bLog[bLog.length - 1].close) throw new StepError(`page B: its socket closed: ${JSON.stringify(bLog[bLog.length - 1])}`)
      await say(B, 'still here')
      await waitMessages(B, [...both, `${BOB}: still here`])
      return `${how}; ${after.length - before} reconnects in 2.5 s, status ${JSON.stringify(status)}; ` +
        `after reload ${noCookie}; with the old cookie ${oldCookie}`
    })

    if (cfg.alsoUrl) {
      await step(7, `C opens the demo at its other host name ${cfg.alsoUrl} and logs in: "Connected as Carol"`, async () => {
        const C = await openPage('C')
        await C.page.goto(cfg.alsoUrl)
        await waitStatus(C, 'Not logged in')
        await login(C, 'Carol')
        const log = await sockets(C.page)
        return `socket ${new URL(log[log.length - 1].url).host}`
      })
    }

    for (const entry of Object.values(pages)) {
      if (entry.pageErrors.length) {
        current = { n: 8, title: 'no uncaught errors in the pages' }
        throw new StepError(`page ${entry.label}: uncaught errors: ${entry.pageErrors.join(' | ')}`)
      }
      console.log(`browser-test: page ${entry.label} console errors: ${entry.consoleErrors.length ? JSON.stringify(entry.consoleErrors) : 'none'}`)
    }
    console.log('browser-test: all steps passed')
    await browser.close()
    browser = null
    clearTimeout(watchdog)
    return 0
  } catch (err) {
    const where = current ? `step ${current.n}: ${current.title}` : 'setup'
    console.log(`FAIL ${where}: ${err instanceof StepError ? err.message : (err && err.stack) || err}`)
    for (const entry of Object.values(pages)) {
      console.log(`  page ${entry.label}: #status ${JSON.stringify(await statusOf(entry.page))}, url ${entry.page.url()}`)
      console.log(`  page ${entry.label}: #messages ${JSON.stringify(await messagesOf(entry.page).catch(() => []))}`)
      console.log(`  page ${entry.label}: sockets ${JSON.stringify(await sockets(entry.page).catch(() => null))}`)
      console.log(`  page ${entry.label}: console errors ${JSON.stringify(entry.consoleErrors)}, uncaught ${JSON.stringify(entry.pageErrors)}`)
      const file = path.join(cfg.outDir, `failure-${entry.label}.png`)
      await entry.page.screenshot({ path: file }).then(() => console.log(`  page ${entry.label}: screenshot ${file}`), () => {})
    }
    if (browser) await browser.close().catch(() => {})
    clearTimeout(watchdog)
    return 1
  }
}

main().then((code) => { process.exitCode = code }, (err) => {
  console.log(`FAIL setup: ${err instanceof StepError ? err.message : (err && err.stack) || err}`)
  process.exitCode = 1
})
