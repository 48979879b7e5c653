'use strict'
// Two real socket.io-clients, Zoë on instance A and Bob on instance B.
// Prints "ready" once both are greeted, then each "notice" as
// "NAME notice JSON"; Bob shouts once the test says "shout" on stdin.
const { io } = require('socket.io-client')

const timer = setTimeout(() => { console.log('timeout'); process.exit(1) }, 15000)
const connect = (url, cookie) => io(url, { transports: ['websocket'], extraHeaders: { cookie, origin: process.env.ORIGIN } })
const zoe = connect(process.env.URL_A, process.env.COOKIE_A)
const bob = connect(process.env.URL_B, process.env.COOKIE_B)
let greeted = 0
let notices = 0
for (const [name, so] of [['zoe', zoe], ['bob', bob]]) {
  so.on('hello', () => { if (++greeted === 2) console.log('ready') })
  so.on('notice', (n) => {
    console.log(name, 'notice', JSON.stringify(n))
    if (++notices === 5) { clearTimeout(timer); zoe.close(); bob.close(); process.exit(0) }
  })
  so.on('connect_error', (err) => { console.log(name, 'connect_error', err.message); process.exit(1) })
}
process.stdin.on('data', () => bob.emit('shout', 'hi all'))
