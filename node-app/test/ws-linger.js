// A ws client that keeps sending after the server closes (wsconn's
// TestLingeringCloseWithNodeWS): every round must read the server's last
// message and its close frame (4000 "bye"), never a reset (1006).
'use strict';
const WebSocket = require('ws');

const url = process.env.WS_URL;
const rounds = Number(process.env.ROUNDS || 200);

function round() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const got = [];
    let sent = 0;
    const filler = 'x'.repeat(512);
    function pump() {
      // Keep the socket fed until the connection is closing, a few
      // messages a turn of the event loop so that reads get their turn.
      for (let n = 0; n < 16 && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 64 << 10; n++) {
        ws.send(sent < 20 ? String(sent) : filler);
        sent++;
      }
      if (ws.readyState === WebSocket.OPEN) setImmediate(pump);
    }
    ws.on('open', pump);
    ws.on('message', (m) => got.push(m.toString()));
    ws.on('error', () => {}); // the close event says it
    ws.on('close', (code, reason) => {
      if (got[0] === 'last words' && code === 4000 && reason.toString() === 'bye') resolve();
      else reject(new Error(`got ${JSON.stringify(got.slice(0, 3))}, close ${code} ${reason}`));
    });
  });
}

(async () => {
  for (let i = 0; i < rounds; i++) {
    try {
      await round();
    } catch (err) {
      console.log(`round ${i}: ${err.message}`);
      process.exit(1);
    }
  }
  console.log(`${rounds} rounds: the last words and the close frame every time`);
})();
