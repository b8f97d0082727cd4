#!/usr/bin/env python3
"""Writes tests/golden/<format>/input.log: realistic sample logs with the awkward cases every
format must survive (malformed lines, UTF-8, invalid UTF-8, a very long line, empty lines,
CRLF). expected.jsonl is produced by `UPDATE_GOLDEN=1 cargo test --test parsing` and reviewed."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
LONG = "x" * 5000
BAD = b"\xff\xfe"

def write(name, lines):
    os.makedirs(os.path.join(HERE, name), exist_ok=True)
    with open(os.path.join(HERE, name, "input.log"), "wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else line.encode())

COMMON = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326\n',
    '192.168.1.20 - - [28/Nov/2026:14:02:03 +0000] "POST /api/v1/items?id=7 HTTP/1.1" 201 -\n',
    '2001:db8::1 - alice [28/Nov/2026:14:02:04 +0100] "GET /caf\u00e9/\u65e5\u672c HTTP/2.0" 404 153\r\n',
    '10.0.0.1 - - [28/Nov/2026:14:02:05 +0000] "GET /' + LONG + ' HTTP/1.1" 414 0\n',
    '\n',
    'this is not an access log line\n',
    b'10.0.0.2 - - [28/Nov/2026:14:02:06 +0000] "GET /' + BAD + b' HTTP/1.1" 400 12\n',
    '10.0.0.3 - - [28/Nov/2026:14:02:07 +0000] "GET / HTTP/1.1" 2000 12\n',
    '10.0.0.4 - - [28/Nov/2026:14:02:08 +0000] "GET /q?a=\\"b\\" HTTP/1.1" 304 -\n',
]
write("apache_common", COMMON)
write("apache_combined", [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"\n',
    '203.0.113.9 - - [28/Nov/2026:14:02:03 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8.5.0"\r\n',
    '203.0.113.9 - - [28/Nov/2026:14:02:03 +0000] "GET /m\u00fcnchen HTTP/1.1" 200 512 "https://ex.com/\u00e9t\u00e9" "Bot \\"quoted\\" 1.0"\n',
    '203.0.113.9 - - [28/Nov/2026:14:02:03 +0000] "GET /index.html HTTP/1.1" 200 512\n',
    '\n',
    b'198.51.100.7 - - [28/Nov/2026:14:02:04 +0000] "GET / HTTP/1.1" 200 5 "-" "agent ' + BAD + b'"\n',
    '198.51.100.7 - - [28/Nov/2026:14:02:05 +0000] "GET /' + LONG + '" 200 5 "-" "-"\n',
    'garbage "with quotes\n',
    '198.51.100.8 - - [28/Nov/2026:14:02:06 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" "x-forwarded-for"\n',
])
write("apache_error", [
    '[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico\n',
    '[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration: /export/home/live/ap/htdocs/test\n',
    '[Sat Nov 28 14:02:03.123456 2026] [ssl:warn] [pid 811] AH01909: server certificate does NOT include an ID which matches the server name\r\n',
    '[Sat Nov 28 14:02:04.000001 2026] [php:notice] [pid 812:tid 140] [client 10.0.0.1:51234] r\u00e9sum\u00e9 \u65e5\u672c\n',
    '\n',
    'PHP Warning:  something outside the format\n',
    b'[Sat Nov 28 14:02:05 2026] [error] bad bytes ' + BAD + b'\n',
    '[Sat Nov 28 14:02:06 2026] [error] ' + LONG + '\n',
    '[Sat Nov 28 14:02:07 2026] [!!] bad severity\n',
])
write("syslog", [
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n",
    'Nov 28 14:02:03 web1 sshd[811]: Accepted publickey for deploy from 10.0.0.5 port 52144 ssh2\n',
    'Nov  1 04:05:06 web1 CRON[2211]: (root) CMD (run-parts /etc/cron.hourly)\r\n',
    'Nov 28 14:02:04 web1 kernel: [12345.678] eth0: link up \u00e9\u65e5\n',
    '\n',
    'Nov 28 14:02:05 web1 app[notapid]: bad pid\n',
    b'Nov 28 14:02:06 web1 app[12]: ' + BAD + b'\n',
    'Nov 28 14:02:07 web1 app[13]: ' + LONG + '\n',
    '2026-11-28T14:02:08Z web1 app: wrong timestamp style\n',
    'Nov 28 14:02:09 web1 systemd[1]: \n',
])
write("rfc3339_syslog", [
    '2026-11-28T14:02:03.123456+00:00 web1 sshd[811]: Accepted publickey for deploy\n',
    '<13>2026-11-28T14:02:04Z web1 logger: plain message\r\n',
    '2026-11-28T14:02:05.5-05:00 web1 app[7]: caf\u00e9 \u65e5\u672c\n',
    '\n',
    'Nov 28 14:02:06 web1 app[7]: bsd timestamp\n',
    b'2026-11-28T14:02:07Z web1 app[7]: ' + BAD + b'\n',
    '2026-11-28T14:02:08Z web1 app[7]: ' + LONG + '\n',
    '2026-11-28T14:02:09Z web1-no-program\n',
])
write("syslog_rfc5424", [
    '<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff\'su root\' failed for lonvick on /dev/pts/8\n',
    '<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It\'s time to make the do-nuts.\n',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry\r\n',
    '<165>1 2003-10-11T22:14:15.003Z host app - - [a@1 x="q\\]x"][b@1 y="z"]\n',
    '\n',
    '<999>1 2003-10-11T22:14:15.003Z host app - - - bad priority\n',
    b'<14>1 2026-11-28T14:02:03Z host app 1 - - ' + BAD + b'\n',
    '<14>1 2026-11-28T14:02:04Z host app 1 - - ' + LONG + '\n',
    '<14>Nov 28 14:02:05 host app: rfc3164, not 5424\n',
])
write("csv", [
    'id,user,action,amount\n',
    '1,alice,login,\n',
    '2,"bob, jr.",purchase,19.99\r\n',
    '3,"say ""hi""",comment,0\n',
    '4,\u00e9l\u00e8ve \u65e5\u672c,view,1\n',
    '\n',
    b'5,' + BAD + b',view,2\n',
    '6,carol,' + LONG + ',3\n',
    '7,dave\n',
    '8,erin,view,4,extra\n',
])
write("json", [
    '{"level":"info","msg":"started","port":8080}\n',
    '{ "level": "warn", "msg": "caf\u00e9 \u65e5\u672c", "nested": {"a": [1, 2]} }\r\n',
    '\n',
    'not json at all\n',
    '[1,2,3]\n',
    b'{"msg":"' + BAD + b'"}\n',
    '{"msg":"' + LONG + '"}\n',
    '{"truncated": \n',
    '{"a":1} trailing\n',
])
write("regex", [
    '2026-11-28 14:02:03,123 INFO  [main] com.example.App - started in 1.2s\n',
    '2026-11-28 14:02:04,000 ERROR [pool-1] com.example.Db - connection refused\r\n',
    '2026-11-28 14:02:05,000 WARN  [main] com.example.I18n - caf\u00e9 \u65e5\u672c\n',
    '\n',
    'java.lang.RuntimeException: not a log line\n',
    b'2026-11-28 14:02:06,000 INFO  [main] com.example.App - ' + BAD + b'\n',
    '2026-11-28 14:02:07,000 DEBUG [main] com.example.App - ' + LONG + '\n',
])
write("single_line", [
    '2026-11-28 14:02:03 ERROR request failed\n',
    'java.lang.IllegalStateException: boom\n',
    '\tat com.example.A.run(A.java:10)\r\n',
    '\tat com.example.B.call(B.java:20)\n',
    '2026-11-28 14:02:04 INFO  caf\u00e9 \u65e5\u672c\n',
    '\n',
    '2026-11-28 14:02:05 INFO  ' + LONG + '\n',
    b'2026-11-28 14:02:06 WARN  ' + BAD + b'\n',
    '   continuation of the last record   \n',
])
write("line", [
    'plain line\n',
    'crlf line\r\n',
    '\n',
    'caf\u00e9 \u65e5\u672c\n',
    b'invalid ' + BAD + b' bytes pass through\n',
    LONG + '\n',
    'unterminated last line',
])
