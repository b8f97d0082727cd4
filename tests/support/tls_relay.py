"""A TLS endpoint on 127.0.0.1 in front of a plain-HTTP emulator: terminates TLS with the given
certificate and relays the bytes both ways. Prints "LISTENING <port>".
Usage: python tls_relay.py CERT KEY UPSTREAM_PORT"""
import socket
import ssl
import sys
import threading

cert, key, upstream = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
listener = socket.create_server(("127.0.0.1", 0))
print("LISTENING", listener.getsockname()[1], flush=True)


def pump(source, sink):
    try:
        while data := source.recv(65536):
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
    pump(client, backend)


while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
