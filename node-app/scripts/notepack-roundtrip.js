'use strict'

// Reads JSON texts, one a line, on stdin and writes for each what a Node
// server does with an event argument it relays through
// @socket.io/redis-adapter: JSON.parse (the client's packet), notepack.io's
// encode (the adapter's publish), notepack.io's decode (the other server)
// and JSON.stringify (that server's packet to its client). One JSON line
// out per line in: {"msgpack": hex of the encoding, "json": the text}.

const readline = require('readline')
const notepack = require('notepack.io')

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const bytes = notepack.encode(JSON.parse(line))
  const json = JSON.stringify(notepack.decode(bytes))
  process.stdout.write(JSON.stringify({ msgpack: Buffer.from(bytes).toString('hex'), json }) + '\n')
})
