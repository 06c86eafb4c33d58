#!/usr/bin/env python3
"""Serves the status page's assets from the source tree with a hostile
status document, to show the page renders every string as text; it also
has a peer offering an exit, one whose offer waits for approval, an exit
chosen but blocked, and the devices of two hubs.

Usage: webfake.py ASSETS_DIR PORT
"""
import http.server
import json
import sys

HOSTILE = '<img src=x onerror=alert(1)>'
DOC = {
    "self": {"name": HOSTILE, "public_key": HOSTILE, "addresses": [HOSTILE],
             "listen_port": 1, "coordinator": True, "advertised_routes": [HOSTILE],
             "exit_node_offered": False, "exit_node_in_use": None,
             "exit_node": {"wanted": HOSTILE, "state": "blocked", "reason": HOSTILE}},
    "peers": [{"name": HOSTILE, "public_key": HOSTILE, "addresses": [HOSTILE],
               "endpoint": HOSTILE, "path": HOSTILE, "last_handshake": HOSTILE,
               "rx_bytes": HOSTILE, "tx_bytes": 1, "routes": [HOSTILE],
               "exit_node": HOSTILE, "exit_node_offered": HOSTILE, "online": True},
              {"name": "office", "public_key": "AAAA", "addresses": ["100.64.0.2/32"],
               "endpoint": "192.0.2.2:41641", "path": "direct", "last_handshake": 0,
               "rx_bytes": 0, "tx_bytes": 0, "routes": [], "exit_node": False,
               "exit_node_offered": True, "online": True},
              {"name": "cloud", "public_key": "BBBB", "addresses": ["100.64.0.3/32"],
               "endpoint": None, "path": "none", "last_handshake": 0,
               "rx_bytes": 0, "tx_bytes": 0, "routes": [], "exit_node": False,
               "exit_node_offered": False, "exit_offer": "pending", "online": False}],
    "devices": [{"name": HOSTILE, "addresses": [HOSTILE], "hub": HOSTILE, "attached": True,
                 "exit_node": HOSTILE, "last_handshake": HOSTILE, "rx_bytes": HOSTILE,
                 "tx_bytes": HOSTILE, "online": HOSTILE, "endpoint": HOSTILE},
                {"name": "phone", "addresses": ["100.64.0.7/32", "fd7a:6d67:7465::7/128"],
                 "hub": "home", "attached": True, "exit_node": True, "last_handshake": 0,
                 "rx_bytes": 1536, "tx_bytes": 20, "online": True,
                 "endpoint": "198.51.100.7:4500"},
                {"name": "tablet", "addresses": ["100.64.0.9/32"], "hub": "office",
                 "attached": False, "exit_node": False, "last_handshake": 0, "rx_bytes": 0,
                 "tx_bytes": 0, "online": False, "endpoint": None}],
    "preflight": [{"check": HOSTILE, "ok": False, "message": HOSTILE, "fix": HOSTILE}],
    "coordinator": {"nodes": [{"name": HOSTILE, "addresses": [HOSTILE],
                               "routes_advertised": [HOSTILE, "10.0.0.0/8"],
                               "routes_approved": ["10.0.0.0/8"], "online": True}],
                    "audit": [{"id": 2, "time": 1796321052, "actor": HOSTILE, "uid": None,
                               "action": HOSTILE, "subject": HOSTILE, "detail": HOSTILE},
                              {"id": 1, "time": HOSTILE, "actor": "root", "uid": 0,
                               "action": "approve-route", "subject": "home",
                               "detail": "192.168.77.0/24"}]},
}
FILES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
         "/style.css": ("style.css", "text/css")}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/api/status":
            body, ctype = json.dumps(DOC).encode(), "application/json"
        elif self.path in FILES:
            name, ctype = FILES[self.path]
            with open(f"{sys.argv[1]}/{name}", "rb") as f:
                body = f.read()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
