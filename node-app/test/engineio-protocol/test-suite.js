'use strict'

// A port of the Engine.IO protocol test suite to node:test, written for
// expressbridge: the same cases, assertions and expectations as
//   https://github.com/socketio/engine.io-protocol, test-suite/test-suite.js
//   at commit 05488c41f698705a8d305bf8e63e537afc330ab6 (2023-07-08).
// Upstream runs it with mocha, chai and node-fetch; here node:test,
// node:assert and Node's own fetch. The server must listen at SERVER_URL
// (default http://localhost:3000), serve Engine.IO at /engine.io/ with
// pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, and echo
// every message back. Deviations, each marked "expressbridge:": the
// handshake and heartbeat tests may use a server of their own, so that
// SERVER_URL's may ping rarely (see protocol-helpers.js), and
// initLongPollingSession takes that server's URL; the duplicate-poll test
// waits longer between its two polls. Unmarked, as the port's means:
// chai's expectations are node:assert's (hasAllKeys and bufferOf in
// protocol-helpers.js stand for to.have.all.keys and eql on an
// ArrayBuffer); mocha's timeouts (2 s, this.timeout(5000)) are each
// test's options T and HEARTBEAT.
//
// WebSocket event delivery: the suites' WebSocket is protocol-helpers.js's,
// a subclass of ws's (upstream's WebSocket on Node) that delivers "open"
// and each "message" as a browser does, one task at a time: the first at
// once, and each further one only after 16 microtask hops, so that the
// continuation of a test that awaited the previous event has run and
// added its listener. ws emits every event of one TCP read in the same
// tick (a server's first frame in the same read as its 101 response, or
// two frames), and a test that awaits one event and then listens for the
// next would miss the next. No other event ("close", "error") is deferred.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { WebSocket, URL, WS_URL, HEARTBEAT_SERVER, PING_INTERVAL, PING_TIMEOUT, sleep, waitFor, hasAllKeys, bufferOf } = require('../protocol-helpers')

const isNodejs = true
const T = { timeout: 2000 } // mocha's default
const HEARTBEAT = { timeout: 5000 } // this.timeout(5000)

// expressbridge: the server's URL is a parameter, for the tests that use
// a server of their own (see protocol-helpers.js).
async function initLongPollingSession(url = URL) {
  const response = await fetch(`${url}/engine.io/?EIO=4&transport=polling`)
  const content = await response.text()
  return JSON.parse(content.substring(1)).sid
}

describe('Engine.IO protocol', () => {
  describe('handshake', () => {
    // expressbridge: against the server with upstream's heartbeat, which
    // these tests read or check (see protocol-helpers.js).
    const { URL, WS_URL } = HEARTBEAT_SERVER

    describe('HTTP long-polling', () => {
      it('successfully opens a session', T, async () => {
        const response = await fetch(`${URL}/engine.io/?EIO=4&transport=polling`)

        assert.equal(response.status, 200)

        const content = await response.text()

        assert.ok(content.startsWith('0'))

        const value = JSON.parse(content.substring(1))

        hasAllKeys(assert, value, ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload'])
        assert.equal(typeof value.sid, 'string')
        assert.deepStrictEqual(value.upgrades, ['websocket'])
        assert.equal(value.pingInterval, PING_INTERVAL)
        assert.equal(value.pingTimeout, PING_TIMEOUT)
        assert.equal(value.maxPayload, 1000000)
      })

      it("fails with an invalid 'EIO' query parameter", T, async () => {
        const response = await fetch(`${URL}/engine.io/?transport=polling`)

        assert.equal(response.status, 400)

        const response2 = await fetch(`${URL}/engine.io/?EIO=abc&transport=polling`)

        assert.equal(response2.status, 400)
      })

      it("fails with an invalid 'transport' query parameter", T, async () => {
        const response = await fetch(`${URL}/engine.io/?EIO=4`)

        assert.equal(response.status, 400)

        const response2 = await fetch(`${URL}/engine.io/?EIO=4&transport=abc`)

        assert.equal(response2.status, 400)
      })

      it('fails with an invalid request method', T, async () => {
        const response = await fetch(`${URL}/engine.io/?EIO=4&transport=polling`, { method: 'post' })

        assert.equal(response.status, 400)

        const response2 = await fetch(`${URL}/engine.io/?EIO=4&transport=polling`, { method: 'put' })

        assert.equal(response2.status, 400)
      })
    })

    describe('WebSocket', () => {
      it('successfully opens a session', T, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket`)

        const { data } = await waitFor(socket, 'message')

        assert.ok(data.startsWith('0'))

        const value = JSON.parse(data.substring(1))

        hasAllKeys(assert, value, ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload'])
        assert.equal(typeof value.sid, 'string')
        assert.deepStrictEqual(value.upgrades, [])
        assert.equal(value.pingInterval, PING_INTERVAL)
        assert.equal(value.pingTimeout, PING_TIMEOUT)
        assert.equal(value.maxPayload, 1000000)

        socket.close()
      })

      it("fails with an invalid 'EIO' query parameter", T, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?transport=websocket`)

        if (isNodejs) {
          socket.on('error', () => {})
        }

        waitFor(socket, 'close')

        const socket2 = new WebSocket(`${WS_URL}/engine.io/?EIO=abc&transport=websocket`)

        if (isNodejs) {
          socket2.on('error', () => {})
        }

        waitFor(socket2, 'close')
      })

      it("fails with an invalid 'transport' query parameter", T, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4`)

        if (isNodejs) {
          socket.on('error', () => {})
        }

        waitFor(socket, 'close')

        const socket2 = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=abc`)

        if (isNodejs) {
          socket2.on('error', () => {})
        }

        waitFor(socket2, 'close')
      })
    })
  })

  describe('message', () => {
    describe('HTTP long-polling', () => {
      it('sends and receives a payload containing one plain text packet', T, async () => {
        const sid = await initLongPollingSession()

        const pushResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, {
          method: 'post',
          body: '4hello',
        })

        assert.equal(pushResponse.status, 200)

        const postContent = await pushResponse.text()

        assert.equal(postContent, 'ok')

        const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse.status, 200)

        const pollContent = await pollResponse.text()

        assert.equal(pollContent, '4hello')
      })

      it('sends and receives a payload containing several plain text packets', T, async () => {
        const sid = await initLongPollingSession()

        const pushResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, {
          method: 'post',
          body: '4test1\x1e4test2\x1e4test3',
        })

        assert.equal(pushResponse.status, 200)

        const postContent = await pushResponse.text()

        assert.equal(postContent, 'ok')

        const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse.status, 200)

        const pollContent = await pollResponse.text()

        assert.equal(pollContent, '4test1\x1e4test2\x1e4test3')
      })

      it('sends and receives a payload containing plain text and binary packets', T, async () => {
        const sid = await initLongPollingSession()

        const pushResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, {
          method: 'post',
          body: '4hello\x1ebAQIDBA==',
        })

        assert.equal(pushResponse.status, 200)

        const postContent = await pushResponse.text()

        assert.equal(postContent, 'ok')

        const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse.status, 200)

        const pollContent = await pollResponse.text()

        assert.equal(pollContent, '4hello\x1ebAQIDBA==')
      })

      it('closes the session upon invalid packet format', T, async () => {
        const sid = await initLongPollingSession()

        try {
          const pushResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, {
            method: 'post',
            body: 'abc',
          })

          assert.equal(pushResponse.status, 400)
        } catch (e) {
          // node-fetch throws when the request is closed abnormally
        }

        const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse.status, 400)
      })

      it('closes the session upon duplicate poll requests', T, async () => {
        const sid = await initLongPollingSession()

        const pollResponses = await Promise.all([
          fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`),
          // expressbridge: upstream waits 5 ms for the first GET to be the
          // pending one; a loaded machine can take longer, and this server
          // sends no ping meanwhile.
          sleep(200).then(() => fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}&t=burst`)),
        ])

        assert.equal(pollResponses[0].status, 200)

        const content = await pollResponses[0].text()

        assert.equal(content, '1')

        // the Node.js implementation uses HTTP 500 (Internal Server Error), but HTTP 400 seems more suitable
        assert.ok([400, 500].includes(pollResponses[1].status))

        const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse.status, 400)
      })
    })

    describe('WebSocket', () => {
      it('sends and receives a plain text packet', T, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'open')

        await waitFor(socket, 'message') // handshake

        socket.send('4hello')

        const { data } = await waitFor(socket, 'message')

        assert.equal(data, '4hello')

        socket.close()
      })

      it('sends and receives a binary packet', T, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket`)
        socket.binaryType = 'arraybuffer'

        await waitFor(socket, 'message') // handshake

        socket.send(Uint8Array.from([1, 2, 3, 4]))

        const { data } = await waitFor(socket, 'message')

        assert.deepStrictEqual(data, bufferOf([1, 2, 3, 4]))

        socket.close()
      })

      it('closes the session upon invalid packet format', T, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'message') // handshake

        socket.send('abc')

        await waitFor(socket, 'close')

        socket.close()
      })
    })
  })

  describe('heartbeat', HEARTBEAT, () => {
    // expressbridge: against the server with upstream's heartbeat, which
    // these tests read or check (see protocol-helpers.js).
    const { URL, WS_URL } = HEARTBEAT_SERVER

    describe('HTTP long-polling', () => {
      it('sends ping/pong packets', HEARTBEAT, async () => {
        const sid = await initLongPollingSession(URL)

        for (let i = 0; i < 3; i++) {
          const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

          assert.equal(pollResponse.status, 200)

          const pollContent = await pollResponse.text()

          assert.equal(pollContent, '2')

          const pushResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, {
            method: 'post',
            body: '3',
          })

          assert.equal(pushResponse.status, 200)
        }
      })

      it('closes the session upon ping timeout', HEARTBEAT, async () => {
        const sid = await initLongPollingSession(URL)

        await sleep(PING_INTERVAL + PING_TIMEOUT)

        const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse.status, 400)
      })
    })

    describe('WebSocket', () => {
      it('sends ping/pong packets', HEARTBEAT, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'message') // handshake

        for (let i = 0; i < 3; i++) {
          const { data } = await waitFor(socket, 'message')

          assert.equal(data, '2')

          socket.send('3')
        }

        socket.close()
      })

      it('closes the session upon ping timeout', HEARTBEAT, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'close') // handshake
      })
    })
  })

  describe('close', () => {
    describe('HTTP long-polling', () => {
      it('forcefully closes the session', T, async () => {
        const sid = await initLongPollingSession()

        const [pollResponse] = await Promise.all([
          fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`),
          fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`, {
            method: 'post',
            body: '1',
          }),
        ])

        assert.equal(pollResponse.status, 200)

        const pullContent = await pollResponse.text()

        assert.equal(pullContent, '6')

        const pollResponse2 = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse2.status, 400)
      })
    })

    describe('WebSocket', () => {
      it('forcefully closes the session', T, async () => {
        const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'message') // handshake

        socket.send('1')

        await waitFor(socket, 'close')
      })
    })
  })

  describe('upgrade', () => {
    it('successfully upgrades from HTTP long-polling to WebSocket', T, async () => {
      const sid = await initLongPollingSession()

      const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket, 'open')

      // send probe
      socket.send('2probe')

      const probeResponse = await waitFor(socket, 'message')

      assert.equal(probeResponse.data, '3probe')

      const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

      assert.equal(pollResponse.status, 200)

      const pollContent = await pollResponse.text()

      assert.equal(pollContent, '6') // "noop" packet to cleanly end the HTTP long-polling request

      // complete upgrade
      socket.send('5')

      socket.send('4hello')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '4hello')
    })

    it('ignores HTTP requests with same sid after upgrade', T, async () => {
      const sid = await initLongPollingSession()

      const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket, 'open')
      socket.send('2probe')
      socket.send('5')

      const pollResponse = await fetch(`${URL}/engine.io/?EIO=4&transport=polling&sid=${sid}`)

      assert.equal(pollResponse.status, 400)

      socket.send('4hello')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '4hello')
    })

    it('ignores WebSocket connection with same sid after upgrade', T, async () => {
      const sid = await initLongPollingSession()

      const socket = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket, 'open')
      socket.send('2probe')
      socket.send('5')

      const socket2 = new WebSocket(`${WS_URL}/engine.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket2, 'close')

      socket.send('4hello')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '4hello')
    })
  })
})
