#!/usr/bin/env node
'use strict'

// Times cookie-signature's unsign and cookie's parse (the instances
// express-session uses) on the same inputs as the Go benchmarks. Prints one
// JSON line per benchmark:
//   {"name":"node cookie-signature unsign","ns_per_op":MEDIAN,"runs":[...]}

const path = require('path')

const esDir = path.dirname(require.resolve('express-session'))
const fromSession = (request) => require(require.resolve(request, { paths: [esDir] }))
const signature = fromSession('cookie-signature')
const cookie = fromSession('cookie')

const SECRET = 'bench-secret-0123456789'
const SID = 'd-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR'
const SIGNED = signature.sign(SID, SECRET)
const HEADER = '_ga=GA1.1.1234567890.1234567890; theme=dark; connect.sid=' +
  encodeURIComponent('s:' + SIGNED) + '; lang=en'

const WARMUP = 200000
const RUNS = 5
const MIN_RUN_NS = 1000000000n

let sink = null // keeps results alive so the work is not optimised away

function bench(name, fn, check) {
  if (!check(fn())) throw new Error(`${name}: wrong result`)
  for (let i = 0; i < WARMUP; i++) sink = fn()

  // Find a batch size that takes a noticeable time, then run batches until
  // at least one second has passed.
  let batch = 1000
  for (;;) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) sink = fn()
    if (process.hrtime.bigint() - t0 > 10000000n) break
    batch *= 2
  }

  const runs = []
  for (let r = 0; r < RUNS; r++) {
    let ops = 0
    const start = process.hrtime.bigint()
    let elapsed = 0n
    do {
      for (let i = 0; i < batch; i++) sink = fn()
      ops += batch
      elapsed = process.hrtime.bigint() - start
    } while (elapsed < MIN_RUN_NS)
    runs.push(Number(elapsed) / ops)
  }
  if (!check(sink)) throw new Error(`${name}: wrong result`)
  const sorted = [...runs].sort((a, b) => a - b)
  const round = (x) => Math.round(x * 10) / 10
  process.stdout.write(JSON.stringify({ name, ns_per_op: round(sorted[RUNS >> 1]), runs: runs.map(round) }) + '\n')
}

bench('node cookie-signature unsign', () => signature.unsign(SIGNED, SECRET), (r) => r === SID)
bench('node cookie parse', () => cookie.parse(HEADER), (r) => r['connect.sid'] === 's:' + SIGNED)
