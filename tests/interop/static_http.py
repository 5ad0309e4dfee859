#!/usr/bin/env python3
# A plain static HTTP(S) file server for the gateway-source tests: Python's own http.server, which knows
# nothing of IPFS or CARs. Serves DIR on 127.0.0.1 at a free port and prints "port N" once listening.
#   static_http.py DIR [--tls CERT KEY]
import functools
import http.server
import ssl
import sys


def main():
    directory = sys.argv[1]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if len(sys.argv) == 5 and sys.argv[2] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
