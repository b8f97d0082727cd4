//! A TCP relay on 127.0.0.1 in front of an emulator that can take the network down: while it is
//! down, connections to its port are refused (the listener is closed) and relayed connections
//! are cut, as when a gateway loses its uplink. Up again, it listens on the same port.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Gate {
    pub port: u16,
    pub url: String,
    upstream: u16,
    state: Arc<GateState>,
}

#[derive(Default)]
struct GateState {
    down: AtomicBool,
    /// Relayed connections (both directions), cut when the gate goes down.
    open: Mutex<Vec<TcpStream>>,
    listener: Mutex<Option<Arc<AtomicBool>>>,
}

impl Gate {
    pub fn start(upstream: u16) -> Gate {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        let gate = Gate {
            port,
            url: format!("http://127.0.0.1:{port}"),
            upstream,
            state: Arc::default(),
        };
        gate.listen(probe);
        gate
    }

    /// Refuses new connections and cuts the open ones.
    pub fn down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        if let Some(running) = self.state.listener.lock().unwrap().take() {
            running.store(false, Ordering::SeqCst);
            let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
        }
        for stream in self.state.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn up(&self) {
        self.state.down.store(false, Ordering::SeqCst);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(listener) => break listener,
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        self.listen(listener);
    }

    fn listen(&self, listener: TcpListener) {
        let running = Arc::new(AtomicBool::new(true));
        *self.state.listener.lock().unwrap() = Some(running.clone());
        let (state, upstream) = (self.state.clone(), self.upstream);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if !running.load(Ordering::SeqCst) {
                    return; // dropping the listener refuses further connections
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                relay(&state, client, server);
            }
        });
    }
}

fn relay(state: &Arc<GateState>, client: TcpStream, server: TcpStream) {
    let mut open = state.open.lock().unwrap();
    if state.down.load(Ordering::SeqCst) {
        return;
    }
    open.push(client.try_clone().unwrap());
    open.push(server.try_clone().unwrap());
    for (mut from, mut to) in [
        (client.try_clone().unwrap(), server.try_clone().unwrap()),
        (server, client),
    ] {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.down();
    }
}
