//! The optional metrics endpoint: `GET /metrics` on the configured address (localhost by
//! default) answers the Prometheus text format; anything else gets 404. One request per
//! connection, small and bounded; a broken client cannot hurt the pipeline.

use super::FlowList;
use super::{process, prometheus};
use crate::checkpoint::CheckpointView;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Binds now (so a bad address fails at start), serves until `stop`.
pub async fn start(
    listen: SocketAddr,
    flows: FlowList,
    checkpoints: CheckpointView,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(%listen, "metrics endpoint: http://{listen}/metrics");
    tokio::spawn(async move {
        loop {
            let (socket, _) = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
            };
            let (flows, checkpoints) = (flows.clone(), checkpoints.clone());
            tokio::spawn(async move {
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    serve(socket, &flows, &checkpoints),
                )
                .await;
            });
        }
    });
    Ok(())
}

async fn serve(
    mut socket: TcpStream,
    flows: &FlowList,
    checkpoints: &CheckpointView,
) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        let n = socket.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..n]);
    }
    let is_metrics = request.starts_with(b"GET /metrics ") || request.starts_with(b"GET /metrics?");
    let (status, body) = if is_metrics {
        (
            "200 OK",
            prometheus::render(
                &flows.read().expect("registry lock").clone(),
                checkpoints,
                process::usage(),
            ),
        )
    } else {
        ("404 Not Found", "see /metrics\n".to_owned())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.shutdown().await
}

/// Fetches the metrics text from a running agent (for `edgeship status`).
pub fn fetch(listen: SocketAddr) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&listen, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}
