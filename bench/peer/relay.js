// Minimal Node `ws` relay: the peer Pounce is compared with in bench/.
//
// It speaks just enough of Pounce protocol v1 (docs/protocol.md) for bench/loadgen.py
// to drive it exactly like the real server, and does the same visitor -> rep relay
// with NO storage, NO markdown rendering (the body is HTML-escaped into <p>), NO
// validation beyond JSON.parse, NO routing beyond "every console socket":
//
//   GET  /readyz            -> 200
//   POST /api/v1/session    -> 200 {csrf_token}, Set-Cookie: pounce_session=...
//   /ws/messenger  hello -> welcome {visitor_id, visitor_token, ...}
//                  message {id, body} -> ack {id, conversation_id, seq, message} to the
//                  sender, then {type:"message", ...message} to every socket of that
//                  visitor (the sender's tab included, as Pounce does) and to every
//                  console socket; per-visitor seq 1, 2, 3...
//                  ping -> pong
//   /ws/console    hello -> welcome; availability -> ack; ping -> pong
//
// Like Pounce (uvicorn ws_ping_interval=20) it pings every socket every 20 s and drops
// peers that did not answer the previous ping.
//
// Usage: node relay.js --port 9100 [--host 127.0.0.1]
'use strict';

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const port = Number(arg('--port', '9100'));
const host = arg('--host', '127.0.0.1');

const reps = new Set();
const visitorSockets = new Map(); // visitor_id -> Set<ws>
const seqs = new Map(); // conversation_id -> last seq
let nextVisitor = 1;

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const server = http.createServer((req, res) => {
  if (req.url === '/readyz' || req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ready"}');
    return;
  }
  if (req.method === 'POST' && req.url === '/api/v1/session') {
    req.resume();
    req.on('end', () => {
      const token = crypto.randomBytes(16).toString('hex');
      res.writeHead(200, {
        'content-type': 'application/json',
        'set-cookie': `pounce_session=${token}; Path=/; HttpOnly`,
      });
      res.end(JSON.stringify({ csrf_token: token }));
    });
    return;
  }
  res.writeHead(404);
  res.end();
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1 << 20 });

server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?')[0];
  if (path !== '/ws/messenger' && path !== '/ws/console') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.kind = path === '/ws/messenger' ? 'messenger' : 'console';
    ws.isAlive = true;
    ws.on('pong', () => { ws.isAlive = true; });
    if (ws.kind === 'messenger') messenger(ws); else consoleSocket(ws);
  });
});

function messenger(ws) {
  let visitorId = null;
  ws.on('message', (raw) => {
    let frame;
    try { frame = JSON.parse(raw); } catch { ws.send('{"type":"error","code":"bad_json","message":"bad json"}'); return; }
    if (visitorId === null) {
      if (frame.type !== 'hello') { ws.close(4400, 'bad hello'); return; }
      visitorId = `v_${nextVisitor++}`;
      let set = visitorSockets.get(visitorId);
      if (!set) visitorSockets.set(visitorId, (set = new Set()));
      set.add(ws);
      ws.send(JSON.stringify({
        type: 'welcome', v: 1, visitor_id: visitorId, visitor_token: visitorId,
        org: { name: 'Relay' }, reps_available: reps.size > 0, conversation: null, strings_locale: 'en',
      }));
      return;
    }
    if (frame.type === 'message') {
      const conversationId = `c_${visitorId}`;
      const seq = (seqs.get(conversationId) || 0) + 1;
      seqs.set(conversationId, seq);
      const message = {
        conversation_id: conversationId, seq, client_id: frame.id,
        author: { kind: 'visitor', id: visitorId, name: null, avatar_url: null },
        body: frame.body, html: `<p>${escapeHtml(String(frame.body))}</p>`,
        created_at: new Date().toISOString(),
      };
      ws.send(JSON.stringify({ type: 'ack', id: frame.id, conversation_id: conversationId, seq, message }));
      const out = JSON.stringify({ type: 'message', ...message });
      for (const peer of visitorSockets.get(visitorId) || []) peer.send(out);
      for (const rep of reps) rep.send(out);
    } else if (frame.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', t: frame.t }));
    }
  });
  ws.on('close', () => {
    const set = visitorSockets.get(visitorId);
    if (set) { set.delete(ws); if (!set.size) visitorSockets.delete(visitorId); }
  });
}

function consoleSocket(ws) {
  let greeted = false;
  ws.on('message', (raw) => {
    let frame;
    try { frame = JSON.parse(raw); } catch { return; }
    if (!greeted) {
      if (frame.type !== 'hello') { ws.close(4400, 'bad hello'); return; }
      greeted = true;
      reps.add(ws);
      ws.send(JSON.stringify({ type: 'welcome', v: 1, user: { id: 'u_rep' }, org: { id: 'o', name: 'Relay' },
        reps: [], visitors: [], alerts: [], conversations: [] }));
      return;
    }
    if (frame.type === 'availability') ws.send(JSON.stringify({ type: 'ack', id: frame.id, status: frame.status }));
    else if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong', t: frame.t }));
  });
  ws.on('close', () => reps.delete(ws));
}

setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, 20000).unref();

server.listen(port, host, 4096, () => {
  console.log(`relay listening on http://${host}:${port}`);
});
