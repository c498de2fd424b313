// mailauth (npm): SPF check_host for each SPF scenario, and DKIM and DMARC for each
// message, over the loopback resolver. stdin: {"server", "cases": [...], "messages": [...]}
// (messages carry ip, helo, sender); stdout: {"spf": {name: result}, "dkim": {name:
// [results]}, "dmarc": {name: result}}.
const { Resolver } = require('dns').promises;
const path = require('path');
const base = process.env.MAILAUTH_DIR || path.join(__dirname, 'node_modules');
const { authenticate } = require(path.join(base, 'mailauth'));
const { spf } = require(path.join(base, 'mailauth/lib/spf'));

let input = '';
process.stdin.on('data', d => (input += d));
process.stdin.on('end', async () => {
    const req = JSON.parse(input);
    const r = new Resolver({ timeout: 3000, tries: 1 });
    r.setServers([req.server]);
    const resolver = (name, type) => r.resolve(name, type);
    const out = { spf: {}, dkim: {}, dmarc: {} };
    for (const c of req.cases || []) {
        try {
            const res = await spf({ sender: c.sender, ip: c.ip, helo: c.helo || 'unknown', mta: 'mx.eval.test', resolver });
            out.spf[c.name] = res.status.result;
        } catch (e) {
            out.spf[c.name] = 'crash: ' + e.message;
        }
    }
    for (const m of req.messages || []) {
        try {
            const res = await authenticate(Buffer.from(m.raw, 'base64'), { ip: m.ip, helo: m.helo, sender: m.sender, mta: 'mx.eval.test', resolver });
            out.dkim[m.name] = (res.dkim.results || []).map(x => x.status.result);
            out.dmarc[m.name] = res.dmarc ? res.dmarc.status.result : 'none';
        } catch (e) {
            out.dkim[m.name] = ['crash: ' + e.message];
            out.dmarc[m.name] = 'crash: ' + e.message;
        }
    }
    process.stdout.write(JSON.stringify(out));
});
