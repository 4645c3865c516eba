#!/usr/bin/env node
// An independent SMSC for hotline's interop tests, built on npm `smpp` (farhadi/node-smpp),
// so our ESME is checked against a codec we did not write.
//
// Usage: node smsc.js [port] [--system-id ID --password PW]
//   port 0 (default) = any free port.  Prints {"listening": <port>} once ready, then one JSON
//   line per submit_sm received: destination_addr, source_addr, data_coding, esm_class,
//   text (short_message decoded by node-smpp), udh (hex of each UDH element), message_id.
//   Each submit_sm gets a hex message_id and then a delivery receipt deliver_sm.
'use strict';
const smpp = require('smpp');

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) || 0);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const systemId = opt('--system-id');
const password = opt('--password');
let counter = 0x4a0;

function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

const server = smpp.createServer((session) => {
  session.on('error', (e) => process.stderr.write(`session error: ${e.message}\n`));
  session.on('bind_transceiver', (pdu) => {
    if (systemId !== undefined && (pdu.system_id !== systemId || pdu.password !== password)) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    session.send(pdu.response({ system_id: 'NODESMSC' }));
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => {
    const id = (++counter).toString(16);
    session.send(pdu.response({ message_id: id }));
    const sm = pdu.short_message || {};
    emit({
      destination_addr: pdu.destination_addr,
      source_addr: pdu.source_addr,
      data_coding: pdu.data_coding,
      esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery,
      text: typeof sm === 'string' ? sm : (sm.message || ''),
      udh: (sm.udh || []).map((b) => b.toString('hex')),
      message_id: id,
    });
    if (pdu.registered_delivery & 0x03) {
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
  });
});
server.on('error', (e) => { process.stderr.write(`server error: ${e.message}\n`); process.exit(1); });
server.listen(port, '127.0.0.1', () => emit({ listening: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
