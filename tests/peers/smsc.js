#!/usr/bin/env node
// An independent SMSC for hotline's interop tests and benchmarks, built on npm `smpp`
// (farhadi/node-smpp), so our ESME is checked against a codec we did not write.
//
// Usage: node smsc.js [port] [options]
//   port 0 (default) = any free port.  Prints {"listening": <port>} once ready, then one JSON
//   line per submit_sm received: destination_addr, source_addr, data_coding, esm_class,
//   registered_delivery, text (short_message decoded by node-smpp), udh (hex of each UDH
//   element), message_id, status (the command_status answered).
// Options:
//   --system-id ID --password PW  refuse (ESME_RBINDFAIL, then close) other credentials
//   --refuse-binds N   refuse the first N binds whatever the credentials
//   --quiet            no line per submit_sm (benchmarks); {"count": n} on SIGUSR2
//   --events           also report {"bound"}, {"bind_refused"}, {"dropped_after"} and
//                      {"deliver_sm_resp": status} lines
//   --throttle N       answer the first N submit_sm with ESME_RTHROTTLED (0x58)
//   --msgqful N        answer the first N submit_sm with ESME_RMSGQFUL (0x14)
//   --drop-after N     after the N-th submit_sm (counted over the process), answer nothing more
//                      on that link and cut it 100 ms later: the ESME's window is left full
//   --dlr-first        send each delivery receipt before the submit_sm_resp
//   --hex-ids          message ids as upper-case hex with leading zeros ("0000004A1")
// Commands on stdin, one JSON object per line:
//   {"deliver": {...deliver_sm fields...}}  sent to every bound session; "short_message_hex"
//       and "its_session_info_hex" give raw bytes.
//   {"drop": true}    cut every session at once (no unbind).
'use strict';
const smpp = require('smpp');
const fs = require('fs');
const readline = require('readline');

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) || 0);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const flag = (name) => args.includes(name);
const num = (name) => Number(opt(name) || 0);
const systemId = opt('--system-id');
const password = opt('--password');
const quiet = flag('--quiet');
const events = flag('--events');
const dlrFirst = flag('--dlr-first');
const hexIds = flag('--hex-ids');
let refuseBinds = num('--refuse-binds');
let throttle = num('--throttle');
let msgqful = num('--msgqful');
const dropAfter = num('--drop-after');
let counter = 0x4a0;
let submits = 0;
const sessions = new Set();

// Each line is written to the pipe before the PDU that it reports is answered: a process killed
// right after a submit_sm_resp has its line in the kernel's pipe buffer already. process.stdout
// would queue it in this process when the reader lags (pipes are asynchronous in Node on
// POSIX), and a kill would lose every queued line of a message the client saw accepted.
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
function emit(obj) {
  const line = Buffer.from(JSON.stringify(obj) + '\n');
  let done = 0;
  while (done < line.length) {
    try {
      done += fs.writeSync(1, line, done);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(PAUSE, 0, 0, 1); // the reader is behind: wait a millisecond, never drop
    }
  }
}

function receipt(session, pdu, id) {
  session.deliver_sm({
    source_addr: pdu.destination_addr,
    destination_addr: pdu.source_addr,
    esm_class: 4,
    receipted_message_id: id,
    message_state: 2,
    short_message: `id:${id} sub:001 dlvrd:001 submit date:2601011200 ` +
      'done date:2601011200 stat:DELIVRD err:000 text:',
  });
}

const server = smpp.createServer((session) => {
  let mute = false;
  if (session.socket && session.socket.setNoDelay) session.socket.setNoDelay(true);
  session.on('error', (e) => process.stderr.write(`session error: ${e.message}\n`));
  session.on('close', () => sessions.delete(session));
  session.on('bind_transceiver', (pdu) => {
    const wrong = systemId !== undefined && (pdu.system_id !== systemId || pdu.password !== password);
    if (refuseBinds > 0 || wrong) {
      if (refuseBinds > 0) refuseBinds -= 1;
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      if (events) emit({ bind_refused: pdu.system_id });
      session.close();
      return;
    }
    session.send(pdu.response({ system_id: 'NODESMSC' }));
    sessions.add(session);
    if (events) emit({ bound: pdu.system_id });
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => {
    submits += 1;
    if (mute) return;
    if (dropAfter && submits === dropAfter) {
      mute = true;
      setTimeout(() => session.destroy(), 100);
      if (events) emit({ dropped_after: submits });
    }
    let status = 0;
    if (throttle > 0) { throttle -= 1; status = smpp.ESME_RTHROTTLED; }
    else if (msgqful > 0) { msgqful -= 1; status = smpp.ESME_RMSGQFUL; }
    const n = ++counter;
    const id = hexIds ? n.toString(16).toUpperCase().padStart(9, '0') : n.toString(16);
    if (!quiet) {
      const sm = pdu.short_message || {};
      emit({
        destination_addr: pdu.destination_addr,
        source_addr: pdu.source_addr,
        data_coding: pdu.data_coding,
        esm_class: pdu.esm_class,
        registered_delivery: pdu.registered_delivery,
        text: typeof sm === 'string' ? sm : (sm.message || ''),
        udh: (sm.udh || []).map((b) => b.toString('hex')),
        message_id: status ? '' : id,
        status,
      });
    }
    if (status) { session.send(pdu.response({ command_status: status })); return; }
    const wantsReceipt = pdu.registered_delivery & 0x03;
    if (wantsReceipt && dlrFirst) receipt(session, pdu, id);
    session.send(pdu.response({ message_id: id }));
    if (wantsReceipt && !dlrFirst) receipt(session, pdu, id);
  });
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { process.stderr.write(`bad command: ${line}\n`); return; }
  if (cmd.drop) { for (const s of sessions) s.destroy(); sessions.clear(); return; }
  if (cmd.deliver) {
    const fields = Object.assign({}, cmd.deliver);
    if (fields.short_message_hex !== undefined) {
      fields.short_message = Buffer.from(fields.short_message_hex, 'hex');
      delete fields.short_message_hex;
    }
    if (fields.its_session_info_hex !== undefined) {
      fields.its_session_info = Buffer.from(fields.its_session_info_hex, 'hex');
      delete fields.its_session_info_hex;
    }
    for (const s of sessions) {
      s.deliver_sm(fields, (resp) => { if (events) emit({ deliver_sm_resp: resp.command_status }); });
    }
  }
});

server.on('error', (e) => { process.stderr.write(`server error: ${e.message}\n`); process.exit(1); });
server.listen(port, '127.0.0.1', () => emit({ listening: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => emit({ count: submits }));
