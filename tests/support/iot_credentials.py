"""An AWS IoT Core credential provider endpoint for tests: mutual TLS (client certificates signed
by the CA), GET /role-aliases/<alias>/credentials with the x-amzn-iot-thingname header naming
the certificate's subject. Issues new credentials per request (access key ids ASIAIOT0000001,
...) expiring EXPIRES_IN seconds later; unknown aliases get 404, a wrong thing name 403.
Prints "LISTENING <port>". Usage: python iot_credentials.py CA CERT KEY ALIAS EXPIRES_IN"""
import datetime
import http.server
import ssl
import sys
import threading

from json_handler import JsonHandler

ca, cert, key, alias, expires_in = sys.argv[1:6]
issued = 0
lock = threading.Lock()


class Handler(JsonHandler):
    def do_GET(self):
        global issued
        subject = dict(x[0] for x in self.connection.getpeercert()["subject"])
        thing = self.headers.get("x-amzn-iot-thingname")
        if self.path != f"/role-aliases/{alias}/credentials":
            return self.answer(404, {"message": "Role alias does not exist"})
        if thing != subject.get("commonName"):
            return self.answer(403, {"message": "Access Denied"})
        with lock:
            issued += 1
            number = issued
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=int(expires_in))
        self.answer(200, {"credentials": {
            "accessKeyId": f"ASIAIOT{number:07d}",
            "secretAccessKey": "secret",
            "sessionToken": f"token-{number}",
            "expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }})


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(ca)
context.verify_mode = ssl.CERT_REQUIRED
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("LISTENING", server.server_address[1], flush=True)
server.serve_forever()
