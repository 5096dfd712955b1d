"""A tiny Hugging Face hub look-alike on 127.0.0.1 for tests (http.server in a thread, no dependency).

It answers what huggingface_hub 2.4.0 asks for:

- HEAD/GET `/{org}/{name}/resolve/{revision}/{path}`: 200 with `X-Repo-Commit`, `ETag` (sha256 of the file,
  as the hub does for LFS files) and `Content-Length`. No `X-Xet-*` headers, so huggingface_hub never takes
  the Xet path. Errors carry `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound) like the hub.
  With `lfs_redirect=True` the answer is a 302 to a second "CDN" port carrying `X-Linked-Etag` and
  `X-Linked-Size`, as the hub does for LFS files; with `bare_404=True` every resolve gets a plain 404
  (a mirror that is not a hub).
- POST `/api/repos/create` (409 when the repo exists), POST `/api/models/{repo}/branch/{branch}`,
  POST `/api/models/{repo}/preupload/{revision}` (always "regular" upload mode, so no LFS/Xet upload) and
  POST `/api/models/{repo}/commit/{revision}` (ndjson with base64 file contents): enough for
  `HfApi.create_repo` + `HfApi.upload_file`.

Every request is logged in `FakeHub.requests` as (method, path, headers).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


def _commit_of(repo_id: str, branch: str, files: dict[str, bytes], parent: str | None) -> str:
    digest = hashlib.sha1(f"{repo_id}\0{branch}\0{parent}".encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


class FakeHub:
    """State of the fake hub plus the two servers (hub and "CDN") serving it."""

    def __init__(self) -> None:
        # repo_id -> branch -> (commit, {path: bytes}); commits -> (repo_id, {path: bytes})
        self.repos: dict[str, dict[str, tuple[str, dict[str, bytes]]]] = {}
        self.commits: dict[str, tuple[str, dict[str, bytes]]] = {}
        self.blobs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lfs_redirect = False
        self.bare_404 = False
        self.lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._connections: set[socket.socket] = set()
        self.endpoint = ""
        self.cdn = ""

    # --- state -------------------------------------------------------------------------------------

    def create_repo(self, repo_id: str) -> bool:
        with self.lock:
            if repo_id in self.repos:
                return False
            self.repos[repo_id] = {}
            return True

    def put_file(self, repo_id: str, path: str, data: bytes, branch: str = "main") -> str:
        """Commit one file on a branch (creating repo and branch as needed); returns the new commit."""
        self.create_repo(repo_id)
        with self.lock:
            parent, files = self.repos[repo_id].get(branch, (None, {}))
            files = {**files, path: bytes(data)}
            commit = _commit_of(repo_id, branch, files, parent)
            self.repos[repo_id][branch] = (commit, files)
            self.commits[commit] = (repo_id, files)
            self.blobs[hashlib.sha256(data).hexdigest()] = bytes(data)
            return commit

    def lookup(self, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]] | None:
        with self.lock:
            branches = self.repos.get(repo_id, {})
            if revision in branches:
                return branches[revision]
            found = self.commits.get(revision)
            if found is not None and found[0] == repo_id:
                return revision, found[1]
            return None

    def count(self, method: str | None = None, contains: str = "") -> int:
        return sum(1 for m, p, _ in self.requests if (method is None or m == method) and contains in p)

    # --- servers -----------------------------------------------------------------------------------

    def start(self) -> str:
        hub = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, cdn=False))
        cdn = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, cdn=True))
        for server in (hub, cdn):
            server.daemon_threads = True
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()
            self._servers.append(server)
        self.endpoint = f"http://127.0.0.1:{hub.server_address[1]}"
        self.cdn = f"http://127.0.0.1:{cdn.server_address[1]}"
        return self.endpoint

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections (a stopped hub must look unreachable)."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        with self.lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def _make_handler(hub: FakeHub, *, cdn: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def setup(self) -> None:
            super().setup()
            with hub.lock:
                hub._connections.add(self.connection)

        def finish(self) -> None:
            with hub.lock:
                hub._connections.discard(self.connection)
            super().finish()

        # --- helpers ---------------------------------------------------------------------------

        def _log(self) -> None:
            with hub.lock:
                hub.requests.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                )

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/octet-stream")
            headers.setdefault("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, obj, headers: dict[str, str] | None = None) -> None:
            self._send(
                status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})}
            )

        def _error(
            self, status: int, code: str | None, message: str, extra: dict[str, str] | None = None
        ) -> None:
            headers = {"X-Error-Message": message, **(extra or {})}
            if code:
                headers["X-Error-Code"] = code
            self._json(status, {"error": message}, headers)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        # --- verbs -------------------------------------------------------------------------------

        def do_HEAD(self) -> None:
            self._log()
            self._get()

        def do_GET(self) -> None:
            self._log()
            self._get()

        def do_POST(self) -> None:
            self._log()
            body = self._body()
            if cdn:
                return self._error(405, None, "method not allowed")
            parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
            if parts == ["api", "repos", "create"]:
                return self._create_repo(json.loads(body or b"{}"))
            if len(parts) >= 6 and parts[:2] == ["api", "models"]:
                repo_id, action, rest = f"{parts[2]}/{parts[3]}", parts[4], "/".join(parts[5:])
                if repo_id not in hub.repos:
                    return self._error(404, "RepoNotFound", "Repository not found")
                if action == "branch":
                    return self._create_branch(repo_id, rest)
                if action == "preupload":
                    return self._preupload(repo_id, rest, json.loads(body or b"{}"))
                if action == "commit":
                    return self._commit(repo_id, rest, body)
            return self._error(404, None, "Not Found")

        # --- downloads -----------------------------------------------------------------------------

        def _get(self) -> None:
            path = urlsplit(self.path).path
            if cdn:
                data = hub.blobs.get(path.rsplit("/", 1)[-1]) if path.startswith("/cdn/") else None
                if data is None:
                    return self._error(404, None, "no such blob")
                return self._send(200, data, {"ETag": f'"{hashlib.sha256(data).hexdigest()}"'})
            parts = path.strip("/").split("/")
            if len(parts) < 5 or parts[2] != "resolve":
                return self._error(404, None, "Not Found")
            if hub.bare_404:
                return self._send(404, b"Not Found", {"Content-Type": "text/plain"})
            repo_id = f"{unquote(parts[0])}/{unquote(parts[1])}"
            revision, filename = unquote(parts[3]), unquote("/".join(parts[4:]))
            if repo_id not in hub.repos:
                return self._error(401, "RepoNotFound", "Repository not found")
            found = hub.lookup(repo_id, revision)
            if found is None:
                return self._error(404, "RevisionNotFound", "Invalid rev id")
            commit, files = found
            if filename not in files:
                return self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit})
            data = files[filename]
            sha = hashlib.sha256(data).hexdigest()
            if hub.lfs_redirect:
                # like the hub for LFS files: metadata on the redirect, bytes from another host
                pointer_etag = hashlib.sha1(f"pointer {sha}".encode()).hexdigest()
                return self._send(
                    302,
                    b"",
                    {
                        "Location": f"{hub.cdn}/cdn/{sha}",
                        "X-Repo-Commit": commit,
                        "ETag": f'"{pointer_etag}"',
                        "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data)),
                    },
                )
            self._send(200, data, {"X-Repo-Commit": commit, "ETag": f'"{sha}"', "Accept-Ranges": "bytes"})

        # --- uploads -------------------------------------------------------------------------------

        def _create_repo(self, payload: dict) -> None:
            name, org = payload.get("name"), payload.get("organization")
            if payload.get("type") not in (None, "model"):
                return self._error(400, None, "only model repos here")
            repo_id = f"{org}/{name}" if org else f"user/{name}"
            if not hub.create_repo(repo_id):
                # like the hub, the 409 body still carries the url (HfApi.create_repo reads it)
                body = {"error": "You already created this model repo", "url": f"{hub.endpoint}/{repo_id}"}
                return self._json(409, body, {"X-Error-Message": body["error"]})
            self._json(200, {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id})

        def _create_branch(self, repo_id: str, branch: str) -> None:
            with hub.lock:
                branches = hub.repos[repo_id]
                if branch in branches:
                    return self._error(409, None, "Reference already exists")
                source = branches.get("main", (None, {}))
                branches[branch] = source
            self._json(200, {})

        def _preupload(self, repo_id: str, revision: str, payload: dict) -> None:
            files = payload.get("files", [])
            answer = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                for f in files
            ]
            self._json(
                200, {"files": answer, "commitOid": (hub.lookup(repo_id, revision) or ("0" * 40,))[0]}
            )

        def _commit(self, repo_id: str, revision: str, body: bytes) -> None:
            if revision != "main" and revision not in hub.repos[repo_id]:
                return self._error(404, "RevisionNotFound", "Invalid rev id")
            commit = None
            for line in body.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    value = item["value"]
                    commit = hub.put_file(
                        repo_id, value["path"], base64.b64decode(value["content"]), revision
                    )
                elif item["key"] != "header":
                    return self._error(400, None, f"unsupported commit operation {item['key']}")
            if commit is None:
                return self._error(400, None, "empty commit")
            self._json(
                200,
                {
                    "commitUrl": f"{hub.endpoint}/{repo_id}/commit/{commit}",
                    "commitOid": commit,
                    "pullRequestUrl": None,
                },
            )

    return Handler
