//! `parley decode --sip`: one captured SIP message to JSON for interop labs (issue 3).
//!
//! The file is framed as a datagram (bytes after the declared body are reported, not
//! parsed), parsed (tier 1) and validated (tier 2). The JSON names the start line, every
//! header field in order with its typed value where the codec types it, and a body summary
//! (PIDF, isComposing, IMDN, CPIM and multipart are decoded). Invalid input gives the error
//! with the status code parley would answer.

use serde_json::{Map, Value, json};

use super::body::{cpim::Cpim, imdn::Imdn, is_composing::IsComposing, multipart, pidf::Presence};
use super::framing::frame_datagram;
use super::header::{CSeq, HeaderName, MediaType, NameAddr, Via};
use super::scan::{self, CommaSplit, Params};
use super::typed::{Contact, Event, Reason, SipDate, SubState, SubscriptionState, Warning};
use super::uri::Uri;
use super::{SipError, SipLimits, SipMessage};

/// Text bodies are shown up to this many bytes.
const TEXT_PREVIEW: usize = 1024;
/// Nested bodies (CPIM in multipart…) are summarised this deep.
const MAX_BODY_DEPTH: usize = 4;

/// Decode one message to JSON; the flag is false when the input is invalid.
pub fn decode_to_json(bytes: &[u8]) -> (Value, bool) {
    let limits = SipLimits::default();
    let result = frame_datagram(bytes, &limits).and_then(|len| {
        let msg = SipMessage::parse(
            bytes::Bytes::copy_from_slice(bytes.get(..len).unwrap_or_default()),
            &limits,
        )?;
        msg.validate()?;
        Ok((msg, bytes.len() - len))
    });
    match result {
        Ok((msg, trailing)) => (message_json(&msg, trailing), true),
        Err(e) => (error_json(e), false),
    }
}

fn error_json(e: SipError) -> Value {
    let (status, reason) = e.status();
    json!({
        "valid": false,
        "error": {
            "kind": format!("{e:?}"),
            "status": status,
            "reason": reason,
            "fatal_for_stream": e.is_fatal_for_stream(),
        }
    })
}

fn message_json(m: &SipMessage, trailing: usize) -> Value {
    let start = match (m.method(), m.request_uri(), m.status()) {
        (Some(method), Some(uri), _) => json!({
            "kind": "request",
            "method": method.as_str(),
            "request_uri": uri,
            "uri": uri_json(uri),
            "version": "SIP/2.0",
        }),
        (_, _, Some(code)) => json!({
            "kind": "response",
            "version": "SIP/2.0",
            "status": code,
            "reason": m.reason(),
        }),
        _ => Value::Null,
    };
    let headers: Vec<Value> = m
        .headers()
        .map(|f| {
            let value = String::from_utf8_lossy(f.value);
            let mut h = Map::new();
            h.insert(
                "name".into(),
                json!(f.name.as_str().map_or_else(
                    || String::from_utf8_lossy(f.raw_name).into_owned(),
                    str::to_owned
                )),
            );
            if f.name.as_str().is_none_or(|n| n.as_bytes() != f.raw_name) {
                h.insert(
                    "raw_name".into(),
                    json!(String::from_utf8_lossy(f.raw_name)),
                );
            }
            h.insert("value".into(), json!(value));
            if let Some(t) = std::str::from_utf8(f.value)
                .ok()
                .and_then(|v| typed_json(f.name, v))
            {
                h.insert("typed".into(), t);
            }
            Value::Object(h)
        })
        .collect();
    let ct = m.content_type().ok().flatten();
    let mut out = json!({
        "valid": true,
        "start_line": start,
        "headers": headers,
        "body": body_json(ct, m.body(), 0),
    });
    if trailing > 0 {
        out["trailing_bytes_discarded"] = json!(trailing);
    }
    out
}

/// A list header's values, each typed by `f`.
fn list(v: &str, f: impl Fn(&str) -> Option<Value>) -> Option<Value> {
    if v.is_empty() {
        return Some(json!([]));
    }
    CommaSplit::new(v.as_bytes())
        .map(|item| std::str::from_utf8(item).ok().and_then(&f))
        .collect::<Option<Vec<Value>>>()
        .map(Value::Array)
}

fn params_json(params: &str) -> Value {
    let map: Map<String, Value> = Params::new(params)
        .flatten()
        .map(|(n, v)| {
            (
                n.to_owned(),
                v.map_or(Value::Bool(true), |v| json!(scan::unquote(v))),
            )
        })
        .collect();
    Value::Object(map)
}

fn typed_json(name: HeaderName, v: &str) -> Option<Value> {
    use HeaderName as H;
    match name {
        H::Via => list(v, |s| Via::parse(s).map(via_json)),
        H::From | H::To | H::ReplyTo | H::ReferTo | H::ReferredBy => NameAddr::parse(v).map(name_addr_json),
        H::Contact => list(v, |s| {
            Contact::parse(s).map(|c| match c {
                Contact::Wildcard => json!("*"),
                Contact::Addr(a) => name_addr_json(a),
            })
        }),
        H::Route | H::RecordRoute | H::Path | H::ServiceRoute | H::PAssertedIdentity | H::PPreferredIdentity => {
            list(v, |s| NameAddr::parse(s).map(name_addr_json))
        }
        H::CallId => Some(json!(v)),
        H::CSeq => CSeq::parse(v).map(|c| json!({"seq": c.seq, "method": c.method})),
        H::MaxForwards | H::ContentLength | H::Expires | H::MinExpires => scan::parse_u64(v).map(|n| json!(n)),
        H::ContentType => MediaType::parse(v).map(media_json),
        H::Accept => list(v, |s| MediaType::parse(s).map(media_json)),
        H::Allow | H::Supported | H::Require | H::ProxyRequire | H::Unsupported | H::AllowEvents => {
            list(v, |s| scan::is_token(scan::trim(s)).then(|| json!(scan::trim(s))))
        }
        H::Event => Event::parse(v).map(|e| json!({"package": e.package, "id": e.id, "params": params_json(e.params)})),
        H::SubscriptionState => SubscriptionState::parse(v).map(|s| {
            let state = match s.state {
                SubState::Active => "active",
                SubState::Pending => "pending",
                SubState::Terminated => "terminated",
                SubState::Other(o) => o,
            };
            json!({"state": state, "expires": s.expires, "reason": s.reason, "retry_after": s.retry_after})
        }),
        H::Date => SipDate::parse(v).map(|d| {
            json!(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year, d.month, d.day, d.hour, d.minute, d.second
            ))
        }),
        H::Reason => list(v, |s| Reason::parse(s).map(|r| json!({"protocol": r.protocol, "cause": r.cause, "text": r.text}))),
        H::Warning => list(v, |s| Warning::parse(s).map(|w| json!({"code": w.code, "agent": w.agent, "text": w.text}))),
        _ => None,
    }
}

fn via_json(v: Via<'_>) -> Value {
    json!({
        "transport": v.transport,
        "host": v.host,
        "port": v.port,
        "branch": v.branch,
        "received": v.received,
        "rport": v.rport.map(|p| p.map_or(Value::Bool(true), |p| json!(p))),
        "maddr": v.maddr,
        "ttl": v.ttl,
        "params": params_json(v.params),
    })
}

fn name_addr_json(a: NameAddr<'_>) -> Value {
    json!({
        "display_name": a.display_name,
        "uri": a.uri,
        "parsed_uri": uri_json(a.uri),
        "tag": a.tag,
        "params": params_json(a.params),
    })
}

fn media_json(m: MediaType<'_>) -> Value {
    json!({"type": m.type_, "subtype": m.subtype, "params": params_json(m.params)})
}

fn uri_json(uri: &str) -> Value {
    match Uri::parse(uri) {
        Ok(Uri::Sip(u)) => json!({
            "scheme": if u.scheme == super::uri::Scheme::Sips { "sips" } else { "sip" },
            "user": u.user,
            "user_decoded": u.user_decoded(),
            "password": u.password,
            "host": u.host,
            "port": u.port,
            "params": u.params,
            "headers": u.headers,
        }),
        Ok(Uri::Tel(t)) => {
            json!({"scheme": "tel", "number": t.number, "global": t.is_global(), "params": t.params})
        }
        Ok(Uri::Absolute { scheme, rest }) => {
            json!({"scheme": scheme, "opaque": rest, "supported": false})
        }
        Err(e) => json!({"error": e.status().1}),
    }
}

fn body_json(ct: Option<MediaType<'_>>, body: &[u8], depth: usize) -> Value {
    let mut out = json!({"length": body.len()});
    let Some(ct) = ct else {
        return out;
    };
    out["content_type"] = json!(format!("{}/{}", ct.type_, ct.subtype));
    if depth >= MAX_BODY_DEPTH {
        return out;
    }
    let sub = ct.subtype.to_ascii_lowercase();
    let decoded: Result<Value, SipError> = match (ct.type_.to_ascii_lowercase().as_str(), sub.as_str()) {
        ("text", _) => {
            let shown = body.get(..TEXT_PREVIEW.min(body.len())).unwrap_or_default();
            Ok(json!({"text": String::from_utf8_lossy(shown), "truncated": body.len() > TEXT_PREVIEW}))
        }
        ("application", "pidf+xml") => Presence::parse(body).map(|p| presence_json(&p)),
        ("application", "im-iscomposing+xml") => IsComposing::parse(body).map(|c| {
            json!({"state": format!("{:?}", c.state).to_ascii_lowercase(), "last_active": c.last_active,
                   "content_type": c.content_type, "refresh": c.refresh})
        }),
        ("message", "imdn+xml") => Imdn::parse(body).map(|i| {
            json!({"message_id": i.message_id, "datetime": i.datetime, "recipient_uri": i.recipient_uri,
                   "kind": format!("{:?}", i.kind).to_ascii_lowercase(), "status": format!("{:?}", i.status).to_ascii_lowercase()})
        }),
        ("message", "cpim") => Cpim::parse(body).map(|c| {
            let headers: Vec<Value> = c.headers.iter().map(|(n, v)| json!([n, v])).collect();
            json!({
                "headers": headers,
                "imdn_message_id": c.imdn_message_id(),
                "disposition_notification": c.disposition_notification().collect::<Vec<_>>(),
                "payload": body_json(c.content_type(), c.body, depth + 1),
            })
        }),
        ("multipart", _) => match ct.param("boundary") {
            Some(b) => multipart::parse(body, b).map(|parts| {
                let parts: Vec<Value> = parts
                    .iter()
                    .map(|p| body_json(Some(p.content_type().unwrap_or(TEXT_PLAIN)), p.body, depth + 1))
                    .collect();
                json!({"parts": parts})
            }),
            None => Err(SipError::BadBody),
        },
        _ => return out,
    };
    match decoded {
        Ok(v) => out["decoded"] = v,
        Err(e) => out["error"] = json!(e.status().1),
    }
    out
}

/// RFC 2046 §5.1: a part without Content-Type is text/plain.
const TEXT_PLAIN: MediaType<'static> = MediaType {
    type_: "text",
    subtype: "plain",
    params: "",
};

fn presence_json(p: &Presence) -> Value {
    let tuples: Vec<Value> = p
        .tuples
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "basic": t.basic.map(|b| format!("{b:?}").to_ascii_lowercase()),
                "contact": t.contact,
                "priority": t.priority,
                "notes": t.notes.iter().map(|n| json!({"lang": n.lang, "text": n.text})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "entity": p.entity,
        "tuples": tuples,
        "activities": p.activities.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(),
        "notes": p.notes.iter().map(|n| json!({"lang": n.lang, "text": n.text})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_message_json() {
        let raw = include_bytes!("../../protocol-tests/sip/bench/rfc6665-notify-pidf.sip");
        let (v, ok) = decode_to_json(raw);
        assert!(ok, "{v}");
        assert_eq!(v["start_line"]["method"], "NOTIFY");
        assert_eq!(v["start_line"]["uri"]["host"], "xmpp.example");
        let via = &v["headers"][0];
        assert_eq!(via["name"], "Via");
        assert_eq!(via["typed"][0]["branch"], "z9hG4bK9e1.2");
        let sub = v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == "Subscription-State")
            .unwrap();
        assert_eq!(sub["typed"]["state"], "active");
        assert_eq!(sub["typed"]["expires"], 3421);
        assert_eq!(v["body"]["decoded"]["tuples"][0]["basic"], "open");
    }

    #[test]
    fn compact_names_and_multipart() {
        let raw = include_bytes!("../../protocol-tests/sip/rfc4475/mpart01.dat");
        let (v, ok) = decode_to_json(raw);
        assert!(ok, "{v}");
        assert_eq!(v["body"]["decoded"]["parts"][0]["decoded"]["text"], "Hello");
        let raw = include_bytes!("../../protocol-tests/sip/rfc4475/dblreq.dat");
        let (v, ok) = decode_to_json(raw);
        assert!(ok);
        assert!(v["trailing_bytes_discarded"].as_u64().unwrap() > 0);
        let call_id = v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == "Call-ID")
            .unwrap();
        assert_eq!(call_id["raw_name"], "I");
    }

    #[test]
    fn invalid_gives_status() {
        let raw = include_bytes!("../../protocol-tests/sip/rfc4475/badvers.dat");
        let (v, ok) = decode_to_json(raw);
        assert!(!ok);
        assert_eq!(v["error"]["status"], 505);
        let (v, ok) = decode_to_json(b"garbage");
        assert!(!ok);
        assert_eq!(v["error"]["status"], 400);
    }
}
