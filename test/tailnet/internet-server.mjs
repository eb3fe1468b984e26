// The tailnet lab's "internet" (test/tailnet/lab.ts): an HTTP server on ADDRESS:80 that
// answers every request with the caller's source address and appends one JSON line per
// request to LOG, and a DNS server on ADDRESS:53 (UDP) that answers A queries for NAME with
// ADDRESS and everything else with NXDOMAIN (the exit node's only resolver).
// Usage: node internet-server.mjs ADDRESS LOG NAME
import { createSocket } from "node:dgram";
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";

const [address, log, name] = process.argv.slice(2);

createServer((req, res) => {
    const source = req.socket.remoteAddress ?? "";
    appendFileSync(log, JSON.stringify({ source, method: req.method, url: req.url, host: req.headers.host ?? "" }) + "\n");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(`source=${source}\n`);
}).listen(80, address);

function qname(buf, off) {
    const labels = [];
    for (;;) {
        const len = buf[off++];
        if (len === 0 || len === undefined) break;
        labels.push(buf.subarray(off, off + len).toString("latin1"));
        off += len;
    }
    return { name: labels.join(".").toLowerCase(), end: off };
}

const dns = createSocket("udp4");
dns.on("message", (msg, rinfo) => {
    if (msg.length < 12) return;
    const { name: asked, end } = qname(msg, 12);
    const qtype = msg.readUInt16BE(end);
    const question = msg.subarray(12, end + 4);
    const found = asked === name.toLowerCase();
    const answer = found && qtype === 1;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8000 | 0x0400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | (found ? 0 : 3), 2); // QR AA RD RA rcode
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [header, question];
    if (answer) {
        const rr = Buffer.alloc(16);
        rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
        rr.writeUInt16BE(1, 2); // A
        rr.writeUInt16BE(1, 4); // IN
        rr.writeUInt32BE(60, 6); // TTL
        rr.writeUInt16BE(4, 10);
        address.split(".").forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
        parts.push(rr);
    }
    dns.send(Buffer.concat(parts), rinfo.port, rinfo.address);
});
dns.bind(53, address);
