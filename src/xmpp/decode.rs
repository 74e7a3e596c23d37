//! `parley decode --xmpp`: a stream fragment in, JSON of each frame (or the stream error
//! parley would send) out. Pure; the CLI reads the files and sets the exit status.

use bytes::BytesMut;
use serde_json::{Map, Value, json};

use super::encode::write_stream_open;
use super::stanza::{
    Child, Element, IqPayload, IqView, Marker, MessageView, PresenceView, StanzaErrorView,
};
use super::{Frame, Framer, StreamHeader, XmppError, XmppLimits};

/// Decode `bytes` (a whole stream, or stanzas without a header, in which case parley's own
/// s2s header is assumed) into JSON. The flag is `false` if the input is invalid: a stream
/// error, or an element cut off at the end of the input.
pub fn decode_to_json(bytes: &[u8]) -> (Value, bool) {
    let mut framer = Framer::new(XmppLimits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut header = None;
    if !starts_with_header(bytes) {
        let mut open = BytesMut::new();
        let so = super::encode::StreamOpen {
            from: "",
            to: "",
            id: None,
        };
        write_stream_open(&mut open, &so);
        buf.extend_from_slice(&open);
        out.push(json!({ "assumed_header": "jabber:server s2s" }));
        if let Ok(Some(Frame::Open(h))) = framer.next_frame(&mut buf) {
            header = Some(h);
        }
    }
    buf.extend_from_slice(bytes);
    let mut error = None;
    loop {
        match framer.next_frame(&mut buf) {
            Ok(Some(Frame::Open(h))) => {
                out.push(json!({ "open": header_json(&h) }));
                header = Some(h);
            }
            Ok(Some(Frame::Whitespace)) => out.push(json!({ "whitespace": true })),
            Ok(Some(Frame::Close)) => out.push(json!({ "close": true })),
            Ok(Some(Frame::Element(el))) => {
                let h = header.clone().unwrap_or_default();
                match framer.parse_last(&el, &h) {
                    Ok(e) => out.push(element_json(&e)),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let incomplete = error.is_none() && !buf.is_empty();
    let mut doc = Map::new();
    doc.insert("frames".into(), Value::Array(out));
    if let Some(e) = error {
        doc.insert("stream_error".into(), error_json(e));
    }
    if incomplete {
        doc.insert("incomplete_bytes".into(), json!(buf.len()));
    }
    let valid = !doc.contains_key("stream_error") && !incomplete;
    doc.insert("valid".into(), json!(valid));
    (Value::Object(doc), valid)
}

/// Whether the input opens a stream itself (XML declaration or a `…stream` root).
fn starts_with_header(bytes: &[u8]) -> bool {
    let t = bytes.trim_ascii_start();
    if t.starts_with(b"<?") {
        return true;
    }
    let name_end = t
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
        .unwrap_or(t.len());
    let name = &t[..name_end];
    t.starts_with(b"<") && (name.ends_with(b":stream") || name == b"<stream")
}

/// JSON of a stream error.
fn error_json(e: XmppError) -> Value {
    json!({ "condition": e.stream_condition().as_str(), "reason": format!("{e:?}") })
}

/// JSON of a stream header.
fn header_json(h: &StreamHeader) -> Value {
    json!({
        "to": h.to, "from": h.from, "id": h.id, "version": h.version, "lang": h.lang,
        "ns": h.ns.uri(), "dialback": h.dialback,
    })
}

/// Insert `key` only when `v` is not null/false/empty, keeping the JSON short.
fn put(m: &mut Map<String, Value>, key: &str, v: Value) {
    let empty = match &v {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Number(n) => n.as_u64() == Some(0) && key.ends_with("count"),
        _ => false,
    };
    if !empty {
        m.insert(key.into(), v);
    }
}

/// JSON of a stanza error.
fn stanza_error_json(e: &Option<StanzaErrorView<'_>>) -> Value {
    match e {
        Some(e) => json!({
            "type": e.type_.as_str(), "condition": e.condition.as_str(), "text": e.text,
        }),
        None => Value::Null,
    }
}

/// Raw children as `{ns, name, xml}`.
fn children_json<'a>(it: impl Iterator<Item = Child<'a>>) -> Value {
    Value::Array(
        it.map(|c| json!({ "ns": c.ns, "name": c.name, "xml": c.self_contained() }))
            .collect(),
    )
}

/// JSON of one typed element.
pub fn element_json(e: &Element<'_>) -> Value {
    match e {
        Element::Features(f) => json!({ "features": {
            "starttls": f.starttls, "mechanisms": f.mechanisms, "dialback": f.dialback,
            "bidi": f.bidi,
        }}),
        Element::StartTls => json!({ "starttls": true }),
        Element::Proceed => json!({ "proceed": true }),
        Element::TlsFailure => json!({ "tls_failure": true }),
        Element::SaslAuth { mechanism, initial } => {
            json!({ "sasl_auth": { "mechanism": mechanism, "initial": initial } })
        }
        Element::SaslSuccess => json!({ "sasl_success": true }),
        Element::SaslFailure { condition } => json!({ "sasl_failure": condition }),
        Element::StreamError { condition, text } => json!({ "stream_error": {
            "condition": condition.map(|c| c.as_str()), "text": text,
        }}),
        Element::DbResult(d) | Element::DbVerify(d) => {
            let kind = if matches!(e, Element::DbResult(_)) {
                "db_result"
            } else {
                "db_verify"
            };
            json!({ kind: {
                "from": d.from, "to": d.to, "id": d.id, "type": d.type_.map(|t| t.as_str()),
                "key": d.key, "error": stanza_error_json(&d.error),
            }})
        }
        Element::Bidi => json!({ "bidi": true }),
        Element::Message(m) => json!({ "message": message_json(m) }),
        Element::Presence(p) => json!({ "presence": presence_json(p) }),
        Element::Iq(iq) => json!({ "iq": iq_json(iq) }),
        Element::Unknown { ns, name } => json!({ "unknown": { "ns": ns, "name": name } }),
    }
}

/// JSON of a message view.
fn message_json(v: &MessageView<'_>) -> Value {
    let mut m = Map::new();
    put(&mut m, "type", json!(v.type_.as_str()));
    put(&mut m, "from", json!(v.from));
    put(&mut m, "to", json!(v.to));
    put(&mut m, "id", json!(v.id));
    put(&mut m, "lang", json!(v.lang));
    put(&mut m, "subject", json!(v.subject));
    put(&mut m, "body", json!(v.body));
    put(&mut m, "body_lang", json!(v.body_lang));
    let bodies: Vec<Value> = v
        .bodies()
        .map(|(l, t)| json!({ "lang": l, "text": t }))
        .collect();
    if bodies.len() > 1 {
        put(&mut m, "bodies", Value::Array(bodies));
    }
    put(&mut m, "thread", json!(v.thread));
    put(&mut m, "thread_parent", json!(v.thread_parent));
    put(&mut m, "error", stanza_error_json(&v.error));
    put(
        &mut m,
        "chat_state",
        json!(v.chat_state.map(|s| s.as_str())),
    );
    put(&mut m, "receipt_request", json!(v.receipt_request));
    put(&mut m, "receipt_received", json!(v.receipt_received));
    let marker = v.marker.as_ref().map(|mk| match mk {
        Marker::Markable => json!({ "markable": true }),
        Marker::Received(id) => json!({ "received": id }),
        Marker::Displayed(id) => json!({ "displayed": id }),
        Marker::Acknowledged(id) => json!({ "acknowledged": id }),
    });
    put(&mut m, "marker", json!(marker));
    put(&mut m, "xhtml", json!(v.xhtml));
    let reactions = v
        .reactions
        .as_ref()
        .map(|r| json!({ "id": r.id, "reactions": r.iter().collect::<Vec<_>>() }));
    put(&mut m, "reactions", json!(reactions));
    put(&mut m, "replace_id", json!(v.replace_id));
    put(&mut m, "retract_id", json!(v.retract_id));
    let reply = v.reply.as_ref().map(|r| json!({ "to": r.to, "id": r.id }));
    put(&mut m, "reply", json!(reply));
    let oob = v
        .oob
        .as_ref()
        .map(|o| json!({ "url": o.url, "desc": o.desc }));
    put(&mut m, "oob", json!(oob));
    put(&mut m, "nick", json!(v.nick));
    let delay = v
        .delay
        .as_ref()
        .map(|d| json!({ "stamp": d.stamp, "from": d.from }));
    put(&mut m, "delay", json!(delay));
    let sid = v
        .stanza_id
        .as_ref()
        .map(|s| json!({ "id": s.id, "by": s.by }));
    put(&mut m, "stanza_id", json!(sid));
    put(&mut m, "origin_id", json!(v.origin_id));
    put(
        &mut m,
        "unknown_children",
        children_json(v.unknown_children()),
    );
    Value::Object(m)
}

/// JSON of a presence view.
fn presence_json(v: &PresenceView<'_>) -> Value {
    let mut m = Map::new();
    let t = v.type_.map(|t| t.as_str().unwrap_or("available"));
    put(&mut m, "type", json!(t.unwrap_or("invalid")));
    put(&mut m, "from", json!(v.from));
    put(&mut m, "to", json!(v.to));
    put(&mut m, "id", json!(v.id));
    put(&mut m, "lang", json!(v.lang));
    put(&mut m, "show", json!(v.show.map(|s| s.as_str())));
    put(&mut m, "status", json!(v.status));
    put(&mut m, "priority", json!(v.priority));
    let caps = v
        .caps
        .as_ref()
        .map(|c| json!({ "node": c.node, "ver": c.ver, "hash": c.hash }));
    put(&mut m, "caps", json!(caps));
    put(&mut m, "nick", json!(v.nick));
    let delay = v
        .delay
        .as_ref()
        .map(|d| json!({ "stamp": d.stamp, "from": d.from }));
    put(&mut m, "delay", json!(delay));
    put(&mut m, "error", stanza_error_json(&v.error));
    put(
        &mut m,
        "unknown_children",
        children_json(v.unknown_children()),
    );
    Value::Object(m)
}

/// JSON of an iq view.
fn iq_json(v: &IqView<'_>) -> Value {
    let mut m = Map::new();
    put(
        &mut m,
        "type",
        json!(v.type_.map_or("invalid", |t| t.as_str())),
    );
    put(&mut m, "from", json!(v.from));
    put(&mut m, "to", json!(v.to));
    put(&mut m, "id", json!(v.id));
    let payload = match v.payload_kind() {
        IqPayload::Ping => json!({ "ping": true }),
        IqPayload::DiscoInfo(d) => json!({ "disco_info": {
            "node": d.node,
            "identities": d.identities().map(|i| json!({
                "category": i.category, "type": i.type_, "name": i.name,
            })).collect::<Vec<_>>(),
            "features": d.features().collect::<Vec<_>>(),
        }}),
        IqPayload::DiscoItems { node, .. } => json!({ "disco_items": { "node": node } }),
        IqPayload::VCard(c) => {
            json!({ "vcard": { "fn": c.full_name, "nickname": c.nickname } })
        }
        IqPayload::Other => match &v.payload {
            Some(c) => {
                json!({ "other": { "ns": c.ns, "name": c.name, "xml": c.self_contained() } })
            }
            None => Value::Null,
        },
    };
    put(&mut m, "payload", payload);
    put(&mut m, "error", stanza_error_json(&v.error));
    put(&mut m, "extra_children_count", json!(v.extra_children));
    Value::Object(m)
}
