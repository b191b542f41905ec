// Sends one HL7 v2 message (a file, segments on lines) over MLLP and prints the ACK.
// Exits 1 unless the ACK is AA. Usage: node mllp-send.mjs PORT FILE
import net from 'node:net';
import fs from 'node:fs';

const [port, file] = process.argv.slice(2);
const message = fs.readFileSync(file, 'utf8').split(/\r?\n/).filter(Boolean).join('\r') + '\r';
const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
const timer = setTimeout(() => { console.error('mllp-send: no ACK within 10 s'); process.exit(1); }, 10000);
let reply = '';
socket.on('connect', () => socket.write(`\x0b${message}\x1c\x0d`));
socket.on('data', (chunk) => {
  reply += chunk.toString('latin1');
  const end = reply.indexOf('\x1c\x0d');
  if (end < 0) return;
  clearTimeout(timer);
  const ack = reply.slice(reply.indexOf('\x0b') + 1, end);
  socket.end();
  console.log(`mllp-send: ${ack.split('\r').find((s) => s.startsWith('MSA')) || ack}`);
  process.exit(/^MSA\|AA\|/m.test(ack.replaceAll('\r', '\n')) ? 0 : 1);
});
socket.on('error', (e) => { console.error(`mllp-send: ${e.message}`); process.exit(1); });
