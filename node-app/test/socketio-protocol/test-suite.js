'use strict'

// A port of the Socket.IO protocol test suite to node:test, written for
// expressbridge: the same cases, assertions and expectations as
//   https://github.com/socketio/socket.io-protocol, test-suite/test-suite.js
//   at commit 4f633dd6a4445492d57af3b27ddd2d336014f1f1 (2023-09-19).
// Upstream runs it with mocha, chai and node-fetch; here node:test,
// node:assert and Node's own fetch. The server must listen at SERVER_URL
// (default http://localhost:3000) with path /socket.io/, pingInterval
// 300 ms, pingTimeout 200 ms, maxPayload 1000000, a short connect
// timeout, and the namespaces "/" and "/custom", each of which emits
// "auth" with the handshake's auth payload on connection, answers
// "message" with "message-back" and the same arguments, and acknowledges
// "message-with-ack" with its arguments. Deviations, each marked
// "expressbridge:": the handshake, heartbeat and disconnect tests may use
// servers of their own, so that SERVER_URL's may ping rarely (see
// protocol-helpers.js), and initLongPollingSession and
// initSocketIOConnection take that server's URL. Unmarked, as the port's
// means: chai's expectations are node:assert's (hasAllKeys and bufferOf
// in protocol-helpers.js stand for to.have.all.keys and eql on an
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
const { WebSocket, URL, WS_URL, HEARTBEAT_SERVER, PING_SERVER, PING_INTERVAL, PING_TIMEOUT, sleep, waitFor, hasAllKeys, bufferOf } = require('../protocol-helpers')

const isNodejs = true
const T = { timeout: 2000 } // mocha's default
const HEARTBEAT = { timeout: 5000 } // this.timeout(5000)

function waitForPackets(socket, count) {
  const packets = []

  return new Promise((resolve) => {
    const handler = (event) => {
      if (event.data === '2') {
        // ignore PING packets
        return
      }
      packets.push(event.data)
      if (packets.length === count) {
        socket.removeEventListener('message', handler)
        resolve(packets)
      }
    }
    socket.addEventListener('message', handler)
  })
}

// expressbridge: the server's URL is a parameter, for the tests that use
// a server of their own (see protocol-helpers.js).
async function initLongPollingSession(url = URL) {
  const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling`)
  const content = await response.text()
  return JSON.parse(content.substring(1)).sid
}

// expressbridge: as initLongPollingSession.
async function initSocketIOConnection(wsUrl = WS_URL) {
  const socket = new WebSocket(`${wsUrl}/socket.io/?EIO=4&transport=websocket`)
  socket.binaryType = 'arraybuffer'

  await waitFor(socket, 'message') // Engine.IO handshake

  socket.send('40')

  await waitFor(socket, 'message') // Socket.IO handshake
  await waitFor(socket, 'message') // "auth" packet

  return socket
}

describe('Engine.IO protocol', () => {
  describe('handshake', () => {
    // expressbridge: against the server with upstream's heartbeat, which
    // these tests read or check (see protocol-helpers.js).
    const { URL, WS_URL } = HEARTBEAT_SERVER

    describe('HTTP long-polling', () => {
      it('should successfully open a session', T, async () => {
        const response = await fetch(`${URL}/socket.io/?EIO=4&transport=polling`)

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

      it("should fail with an invalid 'EIO' query parameter", T, async () => {
        const response = await fetch(`${URL}/socket.io/?transport=polling`)

        assert.equal(response.status, 400)

        const response2 = await fetch(`${URL}/socket.io/?EIO=abc&transport=polling`)

        assert.equal(response2.status, 400)
      })

      it("should fail with an invalid 'transport' query parameter", T, async () => {
        const response = await fetch(`${URL}/socket.io/?EIO=4`)

        assert.equal(response.status, 400)

        const response2 = await fetch(`${URL}/socket.io/?EIO=4&transport=abc`)

        assert.equal(response2.status, 400)
      })

      it('should fail with an invalid request method', T, async () => {
        const response = await fetch(`${URL}/socket.io/?EIO=4&transport=polling`, { method: 'post' })

        assert.equal(response.status, 400)

        const response2 = await fetch(`${URL}/socket.io/?EIO=4&transport=polling`, { method: 'put' })

        assert.equal(response2.status, 400)
      })
    })

    describe('WebSocket', () => {
      it('should successfully open a session', T, async () => {
        const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

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

      it("should fail with an invalid 'EIO' query parameter", T, async () => {
        const socket = new WebSocket(`${WS_URL}/socket.io/?transport=websocket`)

        if (isNodejs) {
          socket.on('error', () => {})
        }

        waitFor(socket, 'close')

        const socket2 = new WebSocket(`${WS_URL}/socket.io/?EIO=abc&transport=websocket`)

        if (isNodejs) {
          socket2.on('error', () => {})
        }

        waitFor(socket2, 'close')
      })

      it("should fail with an invalid 'transport' query parameter", T, async () => {
        const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4`)

        if (isNodejs) {
          socket.on('error', () => {})
        }

        waitFor(socket, 'close')

        const socket2 = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=abc`)

        if (isNodejs) {
          socket2.on('error', () => {})
        }

        waitFor(socket2, 'close')
      })
    })
  })

  describe('heartbeat', HEARTBEAT, () => {
    // expressbridge: against the server with upstream's heartbeat, which
    // these tests read or check (see protocol-helpers.js).
    const { URL, WS_URL } = HEARTBEAT_SERVER

    describe('HTTP long-polling', () => {
      it('should send ping/pong packets', HEARTBEAT, async () => {
        const sid = await initLongPollingSession(URL)

        for (let i = 0; i < 3; i++) {
          const pollResponse = await fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`)

          assert.equal(pollResponse.status, 200)

          const pollContent = await pollResponse.text()

          assert.equal(pollContent, '2')

          const pushResponse = await fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
            method: 'post',
            body: '3',
          })

          assert.equal(pushResponse.status, 200)
        }
      })

      it('should close the session upon ping timeout', HEARTBEAT, async () => {
        const sid = await initLongPollingSession(URL)

        await sleep(PING_INTERVAL + PING_TIMEOUT)

        const pollResponse = await fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse.status, 400)
      })
    })

    describe('WebSocket', () => {
      it('should send ping/pong packets', HEARTBEAT, async () => {
        const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'message') // handshake

        for (let i = 0; i < 3; i++) {
          const { data } = await waitFor(socket, 'message')

          assert.equal(data, '2')

          socket.send('3')
        }

        socket.close()
      })

      it('should close the session upon ping timeout', HEARTBEAT, async () => {
        const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'close') // handshake
      })
    })
  })

  describe('close', () => {
    describe('HTTP long-polling', () => {
      it('should forcefully close the session', T, async () => {
        const sid = await initLongPollingSession()

        const [pollResponse] = await Promise.all([
          fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`),
          fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
            method: 'post',
            body: '1',
          }),
        ])

        assert.equal(pollResponse.status, 200)

        const pullContent = await pollResponse.text()

        assert.equal(pullContent, '6')

        const pollResponse2 = await fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`)

        assert.equal(pollResponse2.status, 400)
      })
    })

    describe('WebSocket', () => {
      it('should forcefully close the session', T, async () => {
        const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

        await waitFor(socket, 'message') // handshake

        socket.send('1')

        await waitFor(socket, 'close')
      })
    })
  })

  describe('upgrade', () => {
    it('should successfully upgrade from HTTP long-polling to WebSocket', T, async () => {
      const sid = await initLongPollingSession()

      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket, 'open')

      // send probe
      socket.send('2probe')

      const probeResponse = await waitFor(socket, 'message')

      assert.equal(probeResponse.data, '3probe')

      // complete upgrade
      socket.send('5')
    })

    it('should ignore HTTP requests with same sid after upgrade', T, async () => {
      const sid = await initLongPollingSession()

      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket, 'open')
      socket.send('2probe')
      socket.send('5')

      const pollResponse = await fetch(`${URL}/socket.io/?EIO=4&transport=polling&sid=${sid}`)

      assert.equal(pollResponse.status, 400)
    })

    it('should ignore WebSocket connection with same sid after upgrade', T, async () => {
      const sid = await initLongPollingSession()

      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket, 'open')
      socket.send('2probe')
      socket.send('5')

      const socket2 = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket&sid=${sid}`)

      await waitFor(socket2, 'close')
    })
  })
})

describe('Socket.IO protocol', () => {
  describe('connect', () => {
    it('should allow connection to the main namespace', T, async () => {
      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

      await waitFor(socket, 'message') // Engine.IO handshake

      socket.send('40')

      const { data } = await waitFor(socket, 'message')

      assert.ok(data.startsWith('40'))

      const handshake = JSON.parse(data.substring(2))

      hasAllKeys(assert, handshake, ['sid'])
      assert.equal(typeof handshake.sid, 'string')

      const authPacket = await waitFor(socket, 'message')

      assert.equal(authPacket.data, '42["auth",{}]')
    })

    it('should allow connection to the main namespace with a payload', T, async () => {
      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

      await waitFor(socket, 'message') // Engine.IO handshake

      socket.send('40{"token":"123"}')

      const { data } = await waitFor(socket, 'message')

      assert.ok(data.startsWith('40'))

      const handshake = JSON.parse(data.substring(2))

      hasAllKeys(assert, handshake, ['sid'])
      assert.equal(typeof handshake.sid, 'string')

      const authPacket = await waitFor(socket, 'message')

      assert.equal(authPacket.data, '42["auth",{"token":"123"}]')
    })

    it('should allow connection to a custom namespace', T, async () => {
      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

      await waitFor(socket, 'message') // Engine.IO handshake

      socket.send('40/custom,')

      const { data } = await waitFor(socket, 'message')

      assert.ok(data.startsWith('40/custom,'))

      const handshake = JSON.parse(data.substring(10))

      hasAllKeys(assert, handshake, ['sid'])
      assert.equal(typeof handshake.sid, 'string')

      const authPacket = await waitFor(socket, 'message')

      assert.equal(authPacket.data, '42/custom,["auth",{}]')
    })

    it('should allow connection to a custom namespace with a payload', T, async () => {
      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

      await waitFor(socket, 'message') // Engine.IO handshake

      socket.send('40/custom,{"token":"abc"}')

      const { data } = await waitFor(socket, 'message')

      assert.ok(data.startsWith('40/custom,'))

      const handshake = JSON.parse(data.substring(10))

      hasAllKeys(assert, handshake, ['sid'])
      assert.equal(typeof handshake.sid, 'string')

      const authPacket = await waitFor(socket, 'message')

      assert.equal(authPacket.data, '42/custom,["auth",{"token":"abc"}]')
    })

    it('should disallow connection to an unknown namespace', T, async () => {
      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

      await waitFor(socket, 'message') // Engine.IO handshake

      socket.send('40/random')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '44/random,{"message":"Invalid namespace"}')
    })

    it('should disallow connection with an invalid handshake', T, async () => {
      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

      await waitFor(socket, 'message') // Engine.IO handshake

      socket.send('4abc')

      await waitFor(socket, 'close')
    })

    it('should close the connection if no handshake is received', T, async () => {
      const socket = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket`)

      await waitFor(socket, 'close')
    })
  })

  describe('disconnect', () => {
    // expressbridge: against a server that pings every 300 ms and waits
    // long for the pong: these tests await a ping, never answer it, and
    // then expect a payload (see protocol-helpers.js).
    const { WS_URL } = PING_SERVER

    it('should disconnect from the main namespace', T, async () => {
      const socket = await initSocketIOConnection(WS_URL)

      socket.send('41')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '2')
    })

    it('should connect then disconnect from a custom namespace', T, async () => {
      const socket = await initSocketIOConnection(WS_URL)

      await waitFor(socket, 'message') // ping

      socket.send('40/custom')

      await waitFor(socket, 'message') // Socket.IO handshake
      await waitFor(socket, 'message') // auth packet

      socket.send('41/custom')
      socket.send('42["message","message to main namespace"]')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '42["message-back","message to main namespace"]')
    })
  })

  describe('message', () => {
    it('should send a plain-text packet', T, async () => {
      const socket = await initSocketIOConnection()

      socket.send('42["message",1,"2",{"3":[true]}]')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '42["message-back",1,"2",{"3":[true]}]')
    })

    it('should send a packet with binary attachments', T, async () => {
      const socket = await initSocketIOConnection()

      socket.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
      socket.send(Uint8Array.from([1, 2, 3]))
      socket.send(Uint8Array.from([4, 5, 6]))

      const packets = await waitForPackets(socket, 3)

      assert.equal(packets[0], '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
      assert.deepStrictEqual(packets[1], bufferOf([1, 2, 3]))
      assert.deepStrictEqual(packets[2], bufferOf([4, 5, 6]))

      socket.close()
    })

    it('should send a plain-text packet with an ack', T, async () => {
      const socket = await initSocketIOConnection()

      socket.send('42456["message-with-ack",1,"2",{"3":[false]}]')

      const { data } = await waitFor(socket, 'message')

      assert.equal(data, '43456[1,"2",{"3":[false]}]')
    })

    it('should send a packet with binary attachments and an ack', T, async () => {
      const socket = await initSocketIOConnection()

      socket.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
      socket.send(Uint8Array.from([1, 2, 3]))
      socket.send(Uint8Array.from([4, 5, 6]))

      const packets = await waitForPackets(socket, 3)

      assert.equal(packets[0], '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
      assert.deepStrictEqual(packets[1], bufferOf([1, 2, 3]))
      assert.deepStrictEqual(packets[2], bufferOf([4, 5, 6]))

      socket.close()
    })

    it('should close the connection upon invalid format (unknown packet type)', T, async () => {
      const socket = await initSocketIOConnection()

      socket.send('4abc')

      await waitFor(socket, 'close')
    })

    it('should close the connection upon invalid format (invalid payload format)', T, async () => {
      const socket = await initSocketIOConnection()

      socket.send('42{}')

      await waitFor(socket, 'close')
    })

    it('should close the connection upon invalid format (invalid ack id)', T, async () => {
      const socket = await initSocketIOConnection()

      socket.send('42abc["message-with-ack",1,"2",{"3":[false]}]')

      await waitFor(socket, 'close')
    })
  })
})
