//! Stand-ins for Server Dialback (XEP-0220): an XMPP server that authenticates only with
//! dialback, in both roles, written with plain string handling.

use std::net::SocketAddr;

use rustls_pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::peers::{Text, attr};
use super::pki::Pki;

fn header(from: &str, to: &str, id: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='{from}' to='{to}' id='{id}' version='1.0'>"
    )
}

const DIALBACK_FEATURES: &str =
    "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>";

/// Accept STARTTLS and return the TLS stream after the second header and features.
async fn accept_tls(
    tcp: TcpStream,
    pki: &Pki,
    domain: &str,
    id: &str,
) -> Text<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut s = Text::new(tcp);
    s.until(&["<stream:stream"]).await;
    s.until(&[">"]).await;
    s.send(&header(domain, "x", "plain")).await;
    s.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>").await;
    s.until(&["<starttls"]).await;
    s.until(&["/>", "</starttls>"]).await;
    s.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await;
    let tls = pki.server(domain).accept(s.into_inner()).await.unwrap();
    let mut s = Text::new(tls);
    s.until(&["<stream:stream"]).await;
    s.until(&[">"]).await;
    s.send(&header(domain, "x", id)).await;
    s.send(DIALBACK_FEATURES).await;
    s
}

/// The authoritative server of `domain`: answers each `db:verify` valid when its key is `key`.
pub async fn authoritative(pki: &Pki, domain: &'static str, key: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pki = Pki {
        dir: pki.dir.clone(),
        keep: true,
    };
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = accept_tls(tcp, &pki, domain, "auth1").await;
            let verify = s.element().await;
            assert!(verify.starts_with("<db:verify"), "{verify}");
            let (from, to, id) = (
                attr(&verify, "from").unwrap(),
                attr(&verify, "to").unwrap(),
                attr(&verify, "id").unwrap(),
            );
            let valid = if verify.contains(&format!(">{key}</db:verify>")) {
                "valid"
            } else {
                "invalid"
            };
            s.send(&format!(
                "<db:verify from='{to}' to='{from}' id='{id}' type='{valid}'/>"
            ))
            .await;
        }
    });
    addr
}

/// An XMPP server for `domain` that offers only dialback. For each stream parley opens, it
/// asks parley (at `parley`, as authoritative server) to verify the key, answers parley with
/// the verdict, and sends every `<message>` that follows on the channel.
pub async fn dialback_only_server(
    pki: &Pki,
    domain: &'static str,
    parley: SocketAddr,
) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pki = Pki {
        dir: pki.dir.clone(),
        keep: true,
    };
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = accept_tls(tcp, &pki, domain, "stream-42").await;
            let result = s.element().await;
            assert!(result.starts_with("<db:result"), "{result}");
            let originating = attr(&result, "from").unwrap().to_owned();
            let key = result
                .split('>')
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_owned();
            // Ask the originating domain's authoritative server (parley) about the key.
            let verdict = ask(&pki, parley, domain, &originating, "stream-42", &key).await;
            s.send(&format!(
                "<db:result from='{domain}' to='{originating}' type='{verdict}'/>"
            ))
            .await;
            if verdict != "valid" {
                continue;
            }
            loop {
                let element = s.element().await;
                if element == "</stream:stream>" {
                    break;
                }
                if let Some(pong) = super::peers::ping_answer(&element, domain) {
                    s.send(&pong).await;
                    continue;
                }
                if tx.send(element).await.is_err() {
                    return;
                }
            }
        }
    });
    (addr, rx)
}

async fn ask(pki: &Pki, parley: SocketAddr, from: &str, to: &str, id: &str, key: &str) -> String {
    let tcp = TcpStream::connect(parley).await.unwrap();
    let mut s = Text::new(tcp);
    s.send(&header(from, to, "v")).await;
    s.until(&["</stream:features>", "<stream:features/>"]).await;
    s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await;
    s.until(&["<proceed"]).await;
    s.until(&["/>"]).await;
    let tls = pki
        .anonymous_client()
        .connect(ServerName::try_from(to.to_owned()).unwrap(), s.into_inner())
        .await
        .unwrap();
    let mut s = Text::new(tls);
    s.send(&header(from, to, "v")).await;
    s.until(&["</stream:features>", "<stream:features/>"]).await;
    s.send(&format!(
        "<db:verify from='{from}' to='{to}' id='{id}'>{key}</db:verify>"
    ))
    .await;
    let answer = s.element().await;
    assert_eq!(attr(&answer, "id"), Some(id), "{answer}");
    attr(&answer, "type").unwrap_or("none").to_owned()
}
