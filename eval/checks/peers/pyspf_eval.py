#!/usr/bin/python3
"""pyspf (python3-spf) check_host for each scenario, over the loopback resolver.

stdin: {"server": "127.0.0.1:PORT", "cases": [{"name", "ip", "sender", "helo"}]}
stdout: {"name": "result", ...}
"""
import json, sys
import dns.resolver
import spf

req = json.load(sys.stdin)
host, port = req["server"].rsplit(":", 1)
r = dns.resolver.Resolver(configure=False)
r.nameservers = [host]
r.port = int(port)
r.lifetime = 3
dns.resolver.default_resolver = r
out = {}
for c in req["cases"]:
    try:
        res, _expl = spf.check2(i=c["ip"], s=c["sender"], h=c.get("helo") or "unknown", timeout=5)
    except Exception as e:  # a crash is reported, not hidden
        res = "crash: %s" % e
    out[c["name"]] = res
json.dump(out, sys.stdout)
