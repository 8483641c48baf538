"""A git server for the kwok tier's Flux (cluster/kwok/flux.sh): git's smart HTTP protocol over
127.0.0.1, through `git http-backend`, for every repository under --root. Read and write, no
authentication: only this machine's processes reach it. (Flux's GitRepository reads http, https
and ssh URLs, and go-git speaks only git's smart HTTP protocol, not the dumb one a file server
gives.)"""

from __future__ import annotations

import argparse
import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GitHandler(BaseHTTPRequestHandler):
    root = ""

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _backend(self) -> None:
        path, _sep, query = self.path.partition("?")
        if path == "/":  # the readiness check
            self._reply(200, [("Content-Type", "text/plain")], b"ok\n")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": "flux",
        }
        for header in ("Content-Encoding", "Git-Protocol"):
            if self.headers.get(header):
                env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        # CGI: headers, a blank line, the body (git ends its header lines with CRLF)
        out = done.stdout
        ends = [(out.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if out.find(sep) >= 0]
        cut, sep = min(ends) if ends else (len(out), b"")
        head, payload = out[:cut], out[cut + len(sep) :]
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _sep, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        if done.returncode != 0 and not head:
            status, payload = 500, done.stderr
        self._reply(status, headers, payload)

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    args = parser.parse_args()
    GitHandler.root = os.path.abspath(args.root)
    ThreadingHTTPServer(("127.0.0.1", args.port), GitHandler).serve_forever()


if __name__ == "__main__":
    main()
