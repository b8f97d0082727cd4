"""A TLS endpoint on 127.0.0.1 in front of a plain-HTTP emulator: terminates TLS with the given
certificate and relays the bytes both ways. Prints "LISTENING <port>". With RECORD, appends the
access key id and region of every SigV4 Authorization header the clients send to that file,
"AKID region" per line (which credentials signed the requests, for which region).
Usage: python tls_relay.py CERT KEY UPSTREAM_PORT [RECORD]"""
import re
import socket
import ssl
import sys
import threading

cert, key, upstream = sys.argv[1], sys.argv[2], int(sys.argv[3])
record = sys.argv[4] if len(sys.argv) > 4 else None
record_lock = threading.Lock()
KEY_ID = re.compile(rb"Credential=([A-Za-z0-9]+)/\d{8}/([a-z0-9-]+)/")
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
listener = socket.create_server(("127.0.0.1", 0))
print("LISTENING", listener.getsockname()[1], flush=True)


def note_keys(data, tail):
    """Records key ids and regions in `data` (with the previous chunk's end: a header may span two)."""
    if record is None:
        return b""
    seen = tail + data
    keys = [f"{m.group(1).decode()} {m.group(2).decode()}" for m in KEY_ID.finditer(seen)]
    if keys:
        with record_lock, open(record, "a") as out:
            out.writelines(k + "\n" for k in keys)
        return b""
    return seen[-64:]


def pump(source, sink, watch=False):
    tail = b""
    try:
        while data := source.recv(65536):
            if watch:
                tail = note_keys(data, tail)
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(raw):
    try:
        client = context.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()  # the client refused our certificate: what the CA tests expect
        return
    backend = socket.create_connection(("127.0.0.1", upstream))
    threading.Thread(target=pump, args=(backend, client), daemon=True).start()
    pump(client, backend, watch=True)


while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
