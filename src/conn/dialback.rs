//! Server Dialback (XEP-0220 §2.2–2.3) as receiving server: a connection to the originating
//! domain's authoritative server — found like any s2s target, its certificate verified — that
//! asks whether a key is one it issued.

use std::time::Duration;

use tokio::net::TcpStream;

use super::ConnError;
use super::s2s_out::{self, unexpected};
use super::xml_stream::XmlStream;
use crate::auth::{self, VerifiedDomain};
use crate::routing::Gateway;
use crate::xmpp::encode::{self, DbPayload};
use crate::xmpp::stanza::{DbType, Element};

/// Ask `originating`'s authoritative server whether `key` is valid for the stream `stream_id`
/// that it opened to our `receiving` domain. A `valid` answer is the proof of the domain.
pub async fn verify(
    gw: &Gateway,
    receiving: &str,
    originating: &str,
    stream_id: &str,
    key: &str,
) -> Result<VerifiedDomain, ConnError> {
    let connector = gw
        .tls()
        .connector(receiving)
        .cloned()
        .ok_or_else(|| ConnError::UnknownDomain(receiving.to_owned()))?;
    let route = gw.xmpp_route(receiving, originating).await;
    let limits = gw.xmpp_limits();
    let attempt = async {
        let tls_ctx = gw.tls();
        let anchors = tls_ctx.xmpp_peer_anchors(&route.remote.to_ascii_lowercase());
        let (tls, _) =
            s2s_out::secure_transport(&route, gw.resolver(), &connector, anchors, limits).await?;
        let mut stream: XmlStream<tokio_rustls::client::TlsStream<TcpStream>> =
            XmlStream::new(tls, limits);
        s2s_out::open(&mut stream, receiving, originating).await?;
        let features = stream.read_element().await?;
        stream.parse(&features)?;
        encode::write_db_verify(
            &mut stream.wbuf,
            receiving,
            originating,
            stream_id,
            DbPayload::Key(key),
        );
        stream.flush().await?;
        let answer = stream.read_element().await?;
        let valid = match stream.parse(&answer)? {
            Element::DbVerify(d) if d.id.as_deref() == Some(stream_id) => {
                d.type_ == Some(DbType::Valid)
            }
            other => return Err(unexpected("<db:verify type=.../>", &other)),
        };
        encode::write_stream_close(&mut stream.wbuf);
        let _ = stream.flush().await;
        auth::dialback::confirmed(originating, valid).map_err(ConnError::Auth)
    };
    let deadline = Duration::from_millis(gw.config().xmpp.connect_timeout_ms);
    tokio::time::timeout(deadline, attempt)
        .await
        .map_err(|_| ConnError::Timeout("dialback verification"))?
}

/// XEP-0220 §2.3 as authoritative server: answer a `db:verify` — valid only when the key is
/// one we issued for that stream, from a domain we serve to the asking domain.
pub fn answer_verify(
    out: &mut bytes::BytesMut,
    gw: &Gateway,
    d: &crate::xmpp::stanza::Dialback<'_>,
) {
    let (asking, ours, id) = (
        d.from.as_deref().unwrap_or_default(),
        d.to.as_deref().unwrap_or_default(),
        d.id.as_deref().unwrap_or_default(),
    );
    let valid = gw.serves(ours, crate::config::Side::Sip)
        && gw.dialback_secret().is_valid(asking, ours, id, &d.key);
    tracing::info!(peer.domain = %asking, local.domain = %ours, valid, "answered a dialback verification");
    encode::write_db_verify(out, ours, asking, id, DbPayload::Verdict(valid));
}
