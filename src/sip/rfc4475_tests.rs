//! RFC 4475 (SIP torture test messages), one row per file of
//! `protocol-tests/sip/rfc4475/INDEX.tsv`: each `valid` message parses, validates and yields the
//! values the RFC names; each `invalid` one is rejected with the status a server would answer;
//! each `semantic` one is handled as §3.2–3.4 describe. No row is skipped.
//!
//! Messages are framed as UDP datagrams (the RFC's messages are datagrams: some carry no
//! Content-Length and §3.1.1.8 has trailing octets), then parsed (tier 1) and validated (tier 2).

use std::collections::BTreeSet;

use bytes::Bytes;

use super::framing::{frame_datagram, frame_stream};
use super::header::HeaderName;
use super::message::Method;
use super::typed::Contact;
use super::uri::{SipUri, Uri};
use super::{SipError, SipLimits, SipMessage, StreamItem};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol-tests/sip/rfc4475");

fn read(file: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Frame as a datagram, parse, validate.
fn decode(raw: &[u8]) -> Result<SipMessage, SipError> {
    let limits = SipLimits::default();
    let n = frame_datagram(raw, &limits)?;
    let m = SipMessage::parse(Bytes::copy_from_slice(&raw[..n]), &limits)?;
    m.validate()?;
    Ok(m)
}

enum Expect {
    /// Parses and validates; the check asserts the RFC's values.
    Valid(fn(&SipMessage)),
    /// Rejected with this status and reason phrase.
    Reject(u16, &'static str),
}

use Expect::{Reject, Valid};

fn text(v: Option<&[u8]>) -> &str {
    std::str::from_utf8(v.expect("header present")).unwrap()
}

/// (file, RFC section, expectation).
fn table() -> Vec<(&'static str, &'static str, Expect)> {
    vec![
        (
            "wsinv.dat",
            "3.1.1.1",
            Valid(|m| {
                assert_eq!(m.method(), Some(Method::Invite));
                let to = m.to().unwrap();
                assert_eq!(
                    (to.uri, to.tag),
                    ("sip:vivekg@chair-dnrc.example.com", Some("1918181833n"))
                );
                let from = m.from().unwrap();
                assert_eq!(from.display_name, Some(r#"J Rosenberg \\\""#));
                assert_eq!(from.tag, Some("98asjd8"));
                assert_eq!(m.max_forwards(), Ok(Some(68)));
                assert_eq!(m.call_id(), Ok("wsinv.ndaksdj@192.0.2.1"));
                assert_eq!(m.content_length(), Some(150));
                assert_eq!(m.cseq().unwrap().seq, 9);
                let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
                assert_eq!(vias.len(), 3);
                assert_eq!(
                    (vias[0].transport, vias[0].host, vias[0].branch),
                    ("UDP", "192.0.2.2", Some("390skdjuw"))
                );
                assert_eq!(
                    (vias[1].transport, vias[1].host),
                    ("TCP", "spindle.example.com")
                );
                assert_eq!(vias[2].branch, Some("z9hG4bK30239"));
                assert_eq!(m.header(HeaderName::Subject), Some(&b""[..]));
                assert_eq!(
                    text(m.header_by_name("newfangledheader")),
                    "newfangled value\r\n continued newfangled value"
                );
                assert_eq!(
                    text(m.header_by_name("UnknownHeaderWithUnusualValue")),
                    ";;,,;;,;"
                );
                assert_eq!(m.content_type().unwrap().unwrap().subtype, "sdp");
                assert_eq!(
                    m.routes().next().unwrap().unwrap().uri,
                    "sip:services.example.com;lr;unknownwith=value;unknown-no-value"
                );
                let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
                    panic!()
                };
                assert_eq!(c.display_name, Some(r#"Quoted string \"\""#));
                assert_eq!(c.param("newparam"), Some("newvalue"));
                assert_eq!(c.param("secondparam"), Some(""));
                assert_eq!(Contact::Addr(c).q(), Some(330));
            }),
        ),
        (
            "intmeth.dat",
            "3.1.1.2",
            Valid(|m| {
                let method = "!interesting-Method0123456789_*+`.%indeed'~";
                assert_eq!(m.method(), Some(Method::Other(method)));
                assert_eq!(m.cseq().unwrap().method, method);
                let ruri = SipUri::parse(m.request_uri().unwrap()).unwrap();
                assert_eq!(
                    ruri.user,
                    Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
                );
                assert_eq!(
                    ruri.password,
                    Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
                );
                assert_eq!(ruri.host, "example.com");
                assert_eq!(m.via().unwrap().branch, Some("z9hG4bK-.!%66*_+`'~"));
                assert_eq!(
                    m.to().unwrap().display_name,
                    Some("BEL:\\\x07 NUL:\\\0 DEL:\\\x7f")
                );
                assert_eq!(
                    m.from().unwrap().display_name,
                    Some("token1~` token2'+_ token3*%!.-")
                );
                assert_eq!(m.from().unwrap().tag, Some("_token~1'+`*%!-."));
                assert_eq!(
                    m.from().unwrap().param("fromParam''~+*_!.-%"),
                    Some("работающий")
                );
                assert_eq!(
                    m.call_id(),
                    Ok("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
                );
                assert_eq!(
                    text(m.header_by_name("extensionHeader-!.%*+_`'~")),
                    "\u{FEFF}大停電"
                );
            }),
        ),
        (
            "esc01.dat",
            "3.1.1.3",
            Valid(|m| {
                let ruri = SipUri::parse(m.request_uri().unwrap()).unwrap();
                assert_eq!(
                    ruri.user_decoded().as_deref(),
                    Some("sips:user@example.com")
                );
                assert_eq!(
                    SipUri::parse(m.to().unwrap().uri)
                        .unwrap()
                        .user_decoded()
                        .as_deref(),
                    Some("user")
                );
                assert_eq!(
                    SipUri::parse(m.from().unwrap().uri)
                        .unwrap()
                        .user_decoded()
                        .as_deref(),
                    Some("I have spaces")
                );
                assert_eq!(m.call_id(), Ok("esc01.239409asdfakjkn23onasd0-3234"));
                let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
                    panic!()
                };
                let u = SipUri::parse(c.uri).unwrap();
                assert_eq!(u.user_decoded().as_deref(), Some("caller"));
                assert_eq!(u.params, "%6C%72;n%61me=v%61lue%25%34%31");
            }),
        ),
        (
            "escnull.dat",
            "3.1.1.4",
            Valid(|m| {
                assert_eq!(
                    SipUri::parse(m.to().unwrap().uri)
                        .unwrap()
                        .user_decoded()
                        .as_deref(),
                    Some("null-\0-null")
                );
                let users: Vec<String> = m
                    .contacts()
                    .map(|c| match c.unwrap() {
                        Contact::Addr(a) => SipUri::parse(a.uri)
                            .unwrap()
                            .user_decoded()
                            .unwrap()
                            .into_owned(),
                        Contact::Wildcard => panic!(),
                    })
                    .collect();
                assert_eq!(users, ["\0", "\0\0"]);
            }),
        ),
        (
            "esc02.dat",
            "3.1.1.5",
            Valid(|m| {
                assert_eq!(m.method(), Some(Method::Other("RE%47IST%45R")));
                assert_eq!(m.to().unwrap().display_name, Some("%Z%45"));
                assert_eq!(m.via().unwrap().branch, Some("z9hG4bK209%fzsnel234"));
                // "C%6Fntact" is an extension header, not Contact.
                assert_eq!(m.contacts().count(), 2);
                assert_eq!(
                    text(m.header_by_name("C%6Fntact")),
                    "<sip:alias2@host2.example.com>"
                );
            }),
        ),
        (
            "lwsdisp.dat",
            "3.1.1.6",
            Valid(|m| {
                assert_eq!(m.from().unwrap().display_name, Some("caller"));
                assert_eq!(m.from().unwrap().uri, "sip:caller@example.com");
            }),
        ),
        (
            "longreq.dat",
            "3.1.1.7",
            Valid(|m| {
                assert_eq!(m.vias().count(), 34);
                assert!(m.vias().all(|v| v.unwrap().transport == "TCP"));
                assert!(
                    m.to()
                        .unwrap()
                        .display_name
                        .unwrap()
                        .contains("extremeextreme")
                );
                let tag = m.from().unwrap().tag.unwrap();
                assert!(tag.starts_with("1298298") && tag.ends_with("982424") && tag.len() == 155);
                assert_eq!(m.from().unwrap().param("unknownValuelessparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamname"), Some(""));
                assert!(m.call_id().unwrap().ends_with("reallylongcallid"));
                assert!(m.header_by_name("Unknown-LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong-Name").is_some());
                assert_eq!(m.content_length(), Some(150));
            }),
        ),
        (
            "dblreq.dat",
            "3.1.1.8",
            Valid(|m| {
                assert_eq!(m.method(), Some(Method::Register));
                assert_eq!(m.call_id(), Ok("dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
                assert_eq!(m.body(), b"");
            }),
        ),
        (
            "semiuri.dat",
            "3.1.1.9",
            Valid(|m| {
                let u = SipUri::parse(m.request_uri().unwrap()).unwrap();
                assert_eq!(
                    (u.user, u.host, u.params),
                    (Some("user;par=u%40example.net"), "example.com", "")
                );
                assert_eq!(m.accept().count(), 6);
            }),
        ),
        (
            "transports.dat",
            "3.1.1.10",
            Valid(|m| {
                let t: Vec<&str> = m.vias().map(|v| v.unwrap().transport).collect();
                assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
            }),
        ),
        (
            "mpart01.dat",
            "3.1.1.11",
            Valid(|m| {
                let ct = m.content_type().unwrap().unwrap();
                assert!(ct.is("multipart", "mixed"));
                assert_eq!(ct.param("boundary"), Some("7a9cbec02ceef655"));
                assert_eq!(m.body().len(), 553);
            }),
        ),
        (
            "unreason.dat",
            "3.1.1.12",
            Valid(|m| {
                assert_eq!(m.status(), Some(200));
                assert_eq!(
                    m.reason(),
                    Some("= 2**3 * 5**2 но сто девяносто девять - простое")
                );
            }),
        ),
        (
            "noreason.dat",
            "3.1.1.13",
            Valid(|m| {
                assert_eq!((m.status(), m.reason()), (Some(100), Some("")));
            }),
        ),
        ("badinv01.dat", "3.1.2.1", Reject(400, "Bad Via")),
        ("clerr.dat", "3.1.2.2", Reject(400, "Bad Content-Length")),
        ("ncl.dat", "3.1.2.3", Reject(400, "Bad Content-Length")),
        ("scalar02.dat", "3.1.2.4", Reject(400, "Bad CSeq")),
        // A response is never answered; the status is what parley logs and counts.
        ("scalarlg.dat", "3.1.2.5", Reject(400, "Bad CSeq")),
        ("quotbal.dat", "3.1.2.6", Reject(400, "Bad To")),
        ("ltgtruri.dat", "3.1.2.7", Reject(400, "Bad Request-URI")),
        ("lwsruri.dat", "3.1.2.8", Reject(400, "Bad Request Line")),
        ("lwsstart.dat", "3.1.2.9", Reject(400, "Bad Request Line")),
        ("trws.dat", "3.1.2.10", Reject(400, "Bad Request Line")),
        ("escruri.dat", "3.1.2.11", Reject(400, "Bad Request-URI")),
        ("baddate.dat", "3.1.2.12", Reject(400, "Bad Date")),
        ("regbadct.dat", "3.1.2.13", Reject(400, "Bad Contact")),
        ("badaspec.dat", "3.1.2.14", Reject(400, "Bad To")),
        // The corpus file ends without the empty line; `baddn_with_empty_line` checks the From.
        ("baddn.dat", "3.1.2.15", Reject(400, "Truncated Message")),
        (
            "badvers.dat",
            "3.1.2.16",
            Reject(505, "Version Not Supported"),
        ),
        (
            "mismatch01.dat",
            "3.1.2.17",
            Reject(400, "CSeq Method Mismatch"),
        ),
        (
            "mismatch02.dat",
            "3.1.2.18",
            Reject(400, "CSeq Method Mismatch"),
        ),
        ("bigcode.dat", "3.1.2.19", Reject(400, "Bad Request Line")),
        (
            "badbranch.dat",
            "3.2.1",
            Valid(|m| {
                // Only the magic cookie: the transaction layer must match it the RFC 2543 way.
                assert_eq!(m.via().unwrap().branch, Some("z9hG4bK"));
            }),
        ),
        ("insuf.dat", "3.3.1", Reject(400, "Missing From")),
        (
            "unkscm.dat",
            "3.3.2",
            Valid(|m| {
                assert_eq!(
                    SipUri::parse(m.request_uri().unwrap())
                        .unwrap_err()
                        .status()
                        .0,
                    416
                );
            }),
        ),
        (
            "novelsc.dat",
            "3.3.3",
            Valid(|m| {
                assert_eq!(
                    SipUri::parse(m.request_uri().unwrap()),
                    Err(SipError::UnsupportedUriScheme)
                );
            }),
        ),
        (
            "unksm2.dat",
            "3.3.4",
            Valid(|m| {
                assert_eq!(
                    Uri::parse(m.to().unwrap().uri),
                    Ok(Uri::Absolute {
                        scheme: "isbn",
                        rest: "2983792873"
                    })
                );
                assert_eq!(m.from().unwrap().uri, "http://www.example.com");
                let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
                    panic!()
                };
                assert!(matches!(
                    Uri::parse(c.uri),
                    Ok(Uri::Absolute { scheme: "name", .. })
                ));
            }),
        ),
        (
            "bext01.dat",
            "3.3.5",
            Valid(|m| {
                assert_eq!(
                    m.require().map(Result::unwrap).collect::<Vec<_>>(),
                    ["nothingSupportsThis", "nothingSupportsThisEither"]
                );
                assert_eq!(m.option_tags(HeaderName::ProxyRequire).count(), 2);
            }),
        ),
        (
            "invut.dat",
            "3.3.6",
            Valid(|m| {
                let ct = m.content_type().unwrap().unwrap();
                assert_eq!((ct.type_, ct.subtype), ("application", "unknownformat"));
            }),
        ),
        (
            "regaut01.dat",
            "3.3.7",
            Valid(|m| {
                assert_eq!(
                    text(m.header(HeaderName::Authorization)),
                    "NoOneKnowsThisScheme opaque-data=here"
                );
            }),
        ),
        ("multi01.dat", "3.3.8", Reject(400, "Multiple CSeq")),
        ("mcl01.dat", "3.3.9", Reject(400, "Bad Content-Length")),
        (
            "bcast.dat",
            "3.3.10",
            Valid(|m| {
                assert_eq!(m.vias().nth(1).unwrap().unwrap().host, "255.255.255.255");
            }),
        ),
        (
            "zeromf.dat",
            "3.3.11",
            Valid(|m| {
                assert_eq!(m.max_forwards(), Ok(Some(0)));
            }),
        ),
        (
            "cparam01.dat",
            "3.3.12",
            Valid(|m| {
                let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
                    panic!()
                };
                assert_eq!(c.uri, "sip:+19725552222@gw1.example.net");
                assert_eq!(c.param("unknownparam"), Some(""));
            }),
        ),
        (
            "cparam02.dat",
            "3.3.13",
            Valid(|m| {
                let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
                    panic!()
                };
                assert_eq!(
                    SipUri::parse(c.uri).unwrap().param("unknownparam"),
                    Some("")
                );
                assert_eq!(c.params, "");
            }),
        ),
        (
            "regescrt.dat",
            "3.3.14",
            Valid(|m| {
                let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
                    panic!()
                };
                assert_eq!(
                    SipUri::parse(c.uri).unwrap().header("Route"),
                    Some("%3Csip:sip.example.com%3E")
                );
            }),
        ),
        (
            "sdp01.dat",
            "3.3.15",
            Valid(|m| {
                let a: Vec<_> = m.accept().map(Result::unwrap).collect();
                assert_eq!(
                    (a.len(), a[0].type_, a[0].subtype),
                    (1, "text", "nobodyKnowsThis")
                );
            }),
        ),
        (
            "inv2543.dat",
            "3.4.1",
            Valid(|m| {
                assert_eq!(m.via().unwrap().branch, None);
                assert_eq!(m.max_forwards(), Ok(None));
                assert_eq!(m.content_length(), None);
                assert_eq!(m.to().unwrap().tag, None);
                assert!(!m.body().is_empty());
            }),
        ),
    ]
}

#[test]
fn rfc4475_table() {
    let index = std::fs::read_to_string(format!("{DIR}/INDEX.tsv")).unwrap();
    let rows: Vec<(String, String, String)> = index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_owned(), c[1].to_owned(), c[2].to_owned())
        })
        .collect();
    let table = table();
    let indexed: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let tested: BTreeSet<&str> = table.iter().map(|r| r.0).collect();
    assert_eq!(
        indexed, tested,
        "every INDEX.tsv row has exactly one expectation"
    );
    for (file, section, expect) in &table {
        let row = rows.iter().find(|r| r.0 == *file).unwrap();
        assert_eq!(row.1, *section, "{file}");
        let got = decode(&read(file));
        match (expect, row.2.as_str()) {
            (Valid(check), "valid" | "semantic") => {
                check(&got.unwrap_or_else(|e| panic!("{file}: {e}")))
            }
            (Reject(code, reason), "invalid" | "semantic") => {
                let err = got
                    .err()
                    .unwrap_or_else(|| panic!("{file} must be rejected"));
                assert_eq!(err.status(), (*code, *reason), "{file}");
            }
            (_, class) => panic!("{file}: expectation does not fit class {class}"),
        }
    }
}

#[test]
fn baddn_with_empty_line() {
    let mut raw = read("baddn.dat");
    raw.extend_from_slice(b"\r\n");
    assert_eq!(decode(&raw).unwrap_err().status(), (400, "Bad From"));
}

/// Every valid message that declares its length, fed to the stream framer one byte more at a
/// time: incomplete until the whole message is there, then exactly that message.
#[test]
fn every_prefix_of_every_valid_message() {
    let limits = SipLimits::default();
    let mut checked = 0;
    for (file, _, expect) in table() {
        let Valid(_) = expect else { continue };
        let raw = read(file);
        let Ok(len) = frame_datagram(&raw, &limits) else {
            continue;
        };
        let whole = &raw[..len];
        if super::framing::frame_datagram_head(whole, &limits)
            .ok()
            .and_then(|h| h.content_length)
            .is_none()
        {
            continue; // inv2543: no Content-Length, so it cannot be framed on a stream
        }
        for n in 0..len {
            assert_eq!(
                frame_stream(&whole[..n], &limits),
                Ok(None),
                "{file} prefix {n}"
            );
        }
        assert_eq!(
            frame_stream(&raw, &limits),
            Ok(Some(StreamItem::Message { len })),
            "{file}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "{checked}");
}
