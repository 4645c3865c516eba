#!/usr/bin/env node
// An independent USSD centre (USSDC) for hotline's USSD-over-SMPP tests, built on npm `smpp`
// (farhadi/node-smpp): it accepts hotline's bind, sends mobile-originated USSD as deliver_sm
// with the ussd_service_op / its_session_info TLVs when told to on stdin, and reports every
// submit_sm hotline answers with, TLVs included, so our codec meets one we did not write.
//
// Usage: node ussd_smsc.js [port] [--system-id ID --password PW]
//   stdout, one JSON object per line: {"listening": port}, {"bound": system_id},
//   {"submit": {destination_addr, source_addr, data_coding, text, ussd_service_op,
//               its_session_info_hex}}, {"deliver_sm_resp": status}
//   stdin, one JSON object per line: {"mo": {deliver_sm fields; its_session_info_hex}}
'use strict';
const readline = require('readline');
const smpp = require('smpp');

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) || 0);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const systemId = opt('--system-id');
const password = opt('--password');
const sessions = new Set();
let counter = 0x700;

function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

const server = smpp.createServer((session) => {
  session.on('error', (e) => process.stderr.write(`session error: ${e.message}\n`));
  session.on('close', () => sessions.delete(session));
  session.on('bind_transceiver', (pdu) => {
    if (systemId !== undefined && (pdu.system_id !== systemId || pdu.password !== password)) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    session.send(pdu.response({ system_id: 'NODEUSSDC' }));
    sessions.add(session);
    emit({ bound: pdu.system_id });
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('deliver_sm_resp', (pdu) => emit({ deliver_sm_resp: pdu.command_status }));
  session.on('submit_sm', (pdu) => {
    const id = (++counter).toString(16);
    session.send(pdu.response({ message_id: id }));
    const sm = pdu.short_message || {};
    emit({ submit: {
      destination_addr: pdu.destination_addr,
      source_addr: pdu.source_addr,
      data_coding: pdu.data_coding,
      text: typeof sm === 'string' ? sm : (sm.message || ''),
      ussd_service_op: pdu.ussd_service_op,
      its_session_info_hex: pdu.its_session_info ? pdu.its_session_info.toString('hex') : null,
    } });
  });
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) { process.stderr.write(`bad command: ${line}\n`); return; }
  if (cmd.mo) {
    const fields = Object.assign({}, cmd.mo);
    if (fields.its_session_info_hex !== undefined) {
      fields.its_session_info = Buffer.from(fields.its_session_info_hex, 'hex');
      delete fields.its_session_info_hex;
    }
    for (const s of sessions) s.deliver_sm(fields);
  }
});

server.on('error', (e) => { process.stderr.write(`server error: ${e.message}\n`); process.exit(1); });
server.listen(port, '127.0.0.1', () => emit({ listening: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
