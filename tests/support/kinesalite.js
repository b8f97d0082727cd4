// Starts kinesalite (npm, in-memory) on 127.0.0.1 and prints "LISTENING <port>".
// Usage: node kinesalite.js [port]   (port 0 or omitted: a free port)
const kinesalite = require('kinesalite');
const port = parseInt(process.argv[2] || '0', 10);
const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 50 });
server.listen(port, '127.0.0.1', () => {
  process.stdout.write('LISTENING ' + server.address().port + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
