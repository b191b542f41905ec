// A minimal HL7 receiver (the EHR side) for the browser test: answers every MLLP frame with AA and
// appends the message (segments on lines, a blank line after each) to FILE.
// Usage: node mllp-receive.mjs PORT FILE
import net from 'node:net';
import fs from 'node:fs';

const [port, file] = process.argv.slice(2);
fs.writeFileSync(file, '');
net.createServer((socket) => {
  let buffer = '';
  socket.on('data', (chunk) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      const start = buffer.indexOf('\x0b');
      const end = buffer.indexOf('\x1c\x0d', start);
      if (start < 0 || end < 0) break;
      const message = buffer.slice(start + 1, end);
      buffer = buffer.slice(end + 2);
      fs.appendFileSync(file, `${message.split('\r').filter(Boolean).join('\n')}\n\n`);
      const msh = message.split('\r')[0].split('|');
      const ack = [`MSH|^~\\&|EHR|HOSP|${msh[2] || ''}|${msh[3] || ''}|20260101000000||ACK|ACK${Date.now()}|P|${msh[11] || '2.5.1'}`,
        `MSA|AA|${msh[9] || ''}`].join('\r');
      socket.write(`\x0b${ack}\r\x1c\x0d`);
    }
  });
  socket.on('error', () => {});
}).listen(Number(port), '127.0.0.1');
