//! Framer: table cases, every prefix, byte-by-byte, restarts, hostile input.

use bytes::{Bytes, BytesMut};

use super::{PROSODY_HEADER, frames, frames_chunked, frames_with};
use crate::xmpp::{Frame, Framer, StreamNs, XmppError, XmppLimits};

fn el(s: &str) -> Frame {
    Frame::Element(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn header_fields() {
    let f = frames(PROSODY_HEADER.as_bytes()).unwrap();
    let Frame::Open(h) = &f[0] else {
        panic!("{f:?}")
    };
    assert_eq!(h.from.as_deref(), Some("prosody.example"));
    assert_eq!(h.to.as_deref(), Some("parley.example"));
    assert_eq!(h.id.as_deref(), Some("0b8a6c1e-7d3e"));
    assert_eq!(h.version.as_deref(), Some("1.0"));
    assert_eq!(h.lang.as_deref(), Some("en"));
    assert_eq!(h.ns, StreamNs::Server);
    assert!(h.dialback);
    assert_eq!(h.resolve_prefix("db"), Some("jabber:server:dialback"));
    assert_eq!(f.len(), 1);
}

#[test]
fn table() {
    let hdr = PROSODY_HEADER;
    let cases: &[(&str, Result<Vec<Frame>, XmppError>)] = &[
        ("<message/>", Ok(vec![el("<message/>")])),
        (
            "<a><b x='1'>t&amp;&#x41;<![CDATA[<>]]></b></a>",
            Ok(vec![el("<a><b x='1'>t&amp;&#x41;<![CDATA[<>]]></b></a>")]),
        ),
        (
            " \n <a/>\t",
            Ok(vec![Frame::Whitespace, el("<a/>"), Frame::Whitespace]),
        ),
        ("<a/></stream:stream>", Ok(vec![el("<a/>"), Frame::Close])),
        ("<a x='>'/>", Ok(vec![el("<a x='>'/>")])),
        ("<a></b>", Err(XmppError::NotWellFormed)),
        ("<a x='1' x='2'/>", Err(XmppError::NotWellFormed)),
        ("<a x=1/>", Err(XmppError::NotWellFormed)),
        ("<a>&foo;</a>", Err(XmppError::RestrictedXml)),
        ("<a>& b</a>", Err(XmppError::NotWellFormed)),
        ("<a>&#0;</a>", Err(XmppError::NotWellFormed)),
        ("<a>\u{1}</a>", Err(XmppError::NotWellFormed)),
        ("<a><!-- c --></a>", Err(XmppError::RestrictedXml)),
        ("<!-- c -->", Err(XmppError::RestrictedXml)),
        ("<?pi x?>", Err(XmppError::RestrictedXml)),
        ("<a><?pi?></a>", Err(XmppError::RestrictedXml)),
        ("text", Err(XmppError::NotWellFormed)),
        ("<a:b:c/>", Err(XmppError::NotWellFormed)),
        ("</stream:other>", Err(XmppError::NotWellFormed)),
        (
            "<a x='&lt;' y=\"&unknown;\"/>",
            Err(XmppError::RestrictedXml),
        ),
    ];
    for (input, want) in cases {
        let got = frames(format!("{hdr}{input}").as_bytes()).map(|mut v| {
            v.remove(0);
            v
        });
        assert_eq!(&got, want, "input {input:?}");
    }
}

#[test]
fn invalid_utf8() {
    let mut input = PROSODY_HEADER.as_bytes().to_vec();
    input.extend_from_slice(b"<message><body>\xff\xfe</body></message>");
    assert_eq!(frames(&input), Err(XmppError::NotWellFormed));
}

#[test]
fn dtd_and_entities_rejected() {
    let billion = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;'>]><stream:stream/>";
    assert_eq!(frames(billion.as_bytes()), Err(XmppError::RestrictedXml));
    let xxe = format!("{PROSODY_HEADER}<message><body>&xxe;</body></message>");
    assert_eq!(frames(xxe.as_bytes()), Err(XmppError::RestrictedXml));
}

#[test]
fn limits() {
    let small = XmppLimits {
        max_stanza_bytes: 400,
        max_depth: 3,
        max_attributes: 10,
        max_name_len: 16,
    };
    let h = PROSODY_HEADER;
    let deep = format!("{h}<a><b><c><d/></c></b></a>");
    assert_eq!(frames_with(deep.as_bytes(), small), Err(XmppError::TooDeep));
    let big = format!("{h}<a>{}</a>", "x".repeat(500));
    assert_eq!(
        frames_with(big.as_bytes(), small),
        Err(XmppError::StanzaTooLarge)
    );
    let attrs = format!("{h}<a a='' b='' c='' d='' e='' f='' g='' i='' j='' k='' l=''/>");
    assert_eq!(
        frames_with(attrs.as_bytes(), small),
        Err(XmppError::TooManyAttributes)
    );
    let name = format!("{h}<abcdefghijklmnopq/>");
    assert_eq!(
        frames_with(name.as_bytes(), small),
        Err(XmppError::TooManyAttributes)
    );
    // An unfinished stanza over the limit fails before the rest arrives.
    let mut f = Framer::new(small);
    let mut buf = BytesMut::from(format!("{h}<a>").as_bytes());
    assert!(matches!(f.next_frame(&mut buf), Ok(Some(Frame::Open(_)))));
    buf.extend_from_slice(&[b'x'; 500]);
    assert_eq!(f.next_frame(&mut buf), Err(XmppError::StanzaTooLarge));
}

#[test]
fn ten_megabytes_of_text_is_refused_early() {
    let mut f = Framer::new(XmppLimits::default());
    let mut buf = BytesMut::from(format!("{PROSODY_HEADER}<message><body>").as_bytes());
    assert!(matches!(f.next_frame(&mut buf), Ok(Some(Frame::Open(_)))));
    let chunk = vec![b'a'; 64 * 1024];
    let mut fed = 0;
    let err = loop {
        buf.extend_from_slice(&chunk);
        fed += chunk.len();
        match f.next_frame(&mut buf) {
            Ok(None) => assert!(fed < 10 * 1024 * 1024),
            other => break other,
        }
    };
    assert_eq!(err, Err(XmppError::StanzaTooLarge));
    assert!(fed <= 512 * 1024, "buffered {fed} bytes before refusing");
}

/// A Prosody-like s2s transcript (RFC 6120 §9.2 flow, as Prosody 0.12 sends it).
pub(crate) const TRANSCRIPT: &str = concat!(
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='prosody.example' to='parley.example' id='a1' xml:lang='en'>",
    "<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms></stream:features>",
    "<db:result from='prosody.example' to='parley.example'>8b2c5f1a3e</db:result>",
    " ",
    "<message from='juliet@prosody.example/balcony' to='romeo@parley.example' type='chat' id='m1' xml:lang='en'><body>Wherefore art thou, Romeo?</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<presence from='juliet@prosody.example/balcony' to='romeo@parley.example'><show>away</show></presence>",
    "<iq type='get' id='p1' from='prosody.example' to='parley.example'><ping xmlns='urn:xmpp:ping'/></iq>",
    "</stream:stream>"
);

#[test]
fn every_prefix_and_every_split() {
    let whole = frames(TRANSCRIPT.as_bytes()).unwrap();
    assert_eq!(whole.len(), 8, "{whole:?}");
    assert!(matches!(whole[0], Frame::Open(_)));
    assert_eq!(whole[7], Frame::Close);
    // Every prefix: frames seen so far are a prefix of the full list, never an error.
    let bytes = TRANSCRIPT.as_bytes();
    for n in 0..=bytes.len() {
        let got = frames(&bytes[..n]).unwrap_or_else(|e| panic!("prefix {n}: {e}"));
        assert!(got.len() <= whole.len());
        for (g, w) in got.iter().zip(&whole) {
            if let (Frame::Whitespace, Frame::Whitespace) = (g, w) {
                continue;
            }
            assert_eq!(g, w, "prefix {n}");
        }
    }
    // Byte by byte and odd piece sizes give the same frames.
    for step in [1, 2, 3, 7, 64, 1000] {
        assert_eq!(frames_chunked(bytes, step).unwrap(), whole, "step {step}");
    }
}

#[test]
fn restart_after_starttls() {
    let mut f = Framer::new(XmppLimits::default());
    let mut buf = BytesMut::from(
        format!("{PROSODY_HEADER}<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").as_bytes(),
    );
    assert!(matches!(f.next_frame(&mut buf), Ok(Some(Frame::Open(_)))));
    assert!(matches!(
        f.next_frame(&mut buf),
        Ok(Some(Frame::Element(_)))
    ));
    f.restart();
    buf.clear();
    buf.extend_from_slice(PROSODY_HEADER.as_bytes());
    assert!(matches!(f.next_frame(&mut buf), Ok(Some(Frame::Open(_)))));
    // Without the header, an element after restart is refused.
    f.restart();
    buf.clear();
    buf.extend_from_slice(b"<message/>");
    assert_eq!(f.next_frame(&mut buf), Err(XmppError::BadStreamHeader));
}

#[test]
fn header_errors() {
    let cases: &[(&str, XmppError)] = &[
        (
            "<stream:stream xmlns='jabber:server' xmlns:stream='urn:wrong'>",
            XmppError::InvalidNamespace,
        ),
        (
            "<stream:stream xmlns='urn:wrong' xmlns:stream='http://etherx.jabber.org/streams'>",
            XmppError::InvalidNamespace,
        ),
        (
            "<stream:stream xmlns='jabber:server'>",
            XmppError::BadNamespacePrefix,
        ),
        (
            "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='2.0'>",
            XmppError::UnsupportedVersion,
        ),
        (
            "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>",
            XmppError::UnsupportedEncoding,
        ),
        (
            "<stream:foo xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>",
            XmppError::BadStreamHeader,
        ),
        (" <?xml version='1.0'?>", XmppError::RestrictedXml),
    ];
    for (input, want) in cases {
        assert_eq!(frames(input.as_bytes()), Err(*want), "{input}");
    }
    let ok = "<stream xmlns='http://etherx.jabber.org/streams' xmlns:x='jabber:client'>";
    assert_eq!(frames(ok.as_bytes()), Err(XmppError::InvalidNamespace));
    let client =
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    let Frame::Open(h) = &frames(client.as_bytes()).unwrap()[0] else {
        panic!()
    };
    assert_eq!(h.ns, StreamNs::Client);
    assert!(!h.dialback);
}

#[test]
fn no_rescan_on_byte_by_byte_large_stanza() {
    // 200 KB fed one byte at a time must stay linear (finishes quickly even in debug).
    let body = "y".repeat(200 * 1024);
    let input = format!(
        "{PROSODY_HEADER}<message><body a='{}'>{body}</body></message>",
        "z".repeat(1000)
    );
    let got = frames_chunked(input.as_bytes(), 1).unwrap();
    assert_eq!(got.len(), 2);
}

/// A marked element parses exactly as a scan of its bytes does, after the framer has moved
/// on; bytes the framer did not emit last (even of the same length) carry no marks.
#[test]
fn marked_elements_parse_as_scanned_ones() {
    use crate::xmpp::MarkedElement;
    use crate::xmpp::stanza::parse_element;
    let mut framer = Framer::new(XmppLimits::default());
    let mut buf = BytesMut::from(PROSODY_HEADER.as_bytes());
    let Ok(Some(Frame::Open(header))) = framer.next_frame(&mut buf) else {
        panic!("header")
    };
    let stanzas = [
        "<message from='a@x.example' to='b@y.example' type='chat' id='m1'><body>hi &amp; bye</body><thread>t1</thread><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
        "<presence from='a@x.example/r' to='b@y.example'><show>away</show><status><![CDATA[a<b]]></status></presence>",
        "<iq type='get' id='p1' from='x.example' to='y.example'><ping xmlns='urn:xmpp:ping'/></iq>",
    ];
    let mut marked = Vec::new();
    for s in stanzas {
        buf.extend_from_slice(s.as_bytes());
        buf.extend_from_slice(b"\n ");
        loop {
            match framer.next_frame(&mut buf) {
                Ok(Some(Frame::Element(bytes))) => {
                    let m = framer.marked(bytes);
                    assert!(m.is_marked(), "{s}");
                    marked.push(m);
                    break;
                }
                Ok(Some(Frame::Whitespace)) => {}
                other => panic!("{other:?}"),
            }
        }
    }
    for (m, s) in marked.iter().zip(stanzas) {
        assert_eq!(&m[..], s.as_bytes());
        assert_eq!(
            m.parse(&header),
            parse_element(s.as_bytes(), &header),
            "{s}"
        );
    }
    // A copy of the last element is not the element the marks describe.
    let copy = Bytes::copy_from_slice(stanzas[2].as_bytes());
    assert!(!framer.marked(copy.clone()).is_marked());
    assert_eq!(
        framer.parse_last(&copy, &header),
        parse_element(&copy, &header)
    );
    let unmarked = MarkedElement::unmarked(copy);
    assert_eq!(
        unmarked.parse(&header),
        parse_element(stanzas[2].as_bytes(), &header)
    );
}
