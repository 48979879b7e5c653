#!/usr/bin/env node
'use strict'

// Drives the Socket.IO demo page (/socketio.html, socket.io-client served
// from node_modules by the Express app) in Debian's headless Chromium
// against a running Express app and Go bridge: a page that is not logged
// in is refused (connect_error no-cookie); after logging in through the
// form it connects on long-polling and upgrades to WebSocket (page A) or
// stays on long-polling (page B, ?transports=polling); the two chat; each
// logs out and gets session-ended, then "io server disconnect".
// e2e/socketio_browser_test.go runs it; by hand:
//
//   APP_URL=http://127.0.0.1:3000 node scripts/socketio-browser-test.js
//
// Environment: APP_URL (required), CHROMIUM (default /usr/bin/chromium),
// OUT_DIR (screenshots; default ../build/e2e). Prints "step N: … ok" lines;
// the first failure prints "FAIL step N: …" and the pages' events, and
// exits 1.

const path = require('path')
const { chromium } = require('playwright-core')

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
const STEP_TIMEOUT_MS = 10000
const WATCHDOG_MS = 100000

class StepError extends Error {}

async function main() {
  const appUrl = process.env.APP_URL
  if (!appUrl) throw new StepError('APP_URL is required')
  const outDir = path.resolve(process.env.OUT_DIR || path.join(__dirname, '..', '..', 'build', 'e2e'))
  let browser = null
  let current = null
  const pages = {}
  const watchdog = setTimeout(() => {
    console.log(`FAIL watchdog: still running after ${WATCHDOG_MS} ms`)
    Promise.resolve(browser && browser.close()).finally(() => process.exit(1))
  }, WATCHDOG_MS)

  async function step(n, title, fn) {
    current = { n, title }
    const detail = await fn()
    console.log(`step ${n}: ${title} ok${detail ? ` (${detail})` : ''}`)
  }

  async function openPage(label, query) {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, locale: 'en-US' })
    const page = await context.newPage()
    const entry = { label, page, consoleErrors: [], pageErrors: [] }
    page.on('console', (m) => m.type() === 'error' && entry.consoleErrors.push(m.text()))
    page.on('pageerror', (e) => entry.pageErrors.push(String(e)))
    await page.goto(new URL('/socketio.html' + (query || ''), appUrl).toString())
    pages[label] = entry
    return entry
  }

  const events = (entry) => entry.page.evaluate(() => window.__sio.events)

  // Waits until the page has recorded an event named name (after index
  // from), and returns its data.
  async function waitEvent(entry, name, from = 0) {
    const handle = await entry.page.waitForFunction(
      ([name, from]) => {
        const e = window.__sio.events.slice(from).find((x) => x[0] === name)
        return e ? { data: e[1] } : null
      },
      [name, from],
      { timeout: STEP_TIMEOUT_MS },
    ).catch(async () => {
      throw new StepError(`page ${entry.label}: no "${name}" event; events ${JSON.stringify(await events(entry))}`)
    })
    return (await handle.jsonValue()).data
  }

  async function waitStatus(entry, text) {
    await entry.page.waitForFunction((t) => document.getElementById('status').textContent.includes(t), text,
      { timeout: STEP_TIMEOUT_MS }).catch(async () => {
      const status = await entry.page.textContent('#status')
      throw new StepError(`page ${entry.label}: #status ${JSON.stringify(status)}, want ${JSON.stringify(text)}`)
    })
  }

  async function login(entry, name) {
    await entry.page.fill('#username', name)
    await entry.page.click('#login-button')
    await waitStatus(entry, 'Connected as ' + name)
  }

  async function logoutAndExpectEnd(entry) {
    const from = (await events(entry)).length
    await entry.page.click('#logout-button')
    const ended = await waitEvent(entry, 'session-ended', from)
    const reason = await waitEvent(entry, 'disconnect', from)
    if (ended.reason !== 'logged-out' || reason !== 'io server disconnect') {
      throw new StepError(`page ${entry.label}: session-ended ${JSON.stringify(ended)}, disconnect ${JSON.stringify(reason)}`)
    }
    const after = (await events(entry)).slice(from).map((e) => e[0]).filter((n) => n !== 'logout')
    if (after.indexOf('session-ended') > after.indexOf('disconnect')) {
      throw new StepError(`page ${entry.label}: events in the wrong order: ${JSON.stringify(after)}`)
    }
    await waitStatus(entry, 'Session ended: logged-out')
    return `session-ended ${JSON.stringify(ended)}, then disconnect "${reason}"`
  }

  try {
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 30000 })
    console.log(`socketio-browser-test: launched Chromium ${browser.version()}`)
    const A = await openPage('A')
    const B = await openPage('B', '?transports=polling')

    await step(1, 'a page that is not logged in gets connect_error no-cookie', async () => {
      const errA = await waitEvent(A, 'connect_error')
      const errB = await waitEvent(B, 'connect_error')
      for (const err of [errA, errB]) {
        if (err.message !== 'no-cookie' || !err.data || err.data.step !== 'cookie') {
          throw new StepError(`connect_error ${JSON.stringify(err)}`)
        }
      }
      await waitStatus(A, 'Not logged in (no-cookie)')
      return JSON.stringify(errA)
    })

    await step(2, 'A logs in: hello on long-polling, then the upgrade to WebSocket', async () => {
      await login(A, 'Zoë')
      const up = await waitEvent(A, 'upgrade')
      if (up !== 'websocket') throw new StepError(`upgrade to ${up}`)
      const whoami = await waitEvent(A, 'whoami')
      if (whoami.username !== 'Zoë' || whoami.cookie !== undefined) throw new StepError(`whoami ${JSON.stringify(whoami)}`)
      await A.page.waitForFunction(() => document.getElementById('transport').textContent === 'websocket')
      return `whoami ${JSON.stringify(whoami)}`
    })

    await step(3, 'B logs in and stays on long-polling', async () => {
      await login(B, 'Bob')
      const transport = await B.page.textContent('#transport')
      if (transport !== 'polling') throw new StepError(`B's transport is ${transport}`)
    })

    await step(4, 'A and B chat', async () => {
      await A.page.fill('#text', 'hello from Zoë')
      await A.page.click('#send-button')
      await B.page.fill('#text', 'hi Zoë')
      await B.page.click('#send-button')
      for (const e of [A, B]) {
        await e.page.waitForFunction(() => document.querySelectorAll('#messages li').length === 2, null, { timeout: STEP_TIMEOUT_MS })
          .catch(() => { throw new StepError(`page ${e.label}: messages`) })
      }
      const msgs = await B.page.$$eval('#messages li', (lis) => lis.map((li) => li.textContent))
      if (!msgs.includes('Zoë: hello from Zoë') || !msgs.includes('Bob: hi Zoë')) throw new StepError(JSON.stringify(msgs))
      await A.page.screenshot({ path: path.join(outDir, 'socketio-A.png') })
      return JSON.stringify(msgs)
    })

    await step(5, 'A logs out (WebSocket): session-ended, then io server disconnect', () => logoutAndExpectEnd(A))
    await step(6, 'B logs out (long-polling): session-ended, then io server disconnect', () => logoutAndExpectEnd(B))

    for (const entry of Object.values(pages)) {
      if (entry.pageErrors.length) throw new StepError(`page ${entry.label}: uncaught errors: ${entry.pageErrors.join(' | ')}`)
      console.log(`socketio-browser-test: page ${entry.label} console errors: ${entry.consoleErrors.length ? JSON.stringify(entry.consoleErrors) : 'none'}`)
    }
    console.log('socketio-browser-test: all steps passed')
    await browser.close()
    browser = null
    clearTimeout(watchdog)
    return 0
  } catch (err) {
    const where = current ? `step ${current.n}: ${current.title}` : 'setup'
    console.log(`FAIL ${where}: ${err instanceof StepError ? err.message : (err && err.stack) || err}`)
    for (const entry of Object.values(pages)) {
      console.log(`  page ${entry.label}: events ${JSON.stringify(await events(entry).catch(() => null))}`)
      console.log(`  page ${entry.label}: console errors ${JSON.stringify(entry.consoleErrors)}, uncaught ${JSON.stringify(entry.pageErrors)}`)
      await entry.page.screenshot({ path: path.join(outDir, `socketio-failure-${entry.label}.png`) }).catch(() => {})
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
