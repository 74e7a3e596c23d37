//! `idle-tls`: hold many idle TLS connections open to the gateway's SIP listener and measure
//! what each costs the gateway in resident memory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Handshakes in progress at once.
const PARALLEL: usize = 64;

/// Open `n` TLS connections (client certificate presented); returns them and the failures.
pub async fn open(
    addr: SocketAddr,
    connector: tokio_rustls::TlsConnector,
    name: &str,
    n: usize,
) -> (Vec<tokio_rustls::client::TlsStream<TcpStream>>, Vec<String>) {
    let gate = Arc::new(Semaphore::new(PARALLEL));
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (gate, connector, name) = (gate.clone(), connector.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            tokio::time::timeout(Duration::from_secs(20), connector.connect(name, tcp))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| format!("TLS: {e}"))
        }));
    }
    let (mut ok, mut errors) = (Vec::with_capacity(n), Vec::new());
    for t in tasks {
        match t.await {
            Ok(Ok(s)) => ok.push(s),
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (ok, errors)
}
