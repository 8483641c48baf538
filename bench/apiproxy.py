"""A counting TLS reverse proxy in front of kube-apiserver (benchmark only).

The apiserver's own `apiserver_request_total` has no client label, and it does not count the
legacy discovery paths (/api, /apis, /apis/<group>/<version>, /version) at all. To see exactly
which requests one tool makes, the benchmark points the tool at this proxy with a kubeconfig of
its own (`write_kubeconfig`); every request is logged (method, path, query, user agent, status)
and forwarded to the real apiserver with the admin client certificate. Streaming responses
(watches) are relayed chunk by chunk. HTTP/1.1 only: Go clients fall back from h2 through ALPN.

Used only for untimed counting runs, so its own latency never enters a timing.
"""

from __future__ import annotations

import datetime
import http.client
import http.server
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}


@dataclass
class Request:
    t: float
    method: str
    path: str
    query: str
    agent: str
    status: int = 0


@dataclass
class Upstream:
    host: str
    port: int
    context: ssl.SSLContext
    log: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _self_signed(directory: str) -> tuple[str, str, str]:
    """A CA and a 127.0.0.1 server certificate it signs; returns (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xr-bench proxy CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = tuple(os.path.join(directory, n) for n in ("proxy-ca.crt", "proxy.crt", "proxy.key"))
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return paths  # type: ignore[return-value]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: Upstream  # set on the subclass
    _local = threading.local()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                self.upstream.host, self.upstream.port, context=self.upstream.context, timeout=600
            )
            self._local.conn = conn
        return conn

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _forward(self) -> None:
        parts = urlsplit(self.path)
        entry = Request(
            time.time(), self.command, parts.path, parts.query, self.headers.get("User-Agent", "")
        )
        with self.upstream.lock:
            self.upstream.log.append(entry)
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        entry.status = resp.status
        self.send_response_only(resp.status, resp.reason)
        no_body = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        chunked = resp.chunked and not no_body
        body = b"" if no_body or chunked else resp.read()  # Content-Length or until close
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if chunked:
                # Watches: relay each piece as it arrives.
                while True:
                    data = resp.read1(65536)
                    if not data:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            elif body:
                self.wfile.write(body)
            self.wfile.flush()
        except (OSError, ssl.SSLError):
            # The client went away (e.g. at the end of a watch): drop the upstream connection.
            conn.close()
            self._local.conn = None
            self.close_connection = True
            return
        if resp.will_close:
            conn.close()
            self._local.conn = None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that drops its connection is no error of the tool's


class CountingProxy:
    """Start with `start()`; `mark()` / `since(mark)` give the requests logged in between."""

    def __init__(self, kubeconfig: str, workdir: str) -> None:
        with open(kubeconfig) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg["current-context"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        url = urlsplit(cluster["server"])
        context = ssl.create_default_context(cafile=cluster["certificate-authority"])
        context.load_cert_chain(user["client-certificate"], user["client-key"])
        context.set_alpn_protocols(["http/1.1"])
        self.upstream = Upstream(url.hostname, url.port or 443, context)
        self.cfg, self.ctx_name, self.workdir = cfg, ctx_name, workdir
        self.ca, cert, key = _self_signed(workdir)
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(cert, key)
        server_ctx.set_alpn_protocols(["http/1.1"])
        handler = type("Handler", (_Handler,), {"upstream": self.upstream})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.socket = server_ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.kubeconfig = os.path.join(workdir, "proxy-kubeconfig.yaml")
        self._write_kubeconfig()

    def _write_kubeconfig(self) -> None:
        cfg = yaml.safe_load(yaml.safe_dump(self.cfg))
        for c in cfg["clusters"]:
            c["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
            c["cluster"]["certificate-authority"] = self.ca
            c["cluster"].pop("certificate-authority-data", None)
        with open(self.kubeconfig, "w") as f:
            yaml.safe_dump(cfg, f)

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        # Ready once the socket accepts a TLS handshake.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def mark(self) -> int:
        with self.upstream.lock:
            return len(self.upstream.log)

    def since(self, mark: int) -> list[Request]:
        with self.upstream.lock:
            return list(self.upstream.log[mark:])
