//! Raw children copied out of a stanza re-declare the prefixes they borrow from ancestors
//! (XML Namespaces §6.1), so the copy means the same thing wherever it is written.

use std::borrow::Cow;

use bytes::BytesMut;

use crate::xmpp::encode::{MessageExtOut, MessageOut, write_message_with};
use crate::xmpp::stanza::{Element, MessageType, parse_element};
use crate::xmpp::{StreamHeader, StreamNs};

fn header() -> StreamHeader {
    StreamHeader {
        ns: StreamNs::Server,
        ..Default::default()
    }
}

const STANZA: &str = "<message xmlns='jabber:server' xmlns:x=\"urn:example:x\" xmlns:q='urn:example:\"q\"' from='a@b' to='c@d'>\
<x:item x:kind='k'><x:sub/></x:item>\
<own xmlns='urn:example:own' xmlns:x='urn:example:other'><x:y/></own>\
<plain xmlns='urn:example:plain'><z q:attr='1'/></plain>\
<wrap xmlns='urn:example:w' xmlns:w='urn:example:inner'><w:g><x:h/></w:g></wrap>\
</message>";

#[test]
fn prefixes_declared_on_the_stanza_are_redeclared() {
    let h = header();
    let Element::Message(m) = parse_element(STANZA.as_bytes(), &h).unwrap() else {
        panic!("not a message")
    };
    let kids: Vec<_> = m.unknown_children().collect();
    assert_eq!(kids.len(), 4);
    assert_eq!(kids[0].ns, "urn:example:x");
    assert_eq!(
        kids[0].self_contained(),
        "<x:item xmlns:x='urn:example:x' x:kind='k'><x:sub/></x:item>"
    );
    // Declares its own binding for `x`: untouched and borrowed.
    assert!(matches!(kids[1].self_contained(), Cow::Borrowed(s) if s == kids[1].xml));
    // An attribute prefix counts too; a URI holding `"` is quoted with `'`.
    assert_eq!(
        kids[2].self_contained(),
        "<plain xmlns:q='urn:example:\"q\"' xmlns='urn:example:plain'><z q:attr='1'/></plain>"
    );
    // `w` is declared inside, `x` only on the stanza.
    assert_eq!(
        kids[3].self_contained(),
        "<wrap xmlns:x='urn:example:x' xmlns='urn:example:w' xmlns:w='urn:example:inner'><w:g><x:h/></w:g></wrap>"
    );
    // A grandchild finds prefixes on its parent and on the stanza.
    let g = kids[3].children().next().unwrap();
    assert_eq!(
        g.self_contained(),
        "<w:g xmlns:w='urn:example:inner' xmlns:x='urn:example:x'><x:h/></w:g>"
    );
}

#[test]
fn copied_child_keeps_its_namespace_in_another_stanza() {
    let h = header();
    let Element::Message(m) = parse_element(STANZA.as_bytes(), &h).unwrap() else {
        panic!("not a message")
    };
    let copies: Vec<Cow<'_, str>> = m.unknown_children().map(|c| c.self_contained()).collect();
    let raw: Vec<&str> = copies.iter().map(|c| &**c).collect();
    let msg = MessageOut {
        from: "e@f",
        to: "g@h",
        id: Some("m2"),
        type_: MessageType::Chat,
        lang: None,
        body: None,
        subject: None,
        thread: None,
        error: None,
    };
    let ext = MessageExtOut {
        raw: &raw,
        ..Default::default()
    };
    let mut out = BytesMut::new();
    write_message_with(&mut out, &msg, &ext);
    let Element::Message(again) = parse_element(&out, &h).unwrap() else {
        panic!("not a message")
    };
    let before: Vec<_> = m.unknown_children().map(|c| (c.ns, c.name)).collect();
    let after: Vec<_> = again.unknown_children().map(|c| (c.ns, c.name)).collect();
    assert_eq!(before, after);
    let g = again.unknown_children().nth(3).unwrap();
    let h_el = g.children().next().unwrap().children().next().unwrap();
    assert_eq!((&*h_el.ns, h_el.name), ("urn:example:x", "h"));
}
