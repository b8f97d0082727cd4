"""The container credentials endpoint (ECS, EKS Pod Identity, and Greengrass's token exchange
service, which AWS SDKs reach through AWS_CONTAINER_CREDENTIALS_FULL_URI and
AWS_CONTAINER_AUTHORIZATION_TOKEN): plain HTTP on 127.0.0.1, answers only requests whose
Authorization header is TOKEN, with credentials ASIATES0000001, ... expiring in an hour.
Prints "LISTENING <port>". Usage: python container_credentials.py TOKEN"""
import datetime
import http.server
import sys

from json_handler import JsonHandler

token = sys.argv[1]
issued = 0


class Handler(JsonHandler):
    def do_GET(self):
        global issued
        if self.headers.get("Authorization") != token:
            return self.answer(401, {"message": "bad token"})
        issued += 1
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        self.answer(200, {
            "AccessKeyId": f"ASIATES{issued:07d}",
            "SecretAccessKey": "secret",
            "Token": f"token-{issued}",
            "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        })


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("LISTENING", server.server_address[1], flush=True)
server.serve_forever()
