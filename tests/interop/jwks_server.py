#!/usr/bin/env python3
"""A JWKS key server for the JWKS URL tests: Python's http.server over ssl, on loopback.

Serves DIR/body for GET /jwks.json, with DIR/cache-control (if present) as the Cache-Control header and
DIR/status (if present) as the HTTP status, all re-read on every request so a test changes what the server
says by writing files. Prints "listening PORT" once bound and "GET PATH" for every request (flushed), so a
test counts fetches from the server's side.
"""
import argparse
import http.server
import os
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    def read(name):
        try:
            with open(os.path.join(args.dir, name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            print("GET " + self.path, flush=True)
            body = read("body") if self.path == "/jwks.json" else None
            status = int((read("status") or b"200").strip()) if body is not None else 404
            body = body or b""
            self.send_response(status)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(body)))
            cc = read("cache-control")
            if cc is not None:
                self.send_header("Cache-Control", cc.decode().strip())
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("listening %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
