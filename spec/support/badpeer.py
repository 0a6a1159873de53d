"""A scripted API server for the connection specs: it answers submits (POST) and polls (GET)
like the service, except one chosen POST, where it misbehaves as a real server or network can
after reading it (or before). It speaks HTTP/1.1 on plain TCP, or HTTP/2 over TLS (ALPN h2).

    python3 badpeer.py PROTO MODE BAD_AT LOG CERT KEY

PROTO: h1 or h2. MODE: what it does to POST number BAD_AT (1 is the first):
  close        reads it whole, then closes the connection
  reset        reads it whole, then resets the connection (TCP RST)
  unread       closes the connection without reading it (the keep-alive race)
  goaway       (h2) reads it, then sends GOAWAY naming an earlier stream, and closes
  refused      (h2) reads it, then resets its stream with REFUSED_STREAM
  none         answers every request
LOG gets a line per event: "port N" once listening on 127.0.0.1, "accept" per connection,
"post" per POST read whole. It stops by itself after 60 s."""

import json
import os
import socket
import ssl
import struct
import sys
import threading

PROTO, MODE, BAD_AT, LOG, CERT, KEY = sys.argv[1:7]
BAD_AT = int(BAD_AT)
lock = threading.Lock()
posts = [0]
fired = [False]


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def next_post():
    """Counts a POST read whole; returns its number."""
    with lock:
        posts[0] += 1
        n = posts[0]
    log("post")
    return n


def lose_next():
    """Whether the connection's next request is the one to lose unread (once)."""
    with lock:
        if MODE == "unread" and not fired[0] and posts[0] + 1 == BAD_AT:
            fired[0] = True
            return True
        return False


def job_body(n):
    return json.dumps({"id": "job-%d:minimax/music-2.0" % n, "status": "queued"}).encode()


def status_body():
    return json.dumps({"id": "job-1:minimax/music-2.0", "status": "generating"}).encode()


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def serve_h1(sock):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            if buf == b"" and posts[0] > 0 and lose_next():
                # The next request is the one to lose: wait for its first bytes, then close
                # with them unread, as a server closing an idle connection at that moment.
                sock.recv(1, socket.MSG_PEEK)
                reset(sock)
                return
            data = sock.recv(65536)
            if not data:
                sock.close()
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method = lines[0].split(" ")[0]
        length = 0
        for h in lines[1:]:
            k, _, v = h.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(buf) < length:
            data = sock.recv(65536)
            if not data:
                sock.close()
                return
            buf += data
        buf = buf[length:]
        if method == "POST":
            n = next_post()
            if n == BAD_AT and MODE == "close":
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
                return
            if n == BAD_AT and MODE == "reset":
                reset(sock)
                return
            body = job_body(n)
        else:
            body = status_body()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def serve_h2(sock):
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events

    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    methods = {}
    last = 0
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            sock.close()
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                methods[ev.stream_id] = dict(ev.headers).get(b":method", b"GET")
                if methods[ev.stream_id] == b"POST" and lose_next():
                    reset(sock)  # the POST's first frame came: dropped with the rest unread
                    return
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                sid = ev.stream_id
                if methods.get(sid) == b"POST":
                    n = next_post()
                    if n == BAD_AT and MODE == "close":
                        sock.sendall(conn.data_to_send())
                        sock.shutdown(socket.SHUT_RDWR)
                        sock.close()
                        return
                    if n == BAD_AT and MODE == "reset":
                        sock.sendall(conn.data_to_send())
                        reset(sock)
                        return
                    if n == BAD_AT and MODE == "goaway":
                        conn.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=last)
                        sock.sendall(conn.data_to_send())
                        sock.close()
                        return
                    if n == BAD_AT and MODE == "refused":
                        conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                        sock.sendall(conn.data_to_send())
                        continue
                    body = job_body(n)
                else:
                    body = status_body()
                conn.send_headers(sid, [(":status", "200"), ("content-type", "application/json"),
                                        ("content-length", str(len(body)))])
                conn.send_data(sid, body, end_stream=True)
                last = sid
            elif isinstance(ev, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                sock.close()
                return
        sock.sendall(conn.data_to_send())


def handle(raw, ctx):
    try:
        if ctx is not None:
            sock = ctx.wrap_socket(raw, server_side=True)
            serve_h2(sock) if sock.selected_alpn_protocol() == "h2" else serve_h1(sock)
        else:
            serve_h1(raw)
    except (OSError, ssl.SSLError):
        pass


def main():
    threading.Timer(60, lambda: os._exit(0)).start()
    ctx = None
    if PROTO == "h2":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    log("port %d" % srv.getsockname()[1])
    while True:
        raw, _ = srv.accept()
        log("accept")
        threading.Thread(target=handle, args=(raw, ctx), daemon=True).start()


main()
