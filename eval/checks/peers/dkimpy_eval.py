#!/usr/bin/python3
"""dkimpy (python3-dkim): the result of every DKIM signature of each message, over the
loopback resolver.

stdin: {"server": "127.0.0.1:PORT", "messages": [{"name", "raw" (base64)}]}
stdout: {"name": ["pass"|"fail", ...], ...}
"""
import base64, json, sys
import dns.resolver
import dkim

req = json.load(sys.stdin)
host, port = req["server"].rsplit(":", 1)
r = dns.resolver.Resolver(configure=False)
r.nameservers = [host]
r.port = int(port)
r.lifetime = 3

def txt(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    try:
        a = r.resolve(name, "TXT")
    except Exception:
        return None
    recs = [b"".join(x.strings) for x in a]
    return recs[0] if len(recs) == 1 else None

out = {}
for m in req["messages"]:
    raw = base64.b64decode(m["raw"])
    d = dkim.DKIM(raw)
    n = sum(1 for line in raw.split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
    res = []
    for i in range(n):
        try:
            res.append("pass" if d.verify(idx=i, dnsfunc=txt) else "fail")
        except Exception as e:
            res.append("fail")
    out[m["name"]] = res
json.dump(out, sys.stdout)
